"""Payer names as banks write them, reduced to a comparable form, and a fuzzy index over customers.

A bank line says ``KEYSTONE DISTR L`` for *Keystone Distribution Limited*: upper-cased,
transliterated, abbreviated, legal form dropped or shortened, cut to the rail's field width (16
characters on a NACHA CCD, 35 on a SWIFT line). :func:`normalize_name` applies the same reductions
to both sides (legal forms removed, diacritics and ``AE``/``OE``/``UE`` folded, common business
words mapped to one abbreviation, punctuation and connectors dropped) so what is left is the part of
the name that identifies the company. Fuzzy scoring is rapidfuzz (C++); the one thing it does not
know is that a bank *truncates*, so :func:`name_similarity` also compares against the candidate cut
to the query's length.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from functools import lru_cache

from rapidfuzz import fuzz, process

# Legal forms in the countries the customer master holds (US, CA, GB, IE, DE, FR, NL, ES, IT) and
# their bank abbreviations; dropped wherever they stand, since they say nothing about who pays.
LEGAL_FORMS = frozenset(
    [
        "INC",
        "INCORPORATED",
        "CORP",
        "CORPORATION",
        "CO",
        "COMPANY",
        "LLC",
        "LLP",
        "LP",
        "LTD",
        "LIMITED",
        "PLC",
        "DAC",
        "ULC",
        "HOLDINGS",
        "GMBH",
        "AG",
        "KG",
        "KGAA",
        "OHG",
        "UG",
        "EV",
        "SE",
        "SAS",
        "SASU",
        "SA",
        "SARL",
        "EURL",
        "SNC",
        "BV",
        "NV",
        "VOF",
        "SL",
        "SLU",
        "SRL",
        "SPA",
        "SAPA",
        "SCARL",
    ]
)
# One spelling per business word: the long forms and bank abbreviations map to the same token.
_WORDS = {
    "MANUFACTURING": "MFG",
    "INTERNATIONAL": "INTL",
    "INTERNATL": "INTL",
    "SERVICES": "SVCS",
    "SERVICE": "SVCS",
    "SVC": "SVCS",
    "DISTRIBUTION": "DISTR",
    "DISTRIBUTORS": "DISTR",
    "DIST": "DISTR",
    "TECHNOLOGIES": "TECH",
    "TECHNOLOGY": "TECH",
    "SYSTEMS": "SYS",
    "INDUSTRIES": "IND",
    "INDUSTRIAL": "IND",
    "ENGINEERING": "ENG",
    "BROTHERS": "BROS",
    "PHARMACEUTICALS": "PHARMA",
    "PHARMACEUTICAL": "PHARMA",
    "MASCHINENBAU": "MASCHBAU",
    "LOGISTICS": "LOGISTIC",
    "COMPONENTS": "COMP",
    "CONSTRUCTION": "CONSTR",
    "ELECTRONICS": "ELEC",
    "SOCIETE": "STE",
    "ASSOCIATES": "ASSOC",
    "DEPARTMENT": "DEPT",
    "MANAGEMENT": "MGMT",
    "SUPPLIES": "SUPPLY",
    "PRODUCTS": "PROD",
}
_CONNECTORS = frozenset(
    {"AND", "ET", "UND", "Y", "E", "EN", "THE", "DE", "DU", "DES", "LA", "LE", "DER", "DIE"}
)
_FOLD = (("AE", "A"), ("OE", "O"), ("UE", "U"), ("SS", "S"))
_NON_ALNUM = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
# "S.R.L.", "B.V.", "S.p.A.": dotted legal forms glued back together before the dots go.
_DOTTED = re.compile(r"\b((?:[A-Z]\.){2,}[A-Z]?\.?)")


def _strip_accents(s: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 16)  # bank lines repeat the same few names per payer
def normalize_name(name: str | None) -> str:
    """``'Weser Fahrzeugteile GmbH & Co. KG'`` → ``'WESER FAHRZEUGTEILE'``; ``None`` → ``''``."""
    if not name:
        return ""
    s = _strip_accents(name.replace("ß", "ss")).upper()
    s = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), s)
    s = s.replace("&", " ").replace("+", " ")
    s = _NON_ALNUM.sub(" ", s)
    words = []
    raw = s.split()
    for n, w in enumerate(raw):
        if w in LEGAL_FORMS or w in _CONNECTORS:
            continue
        if n == len(raw) - 1 and w not in _WORDS and len(w) >= 4:
            # the rail cut the name inside its last word ("SILVERLINE TECHNOLOGIE", "LARKSPUR MANUFAC")
            w = next((short for long, short in _WORDS.items() if long.startswith(w) and long != w), w)
        w = _WORDS.get(w, w)
        for long, short in _FOLD:
            w = w.replace(long, short)
        words.append(w)
    return " ".join(words)


def name_similarity(query: str, candidate: str) -> float:
    """0-100 similarity of two *normalized* names, tolerant of the bank cutting the query short."""
    if not query or not candidate:
        return 0.0
    score = fuzz.token_set_ratio(query, candidate)
    if len(query) < len(candidate):
        # The rail cut the name: compare with the candidate cut to the same width.
        score = max(score, fuzz.ratio(query, candidate[: len(query)]))
    return float(score)


# Blocking keys (see NameIndex): a token's first and last three letters.
KEY_LETTERS = 3
# A query of one token shorter than this is compared with every name: one keying error in a short
# word can change both its first and its last three letters ("ATLAS" -> "ALTAS").
SHORT_SINGLE_WORD = 7


def blocking_keys(normalized: str) -> set[str]:
    """The first and last :data:`KEY_LETTERS` letters of each word (a shorter word whole)."""
    keys = set()
    for w in normalized.split():
        keys.add("<" + w[:KEY_LETTERS])
        keys.add(w[-KEY_LETTERS:] + ">")
    return keys


class NameIndex:
    """Customers' normalized names (master names, rule names, names seen on confirmed payments).

    A search compares the query with the names that share a blocking key with it (a word's first or
    last three letters), not with every name. Why: the payers without a known account search by
    name, their number grows with the ledger and so does the number of names, so a pass over every
    name per search grew with the square of the data (a third of the cash application's first run at
    a million invoices; 7.6 s for 1,253 searches over 7,175 names, 0.6 s blocked, same answers for
    every one of them). The bound: a name is found when it shares a word's first or last three
    letters with the query. One keying error (a swapped, dropped or doubled letter) leaves one of
    them intact in a word of seven letters or more, or in the other words of a longer name; a query
    of a single shorter word is compared with every name. The truncation the banks apply keeps the
    first letters, so a name cut short is found by them.
    """

    # Shortlists kept per query (see search); cleared past this many queries to bound the memory.
    MAX_SHORTLISTS = 1 << 16

    def __init__(self) -> None:
        self._names: list[str] = []
        self._owners: list[set[str]] = []
        self._pos: dict[str, int] = {}
        # blocking key -> positions of the names that have it, in increasing order
        self._postings: dict[str, list[int]] = {}
        # (query, shortlist size) -> (names scanned, [(-WRatio, name position, name_similarity)] best first)
        self._shortlists: dict[tuple[str, int], tuple[int, list[tuple[float, int, float]]]] = {}

    def add(self, name: str | None, customer_id: str, *, normalized: bool = False) -> None:
        n = name if normalized else normalize_name(name)
        if not n:
            return
        i = self._pos.get(n)
        if i is None:
            i = self._pos[n] = len(self._names)
            self._names.append(n)
            self._owners.append({customer_id})
            for key in blocking_keys(n):
                self._postings.setdefault(key, []).append(i)
        else:
            self._owners[i].add(customer_id)

    def exact(self, normalized: str) -> set[str]:
        i = self._pos.get(normalized)
        return set(self._owners[i]) if i is not None else set()

    def search(self, normalized: str, *, limit: int = 5, cutoff: float = 80.0) -> list[tuple[str, float]]:
        """Best customers for a normalized name: [(customer_id, score 0-100)], best first.

        rapidfuzz's WRatio shortlists the names that share a blocking key with the query (C++, fast);
        the shortlist is re-scored with :func:`name_similarity`, which knows about truncation.
        """
        if not normalized or not self._names:
            return []
        best: dict[str, float] = {}
        for _, i, s in self._shortlist(normalized, limit * 3):
            if s < cutoff:
                continue
            for cid in self._owners[i]:
                if s > best.get(cid, -1):
                    best[cid] = s
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def _candidates(self, normalized: str, start: int) -> list[int]:
        """Positions (increasing, from ``start``) of the names the query is compared with."""
        if " " not in normalized and len(normalized) < SHORT_SINGLE_WORD:
            return list(range(start, len(self._names)))
        found: set[int] = set()
        for key in blocking_keys(normalized):
            posting = self._postings.get(key)
            if posting:
                found.update(posting[bisect_left(posting, start) :] if start else posting)
        return sorted(found)

    def _shortlist(self, normalized: str, k: int) -> list[tuple[float, int, float]]:
        """The ``k`` candidate names rapidfuzz's ``process.extract`` would return (WRatio at least 60,
        best first, ties by position), with their :func:`name_similarity`, computed incrementally.

        Why incrementally: payers without a known account (cheques, lockbox, new IBANs) come back with
        the same name payment after payment. Names are only ever appended, and ``extract`` orders by
        score then position, so the best ``k`` of all candidates are the best ``k`` of (the best ``k``
        of the candidates already scanned, plus those added since): only the new ones are scored."""
        key = (normalized, k)
        n = len(self._names)
        hit = self._shortlists.get(key)
        if hit is not None and hit[0] == n:
            return hit[1]
        start, top = (0, []) if hit is None else hit
        positions = self._candidates(normalized, start)
        names = self._names
        new = process.extract(
            normalized, [names[i] for i in positions], scorer=fuzz.WRatio, limit=k, score_cutoff=60
        )
        if new:
            top = sorted(
                top + [(-score, positions[j], name_similarity(normalized, name)) for name, score, j in new]
            )[:k]
        if len(self._shortlists) >= self.MAX_SHORTLISTS:
            self._shortlists.clear()
        self._shortlists[key] = (n, top)
        return top

    def __len__(self) -> int:
        return len(self._names)
