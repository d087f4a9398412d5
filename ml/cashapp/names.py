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


class NameIndex:
    """Customers' normalized names (master names, rule names, names seen on confirmed payments)."""

    # Shortlists kept per query (see search); cleared past this many queries to bound the memory.
    MAX_SHORTLISTS = 1 << 16

    def __init__(self) -> None:
        self._names: list[str] = []
        self._owners: list[set[str]] = []
        self._pos: dict[str, int] = {}
        # (query, shortlist size) -> (names scanned, [(-WRatio, name position, name_similarity)] best first)
        self._shortlists: dict[tuple[str, int], tuple[int, list[tuple[float, int, float]]]] = {}

    def add(self, name: str | None, customer_id: str, *, normalized: bool = False) -> None:
        n = name if normalized else normalize_name(name)
        if not n:
            return
        i = self._pos.get(n)
        if i is None:
            self._pos[n] = len(self._names)
            self._names.append(n)
            self._owners.append({customer_id})
        else:
            self._owners[i].add(customer_id)

    def exact(self, normalized: str) -> set[str]:
        i = self._pos.get(normalized)
        return set(self._owners[i]) if i is not None else set()

    def search(self, normalized: str, *, limit: int = 5, cutoff: float = 80.0) -> list[tuple[str, float]]:
        """Best customers for a normalized name: [(customer_id, score 0-100)], best first.

        rapidfuzz's WRatio shortlists over every name (C++, fast); the shortlist is re-scored with
        :func:`name_similarity`, which knows about truncation.
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

    def _shortlist(self, normalized: str, k: int) -> list[tuple[float, int, float]]:
        """The ``k`` names rapidfuzz's ``process.extract`` would return (WRatio at least 60, best first,
        ties by position), with their :func:`name_similarity`, computed incrementally.

        Why: payers without a known account (cheques, lockbox, new IBANs) come back with the same
        name payment after payment, and the WRatio pass over every name was a fifth of the engine's
        time at 100,000 payments. Names are only ever appended, and ``extract`` orders by score then
        position, so the best ``k`` of all names are the best ``k`` of (the best ``k`` of the names
        already scanned, plus the names added since): only the new names are scored again."""
        key = (normalized, k)
        n = len(self._names)
        hit = self._shortlists.get(key)
        if hit is not None and hit[0] == n:
            return hit[1]
        start, top = (0, []) if hit is None else hit
        names = self._names if start == 0 else self._names[start:]
        new = process.extract(normalized, names, scorer=fuzz.WRatio, limit=k, score_cutoff=60)
        if new:
            top = sorted(
                top + [(-score, start + i, name_similarity(normalized, name)) for name, score, i in new]
            )[:k]
        if len(self._shortlists) >= self.MAX_SHORTLISTS:
            self._shortlists.clear()
        self._shortlists[key] = (n, top)
        return top

    def __len__(self) -> int:
        return len(self._names)
