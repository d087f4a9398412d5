"""One entry point for every bank and remittance file: detect the format, bound the size, parse.

``parse_file(path)`` returns a ``ParseResult`` or raises ``ParseError`` with the file name and a reason
a person can act on (empty, too large, unknown format, truncated, damaged). Formats:

``camt.052`` ``camt.053`` ``camt.054`` ``mt940`` ``mt942`` ``bai2`` ``lockbox`` ``csv`` (bank statements,
``ingestion.bank``) and ``x12-820`` ``remittance`` (remittance advices, ``ingestion.remittance``,
imported only when such a file comes).

The size bound is ``OPENAR_MAX_STATEMENT_BYTES`` (default 200 MB), read when a file is parsed: the
parsers hold a file in memory, and no real statement file comes near that size.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

from ingestion.bank.common import reconcile
from ingestion.normalized import ParseError, ParseResult

__all__ = [
    "FORMATS",
    "ParseError",
    "ParseResult",
    "detect_format",
    "max_file_bytes",
    "parse_bytes",
    "parse_file",
    "reconcile",
]

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
FORMATS = (
    "camt.052",
    "camt.053",
    "camt.054",
    "mt940",
    "mt942",
    "bai2",
    "lockbox",
    "csv",
    "x12-820",
    "remittance",
)
_DOCUMENT_SUFFIXES = {".pdf", ".eml", ".msg", ".html", ".htm", ".xlsx", ".xls", ".docx"}
_CAMT = re.compile(rb"camt\.05([234])\.001")
_CAMT_ROOTS = {
    b"BkToCstmrAcctRpt": "camt.052",
    b"BkToCstmrStmt": "camt.053",
    b"BkToCstmrDbtCdtNtfctn": "camt.054",
}
_MT_TAG = re.compile(rb"^:(20|21|25P?|28C?|6[0245][FM]?|61|86|NS|13D?|34F|90[CD]):", re.MULTILINE)
_MT942_SIGNS = re.compile(rb"^:(13D|34F|90[CD]):|\{2:[IO]942|^:942:", re.MULTILINE)
_LOCKBOX_LINE = re.compile(rb"^[124-9]")


def max_file_bytes() -> int:
    value = os.environ.get("OPENAR_MAX_STATEMENT_BYTES")
    if not value:
        return DEFAULT_MAX_BYTES
    if not value.isdigit():
        raise ValueError(f"OPENAR_MAX_STATEMENT_BYTES={value!r} is not a number of bytes")
    return int(value)


def detect_format(data: bytes, filename: str = "") -> str:
    """The format of a file from its content (the name only decides between document types)."""
    suffix = Path(filename).suffix.lower()
    head = data[:65536]
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    stripped = head.lstrip(b" \t\r\n\x00\x01\x02\x03")
    if not stripped:
        raise ParseError(f"{filename}: empty file")
    if stripped.startswith(b"%PDF") or (stripped.startswith(b"PK\x03\x04") and suffix in _DOCUMENT_SUFFIXES):
        return "remittance"
    if stripped.startswith(b"<"):
        match = _CAMT.search(head)
        if match:
            return f"camt.05{match.group(1).decode()}"
        for root, fmt in _CAMT_ROOTS.items():
            if b"<" + root in head or b":" + root in head:
                return fmt
        if suffix in (".html", ".htm") or stripped[:200].lower().startswith((b"<!doctype html", b"<html")):
            return "remittance"
        raise ParseError(f"{filename}: XML but not an ISO 20022 camt.052/053/054 message")
    if stripped.startswith(b"ISA") and b"ST*820" in head.replace(b"~", b"\n").replace(b"\n", b""):
        return "x12-820"
    if stripped.startswith(b"ISA"):
        raise ParseError(f"{filename}: X12 interchange but not an 820 payment order/remittance")
    if stripped.startswith(b"01,"):
        return "bai2"
    if _MT_TAG.search(head) or stripped.startswith(b"{1:") or stripped.startswith(b":940:"):
        return "mt942" if _MT942_SIGNS.search(head) else "mt940"
    lines = [ln for ln in re.split(rb"\r\n|\r|\n", stripped) if ln.strip()]
    if (
        lines[0][:1] == b"1"
        and all(_LOCKBOX_LINE.match(ln) for ln in lines[:50])
        and any(ln[:1] == b"6" for ln in lines)
        and all(len(ln.rstrip()) <= 80 for ln in lines[:50])
    ):
        return "lockbox"
    if suffix in _DOCUMENT_SUFFIXES:
        return "remittance"
    if suffix in (".csv", ".tsv") or _looks_delimited(lines[:10]):
        return "csv"
    raise ParseError(
        f"{filename}: unknown format (not camt, MT940/942, BAI2, lockbox, CSV, X12 820 "
        "or a remittance document)"
    )


def _looks_delimited(lines: list[bytes]) -> bool:
    if len(lines) < 2:
        return False
    for delim in (b";", b",", b"\t", b"|"):
        counts = {ln.count(delim) for ln in lines}
        if len(counts) == 1 and counts.pop() >= 2:
            return True
    return False


def parse_bytes(data: bytes, filename: str, fmt: str = "auto", csv_mapping=None) -> ParseResult:
    if fmt == "auto":
        fmt = detect_format(data, filename)
    name = Path(filename).name or filename
    if fmt.startswith("camt."):
        from ingestion.bank.camt import parse_camt

        result = parse_camt(data, name)
        if result.source_format != fmt:
            result.warnings.append(f"{name}: detected as {fmt}, the message is {result.source_format}")
        return result
    if fmt in ("mt940", "mt942"):
        from ingestion.bank.mt94x import parse_mt94x

        return parse_mt94x(data, name)
    if fmt == "bai2":
        from ingestion.bank.bai import parse_bai2

        return parse_bai2(data, name)
    if fmt == "lockbox":
        from ingestion.bank.lockbox import parse_lockbox

        return parse_lockbox(data, name)
    if fmt == "csv":
        from ingestion.bank.bank_csv import parse_bank_csv

        return parse_bank_csv(data, name, csv_mapping)
    if fmt == "x12-820":
        from ingestion.remittance.x12_820 import parse_x12_820

        return parse_x12_820(data, name)
    if fmt == "remittance":
        raise ParseError(f"{name}: remittance documents are read from a file: use parse_file(path)")
    raise ParseError(f"{name}: unknown format {fmt!r}; one of {', '.join(FORMATS)} or 'auto'")


def parse_file(
    path: Path, fmt: str = "auto", *, max_bytes: int | None = None, csv_mapping=None
) -> ParseResult:
    """Parse one bank or remittance file; ParseError says which file and why it cannot be read."""
    path = Path(path)
    limit = max_file_bytes() if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"{path}: cannot read: {exc.strerror}") from None
    if size > limit:
        raise ParseError(f"{path}: {size} bytes is over the {limit}-byte limit (OPENAR_MAX_STATEMENT_BYTES)")
    if size == 0:
        raise ParseError(f"{path}: empty file")
    data = path.read_bytes()
    if fmt == "auto":
        fmt = detect_format(data, path.name)
    if fmt == "remittance":
        from ingestion.remittance.documents import parse_remittance_document

        return parse_remittance_document(path)
    return parse_bytes(data, path.name, fmt, csv_mapping)
