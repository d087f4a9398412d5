"""A short extractive summary of a long e-mail or thread: the few sentences that carry the facts.

Extractive, not generative: every word of the summary is the customer's own, so a collector can trust
it (the optional generative summary through an OpenAI-compatible endpoint is a separate, opt-in path).
Quoted replies are split off and the newest message weighs most; greetings, sign-offs and signature
lines score nothing; sentences with an amount, a date, an invoice number or a payment/dispute verb
score most. The chosen sentences are returned in their original order.
"""

from __future__ import annotations

import re

from ml.triage.extract import _AMOUNT_RE, _DAY_MONTH_RE, _INVOICE_RE, _ISO_RE, _MONTH_DAY_RE, _NUMERIC_RE

LONG_MESSAGE_CHARS = 400  # shorter messages are their own summary
_QUOTE_HEAD = re.compile(
    r"^(?:>\s*)*(?:On .{5,120} wrote:|Am .{5,120} schrieb .*:|Le .{5,120} a écrit ?:|-{2,} ?Original Message ?-{2,}|"
    r"From: .*|Von: .*|De : .*)\s*$",
    re.I | re.M,
)
_NOISE = re.compile(
    r"^(?:hi|hello|dear|good (?:morning|afternoon)|hey|bonjour|hallo|guten tag|sehr geehrte|thanks|thank you|"
    r"many thanks|regards|kind regards|best|best regards|cheers|cordialement|mit freundlichen|viele grüße|"
    r"sent from my|accounts payable|tel\.?|phone|mobile)\b",
    re.I,
)
_KEY_WORDS = re.compile(
    r"\b(?:pay|paid|payment|transfer|wire|ach|check|cheque|release|schedul\w*|promise|credit|dispute\w*|"
    r"damaged|wrong|incorrect|missing|copy|resend|hold|holding|approved|approval|overdue|past due|balance|"
    r"zahlung|überweis\w*|gutschrift|règlement|virement|avoir)\b",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜÉ0-9])|\n+")


def split_thread(text: str) -> list[str]:
    """The messages of a thread, newest first: the text before the first quote header is the newest."""
    text = text or ""
    parts, last = [], 0
    for m in _QUOTE_HEAD.finditer(text):
        parts.append(text[last : m.start()])
        last = m.end()
    parts.append(text[last:])
    cleaned = []
    for p in parts:
        lines = [re.sub(r"^\s*(?:>\s*)+", "", line) for line in p.splitlines()]
        body = "\n".join(lines).strip()
        if body:
            cleaned.append(body)
    return cleaned


def _score(sentence: str) -> float:
    s = 0.0
    if _AMOUNT_RE.search(sentence):
        s += 2
    if any(rx.search(sentence) for rx in (_ISO_RE, _NUMERIC_RE, _MONTH_DAY_RE, _DAY_MONTH_RE)):
        s += 1.5
    if _INVOICE_RE.search(sentence):
        s += 1
    s += min(len(_KEY_WORDS.findall(sentence)), 3)
    return s


def summarize(text: str, max_sentences: int = 2, max_chars: int = 280) -> str:
    """The best ``max_sentences`` sentences of the thread (``text`` itself when short)."""
    text = (text or "").strip()
    if len(text) <= LONG_MESSAGE_CHARS and not _QUOTE_HEAD.search(text):
        return re.sub(r"\s+", " ", text)[:max_chars]
    candidates = []  # (score, message index, sentence index, sentence)
    for mi, message in enumerate(split_thread(text)):
        for si, sent in enumerate(_SENTENCE_END.split(message)):
            sent = re.sub(r"\s+", " ", sent).strip()
            if len(sent) < 12 or _NOISE.match(sent):
                continue
            score = _score(sent)
            if score <= 0:
                continue
            # The newest message says where things stand; older ones are context.
            candidates.append((score / (1 + 0.5 * mi), mi, si, sent))
    if not candidates:
        return re.sub(r"\s+", " ", text)[:max_chars]
    best = sorted(candidates, key=lambda c: (-c[0], c[1], c[2]))[:max_sentences]
    best.sort(key=lambda c: (-c[1], c[2]))  # oldest message first, then sentence order: reads as a story
    out = " … ".join(c[3] for c in best)
    return out if len(out) <= max_chars else out[: max_chars - 1].rstrip() + "…"
