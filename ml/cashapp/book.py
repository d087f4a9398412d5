"""The open items the engine applies cash to, indexed the ways matching looks them up.

One :class:`OpenItemBook` holds every invoice the engine has been told about (closed ones stay
registered so a reference to a paid invoice still identifies its customer). Open items are indexed
by customer and by (customer, currency, open amount), so "which open invoice of this family equals
the payment" is a dictionary lookup, never a scan of all invoices.

Within a run, applications the engine makes are *reserved* against the book so two payments of the
same day cannot both take one invoice; :meth:`OpenItemBook.rollback` undoes a run's reservations
(used by the backtest, where the confirmed truth replaces them at the end of each day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from ml.cashapp.money import to_cents
from ml.cashapp.references import ReferenceIndex, digits_many, digits_of


@dataclass(slots=True)
class OpenItem:
    item_id: str
    customer_id: str
    currency: str
    document_date: int  # proleptic ordinal (date.toordinal())
    due_date: int
    original_cents: int
    open_cents: int
    discount_pct: Decimal | None = None
    discount_due: int | None = None
    po_number: str | None = None
    digits: str = ""  # the digits of item_id, kept for fuzzy reference matching


def _ordinal(v) -> int | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)  # an ordinal column with missing dates: pandas holds it as float64, exactly
    if isinstance(v, str):
        return dt.date.fromisoformat(v[:10]).toordinal()
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.date().toordinal()
    return v.toordinal()


def _optional_ordinals(df: pd.DataFrame, name: str) -> tuple[list, bool]:
    """A column of ordinals that may be missing (float64 with NaN, as the warehouse hands it over) as
    ints and None in one vectorized step, and whether it was (else the values as they are, for
    :func:`_ordinal` row by row: dates, text)."""
    if name not in df.columns:
        return [None] * len(df), True
    col = df[name]
    if pd.api.types.is_integer_dtype(col.dtype):
        return col.tolist(), True
    if pd.api.types.is_float_dtype(col.dtype):
        try:
            return col.astype("Int64").to_numpy(dtype=object, na_value=None).tolist(), True
        except (TypeError, ValueError):  # not whole numbers: _ordinal reports the row
            pass
    return col.tolist(), False


def _discount_pct(v) -> Decimal | None:
    """A discount percentage as ``Decimal``; missing, NaN or zero: no discount."""
    return Decimal(str(v)) if v is not None and v == v and v else None


def _po_number(v) -> str | None:
    return v if isinstance(v, str) else None  # NaN where the extract has none


def _integer_cents(v) -> int:
    """An integer number of cents from a column the warehouse computed exactly (``decimal * 100``)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"cents {v!r} must be an integer")
    return v


class OpenItemBook:
    def __init__(self) -> None:
        self.items: dict[str, OpenItem] = {}
        self.by_customer: dict[str, dict[str, OpenItem]] = {}
        self.by_amount: dict[tuple[str, str, int], dict[str, OpenItem]] = {}
        self.by_amount_any: dict[tuple[str, int], dict[str, OpenItem]] = {}
        self.refs = ReferenceIndex()
        self._journal: list[tuple[str, int]] | None = None
        self._sorted: dict[tuple[str, str], list[OpenItem]] = {}  # (customer, currency) -> by due date
        # From begin() on: the customers and (currency, amount) keys whose index buckets changed, so
        # advance() puts only those back in item-id order (None while a book is built).
        self._touched: tuple[set[str], set[tuple[str, int]]] | None = None

    # -- building ---------------------------------------------------------------------------------------

    def add(self, item: OpenItem) -> None:
        """Register an item (an invoice issued, or a row of an open-items snapshot)."""
        old = self.items.get(item.item_id)
        if old is not None:
            self._unindex(old)
        self.items[item.item_id] = item
        if not item.digits:
            item.digits = digits_of(item.item_id)
        self.refs.add(item.item_id, item.customer_id, item.po_number)
        if item.open_cents > 0:
            self._index(item)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> OpenItemBook:
        """From open items (``fct_ar_open_items`` or the like): item_id, customer_id, currency,
        document_date, due_date, open_amount; optional original_amount, discount_pct,
        discount_due_date, po_number, item_type (rows not of type ``invoice`` are skipped: credit
        memos on account and unapplied cash are not what a payment pays).

        Amounts are ``Decimal`` (or text); a frame may instead carry them as integer cents in
        ``open_cents`` / ``original_cents``, and dates as integer ordinals, which is how the warehouse
        hands over a million open items without a Python object per value (see
        ``ml.cashapp.warehouse.open_items``)."""
        book = cls()
        amount_cols = {"open_amount"} if "open_cents" not in df.columns else set()
        need = {"item_id", "customer_id", "currency", "document_date", "due_date"} | amount_cols
        missing = need - set(df.columns)
        if missing:
            raise ValueError(f"open items frame lacks columns: {', '.join(sorted(missing))}")
        n_rows = len(df)

        def column(name: str) -> list:
            return df[name].tolist() if name in df.columns else [None] * n_rows

        # Column lists and one loop, not itertuples and a dict per row; integer columns (cents,
        # ordinals) pass as they are: 24 s -> a few at a million items.
        def ints_or(name: str, convert) -> tuple[list, bool]:
            if name in df.columns and pd.api.types.is_integer_dtype(df[name].dtype):
                return df[name].tolist(), True
            return column(name), False

        keep = column("item_type") if "item_type" in df.columns else None
        item_ids, customer_ids, currencies = column("item_id"), column("customer_id"), column("currency")
        in_cents = "open_cents" in df.columns
        open_col, open_ready = ints_or("open_cents", None) if in_cents else (column("open_amount"), False)
        original_col, original_ready = (
            ints_or("original_cents", None) if in_cents else (column("original_amount"), False)
        )
        to_c = _integer_cents if in_cents else to_cents
        (docs, docs_ready), (dues, dues_ready) = (
            ints_or("document_date", _ordinal),
            ints_or("due_date", _ordinal),
        )
        (disc_dues, disc_dues_ready), pcts, pos = (
            _optional_ordinals(df, "discount_due_date"),
            column("discount_pct"),
            column("po_number"),
        )
        if open_ready and original_ready and docs_ready and dues_ready:
            # The warehouse's frame (integer cents and ordinals): items built column-wise by one
            # C-level map, where the loop below spent 4 s on a million rows.
            sel = None if keep is None else [n for n, t in enumerate(keep) if t == "invoice"]

            def pick(values: list) -> list:
                return values if sel is None else [values[n] for n in sel]

            book.add_many(
                list(
                    map(
                        OpenItem,
                        map(str, pick(item_ids)),
                        map(str, pick(customer_ids)),
                        map(str, pick(currencies)),
                        pick(docs),
                        pick(dues),
                        pick(original_col),
                        pick(open_col),
                        list(map(_discount_pct, pick(pcts))),
                        pick(disc_dues) if disc_dues_ready else list(map(_ordinal, pick(disc_dues))),
                        list(map(_po_number, pick(pos))),
                    )
                )
            )
            return book
        rows = []
        for n in range(n_rows):
            if keep is not None and keep[n] != "invoice":
                continue
            try:
                open_c = open_col[n] if open_ready else to_c(open_col[n])
                orig = original_col[n]
                if original_ready:
                    orig_c = orig
                else:
                    orig_c = to_c(orig) if orig is not None and orig == orig else open_c
                rows.append(
                    OpenItem(  # positional (the field order): keywords cost a second per million
                        str(item_ids[n]),
                        str(customer_ids[n]),
                        str(currencies[n]),
                        docs[n] if docs_ready else _ordinal(docs[n]),
                        dues[n] if dues_ready else _ordinal(dues[n]),
                        orig_c,
                        open_c,
                        _discount_pct(pcts[n]),
                        disc_dues[n] if disc_dues_ready else _ordinal(disc_dues[n]),
                        _po_number(pos[n]),
                    )
                )
            except (ValueError, TypeError) as e:
                raise ValueError(f"open items row {n + 1} (item {item_ids[n]!r}): {e}") from e
        book.add_many(rows)
        return book

    def add_many(self, items: list[OpenItem]) -> None:
        """:meth:`add` for many items at once: the same book, with references indexed in bulk."""
        fresh = [it for it in items if it.item_id not in self.items]
        if len(fresh) < len(items) or len(set(it.item_id for it in fresh)) < len(fresh):
            for it in items:  # replacements re-index one by one, in order
                self.add(it)
            return
        digits = digits_many([it.item_id for it in fresh])
        for it, d in zip(fresh, digits, strict=True):
            if not it.digits:
                it.digits = d
        self.refs.add_many(
            [it.item_id for it in fresh], [it.customer_id for it in fresh], [it.po_number for it in fresh]
        )
        for it in fresh:
            self.items[it.item_id] = it
            if it.open_cents > 0:
                self._index(it)

    @classmethod
    def from_duckdb(cls, con, query: str) -> OpenItemBook:
        """From a DuckDB query over open items (e.g. ``marts.fct_ar_open_items`` joined to the invoices'
        discount terms and PO numbers). Read through Arrow so DECIMAL stays ``Decimal``: DuckDB's
        ``.df()`` turns DECIMAL into float64, which :meth:`from_frame` refuses."""
        return cls.from_frame(exact_frame(con, query))

    def advance(self, open_cents: dict[str, int], new_items: list[OpenItem]) -> None:
        """Bring the book to a later day: every item's open amount from ``open_cents`` (item -> cents;
        items it lacks keep theirs), then ``new_items`` (issued since) registered.

        The result answers every question as the book :meth:`from_frame` would build from that
        day's open items, including the order of the items an index returns (decisions break ties
        by it): a fresh build indexes in item-id order, so every bucket an item entered or left since
        :meth:`begin` (the engine's reservations of the day, their rollback, today's changes and new
        invoices) is put back in that order. Why not re-index everything: that was a pass over every
        open item a day, 4 s a day of a first run at three million invoices. Only ``items`` (looked
        up, never iterated by matching) and the order of the indexes' keys (only looked up) keep
        arrival order.
        """
        customers, amounts = self._touched if self._touched is not None else (set(), set())
        for item_id, cents in open_cents.items():
            it = self.items.get(item_id)
            if it is None or it.open_cents == cents:
                continue
            customers.add(it.customer_id)
            amounts.update(((it.currency, it.open_cents), (it.currency, cents)))
            if it.open_cents > 0:
                self._unindex(it)
            it.open_cents = cents
            if cents > 0:
                self._index(it)
        fresh = [it for it in new_items if it.item_id not in self.items]
        for it, d in zip(fresh, digits_many([it.item_id for it in fresh]), strict=True):
            it.digits = it.digits or d
            self.items[it.item_id] = it
        self.refs.add_many(
            [it.item_id for it in fresh],
            [it.customer_id for it in fresh],
            [it.po_number for it in fresh],
            in_id_order=True,
        )
        for it in fresh:
            if it.open_cents > 0:
                self._index(it)
                customers.add(it.customer_id)
                amounts.add((it.currency, it.open_cents))
        for cid in customers:
            bucket = self.by_customer.get(cid)
            if not bucket:
                self.by_customer.pop(cid, None)
                continue
            self.by_customer[cid] = dict(sorted(bucket.items()))
            for key in {(cid, it.currency, it.open_cents) for it in bucket.values()}:
                self.by_amount[key] = dict(sorted(self.by_amount[key].items()))
        for key in amounts:
            same = self.by_amount_any.get(key)
            if same:
                self.by_amount_any[key] = dict(sorted(same.items()))

    # -- indexes ----------------------------------------------------------------------------------------

    def _index(self, it: OpenItem) -> None:
        self._sorted.pop((it.customer_id, it.currency), None)
        if self._touched is not None:
            self._touched[0].add(it.customer_id)
            self._touched[1].add((it.currency, it.open_cents))
        self.by_customer.setdefault(it.customer_id, {})[it.item_id] = it
        self.by_amount.setdefault((it.customer_id, it.currency, it.open_cents), {})[it.item_id] = it
        self.by_amount_any.setdefault((it.currency, it.open_cents), {})[it.item_id] = it

    def _unindex(self, it: OpenItem) -> None:
        self._sorted.pop((it.customer_id, it.currency), None)
        if self._touched is not None:
            self._touched[0].add(it.customer_id)
            self._touched[1].add((it.currency, it.open_cents))
        c = self.by_customer.get(it.customer_id)
        if c is not None:
            c.pop(it.item_id, None)
        k = (it.customer_id, it.currency, it.open_cents)
        a = self.by_amount.get(k)
        if a is not None:
            a.pop(it.item_id, None)
            if not a:
                del self.by_amount[k]
        g = self.by_amount_any.get((it.currency, it.open_cents))
        if g is not None:
            g.pop(it.item_id, None)
            if not g:
                del self.by_amount_any[(it.currency, it.open_cents)]

    def sorted_open(self, customer_id: str, currency: str) -> list[OpenItem]:
        """A customer's open items in one currency by due date (cached until one of them changes;
        callers must not mutate the list)."""
        key = (customer_id, currency)
        out = self._sorted.get(key)
        if out is None:
            out = sorted(
                (it for it in self.by_customer.get(customer_id, {}).values() if it.currency == currency),
                key=lambda it: (it.due_date, it.document_date, it.item_id),
            )
            self._sorted[key] = out
        return out

    def open_items(self, customer_id: str) -> list[OpenItem]:
        return list(self.by_customer.get(customer_id, {}).values())

    def with_open_amount(self, customer_id: str, currency: str, cents: int) -> list[OpenItem]:
        return list(self.by_amount.get((customer_id, currency, cents), {}).values())

    def global_amount(self, currency: str, cents: int) -> list[OpenItem]:
        """Open items of any customer with exactly this open amount (for payers nobody recognises)."""
        return list(self.by_amount_any.get((currency, cents), {}).values())

    # -- changes ----------------------------------------------------------------------------------------

    def reduce(self, item_id: str, cents: int) -> None:
        """Lower an item's open amount (cash, discount, deduction or credit applied); never below zero.

        Clipping at zero is deliberate: the ERP may write off a residual the engine has already
        closed (a refused discount later written off), and that must not reopen anything."""
        it = self.items.get(item_id)
        if it is None or cents == 0:
            return
        new = max(0, it.open_cents - cents)
        if self._journal is not None:
            self._journal.append((item_id, it.open_cents))
        if it.open_cents > 0:
            self._unindex(it)
        it.open_cents = new
        if new > 0:
            self._index(it)

    def begin(self) -> None:
        """Start recording reductions so :meth:`rollback` can undo them (and which index buckets
        change, for :meth:`advance`)."""
        self._journal = []
        self._touched = (set(), set())

    def rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for item_id, before in reversed(journal):
            it = self.items[item_id]
            if it.open_cents > 0:
                self._unindex(it)
            it.open_cents = before
            if before > 0:
                self._index(it)

    def commit(self) -> None:
        self._journal = None

    def open_total(self) -> int:
        return sum(it.open_cents for c in self.by_customer.values() for it in c.values())


def exact_frame(con, query: str) -> pd.DataFrame:
    """A DuckDB query as a DataFrame whose DECIMAL columns hold ``Decimal`` (via Arrow), never floats."""
    return con.sql(query).to_arrow_table().to_pandas()
