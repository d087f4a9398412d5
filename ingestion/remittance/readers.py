"""Read each document format into the same shape: text lines with horizontal positions, and grids.

A remittance table survives in one of two forms, and the extractor handles both:
- a **grid** whose cells are known (HTML ``<table>``, spreadsheet, CSV): columns are cell indexes;
- **text lines** whose columns are only visible as horizontal positions (plain-text e-mail bodies,
  PDFs): each character carries its x extent, so a header's columns can be lined up with the rows.

Format by format, and why:
- HTML: ``unstructured.partition_html`` (offline, see ``unstructured_offline``) after a small lxml
  pre-pass. unstructured flattens a table that contains tables into one cell (e-mail templates nest a
  data table inside layout tables) and joins ``<br>``-separated lines into one element, both
  measured on 0.27.32; the pre-pass unwraps layout tables and turns ``<br>`` runs into blocks first.
- PDF: pdfminer.six, the engine of unstructured's ``fast`` strategy, called directly:
  ``partition_pdf`` imports ``unstructured_inference`` (torch + CUDA) at module load. We take the
  characters with their coordinates and rebuild rows ourselves so table columns keep their x.
- XLSX: openpyxl, typed cells (numbers stay numbers, dates dates); ``partition_xlsx`` needs xlrd and
  msoffcrypto-tool and renders every cell to a string through pandas.
- Plain text and CSV: read as they are. ``partition_text`` strips each line's indentation and drops
  blank lines, which is the column alignment a fixed-width text table relies on.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field

from ingestion.normalized import ParseError

MAX_PDF_PAGES = 50  # a remittance advice is a few pages; past 50 it is a statement or a mistake
MAX_PDF_CHARS = 500_000
MAX_SHEETS = 20
MAX_SHEET_ROWS = 20_000
MAX_SHEET_COLUMNS = 60
MAX_TEXT_CHARS = 2_000_000
# XLSX is a zip: these bound what openpyxl would inflate (a zip bomb expands 1000:1).
MAX_XLSX_UNCOMPRESSED = 200 * 1024**2
MAX_XLSX_MEMBERS = 5_000

_TAB = 8  # plain-text tabs stop every 8 columns, as terminals and mail clients render them


@dataclass
class TextLine:
    """One line of text; ``xs[i]`` is the horizontal extent of ``text[i]`` (columns or PDF points)."""

    text: str
    xs: list[tuple[float, float]]
    number: int  # line number (text) or row number counted over all pages (PDF), for people
    page: int | None = None

    def span(self, start: int, end: int) -> tuple[float, float]:
        return self.xs[start][0], self.xs[end - 1][1]

    def where(self) -> str:
        return f"page {self.page} row {self.number}" if self.page else f"line {self.number}"


@dataclass
class Grid:
    rows: list[list[object]]  # str, int, float, Decimal or date cells
    origin: str  # "table 2", "sheet 'Remittance'", for people
    row_numbers: list[int] = field(default_factory=list)  # sheet row numbers when they differ from index + 1


@dataclass
class Content:
    kind: str  # pdf | html | xlsx | csv | txt
    lines: list[TextLine] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    currency_hints: list[str] = field(default_factory=list)  # e.g. spreadsheet number formats
    warnings: list[str] = field(default_factory=list)


def text_line(text: str, number: int) -> TextLine:
    """A plain-text line, its positions in display columns (tabs expanded)."""
    xs: list[tuple[float, float]] = []
    col = 0
    for ch in text:
        width = _TAB - col % _TAB if ch == "\t" else 1
        xs.append((col, col + width))
        col += width
    return TextLine(text=text, xs=xs, number=number)


def decode_text(data: bytes) -> str:
    """Bytes of a text document: UTF-8 (with or without BOM), else Windows-1252 (what Excel and Outlook write)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text


def read_text(text: str) -> Content:
    if len(text) > MAX_TEXT_CHARS:
        raise ParseError(
            f"text of {len(text)} characters is over the {MAX_TEXT_CHARS} limit for a remittance"
        )
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Only spaces are trimmed: a trailing tab is an empty last cell of a tab-separated row.
    return Content(kind="txt", lines=[text_line(t.rstrip(" "), i + 1) for i, t in enumerate(lines)])


def read_csv(text: str) -> Content:
    if len(text) > MAX_TEXT_CHARS:
        raise ParseError(f"CSV of {len(text)} characters is over the {MAX_TEXT_CHARS} limit for a remittance")
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect)][:MAX_SHEET_ROWS]
    content = Content(kind="csv", grids=[Grid(rows=[list(r) for r in rows], origin="CSV")])
    content.lines = [text_line("\t".join(r), i + 1) for i, r in enumerate(rows)]
    return content


# --- PDF -------------------------------------------------------------------------------------------


def read_pdf(data: bytes) -> Content:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LTChar, LTContainer
    from pdfminer.pdfdocument import PDFEncryptionError
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.psexceptions import PSException

    def chars(obj):
        if isinstance(obj, LTChar):
            yield obj
        elif isinstance(obj, LTContainer):
            for child in obj:
                yield from chars(child)

    content = Content(kind="pdf")
    rsrc = PDFResourceManager(caching=True)
    # laparams=None: no layout analysis. We only need the characters and their boxes, and pdfminer's
    # grouping into text boxes would merge table cells whose gap is under two character widths.
    device = PDFPageAggregator(rsrc, laparams=None)
    interpreter = PDFPageInterpreter(rsrc, device)
    total = 0
    row_number = 0
    try:
        for page_no, page in enumerate(
            PDFPage.get_pages(io.BytesIO(data), maxpages=MAX_PDF_PAGES + 1), start=1
        ):
            if page_no > MAX_PDF_PAGES:
                content.warnings.append(
                    f"PDF has more than {MAX_PDF_PAGES} pages; only the first {MAX_PDF_PAGES} were read"
                )
                break
            interpreter.process_page(page)
            page_chars = [c for c in chars(device.get_result()) if c.get_text()]
            total += len(page_chars)
            if total > MAX_PDF_CHARS:
                raise ParseError(
                    f"PDF has more than {MAX_PDF_CHARS} characters of text: not a remittance advice"
                )
            for row in _pdf_rows(page_chars):
                row_number += 1
                row.number, row.page = row_number, page_no
                content.lines.append(row)
    except PDFEncryptionError as exc:
        raise ParseError(f"PDF is encrypted and cannot be read without its password ({exc})") from exc
    except (PSException, ValueError, KeyError, TypeError, AssertionError) as exc:
        # pdfminer reports damaged files through these (syntax, xref and stream errors).
        raise ParseError(f"PDF cannot be read: {type(exc).__name__}: {exc}") from exc
    if not content.lines:
        raise ParseError("PDF has no text layer (a scanned image?): there is no text to read and no OCR here")
    return content


def _pdf_rows(chars) -> list[TextLine]:
    """Group a page's characters into rows by vertical position and rebuild each row's text.

    Gaps between glyphs decide the separators: under 0.15 em nothing (kerning), under 0.8 em a space,
    wider a tab (a column gap: two spaces in a monospaced font are 1.2 em, a table cell gap is
    usually several em). The tab's extent covers the gap, so cells keep their x positions.
    """
    glyphs = [c for c in chars if not c.get_text().isspace()]
    if not glyphs:
        return []
    glyphs.sort(key=lambda c: (-(c.y0 + c.y1) / 2, c.x0))
    rows: list[list] = []
    current: list = []
    center = None
    for c in glyphs:
        yc = (c.y0 + c.y1) / 2
        height = max(c.height, 1.0)
        if current and abs(yc - center) <= 0.4 * height:
            current.append(c)
        else:
            if current:
                rows.append(current)
            current, center = [c], yc
    rows.append(current)

    out = []
    for row in rows:
        row.sort(key=lambda c: c.x0)
        text: list[str] = []
        xs: list[tuple[float, float]] = []
        prev = None
        for c in row:
            if prev is not None:
                gap = c.x0 - prev.x1
                em = max(prev.size, c.size, 1.0)
                if gap > 0.8 * em:
                    text.append("\t")
                    xs.append((prev.x1, c.x0))
                elif gap > 0.15 * em:
                    text.append(" ")
                    xs.append((prev.x1, c.x0))
            text.append(c.get_text())
            xs.append((c.x0, c.x1))
            prev = c
        # Ligatures (fi, fl) come out as one glyph with several characters: repeat its box.
        flat_text, flat_xs = [], []
        for t, x in zip(text, xs, strict=True):
            for ch in t:
                flat_text.append(ch)
                flat_xs.append(x)
        out.append(TextLine(text="".join(flat_text), xs=flat_xs, number=0))
    return out


# --- XLSX ------------------------------------------------------------------------------------------


def check_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """Open a zip container only if inflating it stays within bounds."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ParseError(f"{what} is not a valid zip container: {exc}") from exc
    infos = zf.infolist()
    if len(infos) > MAX_XLSX_MEMBERS:
        raise ParseError(f"{what} holds {len(infos)} files (limit {MAX_XLSX_MEMBERS})")
    inflated = sum(i.file_size for i in infos)
    if inflated > MAX_XLSX_UNCOMPRESSED:
        raise ParseError(f"{what} inflates to {inflated} bytes (limit {MAX_XLSX_UNCOMPRESSED}): refused")
    return zf


def read_xlsx(data: bytes) -> Content:
    import openpyxl

    zf = check_zip(data, "XLSX")
    if "xl/workbook.xml" not in zf.namelist():
        raise ParseError("file is a zip but not an XLSX workbook (no xl/workbook.xml)")
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise ParseError(f"XLSX cannot be read: {type(exc).__name__}: {exc}") from exc
    content = Content(kind="xlsx")
    number = 0
    try:
        for s_index, ws in enumerate(wb.worksheets):
            if s_index >= MAX_SHEETS:
                content.warnings.append(f"workbook has more than {MAX_SHEETS} sheets; the rest were not read")
                break
            rows: list[list[object]] = []
            row_numbers: list[int] = []
            for r_index, row in enumerate(ws.iter_rows(max_col=MAX_SHEET_COLUMNS), start=1):
                if r_index > MAX_SHEET_ROWS:
                    content.warnings.append(
                        f"sheet {ws.title!r} has more than {MAX_SHEET_ROWS} rows; the rest were not read"
                    )
                    break
                values = []
                for cell in row:
                    value = getattr(cell, "value", None)
                    fmt = getattr(cell, "number_format", None)
                    if isinstance(value, (int, float)) and fmt and fmt != "General":
                        content.currency_hints.append(fmt)
                    values.append(value)
                while values and (values[-1] is None or values[-1] == ""):
                    values.pop()
                rows.append(values)
                row_numbers.append(r_index)
                number += 1
                content.lines.append(text_line("\t".join(cell_text(v) for v in values), number))
            content.grids.append(Grid(rows=rows, origin=f"sheet {ws.title!r}", row_numbers=row_numbers))
    finally:
        wb.close()
    return content


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- HTML ------------------------------------------------------------------------------------------

_BLOCK_DROP = ("script", "style", "head", "noscript", "template")


def read_html(html: str) -> Content:
    import lxml.html
    from lxml import etree

    from ingestion.remittance.unstructured_offline import partition_html

    if len(html) > MAX_TEXT_CHARS:
        raise ParseError(
            f"HTML of {len(html)} characters is over the {MAX_TEXT_CHARS} limit for a remittance"
        )
    if not html.strip():
        return Content(kind="html")
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"HTML cannot be parsed: {exc}") from exc
    for el in list(root.iter(*_BLOCK_DROP)):
        el.drop_tree()
    for el in list(root.iter(etree.Comment)):
        el.drop_tree()
    _unwrap_layout_tables(root)
    _expand_colspans(root)
    _split_on_br(root)
    elements = partition_html(lxml.html.tostring(root, encoding="unicode"))

    content = Content(kind="html")
    number = 0
    for el in elements:
        table_html = getattr(el.metadata, "text_as_html", None)
        if type(el).__name__ == "Table" and table_html:
            rows = _html_rows(table_html)
            content.grids.append(Grid(rows=rows, origin=f"table {len(content.grids) + 1}"))
            for r in rows:
                number += 1
                content.lines.append(text_line("\t".join(str(c) for c in r), number))
        elif el.text and el.text.strip():
            number += 1
            content.lines.append(text_line(el.text.strip(), number))
    return content


def _unwrap_layout_tables(root) -> None:
    """Turn tables that contain tables (page layout) into divs, keeping the innermost (data) tables."""
    layout = [t for t in root.iter("table") if t.find(".//table") is not None]
    for table in layout:
        for part in table.xpath("./tr | ./thead | ./tbody | ./tfoot | ./*/tr"):
            for cell in part.xpath("./td | ./th"):
                cell.tag = "div"
            part.tag = "div"
        table.tag = "div"


def _expand_colspans(root) -> None:
    """Replace ``colspan=n`` by n cells: unstructured drops the attribute, which shifts later columns."""
    import lxml.html

    for cell in list(root.xpath("//td[@colspan] | //th[@colspan]")):
        span = cell.get("colspan", "1")
        del cell.attrib["colspan"]
        n = min(int(span), 50) if span.isdigit() else 1
        for _ in range(n - 1):
            cell.addnext(lxml.html.Element(cell.tag))


def _split_on_br(root) -> None:
    """Make each ``<br>``-separated run of an element outside tables its own block."""
    import lxml.html

    for parent in list(root.iter()):
        brs = [c for c in parent if isinstance(c.tag, str) and c.tag == "br"]
        if not brs or parent.xpath("ancestor-or-self::table"):
            continue
        blocks = []
        current = lxml.html.Element("div")
        current.text = parent.text
        parent.text = None
        for child in list(parent):
            parent.remove(child)
            if isinstance(child.tag, str) and child.tag == "br":
                blocks.append(current)
                current = lxml.html.Element("div")
                current.text = child.tail
            else:
                current.append(child)
        blocks.append(current)
        if parent.tag in ("p", "span", "font", "b", "strong", "i", "em", "a"):
            parent.tag = "div"  # a block inside a <p> or inline element is invalid and gets flattened
        parent.extend(blocks)
    for br in list(root.iter("br")):  # inside table cells: a line break is a space
        br.tail = " " + (br.tail or "")
        br.drop_tag()


def _html_rows(table_html: str) -> list[list[object]]:
    import lxml.html

    table = lxml.html.fragment_fromstring(table_html, create_parent="div")
    rows = []
    for tr in table.iter("tr"):
        cells = []
        for cell in tr:
            if not isinstance(cell.tag, str) or cell.tag not in ("td", "th"):
                continue
            text = re.sub(r"\s+", " ", cell.text_content()).strip()
            cells.append(text)
        rows.append(cells)
    return rows
