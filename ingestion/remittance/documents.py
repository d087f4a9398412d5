"""Remittance advices that people and AP systems send as documents: e-mails (with the invoice table in
the body, or as PDF / XLSX / CSV / HTML attachments), PDFs, HTML pages, spreadsheets, CSV and text.

``parse_remittance_document(path)`` returns a ``ParseResult`` whose ``remittances`` hold one
``RemittanceDocument`` per advice found (an e-mail whose body and attachment state the same lines
counts once). ``extract_document(data, name)`` returns the same with a confidence and a source for
every value, for callers that want to know how each was found.

Safety: files are read in memory and never written; an attachment's name is only used for messages
and as a format hint, after ``safe_filename`` (``safe_attachment_path`` is for a caller that wants to
store attachments: the path stays inside its folder). Sizes, MIME part counts, attached-e-mail depth
and zip expansion are bounded; a zip attachment is opened only within those bounds, one level deep.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingestion.normalized import ParseError, ParseResult, RemittanceDocument
from ingestion.remittance.extract import ExtractedLine, Extraction, Field, extract
from ingestion.remittance.readers import (
    Content,
    check_zip,
    decode_text,
    read_csv,
    read_html,
    read_pdf,
    read_text,
    read_xlsx,
    text_line,
)

MAX_DOCUMENT_BYTES = 25 * 1024**2  # mail servers cap messages near 25 MB; a bigger remittance is a mistake
MAX_ATTACHMENT_BYTES = 15 * 1024**2
MAX_ATTACHMENTS = 20
MAX_MIME_PARTS = 200
MAX_EMAIL_DEPTH = 2  # an e-mail attached to an e-mail (a forwarded remittance), and no deeper
MAX_ZIP_MEMBERS = 20
MAX_ZIP_INFLATED = 30 * 1024**2

_DOCUMENT_KINDS = ("pdf", "xlsx", "html", "csv", "txt", "eml", "x12")
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def safe_filename(name: str | None, fallback: str) -> str:
    """A file name that names one file in a folder: no directories, no dot-prefix, no control characters."""
    base = str(name or "").replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFKC", base)
    base = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    base = re.sub(r"\.{2,}", ".", base)[:120]
    if base.split(".")[0].upper() in _WINDOWS_RESERVED:
        base = "_" + base
    return base or fallback


def safe_attachment_path(folder: Path, name: str | None, fallback: str = "attachment") -> Path:
    """Where to store an attachment inside ``folder``; never outside it, whatever the sender named it."""
    root = folder.resolve()
    target = (root / safe_filename(name, fallback)).resolve()
    if target.parent != root:
        raise ParseError(f"attachment name {name!r} does not resolve to a file inside {root}")
    return target


def sniff_format(data: bytes, name: str) -> str:
    """The document's format from its first bytes, then its extension, then its text."""
    head = data[:2048]
    suffix = Path(name).suffix.lower()
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "unknown"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "word/document.xml" in names:
            return "docx"
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"  # legacy .xls / .doc / Outlook .msg
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ISA"):
        return "x12"
    by_suffix = {
        ".eml": "eml",
        ".htm": "html",
        ".html": "html",
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "txt",
        ".text": "txt",
        ".pdf": "pdf",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".edi": "x12",
        ".x12": "x12",
    }
    if suffix in by_suffix and by_suffix[suffix] not in ("pdf", "xlsx"):
        return by_suffix[suffix]
    text = head.decode("utf-8", errors="replace")
    if re.match(r"(?:[A-Za-z][\w-]*:[^\n]*\r?\n(?:[ \t][^\n]*\r?\n)*){2,}", text) and re.search(
        r"^(?:from|subject|mime-version|received|return-path|message-id):", text, re.IGNORECASE | re.MULTILINE
    ):
        return "eml"
    if re.search(r"<(?:!doctype html|html|body|table)\b", text, re.IGNORECASE):
        return "html"
    return by_suffix.get(suffix, "txt")


def parse_remittance_document(path: Path) -> ParseResult:
    """Read one remittance document file into normalized remittances (see the module docstring)."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise ParseError(
            f"{path.name}: {size} bytes is over the {MAX_DOCUMENT_BYTES} byte limit for a remittance document"
        )
    data = path.read_bytes()
    kind = sniff_format(data, path.name)
    result = ParseResult(source_format="x12-820" if kind == "x12" else kind)
    for i, ex in enumerate(extract_document(data, path.name), start=1):
        result.remittances.append(ex.to_document(position=i))
        result.warnings.extend(f"{path.name}: {w}" for w in ex.warnings)
    return result


def extract_document(data: bytes, name: str, depth: int = 0) -> list[Extraction]:
    """Every remittance in a document, each value with its confidence and where it was found."""
    kind = sniff_format(data, name)
    try:
        if kind == "eml":
            return _extract_email(data, name, depth)
        if kind == "x12":
            from ingestion.remittance.x12_820 import parse_x12_820

            parsed = parse_x12_820(data, name)
            out = [_from_document(doc) for doc in parsed.remittances]
            if out:
                out[0].warnings.extend(parsed.warnings)
            return out
        return [extract(_read(kind, data, name))]
    except ParseError as exc:
        if exc.reason.startswith(f"{name}:"):
            raise
        raise ParseError(f"{name}: {exc.reason}", exc.line) from exc


def _read(kind: str, data: bytes, name: str) -> Content:
    if kind == "pdf":
        return read_pdf(data)
    if kind == "xlsx":
        return read_xlsx(data)
    if kind == "html":
        return read_html(decode_text(data))
    if kind == "csv":
        return read_csv(decode_text(data))
    if kind == "txt":
        return read_text(decode_text(data))
    what = {
        "docx": "Word documents",
        "ole": "legacy Office files (.xls/.doc/.msg)",
        "zip": "zip archives",
    }.get(kind, f"{kind} files")
    raise ParseError(f"{what} are not read as remittance documents")


def _from_document(doc: RemittanceDocument) -> Extraction:
    """A structured (X12) remittance as an extraction, every value certain."""
    where = f"{doc.source_format} transaction set {doc.position}"

    def f(value):
        return Field(value, 1.0, where) if value is not None else None

    ex = Extraction(
        source_format=doc.source_format,
        payer_name=Field(doc.payer_name, doc.payer_confidence, where) if doc.payer_name else None,
        payment_reference=f(doc.payment_reference),
        payment_date=f(doc.payment_date),
        total_amount=f(doc.total_amount),
        currency=f(doc.currency),
    )
    for ln in doc.lines:
        ex.lines.append(
            ExtractedLine(
                invoice_reference=Field(ln.invoice_reference, ln.confidence, where),
                paid_amount=f(ln.paid_amount),
                invoice_amount=f(ln.invoice_amount),
                discount_amount=f(ln.discount_amount),
                deduction_amount=f(ln.deduction_amount),
                deduction_reason=f(ln.deduction_reason),
                where=where,
            )
        )
    return ex


# --- e-mail ----------------------------------------------------------------------------------------


@dataclass
class _Attachment:
    name: str  # sanitized
    data: bytes
    content_type: str


def _leaves(part, counter: list[int]):
    """Leaf parts of a message in order; an attached message is a leaf (read as its own document)."""
    counter[0] += 1
    if counter[0] > MAX_MIME_PARTS:
        raise ParseError(f"e-mail has more than {MAX_MIME_PARTS} MIME parts")
    if part.get_content_maintype() == "multipart":
        for sub in part.iter_parts():
            yield from _leaves(sub, counter)
    else:
        yield part


def _part_bytes(part) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return inner.as_bytes() if hasattr(inner, "as_bytes") else b""
    payload = part.get_payload(decode=True)
    return payload or b""


def _part_text(part, data: bytes) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        text = decode_text(data)
    if str(part.get_param("format") or "").lower() == "flowed":
        text = _unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on the next line, so a wide
    table row that the sender's client wrapped at 78 characters is one row again."""
    out: list[str] = []
    pending = ""
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw[1:] if raw.startswith(" ") else raw  # space-stuffing
        if line.endswith(" ") and line.strip() and line != "-- ":
            pending += line[:-1] if delsp else line
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)


def _extract_email(data: bytes, name: str, depth: int) -> list[Extraction]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    plain: str | None = None
    html: str | None = None
    attachments: list[_Attachment] = []
    warnings: list[str] = []
    for part in _leaves(msg, [0]):
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        is_attachment = bool(filename) or disposition == "attachment" or ctype == "message/rfc822"
        payload = _part_bytes(part)
        if is_attachment:
            if len(attachments) >= MAX_ATTACHMENTS:
                warnings.append(f"more than {MAX_ATTACHMENTS} attachments; the rest were not read")
                break
            safe = safe_filename(filename, f"attachment-{len(attachments) + 1}")
            if len(payload) > MAX_ATTACHMENT_BYTES:
                warnings.append(
                    f"attachment {safe}: {len(payload)} bytes is over the {MAX_ATTACHMENT_BYTES} byte limit, skipped"
                )
                continue
            attachments.append(_Attachment(safe, payload, ctype))
        elif ctype == "text/plain" and plain is None:
            plain = _part_text(part, payload)
        elif ctype == "text/html" and html is None:
            html = _part_text(part, payload)

    subject = str(msg.get("Subject", "") or "")
    if html is not None and (plain is None or re.search(r"<table\b", html, re.IGNORECASE)):
        body = read_html(html)
        body.kind = "eml"
    else:
        body = read_text(plain or "")
        body.kind = "eml"
    if subject:
        body.lines.insert(0, text_line(subject, 0))
    body_ex = extract(body)
    body_ex.warnings = [f"body: {w}" for w in body_ex.warnings if w != "no invoice lines found"] + warnings

    found: list[Extraction] = []
    for att in attachments:
        for ex in _extract_attachment(att, depth):
            found.append(ex)
            body_ex.warnings.extend(f"attachment {att.name}: {w}" for w in ex.warnings)
            ex.warnings = []

    docs = [ex for ex in [body_ex, *found] if ex.lines]
    if any(ln.paid_amount is not None for ex in docs for ln in ex.lines):
        # References named without any amount (a subject line, a sentence) next to a document that
        # states paid amounts are mentions of that document's invoices, or not invoices at all.
        docs = [ex for ex in docs if any(ln.paid_amount is not None for ln in ex.lines)]
    if body_ex in docs and len(body_ex.lines) == 1 and body_ex.lines[0].paid_amount is not None:
        # "Payment advice INV-100857 ... our payment of 3,039.47": the subject's reference and the
        # sentence's amount read as one line, when an attachment itemizes exactly that amount. That is
        # the payment (its reference and total), not another invoice.
        stated = body_ex.lines[0].paid_amount.value
        itemized = [
            sum(ln.paid_amount.value for ln in ex.lines if ln.paid_amount is not None)
            for ex in found
            if ex.lines
        ]
        if stated in itemized:
            docs.remove(body_ex)
    docs = _dedupe(docs)
    if not docs:
        docs = [body_ex]
        body_ex.warnings.append("no invoice lines found in the body or the attachments")
    elif body_ex not in docs:
        docs[0].warnings = body_ex.warnings + docs[0].warnings
    _email_fallbacks(msg, body_ex, docs)
    return docs


def _extract_attachment(att: _Attachment, depth: int) -> list[Extraction]:
    kind = sniff_format(att.data, att.name)
    if kind == "zip":
        return _extract_zip(att)
    if kind == "eml" and depth + 1 > MAX_EMAIL_DEPTH:
        return [
            Extraction(
                source_format="eml",
                warnings=[f"attached e-mail nested deeper than {MAX_EMAIL_DEPTH}, skipped"],
            )
        ]
    if kind not in _DOCUMENT_KINDS:
        return [
            Extraction(
                source_format=kind,
                warnings=[f"{att.content_type} ({kind}) is not a remittance format, skipped"],
            )
        ]
    if kind == "txt" and not att.content_type.startswith("text/"):
        return [
            Extraction(source_format=kind, warnings=[f"{att.content_type} is not a document format, skipped"])
        ]
    try:
        return extract_document(att.data, att.name, depth + 1)
    except ParseError as exc:
        return [Extraction(source_format=kind, warnings=[str(exc)])]


def _extract_zip(att: _Attachment) -> list[Extraction]:
    """Documents inside a zipped attachment: one level, known formats, bounded count and size."""
    try:
        zf = check_zip(att.data, f"zip attachment {att.name}")
    except ParseError as exc:
        return [Extraction(source_format="zip", warnings=[str(exc)])]
    out: list[Extraction] = []
    budget = MAX_ZIP_INFLATED
    members = [i for i in zf.infolist() if not i.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        return [
            Extraction(
                source_format="zip",
                warnings=[
                    f"zip attachment {att.name} holds {len(members)} files (limit {MAX_ZIP_MEMBERS}), skipped"
                ],
            )
        ]
    for info in members:
        member = safe_filename(info.filename, "member")
        if info.file_size > min(MAX_ATTACHMENT_BYTES, budget):
            out.append(
                Extraction(
                    source_format="zip", warnings=[f"{member} in {att.name}: too large to inflate, skipped"]
                )
            )
            continue
        with zf.open(info) as fh:
            data = fh.read(info.file_size + 1)  # never more than the declared size, whatever the header says
        if len(data) > info.file_size:
            out.append(
                Extraction(
                    source_format="zip", warnings=[f"{member} in {att.name}: larger than declared, skipped"]
                )
            )
            continue
        budget -= len(data)
        kind = sniff_format(data, member)
        if kind in ("zip", "eml") or kind not in _DOCUMENT_KINDS:
            continue
        try:
            out.extend(extract_document(data, member, MAX_EMAIL_DEPTH))
        except ParseError as exc:
            out.append(Extraction(source_format=kind, warnings=[str(exc)]))
    return out


def _dedupe(docs: list[Extraction]) -> list[Extraction]:
    """The same advice stated twice (body table and attachment): keep the fuller, better-read copy.

    A document whose invoice references are all in a document already kept is a copy of (part of)
    it: body tables are often a preview of the attached advice.
    """
    kept: list[tuple[Extraction, set[str]]] = []
    for ex in sorted(docs, key=lambda e: (-len(e.lines), -_mean_confidence(e))):
        refs = {ln.key()[0] for ln in ex.lines}
        if any(refs <= other for _, other in kept):
            continue
        kept.append((ex, refs))
    return sorted((ex for ex, _ in kept), key=docs.index)


def _mean_confidence(ex: Extraction) -> float:
    return sum(ln.confidence for ln in ex.lines) / len(ex.lines) if ex.lines else 0.0


def _email_fallbacks(msg, body: Extraction, docs: list[Extraction]) -> None:
    """Values the body or the headers state, for documents (attachments) that do not state them."""
    display, address = email.utils.parseaddr(str(msg.get("From", "") or ""))
    date_header = None
    try:
        parsed = email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
        date_header = parsed.date() if parsed else None
    except (TypeError, ValueError, IndexError):
        date_header = None
    header_values = {
        # The sender's display name is often the payer's AP department, sometimes a person or a bank.
        "payer_name": Field(display, 0.6, "From header display name")
        if display
        else (Field(address, 0.3, "From header address") if address else None),
        # A remittance advice is usually sent on the payment day: a weak guess, stated as such.
        "payment_date": Field(date_header, 0.5, "Date header") if date_header else None,
    }
    for ex in docs:
        f = ex.payment_date
        # 01/12/2025 in a document that does not say which order it writes: the reading nearer the
        # day the advice was sent (an advice goes out around the payment, not months apart)
        if (
            f is not None
            and f.other_reading is not None
            and date_header is not None
            and abs((f.other_reading - date_header).days) < abs((f.value - date_header).days)
        ):
            ex.payment_date = Field(
                f.other_reading, f.confidence, f"{f.source} (day/month order nearer the Date header)"
            )
        for attr in ("payer_name", "payment_reference", "payment_date", "total_amount", "currency"):
            if getattr(ex, attr) is not None:
                continue
            value = getattr(body, attr) if ex is not body else None
            if attr == "total_amount" and value is not None and len(docs) > 1:
                continue  # the body's total covers all its attachments, not each one
            setattr(ex, attr, value or header_values.get(attr))
