"""From a document's text lines and grids to a remittance: payer, payment reference, date, total,
currency, and the invoice lines, each value with how sure the extraction is.

Confidence (0-1) says how the value was found, not whether the payer is right:
- 0.99  a grid cell (HTML table, spreadsheet, CSV) under a recognised header;
- 0.98  a text-table cell, the row splitting into exactly the header's columns;
- 0.95  a text-table cell placed under its header by horizontal position;
- 0.85  a token picked out of a row that did not split cleanly (reference first, amounts in order);
- 0.93  a document field after a specific label ("Payment date:"), 0.65-0.9 after a generic one;
- 0.7-0.8 a reference or amount found in running text without a table.
PDF values are multiplied by 0.99 (rows are rebuilt from glyph positions); an amount whose digits
are ambiguous ("1,234" in a document with no other amounts to tell the convention) gets 0.9; a line
whose invoice - discount - deduction does not give its paid amount loses 10%.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from ingestion.normalized import RemittanceDocument, RemittanceLine
from ingestion.remittance.readers import Content, Grid, TextLine, cell_text
from ingestion.remittance.values import (
    CURRENCY_SYMBOLS,
    DATE_IN_TEXT,
    ISO_CURRENCIES,
    ambiguous_date,
    clean_reference,
    currency_in,
    decimal_comma_hint,
    dominant_currency,
    find_amounts,
    looks_like_reference,
    parse_amount,
    parse_date,
)

MONEY_KINDS = ("paid", "invoice_amount", "discount", "deduction")


@dataclass
class Field:
    value: object
    confidence: float
    source: str  # where it was found, for people: "line 4 label 'Payment date'"
    # A numeric date both day-first and month-first (01/12/2025) in a document whose own dates do not
    # settle the order: the other reading, for a caller that knows when the document was sent.
    other_reading: object | None = None


@dataclass
class ExtractedLine:
    invoice_reference: Field
    paid_amount: Field | None = None
    invoice_amount: Field | None = None
    discount_amount: Field | None = None
    deduction_amount: Field | None = None
    deduction_reason: Field | None = None
    where: str = ""

    @property
    def confidence(self) -> float:
        """The line is as sure as its two matching keys: the reference and the paid amount."""
        paid = self.paid_amount.confidence if self.paid_amount else 0.5
        return round(min(self.invoice_reference.confidence, paid), 4)

    def key(self) -> tuple[str, Decimal | None]:
        return (
            str(self.invoice_reference.value).upper(),
            self.paid_amount.value if self.paid_amount else None,  # type: ignore[return-value]
        )


@dataclass
class Extraction:
    source_format: str
    payer_name: Field | None = None
    payment_reference: Field | None = None
    payment_date: Field | None = None
    total_amount: Field | None = None
    currency: Field | None = None
    lines: list[ExtractedLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_document(self, position: int = 1) -> RemittanceDocument:
        def v(f: Field | None):
            return f.value if f else None

        doc = RemittanceDocument(
            source_format=self.source_format,
            payer_name=v(self.payer_name),
            payment_reference=v(self.payment_reference),
            payment_date=v(self.payment_date),
            total_amount=v(self.total_amount),
            currency=v(self.currency),
            payer_confidence=self.payer_name.confidence if self.payer_name else 0.0,
            position=position,
        )
        for i, ln in enumerate(self.lines, start=1):
            doc.lines.append(
                RemittanceLine(
                    invoice_reference=str(ln.invoice_reference.value),
                    paid_amount=v(ln.paid_amount),
                    invoice_amount=v(ln.invoice_amount),
                    discount_amount=v(ln.discount_amount),
                    deduction_amount=v(ln.deduction_amount),
                    deduction_reason=v(ln.deduction_reason),
                    confidence=ln.confidence,
                    position=i,
                )
            )
        return doc


# --- headers ---------------------------------------------------------------------------------------


def norm_header(text: object) -> str:
    h = str(text or "").lower()
    h = h.replace("#", " no ").replace("nº", " no ").replace("n°", " no ").replace("no.", "no ")
    h = re.sub(r"[^a-z0-9 ]+", " ", h)
    return re.sub(r"\s+", " ", h).strip()


# Header phrases as AP systems print them, normalised by ``norm_header``. Used as a dictionary and to
# split single-spaced text headers ("Invoice No. Invoice Amount Discount Amount Paid") into columns.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ref": (
        "invoice",
        "invoices",
        "invoice no",
        "invoice number",
        "invoice nr",
        "invoice num",
        "invoice id",
        "invoice ref",
        "invoice reference",
        "inv",
        "inv no",
        "inv number",
        "inv nr",
        "inv ref",
        "invoice document",
        "document",
        "document no",
        "document number",
        "doc",
        "doc no",
        "doc number",
        "reference",
        "ref",
        "ref no",
        "reference no",
        "reference number",
        "your reference",
        "your ref",
        "your invoice",
        "your invoice no",
        "bill",
        "bill no",
        "bill number",
        "voucher",
        "voucher no",
        "item",
        "vendor invoice",
        "supplier invoice",
        "supplier invoice no",
        "vendor invoice no",
    ),
    "paid": (
        "amount paid",
        "paid amount",
        "paid",
        "payment",
        "payment amount",
        "pmt amount",
        "net",
        "net amount",
        "net paid",
        "net payment",
        "amount remitted",
        "remitted",
        "remitted amount",
        "paid amt",
        "amt paid",
        "pay amount",
        "net amt",
        "payment amt",
        "amount to pay",
        "net pay",
        "paid now",
        "this payment",
        "invoice amount paid",
        "net amount paid",
        "total amount paid",
        "amount paid net",
        "net payment amount",
    ),
    "invoice_amount": (
        "invoice amount",
        "inv amount",
        "inv amt",
        "invoice amt",
        "gross",
        "gross amount",
        "gross amt",
        "original amount",
        "orig amount",
        "orig amt",
        "invoice total",
        "amount due",
        "due amount",
        "billed amount",
        "invoice value",
        "document amount",
        "doc amount",
        "open amount",
        "original",
        "invoice gross",
        "total due",
        "amount invoiced",
    ),
    "discount": (
        "discount",
        "disc",
        "discount taken",
        "discount amount",
        "disc amt",
        "disc taken",
        "cash discount",
        "discount amt",
        "early payment discount",
        "discounts",
    ),
    "deduction": (
        "deduction",
        "deductions",
        "deduction amount",
        "deduction amt",
        "ded amt",
        "short pay",
        "short paid",
        "shortpay",
        "short payment",
        "adjustment",
        "adjustments",
        "adjustment amount",
        "adj",
        "adj amount",
        "adj amt",
        "chargeback",
        "chargebacks",
        "withholding",
        "deducted",
        "write off",
    ),
    "reason": (
        "reason",
        "reason code",
        "deduction reason",
        "adjustment reason",
        "adj reason",
        "short pay reason",
        "remarks",
        "remark",
        "comment",
        "comments",
        "memo",
        "note",
        "notes",
        "adj code",
        "deduction code",
    ),
    "date": (
        "date",
        "invoice date",
        "inv date",
        "document date",
        "doc date",
        "due date",
        "payment date",
        "date paid",
    ),
    "currency": ("currency", "ccy", "curr", "cur"),
    "amount": ("amount", "amt", "total", "value", "sum"),
    "other": (
        "description",
        "desc",
        "details",
        "po",
        "po no",
        "po number",
        "purchase order",
        "customer",
        "customer no",
        "account",
        "line",
        "qty",
        "quantity",
        "order",
        "order no",
        "balance",
        "open balance",
        "remaining",
    ),
}
_SYNONYM_KIND = {p: k for k, phrases in HEADER_SYNONYMS.items() for p in phrases}
_REF_SCORE = {
    "invoice": 3,
    "invoices": 3,
    "inv": 3,
    "document": 2,
    "doc": 2,
    "bill": 2,
    "voucher": 2,
    "reference": 1,
    "ref": 1,
}
_PAID_SCORE = {"paid": 3, "remitted": 3, "net": 2, "payment": 1, "pmt": 1, "pay": 1}


def classify_header(text: object) -> str | None:
    """The column a header cell names (ref, paid, invoice_amount, discount, ...), or None."""
    h = norm_header(text)
    if not h or len(h) > 40 or re.search(r"\d", h):
        return None
    if h in _SYNONYM_KIND:
        return _SYNONYM_KIND[h]
    w = set(h.split())
    if "date" in w:
        return "date"
    if w & {"reason", "reasons", "remark", "remarks", "comment", "comments", "memo", "explanation"}:
        return "reason"
    if "code" in w and w & {"adj", "adjustment", "deduction", "ded", "short"}:
        return "reason"
    if w & {"currency", "ccy"}:
        return "currency"
    if any(x.startswith("disc") for x in w):
        return "discount"
    if any(x.startswith(("deduct", "short", "adjust", "chargeback", "withh")) for x in w):
        return "deduction"
    if w & {"paid", "payment", "pmt", "remitted", "remit", "net"}:
        if w & {"ref", "reference", "no", "number", "id", "nr", "method", "type"} and not w & {
            "amount",
            "amt",
        }:
            return "other"
        return "paid"
    if w & {"gross", "original", "orig", "billed", "due", "open", "invoiced"}:
        return "invoice_amount"
    if w & {"amount", "amt", "total", "value", "sum"}:
        if w & {"invoice", "inv", "document", "doc", "bill"}:
            return "invoice_amount"
        return "amount"
    if w & {"po", "purchase", "order", "customer", "account", "acct", "description"}:
        return "other"
    if w & {"invoice", "inv", "invoices", "document", "doc", "reference", "ref", "bill", "voucher"}:
        return "ref"
    return None


@dataclass
class Column:
    kind: str
    index: int  # cell index (grids) or order in the header (text)
    x0: float = 0.0
    x1: float = 0.0
    text: str = ""


@dataclass
class Header:
    columns: list[Column]  # all columns, in order
    roles: dict[str, Column]  # the column chosen for each kind
    derived_paid: bool = False  # no paid column: paid = invoice - discount - deduction


def resolve_header(columns: list[Column]) -> Header | None:
    """Choose one column per kind; None unless the row names an invoice reference and an amount."""
    if len(columns) < 2:
        return None
    roles: dict[str, Column] = {}
    generic: list[Column] = []
    for col in columns:
        if col.kind == "amount":
            generic.append(col)
            continue
        if col.kind in ("other", "date", "currency") and col.kind in roles:
            continue
        best = roles.get(col.kind)
        if best is None:
            roles[col.kind] = col
        elif col.kind == "ref" and _score(col, _REF_SCORE) > _score(best, _REF_SCORE):
            roles["ref"] = col
        elif col.kind == "paid" and _score(col, _PAID_SCORE) > _score(best, _PAID_SCORE):
            roles["paid"] = col
    for col in generic:
        if "paid" not in roles:
            col.kind = "paid"
            roles["paid"] = col
        elif "invoice_amount" not in roles:
            col.kind = "invoice_amount"
            roles["invoice_amount"] = col
    if "ref" not in roles or not ({"paid", "invoice_amount"} & roles.keys()):
        return None
    return Header(columns=columns, roles=roles, derived_paid="paid" not in roles)


def _score(col: Column, table: dict[str, int]) -> int:
    return max((table.get(w, 0) for w in norm_header(col.text).split()), default=0)


def _segment_phrases(text: str) -> list[tuple[str, int, int]] | None:
    """Split a single-spaced header into known phrases, with character spans; None if it does not split.

    Dynamic programming over the words: the fewest phrases that cover them all, so
    "Deduction Reason Code Payment Amount" reads as deduction | reason code | payment amount.
    """
    tokens = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    n = len(tokens)
    if n == 0 or n > 24:
        return None
    # snake_case names (a printed data frame: "invoice amount_paid") are one column per word.
    sizes = (1,) if "_" in text else (4, 3, 2, 1)
    best: list[list[tuple[str, int, int]] | None] = [None] * (n + 1)
    best[n] = []
    for i in range(n - 1, -1, -1):
        for size in sizes:
            j = i + size
            if j > n or best[j] is None:
                continue
            phrase = norm_header(" ".join(t for t, _, _ in tokens[i:j]))
            if phrase in _SYNONYM_KIND:
                candidate = [(phrase, tokens[i][1], tokens[j - 1][2]), *best[j]]
                if best[i] is None or len(candidate) < len(best[i]):
                    best[i] = candidate
    return best[0]


# --- cells of a text line --------------------------------------------------------------------------

_CELL_SPLIT = re.compile(r"\t+| {2,}|\s*\|\s*|\s*¦\s*")


def split_cells(text: str) -> list[tuple[str, int, int]]:
    """Cells of a text line: separated by tabs, two or more spaces, or vertical bars."""
    out = []
    pos = 0
    for m in _CELL_SPLIT.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], pos, len(text)))
    return [(t.strip(), s, e) for t, s, e in out if t.strip()]


def delimited_cells(text: str) -> list[tuple[str, int, int]] | None:
    """Cells of a line delimited by single tabs or bars, empty cells kept (``| a |  | b |``)."""
    if "|" in text:
        sep = "|"
    elif "\t" in text:
        sep = "\t"
    else:
        return None
    out = []
    pos = 0
    for part in text.split(sep):
        out.append((part.strip(), pos, pos + len(part)))
        pos += len(part) + 1
    if sep == "|":
        # "| a | b |": the bars at both ends enclose no cells
        if out and not out[0][0]:
            out = out[1:]
        if out and not out[-1][0]:
            out = out[:-1]
    return out


def header_from_line(line: TextLine) -> Header | None:
    cells = split_cells(line.text)
    if not cells or len(cells) > 20:
        return None
    delimited = delimited_cells(line.text)
    if delimited is not None and "|" in line.text:
        cells = delimited  # "|    | invoice | paid |": the blank index column is a column too
    columns: list[Column] = []
    for text, start, end in cells:
        if not text:
            x0, x1 = line.span(start, end) if end > start else (0.0, 0.0)
            columns.append(Column(kind="other", index=len(columns), x0=x0, x1=x1, text=""))
            continue
        whole = norm_header(text) in _SYNONYM_KIND and not ("_" in text and " " in text)
        phrases = _segment_phrases(text) if not whole else None
        kind = classify_header(text)
        if phrases and (len({_SYNONYM_KIND[p] for p, _, _ in phrases}) > 1 or "_" in text):
            kind = None  # two headers run together ("Paid Amount Reason Code"): a cell gap was too narrow
        if kind is not None:
            x0, x1 = line.span(start, end)
            columns.append(Column(kind=kind, index=len(columns), x0=x0, x1=x1, text=text))
            continue
        if not phrases:
            # An unknown column name ("Balance", "Project") among known ones: keep its place. Text
            # with digits or many words is a sentence or a data row, not a header.
            if re.search(r"\d", text) or len(text.split()) > 4:
                return None
            x0, x1 = line.span(start, end)
            columns.append(Column(kind="other", index=len(columns), x0=x0, x1=x1, text=text))
            continue
        for phrase, s, e in phrases:
            x0, x1 = line.span(start + s, start + e)
            columns.append(Column(kind=_SYNONYM_KIND[phrase], index=len(columns), x0=x0, x1=x1, text=phrase))
    named = [c for c in columns if c.text]
    if sum(c.kind != "other" for c in named) < max(2, len(named) // 2 + 1):
        return None
    return resolve_header(columns)


def header_from_cells(cells: list[object]) -> Header | None:
    columns = []
    nonempty = 0
    for i, cell in enumerate(cells):
        if cell is None or str(cell).strip() == "":
            continue
        nonempty += 1
        if not isinstance(cell, str):
            return None  # a number or date cell: a data row, not a header
        kind = classify_header(cell)
        if kind is not None:
            columns.append(Column(kind=kind, index=i, text=cell))
    if nonempty and len(columns) < max(2, nonempty // 2):
        return None
    return resolve_header(columns)


# --- document context ------------------------------------------------------------------------------


@dataclass
class Context:
    kind: str
    decimal_comma: bool | None
    dayfirst: bool | None
    scale: float  # PDF rows are rebuilt from glyphs: a little less sure than cells


def _context(content: Content) -> Context:
    texts = [ln.text for ln in content.lines]
    decimal_comma = decimal_comma_hint(texts)
    dayfirst = None
    votes_day = votes_month = 0
    for t in texts:
        for m in re.finditer(r"(?<![\d.])(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})(?![\d.])", t):
            a, b = int(m.group(1)), int(m.group(2))
            votes_day += a > 12 >= b
            votes_month += b > 12 >= a
    if votes_day != votes_month:
        dayfirst = votes_day > votes_month
    elif decimal_comma:
        dayfirst = True  # decimal commas go with day-first dates (most of Europe)
    return Context(
        kind=content.kind,
        decimal_comma=decimal_comma,
        dayfirst=dayfirst,
        scale=0.99 if content.kind == "pdf" else 1.0,
    )


def _amount_field(value: object, base: float, ctx: Context, where: str) -> Field | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    amount = parse_amount(value, ctx.decimal_comma)
    if amount is None:
        return None
    conf = base
    if isinstance(value, str):
        if ctx.decimal_comma is None and re.fullmatch(r"\D*\d{1,3}[.,]\d{3}\D*", value.strip()):
            conf = min(conf, 0.9)  # "1,234": thousands or three decimals, and nothing else tells
        else:
            conf = min(conf, base - 0.005) if base >= 0.99 else conf
    return Field(amount, round(conf * ctx.scale, 4), where)


def _reference_field(value: object, base: float, ctx: Context, where: str) -> Field | None:
    ref = clean_reference(value)
    if looks_like_reference(ref):
        return Field(ref, round(base * ctx.scale, 4), where)
    # A cell holding the reference plus a note ("INV-2025-000124 second shipment"): take the token.
    for token in re.findall(r"\S+", str(value or "")):
        token = clean_reference(token)
        if looks_like_reference(token) and (parse_amount(token) is None or re.fullmatch(r"\d{5,}", token)):
            return Field(token, round((base - 0.05) * ctx.scale, 4), where)
    return None


def _positive(f: Field | None) -> Field | None:
    if f is not None:
        f.value = abs(f.value)  # type: ignore[arg-type]
    return f


_TOTAL_ROW = re.compile(
    r"^(?:grand\s+)?(?:sub\s*-?\s*)?totals?\b|^sum\b|^total\s+(?:paid|payment|amount)", re.IGNORECASE
)


def _is_subtotal(text: str) -> bool:
    return bool(re.match(r"^sub\s*-?\s*total", text.strip(), re.IGNORECASE))


def _build_line(
    cells: dict[str, object],
    header: Header,
    base: float,
    ctx: Context,
    where: str,
    warnings: list[str],
    strict: bool = False,
) -> ExtractedLine | None:
    """A line from the cells picked for each role. ``strict``: a money cell that holds something
    other than an amount means the cells were picked wrong, so no line."""
    ref = _reference_field(cells.get("ref"), base, ctx, where)
    if ref is None:
        return None
    if strict:
        for kind in MONEY_KINDS:
            value = cells.get(kind)
            if value not in (None, "") and parse_amount(value, ctx.decimal_comma) is None:
                return None
    line = ExtractedLine(invoice_reference=ref, where=where)
    line.invoice_amount = _amount_field(cells.get("invoice_amount"), base, ctx, where)
    # Discounts and deductions reduce the payment whichever sign the payer prints them with
    # ("(100.00)", "-100.00" or "100.00"): stored as positive amounts, like the 820's.
    line.discount_amount = _positive(_amount_field(cells.get("discount"), base, ctx, where))
    line.deduction_amount = _positive(_amount_field(cells.get("deduction"), base, ctx, where))
    line.paid_amount = _amount_field(cells.get("paid"), base, ctx, where)
    reason = cells.get("reason")
    if reason is not None and str(reason).strip():
        line.deduction_reason = Field(str(reason).strip(), round(base * ctx.scale, 4), where)
    if header.derived_paid and line.invoice_amount is not None:
        paid = line.invoice_amount.value
        for f in (line.discount_amount, line.deduction_amount):
            paid -= f.value if f else 0
        line.paid_amount = Field(paid, round(line.invoice_amount.confidence * 0.9, 4), where + " (derived)")
    if all(f is None for f in (line.paid_amount, line.invoice_amount)):
        return None  # a reference with no amount at all is a note, not a paid invoice
    if line.paid_amount is not None and line.invoice_amount is not None and not header.derived_paid:
        expected = line.invoice_amount.value - sum(
            (f.value for f in (line.discount_amount, line.deduction_amount) if f), Decimal(0)
        )
        if expected != line.paid_amount.value:
            warnings.append(
                f"{where}: invoice {ref.value}: {line.invoice_amount.value} - discount - deduction = {expected}, "
                f"but {line.paid_amount.value} is stated as paid"
            )
            line.paid_amount.confidence = round(line.paid_amount.confidence * 0.9, 4)
            line.invoice_reference.confidence = round(line.invoice_reference.confidence * 0.95, 4)
    return line


# --- grids -----------------------------------------------------------------------------------------


def _grid_lines(grid: Grid, ctx: Context, out: Extraction, consumed_text: set[str]) -> None:
    header: Header | None = None
    for i, row in enumerate(grid.rows):
        row_no = grid.row_numbers[i] if grid.row_numbers else i + 1
        where = f"{grid.origin} row {row_no}"
        candidate = header_from_cells(row)
        if candidate is not None:
            header = candidate
            consumed_text.add(_row_text(row))
            continue
        if header is None or not any(c not in (None, "") for c in row):
            continue
        first = next((str(c) for c in row if c not in (None, "")), "")
        if _TOTAL_ROW.match(first.strip()):
            consumed_text.add(_row_text(row))
            amounts = [
                c
                for c in row
                if parse_amount(c, ctx.decimal_comma) is not None and not isinstance(c, dt.date)
            ]
            paid_col = header.roles.get("paid")
            value = (
                row[paid_col.index]
                if paid_col and paid_col.index < len(row)
                else (amounts[-1] if amounts else None)
            )
            f = _amount_field(value, 0.95, ctx, where + " total row")
            if (
                f
                and not _is_subtotal(first)
                and (out.total_amount is None or out.total_amount.confidence < f.confidence)
            ):
                out.total_amount = f
            if not _is_subtotal(first):
                header = None
            continue
        cells = {
            kind: (row[col.index] if col.index < len(row) else None) for kind, col in header.roles.items()
        }
        line = _build_line(cells, header, 0.99, ctx, where, out.warnings)
        if line is not None:
            out.lines.append(line)
            consumed_text.add(_row_text(row))


def _row_text(row: list[object]) -> str:
    return "\t".join(cell_text(v) for v in row).strip()


# --- text tables -----------------------------------------------------------------------------------

_RULE_LINE = re.compile(r"^[\s\-=_+|:*~.]+$")


def _text_lines(lines: list[TextLine], ctx: Context, out: Extraction, consumed: set[int]) -> None:
    i = 0
    n = len(lines)
    while i < n:
        header = header_from_line(lines[i])
        if header is None:
            i += 1
            continue
        consumed.add(i)
        misses = 0
        j = i + 1
        while j < n:
            line = lines[j]
            text = line.text.strip()
            if not text:
                j += 1
                continue
            if _RULE_LINE.match(text):
                consumed.add(j)
                j += 1
                continue
            if header_from_line(line) is not None:
                break
            first = split_cells(line.text)[0][0] if split_cells(line.text) else text
            if _TOTAL_ROW.match(first) or _TOTAL_ROW.match(text):
                consumed.add(j)
                amounts = find_amounts(text, ctx.decimal_comma)
                if amounts and not _is_subtotal(text):
                    f = Field(amounts[-1][0], round(0.95 * ctx.scale, 4), f"{line.where()} total row")
                    if out.total_amount is None or out.total_amount.confidence < f.confidence:
                        out.total_amount = f
                j += 1
                if _is_subtotal(text):
                    continue
                break
            row = _text_row(line, header, ctx, out.warnings)
            if row is not None:
                out.lines.append(row)
                consumed.add(j)
                misses = 0
            else:
                misses += 1
                if misses >= 2:
                    break
            j += 1
        i = j


def _fine_cells(text: str, ctx: Context) -> list[tuple[str, int, int]]:
    """Cells split further where a column gap was too narrow to see: every token with a digit stands
    alone (a currency code or symbol stays with the amount after it), runs of plain words stay
    together ("Damaged goods")."""
    out: list[tuple[str, int, int]] = []
    for cell, start, _ in split_cells(text):
        if parse_amount(cell, ctx.decimal_comma) is not None or " " not in cell:
            out.append((cell, start, start + len(cell)))
            continue
        tokens = [(m.group(0), start + m.start(), start + m.end()) for m in re.finditer(r"\S+", cell)]
        merged: list[tuple[str, int, int]] = []
        for tok, s, e in tokens:
            if merged:
                prev, ps, _ = merged[-1]
                words = not re.search(r"\d", prev) and not re.search(r"\d", tok)
                currency = prev.upper() in ISO_CURRENCIES or prev in CURRENCY_SYMBOLS
                if (words and not currency) or (currency and re.search(r"\d", tok)):
                    merged[-1] = (f"{prev} {tok}", ps, e)
                    continue
            merged.append((tok, s, e))
        out.extend(merged)
    return out


def _text_row(line: TextLine, header: Header, ctx: Context, warnings: list[str]) -> ExtractedLine | None:
    """A data row under a text header; strategies from the surest to the loosest, first complete wins."""
    columns = header.columns
    where = line.where()
    needs_paid = not header.derived_paid

    def complete(row: ExtractedLine | None) -> bool:
        return row is not None and (row.paid_amount is not None or not needs_paid)

    # 1. The row splits into exactly the header's columns (tabs or bars keep empty cells; trailing
    # empty cells are often dropped; a leading row number is a printed data frame's index).
    # A PDF's tabs are gaps between glyphs, not delimiters: an empty cell leaves no trace there.
    delimited = delimited_cells(line.text) if ctx.kind != "pdf" else None
    if delimited is not None and len(delimited) < len(columns):
        delimited = delimited + [("", 0, 0)] * (len(columns) - len(delimited))
    for cells in (delimited, split_cells(line.text)):
        if cells is not None and len(cells) == len(columns) + 1 and re.fullmatch(r"\d{1,6}", cells[0][0]):
            cells = cells[1:]
        if cells is not None and len(cells) == len(columns):
            picked = {kind: cells[col.index][0] for kind, col in header.roles.items()}
            row = _build_line(picked, header, 0.98, ctx, where, [], strict=True)
            if complete(row):
                return _build_line(picked, header, 0.98, ctx, where, warnings)
    # 2. Each cell goes under the header column it overlaps most (fixed-width text, PDF positions).
    placed: dict[int, str] = {}
    ok = True
    for text, start, end in _fine_cells(line.text, ctx):
        x0, x1 = line.span(start, end)
        if re.fullmatch(r"\d{1,6}", text) and not any(min(x1, c.x1) > max(x0, c.x0) for c in columns):
            continue  # a row number outside every column
        best, best_key = None, None
        for col in columns:
            overlap = min(x1, col.x1) - max(x0, col.x0)
            distance = 0.0 if overlap > 0 else max(col.x0 - x1, x0 - col.x1)
            key = (overlap > 0, overlap if overlap > 0 else -distance)
            if best_key is None or key > best_key:
                best, best_key = col, key
        if best is None or best.index in placed:
            ok = False
            break
        placed[best.index] = text
    if ok:
        picked = {kind: placed.get(col.index) for kind, col in header.roles.items()}
        row = _build_line(picked, header, 0.95, ctx, where, [], strict=True)
        if complete(row):
            return _build_line(picked, header, 0.95, ctx, where, warnings)
    # 3. Last resort: the reference is the first reference-like token, the amounts follow in
    # header order (or the paid amount is the last one when the paid column is last).
    found = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[^\s|]+", line.text)]
    ref_col = header.roles["ref"]

    def under_ref(start: int, end: int) -> bool:
        x0, x1 = line.span(start, end)
        return min(x1, ref_col.x1) > max(x0, ref_col.x0)

    candidates = [t for t, _, _ in sorted(found, key=lambda f: not under_ref(f[1], f[2]))]
    ref = next(
        (t for t in candidates if looks_like_reference(t) and parse_amount(t, ctx.decimal_comma) is None),
        None,
    )
    ref = ref or next((t for t in candidates if re.fullmatch(r"\d{5,}", t)), None)
    if ref is None:
        return None
    amounts = [a for a, _, _ in _amounts_outside_dates(line.text, ctx)]
    money_cols = [c.kind for c in columns if c.kind in MONEY_KINDS and header.roles.get(c.kind) is c]
    picked: dict[str, object] = {"ref": ref}
    if len(amounts) == len(money_cols):
        picked.update(dict(zip(money_cols, amounts, strict=True)))
    elif len(amounts) == 1:
        picked["paid" if "paid" in header.roles else "invoice_amount"] = amounts[0]
    elif amounts and "paid" in header.roles and money_cols and money_cols[-1] == "paid":
        picked["paid"] = amounts[-1]
    else:
        return None
    row = _build_line(picked, header, 0.85, ctx, where, warnings)
    return row if complete(row) else None


# --- free text -------------------------------------------------------------------------------------

_LABELED_REF = re.compile(
    r"\b(?:invoice|inv|bill|document|doc)\b\.?\s*(?:no\b\.?|number|nr\b\.?|num\b\.?|#|ref(?:erence)?\b\.?)?\s*[:#]?\s*"
    r"(?P<ref>[A-Za-z0-9][\w\-/]*\d[\w\-/]*)",
    re.IGNORECASE,
)
_BARE_REF = re.compile(r"(?<![\w-])(?P<ref>[A-Z]{2,6}[-/]?\d{3,}[\w\-/]*)(?![\w-])")
# References that are not invoices: purchase orders, customer and account numbers.
_NOT_INVOICE_CONTEXT = re.compile(
    r"(?:\bP\.?O\.?|purchase\s+order|order|customer|cust|account|acct|vendor|supplier|tel|phone|fax|iban|swift)"
    r"\s*(?:no\.?|number|nr\.?|#|id)?\s*[:#]?\s*$",
    re.IGNORECASE,
)


def _refs_in(text: str, not_refs: set[str]) -> list[tuple[str, int, int, float]]:
    """Invoice references in a line of running text: (reference, start, end, confidence)."""
    refs: list[tuple[str, int, int, float]] = []
    for m in _LABELED_REF.finditer(text):
        refs.append((clean_reference(m.group("ref")), m.start("ref"), m.end("ref"), 0.8))
    for m in _BARE_REF.finditer(text):
        ref = clean_reference(m.group("ref"))
        if all(ref != r[0] for r in refs) and not _NOT_INVOICE_CONTEXT.search(
            text[max(0, m.start() - 20) : m.start()]
        ):
            refs.append((ref, m.start(), m.end(), 0.7))
    cells = split_cells(text)
    if not refs and len(cells) >= 2 and re.fullmatch(r"\d{5,}", clean_reference(cells[0][0])):
        # A bare-digit invoice number in the first column of a headerless list ("2025000123  1,209.87").
        refs.append((clean_reference(cells[0][0]), cells[0][1], cells[0][2], 0.7))
    refs = [r for r in refs if looks_like_reference(r[0]) and r[0].upper() not in not_refs]
    return sorted(refs, key=lambda r: r[1])


def _free_text_lines(
    lines: list[TextLine], ctx: Context, out: Extraction, skip: set[int], not_refs: set[str]
) -> None:
    found: list[ExtractedLine] = []
    for i, line in enumerate(lines):
        if i in skip or not line.text.strip():
            continue
        text = line.text
        refs = _refs_in(text, not_refs)
        if not refs:
            continue
        amounts = _amounts_outside_dates(text, ctx)
        amounts = [a for a in amounts if not any(s <= a[1] < e for _, s, e, _ in refs)]
        where = line.where()
        labeled = [r for r in refs if r[3] >= 0.8]
        if len(refs) != len(amounts) and labeled and len(labeled) == len(amounts):
            refs = labeled  # "invoice X for 10.00 and invoice Y for 20.00 ... reference TRX-1"
        if not amounts and len(refs) == 1:
            # "Invoice: INV-1" then "Amount: 100.00" on the next line.
            nxt = next((ln for ln in lines[i + 1 : i + 3] if ln.text.strip()), None)
            if nxt is not None and not _refs_in(nxt.text, not_refs):
                nxt_amounts = _amounts_outside_dates(nxt.text, ctx)
                if len(nxt_amounts) == 1:
                    amounts = nxt_amounts
                    refs = [(refs[0][0], refs[0][1], refs[0][2], refs[0][3] - 0.05)]
        if len(refs) == len(amounts) or len(refs) == 1 and amounts:
            for k, (ref, _, end, conf) in enumerate(refs):
                paid_conf = conf
                if len(refs) == len(amounts):
                    amount = amounts[k][0]
                else:
                    # One reference, several amounts (gross, discount, net...): the first after
                    # the reference is a guess, and says so.
                    after = [a for a in amounts if a[1] >= end]
                    amount = (after or amounts)[0][0]
                    paid_conf = min(conf, 0.5)
                found.append(
                    ExtractedLine(
                        invoice_reference=Field(ref, round(conf * ctx.scale, 4), where),
                        paid_amount=Field(amount, round(paid_conf * ctx.scale, 4), where),
                        where=where,
                    )
                )
        else:
            for ref, _, _, conf in refs:
                found.append(
                    ExtractedLine(
                        invoice_reference=Field(ref, round(conf * 0.9 * ctx.scale, 4), where), where=where
                    )
                )
    seen: set[str] = set()
    for ln in found:
        key = str(ln.invoice_reference.value).upper()
        if key not in seen:
            seen.add(key)
            out.lines.append(ln)


def _amounts_outside_dates(text: str, ctx: Context) -> list[tuple[Decimal, int, int]]:
    dates = _date_spans(text)
    return [a for a in find_amounts(text, ctx.decimal_comma) if not any(s <= a[1] < e for s, e in dates)]


def _date_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in DATE_IN_TEXT.finditer(text)]


# --- document fields -------------------------------------------------------------------------------

_SEP = r"\s*(?:[:#=]|-(?=\s)|–)?\s*"
# (field, label pattern, confidence, generic) — generic labels count only at the start of a cell.
FIELD_LABELS: list[tuple[str, str, float, bool]] = [
    (
        "payment_reference",
        r"(?:payment|pmt|remittance|remit|transaction|txn|eft|ach|wire|transfer|trace|settlement)\s*(?:advice\s*)?(?:ref(?:erence)?|no|nr|number|num|id|#)\.?(?:\s*(?:no|number|#)\.?)?",
        0.93,
        False,
    ),
    ("payment_reference", r"(?:check|cheque|chk)\s*(?:no|nr|number|num|#)\.?", 0.9, False),
    ("payment_reference", r"with\s+(?:payment\s+|our\s+)?reference", 0.8, False),
    ("payment_reference", r"reference", 0.72, True),
    ("payment_reference", r"(?:remittance|payment)\s+advice", 0.75, False),
    (
        "payment_date",
        r"(?:payment|pmt|value|settlement|pay|remittance|check|cheque|transfer|execution|posting|credit|clearing)\s*date|date\s*(?:of\s*)?(?:payment|paid|transfer)|date\s*paid",
        0.93,
        False,
    ),
    ("payment_date", r"(?:paid|sent|transferred|remitted|made|released|initiated|executed)\s+on", 0.8, False),
    ("payment_date", r"date", 0.65, True),
    (
        "total_amount",
        r"total\s*(?:amount\s*)?(?:paid|payment|remitted|remittance|transferred)|(?:payment|remittance|check|cheque|transfer|wire|eft|ach)\s*(?:amount|total)|amount\s*(?:paid|remitted|transferred)|net\s*(?:payment|paid)|sum\s*paid",
        0.95,
        False,
    ),
    ("total_amount", r"(?:payment|transfer|remittance|wire)\s+of", 0.8, False),
    ("total_amount", r"(?:transferred|remitted|wired|sent)(?:\s+you)?", 0.75, False),
    ("total_amount", r"(?:grand\s*)?total(?:\s*amount)?", 0.88, True),
    (
        "payer_name",
        r"payer(?:'s)?(?:\s*name)?|payor|paid\s*by|remitter|remitted\s*by|remitting\s*(?:company|party)|customer\s*name|company\s*name|debtor|from\s*customer|on\s+behalf\s+of",
        0.9,
        False,
    ),
    ("payer_name", r"customer|company|buyer|sender", 0.75, True),
    ("currency", r"currency|ccy", 0.97, False),
]
_LABEL_RES = [
    (f, re.compile(rf"(?<![A-Za-z])(?:{p})(?![A-Za-z]){_SEP}", re.IGNORECASE), c, g)
    for f, p, c, g in FIELD_LABELS
]
_ANY_LABEL = re.compile(
    "|".join(rf"(?<![A-Za-z])(?:{p})(?![A-Za-z])" for _, p, _, g in FIELD_LABELS if not g), re.IGNORECASE
)


def _field_value(kind: str, region: str, ctx: Context) -> object | None:
    region = region.strip()
    if not region:
        return None
    if kind == "payment_reference":
        for token in re.findall(r"[A-Za-z0-9][\w\-/.]*", region)[:2]:
            token = clean_reference(token)
            if len(token) >= 3 and any(c.isdigit() for c in token) and DATE_IN_TEXT.fullmatch(token) is None:
                return token
        return None
    if kind == "payment_date":
        m = DATE_IN_TEXT.search(region[:60])
        return parse_date(m.group(0), ctx.dayfirst) if m else None
    if kind == "total_amount":
        amounts = find_amounts(region[:60], ctx.decimal_comma)
        if amounts:
            return amounts[0][0]
        first = region.split()[0] if region.split() else ""
        return parse_amount(first, ctx.decimal_comma)
    if kind == "currency":
        code = currency_in(region[:20])
        return code
    if kind == "payer_name":
        m = _ANY_LABEL.search(region)
        name = region[: m.start()] if m else region
        name = re.sub(r"<[^>]*>|\S+@\S+", "", name)
        name = re.split(r"\s+-\s+|\s*[,;(]\s*(?=ref|date|amount)", name)[0].strip(" .,:;-")
        if re.search(r"[A-Za-z]", name) and 2 <= len(name) <= 80 and not DATE_IN_TEXT.search(name):
            return name
        return None
    return None


def _other_reading(region: str, value: object) -> dt.date | None:
    """The day-first or month-first reading of an ambiguous numeric date that ``value`` is not."""
    m = DATE_IN_TEXT.search(region.strip()[:60])
    if not m or not ambiguous_date(m.group(0)):
        return None
    readings = {parse_date(m.group(0), True), parse_date(m.group(0), False)} - {value, None}
    return readings.pop() if readings else None


def _fields(lines: list[TextLine], ctx: Context, out: Extraction, skip: set[int]) -> set[int]:
    """Document-level values after their labels; returns the lines that held one."""
    used: set[int] = set()
    best: dict[str, Field] = {}
    for i, line in enumerate(lines):
        if i in skip or not line.text.strip():
            continue
        cells = split_cells(line.text) or [(line.text.strip(), 0, len(line.text))]
        for c_index, (cell, _, _) in enumerate(cells):
            for kind, rx, conf, generic in _LABEL_RES:
                m = rx.match(cell) if generic else rx.search(cell)
                if not m:
                    continue
                region = cell[m.end() :]
                if not region.strip():
                    # "Payment date" in one cell, its value in the next cell or on the next line.
                    if c_index + 1 < len(cells):
                        region = cells[c_index + 1][0]
                    elif i + 1 < len(lines) and i + 1 not in skip:
                        nxt = split_cells(lines[i + 1].text)
                        region = nxt[0][0] if nxt else ""
                value = _field_value(kind, region, ctx)
                if value is None:
                    continue
                f = Field(value, round(conf * ctx.scale, 4), f"{line.where()} label {m.group(0).strip()!r}")
                if kind == "payment_date" and ctx.dayfirst is None:
                    f.other_reading = _other_reading(region, value)
                if kind not in best or best[kind].confidence < f.confidence:
                    best[kind] = f
                used.add(i)
                break
    for kind, f in best.items():
        current = getattr(out, kind)
        if current is None or current.confidence < f.confidence:
            setattr(out, kind, f)
    return used


# --- the whole document ----------------------------------------------------------------------------


def extract(content: Content) -> Extraction:
    """Everything a remittance document states, with confidences."""
    ctx = _context(content)
    out = Extraction(source_format=content.kind, warnings=list(content.warnings))
    consumed_text: set[str] = set()
    for grid in content.grids:
        _grid_lines(grid, ctx, out, consumed_text)
    consumed: set[int] = {i for i, ln in enumerate(content.lines) if ln.text.strip() in consumed_text}
    if not content.grids or not out.lines:
        _text_lines(content.lines, ctx, out, consumed)
    field_lines = _fields(content.lines, ctx, out, consumed)
    if not out.lines:
        not_refs = {str(out.payment_reference.value).upper()} if out.payment_reference else set()
        _free_text_lines(content.lines, ctx, out, consumed | field_lines, not_refs)
        if not out.lines:
            # Field lines may also name the invoice ("Invoice INV-1 paid: 100.00"): look there too.
            _free_text_lines(content.lines, ctx, out, consumed, not_refs)
    _finish(out, content, ctx)
    return out


def _finish(out: Extraction, content: Content, ctx: Context) -> None:
    if out.currency is None:
        code, conf = dominant_currency([ln.text for ln in content.lines])
        if code is None and content.currency_hints:
            code, conf = dominant_currency(content.currency_hints)
        if code:
            out.currency = Field(
                code, round(conf * ctx.scale, 4), "currency codes and symbols in the document"
            )
    unpaid = [ln for ln in out.lines if ln.paid_amount is None]
    if len(out.lines) == 1 and unpaid and out.total_amount is not None:
        ln = unpaid[0]
        ln.paid_amount = Field(
            out.total_amount.value,
            round(out.total_amount.confidence * 0.85, 4),
            "total of a one-invoice advice",
        )
    paid = [ln.paid_amount.value for ln in out.lines if ln.paid_amount is not None]
    if out.total_amount is None and paid and len(paid) == len(out.lines):
        out.total_amount = Field(sum(paid, Decimal(0)), 0.6, "sum of the lines (no total stated)")
    elif out.total_amount is not None and paid and len(paid) == len(out.lines):
        total = sum(paid, Decimal(0))
        if total != out.total_amount.value:
            out.warnings.append(
                f"stated total {out.total_amount.value} differs from the sum of the paid amounts {total} "
                f"({len(paid)} lines)"
            )
    if not out.lines:
        out.warnings.append("no invoice lines found")
