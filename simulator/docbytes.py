"""The bytes of the documents payers send: text PDFs, XLSX workbooks and MIME e-mails.

Why these are written here rather than with matplotlib/reportlab, openpyxl and ``email``: a default
world writes thousands of advices, and the libraries cost milliseconds each (measured on our
2-core machines: matplotlib's PDF backend ~40 ms a page, openpyxl ~15 ms a workbook, the ``email``
package ~8 ms a message with an attachment), minutes per world against a budget of seconds. They also
stamp the wall-clock time into every file (PDF CreationDate, docProps and zip member times in XLSX,
random MIME boundaries), and a simulated world must be byte-identical run after run. The shapes we
need are small and fixed, so they are written from their standards:

- PDF 1.4 (ISO 32000-1 §7.5 file structure, §9.6.2.2 the standard 14 fonts): one page, text only, in
  Helvetica / Helvetica-Bold with WinAnsiEncoding, so no font is embedded and every reader (pdfminer
  included, from its built-in AFM metrics) places each glyph where we put it.
- XLSX (ECMA-376 SpreadsheetML): one sheet of inline strings and numbers, a style for amounts and one
  for dates; zip members dated 1980-01-01.
- E-mail (RFC 5322 headers, RFC 2045/2046 MIME, RFC 2047 encoded words): a text body, optionally an
  HTML alternative and one attachment in base64.

The tests read every one of them back with pdfminer, openpyxl and the stdlib ``email`` parser.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import quopri
import zipfile
from xml.sax.saxutils import escape

from pdfminer.fontmetrics import FONT_METRICS

# --- PDF -------------------------------------------------------------------------------------------

_PAGE_W, _PAGE_H = 595, 842  # A4 in points
_FONTS = {False: ("F1", "Helvetica"), True: ("F2", "Helvetica-Bold")}


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of ``text`` in Helvetica(-Bold), from the AFM metrics pdfminer also reads."""
    widths = FONT_METRICS[_FONTS[bold][1]][1]
    return sum(widths.get(ch, 556) for ch in text) * size / 1000.0


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_bytes(pages: list[list[tuple[float, float, str, float, bool]]], title: str = "") -> bytes:
    """An A4 PDF. Each page is a list of (x, y from the top, text, font size, bold), in points; a
    negative x right-aligns the text at -x (amount columns)."""
    n_pages = len(pages)
    # Objects: 1 catalog, 2 page tree, 3 and 4 the two fonts, 5 info, then a page and its content each.
    kids = " ".join(f"{6 + 2 * i} 0 R" for i in range(n_pages)).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n_pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title %s /Producer (openar simulator) >>" % _pdf_string(title),
    ]
    for i, items in enumerate(pages):
        ops = [b"BT"]
        for x, y, text, size, bold in items:
            if not text:
                continue
            if x < 0:
                x = -x - text_width(text, size, bold)
            font = _FONTS[bold][0].encode()
            ops.append(
                b"/%s %s Tf 1 0 0 1 %s %s Tm %s Tj"
                % (font, _num(size), _num(x), _num(_PAGE_H - y), _pdf_string(text))
            )
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % (_PAGE_W, _PAGE_H, 7 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _num(v: float) -> bytes:
    return (f"{v:.2f}".rstrip("0").rstrip(".")).encode()


# --- XLSX ------------------------------------------------------------------------------------------

_XLSX_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 in the 1900 date system (with its leap-year bug)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# Cell styles: 0 general, 1 amount (#,##0.00 with the currency's format), 2 date, 3 bold text.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="{amount}"/>'
    '<numFmt numFmtId="165" formatCode="{date}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _col(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def xlsx_bytes(
    rows: list[list[object]],
    sheet: str = "Sheet1",
    amount_format: str = "#,##0.00",
    date_format: str = "yyyy-mm-dd",
    bold_rows: tuple[int, ...] = (),
) -> bytes:
    """One worksheet. Cells: ``str`` (inline string), ``int``/``float`` or ``("amount", cents)``
    (a number with the amount format), ``datetime.date`` (a date serial), ``None`` (empty)."""
    out = []
    for r, row in enumerate(rows):
        cells = []
        for c, v in enumerate(row):
            ref = f"{_col(c)}{r + 1}"
            if v is None or v == "":
                continue
            if isinstance(v, tuple):  # ("amount", cents): exact two-decimal text, read back as a number
                cents = v[1]
                sign = "-" if cents < 0 else ""
                cells.append(
                    f'<c r="{ref}" s="1"><v>{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}</v></c>'
                )
            elif isinstance(v, dt.date):
                cells.append(f'<c r="{ref}" s="2"><v>{(v - _XLSX_EPOCH).days}</v></c>')
            elif isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                style = ' s="3"' if r in bold_rows else ""
                cells.append(f'<c r="{ref}"{style} t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
        out.append(f'<row r="{r + 1}">{"".join(cells)}</row>')
    sheet_xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(out)}</sheetData></worksheet>"
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{escape(sheet[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    styles = _STYLES.format(amount=escape(amount_format, {'"': "&quot;"}), date=escape(date_format))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", styles),
            ("xl/worksheets/sheet1.xml", sheet_xml),
        ):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


# --- e-mail ----------------------------------------------------------------------------------------


def _header_value(text: str) -> str:
    """RFC 2047 encoded word for non-ASCII header text (names with umlauts, accented subjects)."""
    if text.isascii():
        return text
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _address(name: str, address: str) -> str:
    if not name:
        return address
    if name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{_header_value(name)} <{address}>"


def _text_part(text: str, subtype: str) -> str:
    body = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if body.isascii() and all(len(line) <= 998 for line in body.split("\r\n")):
        return f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}\r\n"
    qp = quopri.encodestring(text.replace("\r\n", "\n").encode("utf-8")).decode("ascii")
    qp = qp.replace("\n", "\r\n")
    return (
        f"Content-Type: text/{subtype}; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n"
    )


def eml_bytes(
    *,
    sender: tuple[str, str],
    to: tuple[str, str],
    subject: str,
    date: dt.datetime,
    message_id: str,
    text: str,
    html: str | None = None,
    attachment: tuple[str, str, bytes] | None = None,
    boundary_seed: str,
) -> bytes:
    """An RFC 5322 message: text body, optional HTML alternative, optional (filename, MIME type, bytes)."""
    import email.utils

    headers = (
        f"From: {_address(*sender)}\r\n"
        f"To: {_address(*to)}\r\n"
        f"Subject: {_header_value(subject)}\r\n"
        f"Date: {email.utils.format_datetime(date)}\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    body = _text_part(text, "plain")
    if html is not None:
        alt = f"=_alt_{boundary_seed}"
        body = (
            f'Content-Type: multipart/alternative; boundary="{alt}"\r\n\r\n'
            f"--{alt}\r\n{body}--{alt}\r\n{_text_part(html, 'html')}--{alt}--\r\n"
        )
    if attachment is not None:
        name, mime, data = attachment
        mixed = f"=_mixed_{boundary_seed}"
        b64 = base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")
        part = (
            f'Content-Type: {mime}; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
            f"{b64}"
        )
        body = (
            f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n\r\n'
            "This is a multi-part message in MIME format.\r\n"
            f"--{mixed}\r\n{body}--{mixed}\r\n{part}--{mixed}--\r\n"
        )
    return (headers + body).encode("ascii")
