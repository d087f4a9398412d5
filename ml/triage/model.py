"""The intent classifier: TF-IDF on words and character n-grams, and a linear model.

Why this and not a transformer: it trains in seconds on a laptop, works offline with what is already
installed (scikit-learn), and e-mails about money are carried by a few strong phrases ("scheduled for
payment", "credit note", "out of the office") in three languages — character n-grams catch their
inflections and typos ("payement", "überwiesen"/"Überweisung") without a tokenizer per language.
Amounts, dates, invoice numbers and e-mail addresses are replaced by placeholder tokens first, so the
model learns "a date follows 'will be released on'" rather than memorising dates.

A second, smaller model of the same kind names the reason of a dispute; a cue-word list backs it up
when it is unsure (few labelled disputes per reason).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from ml.triage.extract import amounts, dates, dispute_reason_by_cues

INTENTS = (
    "promise_to_pay",
    "dispute",
    "invoice_copy_request",
    "remittance_advice",
    "contact_change",
    "out_of_office",
    "other",
)
MODEL_REVISION = "3"  # bump when the features or the learner change
REASON_MIN_CONFIDENCE = 0.5  # below this the cue words decide, when they find anything

_MASKS = (
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), " _email_ "),
    (re.compile(r"\b(?:INV|RE|RG|FA|FAC)[-‐ ]?\d{4,9}\b", re.I), " _invoice_ "),
    (re.compile(r"\bPO[-‐ ]?\d+\b", re.I), " _po_ "),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"), " _date_ "),
    (
        re.compile(
            r"(?:USD|EUR|GBP|[$€£])\s?\d[\d.,\u00a0\u202f ]*\d|\d[\d.,\u00a0\u202f ]*\d\s?(?:USD|EUR|GBP|[$€£])"
        ),
        " _amount_ ",
    ),
    (re.compile(r"\bC\d{6}\b"), " _account_ "),
    (re.compile(r"\d+"), " _n_ "),
)


# Domain cues the simulator's few templates cannot teach: whether money already moved (a remittance) or
# will move (a promise), whether a document is asked for, whether the writer is away. Each adds a token
# the linear model weighs like a word, so a real e-mail phrased unlike any template still carries it.
_CUES = (
    (
        "_cue_paid_",
        r"\b(?:we )?(?:have |has |just )?(?:paid|sent|mailed|wired|transferred|remitted|deposited|"
        r"went out|was sent|were sent|have made|has been made|has been paid|payment made|überwiesen|bezahlt|"
        r"réglé|réglant|avons réglé|virement effectué|payé)\b(?! (?:by|on|next|within|once|until))",
    ),
    ("_cue_past_day_", r"\b(?:today|this morning|yesterday|heute|aujourd'hui|hier)\b"),
    (
        "_cue_future_",
        r"\b(?:will|shall|going to|scheduled|planned|approved|next run|next payment|payment run|"
        r"payment batch|by the end|we can (?:pay|do)|wird|werden|erfolgt am|überweisen|sera|partira|allons|"
        r"procéder\w*|programm[ée]\w*|émis|zahllauf|freigegeben|plan(?:ned)? for|commit\w*|promise|"
        r"going out|go out|will be (?:mailed|sent|paid|released)|pay date|value date of)\b",
    ),
    (
        "_cue_remittance_",
        r"\b(?:remittance|remit|payment advice|zahlungsavis|avis de (?:paiement|virement)|"
        r"value date|ref(?:erence)?\b|check #|cheque #)",
    ),
    (
        "_cue_copy_",
        r"\b(?:copy|copies|resend|re-send|send (?:it )?again|duplicat\w*|kopie|noch einmal|copie|"
        r"transmettre|pas reçue?|nicht erhalten|erneut|als pdf|"
        r"renvoyer|can't find|cannot find|don't have|missing|no record of|upload|portal|corrupt\w*|nicht vor)\b",
    ),
    (
        "_cue_dispute_",
        r"\b(?:dispute\w*|disagree|wrong|incorrect|error|not what|credit note|credit memo|"
        r"gutschrift|avoir|reklamation|contest\w*|litige|damaged|never (?:got|arrived|delivered|received)|"
        r"didn't (?:get|receive)|short[- ]?(?:paid|payment|shipped|shipment|delivery|delivered)|shorted|"
        r"overcharg\w*|deduct\w*|holding|reject(?:ed)? (?:the |this |your )?(?:invoice|charge|price)|"
        r"not accept\w*|doppelt|"
        r"identique|twice|quoted|contract says|missing (?:promo|discount))\b",  # \b: "short", not "shortly"
    ),
    (
        "_cue_away_",
        r"\b(?:out of (?:the )?office|on leave|on holiday|vacation|urlaub|abwesen\w*|congé|absent|"
        r"auto(?:matic|mated)?[- ]?(?:reply|response)|autoreply|back on|back in the office|"
        r"(?:will )?return(?:ing)? (?:on|to the office|to work)|returning|wieder erreichbar|out sick|"
        r"parental leave|traveling|away until|afwezig|vakantie|fuera de la oficina|vacaciones|fuori (?:ufficio|sede)|"
        r"assente|de retour|nicht im büro)",
    ),
    (
        "_cue_contact_",
        r"\b(?:new (?:ap )?(?:contact|e-?mail|address|mailbox|clerk)|taken over|replac\w*|remplace|"
        r"left the company|no longer|moved to|going forward|from now on|instead|update your records|"
        r"ansprechpartner|interlocuteur|désormais|künftig|ruhestand|retired)",
    ),
)
_CUE_RES = tuple((token, re.compile(rx, re.I)) for token, rx in _CUES)


# Legal footers ("if you received it in error") and quoted older mails say nothing about what this
# message asks; cues are read from the newest message without them.
_DISCLAIMER = re.compile(
    r"(?is)(?:confidentiality notice|disclaimer|this e-?mail (?:and any attachments|is confidential)|"
    r"diese e-mail enthält vertrauliche|ce (?:message|courriel) et (?:ses|toutes)).*?(?:\n\s*\n|\Z)"
)


def newest_part(text: str) -> str:
    """Subject line and the newest message of a thread, legal footers removed."""
    from ml.triage.summary import split_thread

    text = text or ""
    subject, _, body = text.partition("\n")
    parts = split_thread(body)
    return _DISCLAIMER.sub(" ", f"{subject}\n{parts[0] if parts else ''}")


# Whether the newest message names a day and a sum at all: a promise nearly always does ("Friday",
# "end of month" included, which the masks do not catch), an acknowledgement ("received, will revert")
# does not. Written as tokens, presence and absence alike, so the linear model can weigh both.
_ANY_DAY = dt.date(2026, 1, 1)  # only whether a date is written matters here, not which


def cue_tokens(text: str) -> str:
    newest = newest_part(text)
    tokens = [token for token, rx in _CUE_RES if rx.search(newest)]
    tokens.append("_cue_when_" if dates(newest, _ANY_DAY) else "_cue_no_when_")
    tokens.append("_cue_money_" if amounts(newest) else "_cue_no_money_")
    return " ".join(tokens)


def mask(text: str) -> str:
    text = text or ""
    cues = cue_tokens(text)
    for rx, token in _MASKS:
        text = rx.sub(token, text)
    return f"{text.lower()} {cues} {cues}"


def message_text(subject, body) -> str:
    s = subject if isinstance(subject, str) else ""
    b = body if isinstance(body, str) else ""
    return f"{s}\n{b}"


def masked(texts: list[str]) -> list[str]:
    """The classifiers' input: each text through :func:`mask`, once."""
    return [mask(t) for t in texts]


def _as_is(text: str) -> str:
    return text


def _vectorizer() -> FeatureUnion:
    # The texts come masked (``masked``), not masked by each vectorizer's preprocessor: both vectorizers
    # of the union read the same text, and masking (the cue regexes, the date scan) was 70 % of reading a
    # message when done twice (20,000 messages of a 1M-invoice world: 40.6 -> 23.6 CPU-s, same output).
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(preprocessor=_as_is, ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=_as_is,
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=60_000,
                ),
            ),
        ]
    )


def _classifier() -> LogisticRegression:
    # class_weight="balanced": contact changes are 0.5 % of messages, remittances 70 %; macro-F1 is the target.
    return LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")


@dataclass
class TriageModel:
    intent: Pipeline
    reason: Pipeline | None
    trained_on: dict = field(default_factory=dict)
    version: str = "untrained"

    @classmethod
    def fit(
        cls, texts: list[str], intents: list[str], dispute_reasons: list[str | None] | None = None
    ) -> TriageModel:
        unknown = sorted(set(intents) - set(INTENTS))
        if unknown:
            raise ValueError(f"unknown intents in training labels: {unknown}; expected {INTENTS}")
        inputs = masked(texts)
        intent = Pipeline([("tfidf", _vectorizer()), ("clf", _classifier())]).fit(inputs, intents)
        reason = None
        if dispute_reasons is not None:
            pairs = [
                (t, r)
                for t, i, r in zip(inputs, intents, dispute_reasons, strict=True)
                if i == "dispute" and isinstance(r, str)
            ]
            if len({r for _, r in pairs}) >= 2:
                reason = Pipeline([("tfidf", _vectorizer()), ("clf", _classifier())]).fit(
                    [t for t, _ in pairs], [r for _, r in pairs]
                )
        counts = pd.Series(intents).value_counts().to_dict()
        # The version names what the model learned from (and the model code's revision): the same
        # training messages give the same version, so a table row says which model read it.
        h = hashlib.blake2b(MODEL_REVISION.encode(), digest_size=6)
        for t, i in zip(texts, intents, strict=True):
            h.update(f"{i}\x1f{t}\x1e".encode())
        return cls(
            intent, reason, {"n": len(texts), "intents": counts}, f"triage-{MODEL_REVISION}-{h.hexdigest()}"
        )

    def predict(self, texts: list[str]) -> pd.DataFrame:
        """intent, its probability, and the runner-up (a reviewer looks at low-margin cases first)."""
        proba = self.intent.predict_proba(masked(texts))
        classes = np.asarray(self.intent.classes_)
        order = np.argsort(-proba, axis=1)
        rows = np.arange(len(texts))
        return pd.DataFrame(
            {
                "intent": classes[order[:, 0]],
                "confidence": np.round(proba[rows, order[:, 0]], 4),
                "second_intent": classes[order[:, 1]] if proba.shape[1] > 1 else None,
                "second_confidence": np.round(proba[rows, order[:, 1]], 4) if proba.shape[1] > 1 else 0.0,
            }
        )

    def dispute_reason(self, texts: list[str]) -> list[str | None]:
        out: list[str | None] = []
        if self.reason is not None and texts:
            proba = self.reason.predict_proba(masked(texts))
            classes = np.asarray(self.reason.classes_)
            best = proba.argmax(axis=1)
            for t, b, p in zip(texts, best, proba.max(axis=1), strict=True):
                cue = dispute_reason_by_cues(t)
                out.append(str(classes[b]) if p >= REASON_MIN_CONFIDENCE or cue is None else cue)
            return out
        return [dispute_reason_by_cues(t) for t in texts]
