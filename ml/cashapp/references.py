"""Invoice, PO and customer references in bank free text and remittance lines.

Payers write references every way: ``INV-100023``, ``100023``, ``IN100023``, ``RE INV-100023``,
``100023/100024``, the number cut short (``INV 10002``, ``00023``), two digits swapped
(``INV-100032``), a PO number instead, or their account with us (``CUST C000200``, ``ACCT 000200``).
OCR of scanned advices adds letter-for-digit confusions (``1OOO23``).

Resolution has two steps. :meth:`ReferenceIndex.lookup` is exact and global (dictionaries over
every invoice ever registered): it identifies the customer. :func:`resolve_in_family` then matches
what is left against one family's open items, tolerating partial numbers (prefix or suffix of at
least 4 digits) and one transposition or edit (optimal string alignment distance 1, rapidfuzz), which
would be far too loose against all invoices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter

import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import process
from rapidfuzz.distance import OSA

_TOKEN = re.compile(r"[A-Z0-9]+(?:[-/.][A-Z0-9]+)*")
_CUSTOMER = re.compile(r"^C\d{6}$")
_OCR = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "|": "1", "S": "5", "B": "8", "Z": "2"}
)
_PREFIX = re.compile(r"^(?:INVOICE|INV|IN|RE|RG|RECH|FACT|FA|FAC|NR|NO|REF)[-#: ]*")
MAX_PARTIAL_HITS = 3
MIN_DIGITS = 4  # shorter numbers are amounts, days or noise far too often to mean an invoice

EXACT, PO, PARTIAL, TYPO, TRANSPOSED = "exact", "po", "partial", "typo", "transposed"


_NOT_DIGIT = re.compile(r"\D+")


def digits_of(s: str) -> str:
    return _NOT_DIGIT.sub("", s)


def _ascii_array(values: list[str | None]) -> pa.Array | None:
    """Arrow strings when every value is ASCII text (or missing), else ``None``: Arrow's regex (RE2)
    and upper-casing agree with Python's only on ASCII (Unicode digits, ``"ß".upper()``)."""
    arr = pa.array(values, type=pa.string())
    if arr.null_count == len(arr) or pc.all(pc.string_is_ascii(arr)).as_py():
        return arr
    return None


def digits_many(values: list[str | None]) -> list[str | None]:
    """:func:`digits_of` of many strings at once (None stays None): a million invoice ids in Arrow's
    vectorized regex rather than one Python call each."""
    arr = _ascii_array(values)
    if arr is None:
        return [None if v is None else digits_of(v) for v in values]
    return pc.replace_substring_regex(arr, r"[^0-9]+", "").to_pylist()


def compact_many(values: list[str | None]) -> list[str | None]:
    """:func:`compact` of many strings at once (None stays None)."""
    arr = _ascii_array(values)
    if arr is None:
        return [None if v is None else compact(v) for v in values]
    return pc.replace_substring_regex(pc.utf8_upper(arr), r"[^0-9A-Z]+", "").to_pylist()


_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


@lru_cache(maxsize=1 << 16)
def compact(s: str) -> str:
    return _NOT_ALNUM.sub("", s.upper())


def ocr_digits(ref: str) -> str:
    """Digits of a reference once a prefix is cut and OCR letter/digit confusions are undone."""
    s = _PREFIX.sub("", ref.strip().upper())
    if sum(ch.isdigit() for ch in s) >= MIN_DIGITS:
        s = s.translate(_OCR)
    return digits_of(s)


@dataclass(frozen=True, slots=True)
class RefHit:
    item_id: str
    strength: str  # exact | po | partial | typo
    token: str


@lru_cache(maxsize=4096)  # identification, fuzzy resolution and features read the same text
def tokens(text: str | None) -> tuple[str, ...]:
    """Candidate reference tokens of a free text (upper-cased, in order, without duplicates)."""
    if not text:
        return ()
    out, seen = [], set()
    for t in _TOKEN.findall(text.upper()):
        for part in re.split(r"[/]", t) if "/" in t else (t,):
            if part and part not in seen and any(ch.isdigit() for ch in part):
                seen.add(part)
                out.append(part)
    return tuple(out)


class ReferenceIndex:
    """Exact lookups from a reference token to invoices and customers."""

    def __init__(self) -> None:
        self.by_compact: dict[str, str] = {}  # "INV100023" -> "INV-100023"
        self.by_digits: dict[str, list[str]] = {}  # "100023" -> ["INV-100023"]
        self.by_po: dict[str, list[str]] = {}  # "4577859463" / "PO36408" -> items
        self.customer_of: dict[str, str] = {}  # item -> customer
        self.customer_ids: set[str] = set()

    def add(self, item_id: str, customer_id: str, po_number: str | None) -> None:
        if item_id in self.customer_of:
            return
        self.customer_of[item_id] = customer_id
        self.customer_ids.add(customer_id)
        self.by_compact[compact(item_id)] = item_id
        d = digits_of(item_id)
        if len(d) >= MIN_DIGITS:
            self.by_digits.setdefault(d, []).append(item_id)
        if po_number:
            for key in {compact(po_number), digits_of(po_number)}:
                if len(key) >= MIN_DIGITS:
                    self.by_po.setdefault(key, []).append(item_id)

    def add_many(
        self,
        item_ids: list[str],
        customer_ids: list[str],
        po_numbers: list[str | None],
        *,
        in_id_order: bool = False,
    ) -> None:
        """:meth:`add` for many items, with the text work vectorized: the same index as adding them
        one by one, in order. ``in_id_order``: as if every item, old and new, had been added in
        item-id order (what a build from a sorted extract gives): a key shared with an older entry
        lists its items sorted, and a compact id names the largest of the ids it compacts."""
        keep = [i for i, item_id in enumerate(item_ids) if item_id not in self.customer_of]
        ids = [item_ids[i] for i in keep]
        if len(set(ids)) < len(ids):  # the same id twice in one batch: the first one counts, as with add
            first = {}
            for i, item_id in zip(keep, ids, strict=True):
                first.setdefault(item_id, i)
            keep = sorted(first.values())
            ids = [item_ids[i] for i in keep]
        custs = [customer_ids[i] for i in keep]
        pos = [po_numbers[i] or None for i in keep]
        compacts, digits = compact_many(ids), digits_many(ids)
        # One pass per index, each a C-level update or a tight loop (one loop doing all of them per
        # item took 8.6 s of building the book at a million invoices). Within each index keys and
        # list entries are added in item order, as adding the items one by one does.
        self.customer_of.update(zip(ids, custs, strict=True))
        self.customer_ids.update(custs)
        by_compact = self.by_compact
        if not in_id_order:
            by_compact.update(zip(compacts, ids, strict=True))
        else:
            for c, item_id in zip(compacts, ids, strict=True):
                if c not in by_compact or by_compact[c] < item_id:
                    by_compact[c] = item_id
        self._append(
            self.by_digits,
            [(d, i) for d, i in zip(digits, ids, strict=True) if len(d) >= MIN_DIGITS],
            in_id_order,
        )
        with_po = [j for j, po in enumerate(pos) if po]
        po_keys = []
        if with_po:
            po_list = [pos[j] for j in with_po]
            for j, po_compact, po_digits_ in zip(
                with_po, compact_many(po_list), digits_many(po_list), strict=True
            ):
                for key in (po_compact,) if po_compact == po_digits_ else (po_compact, po_digits_):
                    if len(key) >= MIN_DIGITS:
                        po_keys.append((key, ids[j]))
        self._append(self.by_po, po_keys, in_id_order)

    @staticmethod
    def _append(index: dict[str, list[str]], pairs: list[tuple[str, str]], in_id_order: bool) -> None:
        """Append each (key, item) to the key's list, in order; ``in_id_order``: keep lists sorted."""
        keys = [key for key, _ in pairs]
        if len(set(keys)) == len(keys) and index.keys().isdisjoint(keys):
            index.update((key, [item_id]) for key, item_id in pairs)  # every key new: nothing to sort
            return
        for key, item_id in pairs:
            listed = index.get(key)
            if listed is None:
                index[key] = [item_id]
                continue
            listed.append(item_id)
            if in_id_order and listed[-2] > item_id:
                listed.sort()

    def add_customer(self, customer_id: str) -> None:
        self.customer_ids.add(customer_id)

    def lookup(self, token: str) -> list[RefHit]:
        """Exact meaning of one token: an invoice id, its digits, or a PO number."""
        c = compact(token)
        hit = self.by_compact.get(c)
        if hit is not None:
            return [RefHit(hit, EXACT, token)]
        d = digits_of(token)
        if len(d) >= MIN_DIGITS:
            items = self.by_digits.get(d)
            if items:
                return [RefHit(i, EXACT, token) for i in items]
        items = self.by_po.get(c) or (self.by_po.get(d) if len(d) >= MIN_DIGITS else None)
        if items:
            return [RefHit(i, PO, token) for i in items]
        return []

    def customers_named(self, text: str | None) -> set[str]:
        """Customer accounts a free text names: ``C000200``, ``CUST C000200``, ``ACCT 000200``."""
        out = set()
        for t in tokens(text):
            if _CUSTOMER.match(t) and t in self.customer_ids:
                out.add(t)
            elif t.isdigit() and len(t) == 6 and t.startswith("0") and f"C{t}" in self.customer_ids:
                out.add(f"C{t}")
        return out


_DIGITS = attrgetter("digits")


def longest_digits(items: list) -> int | None:
    """The most digits an item id of ``items`` (OpenItem list) has; ``None`` when some item does not
    carry its digits (an ``OpenItem`` built outside the book), so no bound is known."""
    ds = list(map(_DIGITS, items))  # C-level passes: this runs for most payments
    if "" in ds:
        return None
    return max(map(len, ds), default=0)


def reachable(token_digits: list[str], longest: int | None) -> list[str]:
    """The tokens :func:`resolve_in_family` can match against items whose digits are at most
    ``longest`` long (``None``: unknown): at least ``MIN_DIGITS``, and at most one digit longer than
    the longest item (an exact match and a swap need equal length, a partial match a longer item,
    one edit a length within one). End-to-end ids and PO numbers are longer than any invoice number
    on most payments, and resolving them fuzzily found nothing after scanning every open item."""
    if longest is None:
        return [d for d in token_digits if len(d) >= MIN_DIGITS]
    return [d for d in token_digits if MIN_DIGITS <= len(d) <= longest + 1]


def resolve_in_family(token_digits: list[str], items: list, exclude: set[str]) -> list[RefHit]:
    """Partial and mistyped references against one family's open items (``items``: OpenItem list).

    A token matches an item when its digits equal the item's, are a prefix or suffix of them (at
    least ``MIN_DIGITS`` long, and naming at most ``MAX_PARTIAL_HITS`` items), or are one edit away
    (optimal string alignment distance 1). Among one-edit matches a swap of two neighbouring digits
    is what people actually type, so when one exists only swaps are returned: a one-digit
    *substitution* also matches the neighbouring invoice numbers of a sequential series, which says
    nothing. Ties are all returned: the candidates and the model sort them out.
    """
    if not token_digits or not items:
        return []
    # Tokens that cannot match any item give no hits whatever the pool: dropped before it is built.
    token_digits = reachable(token_digits, longest_digits(items))
    if not token_digits:
        return []
    pool = [(it.digits or digits_of(it.item_id), it.item_id) for it in items if it.item_id not in exclude]
    if not pool:
        return []
    keys = [p[0] for p in pool]
    by_key: dict[str, list[str]] | None = None
    hits: list[RefHit] = []
    for d in token_digits:
        if len(d) < MIN_DIGITS:
            continue
        exact = [RefHit(item_id, EXACT, d) for key, item_id in pool if key == d]
        if exact:
            hits.extend(exact)
            continue
        partial = [
            RefHit(item_id, PARTIAL, d)
            for key, item_id in pool
            if len(key) > len(d) and (key.startswith(d) or key.endswith(d))
        ]
        if partial:
            # A prefix matching many open items ("INV-1000") names none of them in particular.
            if len(partial) <= MAX_PARTIAL_HITS:
                hits.extend(partial)
            continue
        if len(d) < 5:
            continue
        if by_key is None:
            by_key = {}
            for key, item_id in pool:
                by_key.setdefault(key, []).append(item_id)
        swaps = [
            item_id
            for i in range(len(d) - 1)
            if d[i] != d[i + 1]
            for item_id in by_key.get(d[:i] + d[i + 1] + d[i] + d[i + 2 :], ())
        ]
        if swaps:
            hits.extend(RefHit(i, TRANSPOSED, d) for i in swaps)
        else:
            near = process.extract(d, keys, scorer=OSA.distance, score_cutoff=1, limit=8)
            hits.extend(RefHit(pool[i][1], TYPO, d) for _, _, i in near)
    return hits
