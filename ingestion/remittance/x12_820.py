"""EDI X12 820 (Payment Order / Remittance Advice) into ``RemittanceDocument`` records.

One ``ST*820`` transaction set is one payment: ``BPR`` states the amount, method and date, ``TRN``
the trace number (the payment reference the bank statement will show), ``N1*PR`` / ``N1*PE`` the
payer and payee, ``CUR`` the currency. Its detail is a sequence of ``ENT`` loops, each holding
``RMR`` lines (one invoice each: RMR02 reference, RMR04 amount paid, RMR05 invoice amount, RMR06
discount) with their ``ADX`` adjustments (ADX01 amount, negative when it reduces the payment, ADX02
reason code) and ``NTE`` notes. All ENT loops of one transaction set belong to the same payment, so
their lines go into one document, in file order.

Why a tokenizer of our own rather than a library:
- ``pyx12`` (the maintained X12 package) parses and validates against HIPAA implementation-guide
  maps selected by GS08; its only 820 maps are 004010X061A1 and 005010X218 (health-insurance premium
  payments). A commercial 820 (GS08 ``004010`` or ``005010``) has no map and cannot be read with it.
- ``badx12`` (last release 2018) removes every newline before splitting segments, so files whose
  segment terminator is a newline lose their segment boundaries, and it models 810 segments only.
The grammar needed is small: the ISA segment declares its element separator (ISA position 3), the
component separator (ISA16) and the segment terminator (the character after ISA16); segments are
split on the terminator, elements on the separator.

Rules enforced (ParseError, naming file, line and segment):
- the file starts with ISA and the ISA declares its separators;
- every ST has its SE, every GS its GE, the interchange its IEA (a cut-off file is rejected);
- SE01 equals the number of segments from ST to SE, SE02 equals ST02;
- amounts are X12 decimals, dates CCYYMMDD/YYMMDD.
Reported as warnings: BPR02 differing from the sum of the lines (+ adjustments not tied to an
invoice), an RMR whose invoice - discount - deduction differs from its paid amount, GE/IEA count and
control-number mismatches, transaction sets other than 820.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ingestion.normalized import ParseError, ParseResult, RemittanceDocument, RemittanceLine

SOURCE_FORMAT = "x12-820"
MAX_FILE_BYTES = 64 * 1024**2  # a remittance interchange beyond 64 MB is a mistake, not a payment run

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_X12_DECIMAL = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)$")
# BPR16 is the payment's effective date; without it these DTM qualifiers date the payment, in this
# order of preference: 234 settlement, 097 transaction creation, 405 production, 009 process.
_PAYMENT_DATE_QUALIFIERS = ("234", "097", "405", "009")


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    segment: str


@dataclass
class Segment:
    tag: str
    elements: list[str]  # elements[0] is the tag, so elements[n] is the X12 position n (RMR04 = [4])
    number: int  # 1-based position in the file, as X12 counts segments
    line: int  # physical line where the segment starts, for people with an editor

    def get(self, n: int) -> str:
        return self.elements[n].strip() if n < len(self.elements) else ""

    def where(self) -> str:
        return f"segment #{self.number} ({self.tag})"


def tokenize(text: str, source_name: str) -> tuple[Delimiters, list[Segment]]:
    """Split an interchange into segments with the separators its ISA declares."""
    start = len(text) - len(text.lstrip("\ufeff \t\r\n"))
    body = text[start:]
    if not body.startswith("ISA"):
        raise ParseError(
            f"{source_name}: an X12 interchange starts with an ISA segment, found {body[:10]!r}", 1
        )
    if len(body) < 4:
        raise ParseError(f"{source_name}: truncated ISA segment", 1)
    element = body[3]
    if element.isalnum() or element.isspace():
        raise ParseError(f"{source_name}: ISA position 3 must be the element separator, found {element!r}", 1)
    # ISA has exactly 16 elements; ISA16 is one character (the component separator) and the segment
    # terminator follows it. Counting separators rather than fixed offsets also reads ISAs whose
    # fixed-width fields a sender trimmed.
    pos = 3
    for n in range(16):
        pos = body.find(element, pos + 1) if n else pos
        if pos < 0:
            raise ParseError(f"{source_name}: truncated ISA segment: 16 elements expected, found {n}", 1)
    if pos + 2 >= len(body):
        raise ParseError(
            f"{source_name}: truncated ISA segment: no component separator or segment terminator", 1
        )
    component, terminator = body[pos + 1], body[pos + 2]
    if terminator.isalnum() or terminator == element:
        raise ParseError(
            f"{source_name}: the character after ISA16 must be the segment terminator, found {terminator!r}",
            1,
        )
    delims = Delimiters(element=element, component=component, segment=terminator)

    segments: list[Segment] = []
    line = 1 + text.count("\n", 0, start)
    pieces = body.split(terminator)
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        # Terminators are often followed by CR/LF for readability (and a newline terminator by the
        # LF of a CRLF pair): those belong to no element.
        lead = len(piece) - len(piece.lstrip("\r\n"))
        seg_line = line + piece.count("\n", 0, lead)
        line += piece.count("\n") + terminator.count("\n")
        content = piece.strip("\r\n")
        if not content.strip():
            continue
        elements = content.split(element)
        tag = elements[0].strip()
        number = len(segments) + 1
        if not _SEGMENT_ID.match(tag):
            raise ParseError(
                f"{source_name}: segment #{number}: {tag[:20]!r} is not an X12 segment id", seg_line
            )
        if last and tag != "IEA":
            raise ParseError(
                f"{source_name}: the file ends inside segment #{number} ({tag}) with no terminator: truncated",
                seg_line,
            )
        segments.append(Segment(tag=tag, elements=elements, number=number, line=seg_line))
    return delims, segments


def _decimal(seg: Segment, n: int, source_name: str, required: bool = False) -> Decimal | None:
    raw = seg.get(n)
    if not raw:
        if required:
            raise ParseError(f"{source_name}: {seg.where()}: {seg.tag}{n:02d} (amount) is required", seg.line)
        return None
    if not _X12_DECIMAL.match(raw):
        raise ParseError(
            f"{source_name}: {seg.where()}: {seg.tag}{n:02d} {raw!r} is not an X12 decimal number", seg.line
        )
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise ParseError(
            f"{source_name}: {seg.where()}: {seg.tag}{n:02d} {raw!r} is not a number", seg.line
        ) from exc


def _date(seg: Segment, n: int, source_name: str) -> dt.date | None:
    raw = seg.get(n)
    if not raw:
        return None
    try:
        if len(raw) == 8 and raw.isdigit():
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if len(raw) == 6 and raw.isdigit():
            # X12 YYMMDD dates (ISA09 style): the century is the one that puts the date within 50
            # years of 2000, as every X12 translator assumes.
            year = int(raw[:2])
            return dt.date(2000 + year if year < 50 else 1900 + year, int(raw[2:4]), int(raw[4:]))
    except ValueError:
        pass
    raise ParseError(
        f"{source_name}: {seg.where()}: {seg.tag}{n:02d} {raw!r} is not a CCYYMMDD date", seg.line
    )


@dataclass
class _Adjustment:
    amount: Decimal
    reason: str
    reference: str
    segment: Segment
    notes: list[str] = field(default_factory=list)

    def reason_text(self) -> str:
        return " - ".join(p for p in [self.reason, *self.notes] if p)


@dataclass
class _Line:
    rmr: Segment
    reference: str
    paid: Decimal | None
    invoice: Decimal | None
    discount: Decimal | None
    adjustments: list[_Adjustment] = field(default_factory=list)


def _read_820(
    segments: list[Segment], position: int, source_name: str, warnings: list[str]
) -> RemittanceDocument:
    """Map the segments between ST and SE (exclusive) of one 820 to a document."""
    payer: str | None = None
    reference: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    bpr_date: dt.date | None = None
    dtm_dates: dict[str, dt.date] = {}
    lines: list[_Line] = []
    free_adjustments: list[_Adjustment] = []
    in_detail = False  # after the first ENT or RMR: DTMs there date invoices, not the payment
    current_line: _Line | None = None
    current_adx: _Adjustment | None = None

    for seg in segments:
        tag = seg.tag
        if tag not in ("ADX", "NTE", "PER", "REF", "DTM"):  # the segments of an ADX loop
            current_adx = None
        if tag == "BPR":
            total = _decimal(seg, 2, source_name, required=True)
            bpr_date = _date(seg, 16, source_name)
        elif tag == "TRN":
            reference = seg.get(2) or reference
        elif tag == "CUR":
            currency = seg.get(2) or currency
        elif tag == "DTM" and not in_detail:
            d = _date(seg, 2, source_name)
            if d:
                dtm_dates.setdefault(seg.get(1), d)
        elif tag == "N1":
            current_line = None
            if seg.get(1) == "PR" and seg.get(2):
                payer = seg.get(2)
        elif tag == "ENT":
            in_detail = True
            current_line = None
        elif tag == "RMR":
            in_detail = True
            ref = seg.get(2)
            if not ref:
                warnings.append(
                    f"{source_name}: line {seg.line} {seg.where()}: RMR without a reference (RMR02), skipped"
                )
                current_line = None
                continue
            current_line = _Line(
                rmr=seg,
                reference=ref,
                paid=_decimal(seg, 4, source_name),
                invoice=_decimal(seg, 5, source_name),
                discount=_decimal(seg, 6, source_name),
            )
            # RMR07/RMR08 (adjustment reason code and amount) are the in-line form of one ADX.
            adj = _decimal(seg, 8, source_name)
            if adj is not None:
                current_line.adjustments.append(_Adjustment(adj, seg.get(7), "", seg))
            lines.append(current_line)
        elif tag == "ADX":
            amount = _decimal(seg, 1, source_name, required=True)
            current_adx = _Adjustment(amount, seg.get(2), seg.get(4), seg)
            if current_line is not None:
                current_line.adjustments.append(current_adx)
            else:
                free_adjustments.append(current_adx)
        elif tag == "NTE" and current_adx is not None and seg.get(2):
            current_adx.notes.append(seg.get(2))

    payment_date = bpr_date or next((dtm_dates[q] for q in _PAYMENT_DATE_QUALIFIERS if q in dtm_dates), None)
    doc = RemittanceDocument(
        source_format=SOURCE_FORMAT,
        payer_name=payer,
        payment_reference=reference,
        payment_date=payment_date,
        # ACH and Fedwire, the rails an 820 rides on, settle in USD; a CUR segment says otherwise.
        total_amount=total,
        currency=currency or "USD",
        payer_confidence=1.0 if payer else 0.0,
        position=position,
    )
    for ln in lines:
        deduction = -sum((a.amount for a in ln.adjustments), Decimal(0)) if ln.adjustments else None
        reasons = "; ".join(a.reason_text() for a in ln.adjustments if a.reason_text()) or None
        doc.lines.append(
            RemittanceLine(
                invoice_reference=ln.reference,
                paid_amount=ln.paid,
                invoice_amount=ln.invoice,
                discount_amount=ln.discount,
                deduction_amount=deduction,
                deduction_reason=reasons,
                confidence=1.0,
                position=len(doc.lines) + 1,
            )
        )
        if ln.invoice is not None and ln.paid is not None:
            expected = ln.invoice - (ln.discount or 0) - (deduction or 0)
            if expected != ln.paid:
                warnings.append(
                    f"{source_name}: line {ln.rmr.line} {ln.rmr.where()}: invoice {ln.reference}: "
                    f"{ln.invoice} - discount {ln.discount or 0} - deduction {deduction or 0} = {expected}, "
                    f"but RMR04 says {ln.paid} was paid"
                )
    for adx in free_adjustments:
        # An adjustment outside any RMR loop is not tied to an invoice. With a reference (ADX04, e.g.
        # the payer's debit memo number) it is a line of its own: AR matches it to an open deduction.
        if adx.reference:
            doc.lines.append(
                RemittanceLine(
                    invoice_reference=adx.reference,
                    paid_amount=adx.amount,
                    deduction_amount=-adx.amount,
                    deduction_reason=adx.reason_text() or None,
                    confidence=1.0,
                    position=len(doc.lines) + 1,
                )
            )
        else:
            warnings.append(
                f"{source_name}: line {adx.segment.line} {adx.segment.where()}: adjustment {adx.amount} "
                f"(reason {adx.reason or 'none'}) is tied to no invoice and names no reference"
            )
    if total is not None:
        stated = sum((ln.paid or Decimal(0) for ln in lines), Decimal(0))
        stated += sum((a.amount for a in free_adjustments), Decimal(0))
        if lines and stated != total:
            warnings.append(
                f"{source_name}: transaction set {position}: BPR02 pays {total} but the RMR lines and "
                f"adjustments add up to {stated} (difference {total - stated})"
            )
    return doc


def parse_x12_820(data: bytes, source_name: str) -> ParseResult:
    """Read every 820 transaction set of an X12 interchange (or several, back to back)."""
    if len(data) > MAX_FILE_BYTES:
        raise ParseError(
            f"{source_name}: {len(data)} bytes is over the {MAX_FILE_BYTES} byte limit for an 820"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # X12's basic and extended character sets are ASCII-based; Latin-1 maps every byte, so a
        # stray accented name byte still reads and the structure is checked on the ASCII part.
        text = data.decode("latin-1")
    _, segments = tokenize(text, source_name)
    result = ParseResult(source_format=SOURCE_FORMAT)
    warnings = result.warnings

    isa: Segment | None = None
    gs: Segment | None = None
    st: Segment | None = None
    body: list[Segment] = []
    groups_in_isa = 0
    sets_in_gs = 0
    position = 0
    for seg in segments:
        tag = seg.tag
        if st is not None and tag not in ("SE", "ST", "GE", "IEA", "GS", "ISA"):
            body.append(seg)
            continue
        if tag == "ISA":
            if isa is not None:
                raise ParseError(
                    f"{source_name}: {seg.where()}: ISA before the IEA of the previous interchange", seg.line
                )
            isa, groups_in_isa = seg, 0
        elif tag == "GS":
            if isa is None or gs is not None:
                raise ParseError(
                    f"{source_name}: {seg.where()}: GS outside an interchange or inside another group",
                    seg.line,
                )
            gs, sets_in_gs = seg, 0
            groups_in_isa += 1
        elif tag == "ST":
            if gs is None or st is not None:
                what = (
                    "inside another transaction set (the previous ST has no SE)"
                    if st
                    else "outside a GS group"
                )
                raise ParseError(f"{source_name}: {seg.where()}: ST {what}", seg.line)
            st, body = seg, []
            sets_in_gs += 1
        elif tag == "SE":
            if st is None:
                raise ParseError(f"{source_name}: {seg.where()}: SE without an ST", seg.line)
            count = len(body) + 2
            if seg.get(1) != str(count):
                raise ParseError(
                    f"{source_name}: {seg.where()}: SE01 says {seg.get(1) or 'nothing'} segments, but transaction "
                    f"set {st.get(2)} (from line {st.line}) has {count}: segments are missing or extra",
                    seg.line,
                )
            if seg.get(2) != st.get(2):
                raise ParseError(
                    f"{source_name}: {seg.where()}: SE02 {seg.get(2)!r} does not match ST02 {st.get(2)!r}",
                    seg.line,
                )
            if st.get(1) == "820":
                position += 1
                result.remittances.append(_read_820(body, position, source_name, warnings))
            else:
                warnings.append(
                    f"{source_name}: line {st.line}: transaction set {st.get(1)} is not an 820, skipped"
                )
            st, body = None, []
        elif tag == "GE":
            if gs is None:
                raise ParseError(f"{source_name}: {seg.where()}: GE without a GS", seg.line)
            if seg.get(1) != str(sets_in_gs):
                warnings.append(
                    f"{source_name}: line {seg.line}: GE01 says {seg.get(1)} transaction sets, the group has {sets_in_gs}"
                )
            if seg.get(2) != gs.get(6):
                warnings.append(
                    f"{source_name}: line {seg.line}: GE02 {seg.get(2)!r} does not match GS06 {gs.get(6)!r}"
                )
            gs = None
        elif tag == "IEA":
            if isa is None or gs is not None:
                raise ParseError(f"{source_name}: {seg.where()}: IEA before the group's GE", seg.line)
            if seg.get(1) != str(groups_in_isa):
                warnings.append(
                    f"{source_name}: line {seg.line}: IEA01 says {seg.get(1)} groups, the interchange has {groups_in_isa}"
                )
            if seg.get(2) != isa.get(13):
                warnings.append(
                    f"{source_name}: line {seg.line}: IEA02 {seg.get(2)!r} does not match ISA13 {isa.get(13)!r}"
                )
            isa = None
        else:
            warnings.append(
                f"{source_name}: line {seg.line}: {seg.where()} outside a transaction set, ignored"
            )

    if st is not None:
        raise ParseError(
            f"{source_name}: transaction set ST*{st.get(1)}*{st.get(2)} has no SE: the file is truncated",
            st.line,
        )
    if gs is not None:
        raise ParseError(
            f"{source_name}: functional group GS*{gs.get(1)}*…*{gs.get(6)} has no GE: the file is truncated",
            gs.line,
        )
    if isa is not None:
        raise ParseError(
            f"{source_name}: interchange {isa.get(13)} has no IEA: the file is truncated", isa.line
        )
    return result
