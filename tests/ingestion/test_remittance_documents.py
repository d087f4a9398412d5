"""Remittance documents: e-mails (text and HTML bodies, PDF/XLSX/zip attachments), PDFs, HTML pages,
spreadsheets and text, read offline with unstructured, pdfminer and openpyxl.

Every test builds its document with the library that writes that format (matplotlib's PDF backend,
openpyxl, the stdlib ``email`` package) and asserts the values the extractor returns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import matplotlib
import openpyxl
import pytest

matplotlib.use("pdf")
import matplotlib.pyplot as plt  # noqa: E402

from ingestion.normalized import ParseError  # noqa: E402
from ingestion.remittance import documents  # noqa: E402
from ingestion.remittance.documents import (  # noqa: E402
    extract_document,
    parse_remittance_document,
    safe_attachment_path,
    safe_filename,
)
from ingestion.remittance.readers import read_pdf  # noqa: E402

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def pdf_bytes(
    rows: list[tuple[str, str]], table: list[list[str]], aligns: list[str], footer: str | None = None
) -> bytes:
    """A one-page A4 text PDF: label/value rows, then a table whose columns sit at fixed x positions."""
    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.08, 0.94, "REMITTANCE ADVICE", fontsize=16, weight="bold")
    y = 0.90
    for label, value in rows:
        fig.text(0.08, y, label, fontsize=10)
        fig.text(0.32, y, value, fontsize=10)
        y -= 0.025
    y -= 0.02
    xs = [0.08 + i * 0.84 / len(aligns) for i in range(len(aligns))]
    for r, row in enumerate(table):
        for x, value, ha in zip(xs, row, aligns, strict=True):
            pos = x if ha == "left" else x + 0.84 / len(aligns) - 0.01
            fig.text(pos, y, value, fontsize=10, ha=ha, weight="bold" if r == 0 else "normal")
        y -= 0.022
    if footer:
        fig.text(0.08, y - 0.02, footer, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def globex_pdf() -> bytes:
    return pdf_bytes(
        [
            ("Payer:", "Globex GmbH"),
            ("Payment reference:", "PMT-2025-03-0042"),
            ("Payment date:", "14.03.2025"),
        ],
        [
            ["Invoice", "Invoice date", "Gross", "Discount", "Net paid"],
            ["INV2025000123", "01.02.2025", "1.234,56", "24,69", "1.209,87"],
            ["INV2025000124", "03.02.2025", "500,00", "", "500,00"],
            ["Total", "", "", "", "1.709,87 EUR"],
        ],
        ["left", "left", "right", "right", "right"],
    )


def initech_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Remittance"
    ws.append(["Remittance advice"])
    ws.append(["Payer", "Initech Ltd"])
    ws.append(["Payment reference", "CHK-000981"])
    ws.append(["Payment date", dt.date(2025, 3, 14)])
    ws.append([])
    ws.append(["Document", "Amount", "Disc.", "Short pay", "Reason", "Net"])
    ws.append(["INV-2025-000200", 1000, 20, None, None, 980.0])
    ws.append([2025000201, 250.5, None, 50, "Pricing", 200.5])
    ws.append(["Total", None, None, None, None, 1180.5])
    for row in ws.iter_rows(min_row=7, max_row=9, min_col=2):
        for cell in row:
            cell.number_format = '"£"#,##0.00'
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def message(subject: str, sender: str = "Acme Accounts Payable <ap@acme.example>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ar@openar.example"
    msg["Subject"] = subject
    msg["Date"] = "Fri, 14 Mar 2025 10:00:00 +0000"
    return msg


def lines_of(doc) -> list[tuple]:
    return [
        (
            ln.invoice_reference,
            ln.paid_amount,
            ln.invoice_amount,
            ln.discount_amount,
            ln.deduction_amount,
            ln.deduction_reason,
        )
        for ln in doc.lines
    ]


# --- unstructured offline and PDF text ------------------------------------------------------------


def test_unstructured_html_partitions_offline_with_the_blank_pipeline(monkeypatch) -> None:
    import unstructured.nlp.tokenize as tokenize

    from ingestion.remittance.unstructured_offline import blank_pipeline, ensure_offline, partition_html

    def no_download() -> None:
        raise AssertionError("unstructured tried to download a spaCy model")

    monkeypatch.setattr(tokenize, "_install_spacy_model", no_download)
    ensure_offline()
    assert tokenize._get_nlp is blank_pipeline
    assert blank_pipeline().pipe_names == ["sentencizer"]
    elements = partition_html(
        "<p>We thank you for your business. Payment was sent today.</p>"
        "<table><tr><th>Invoice</th><th>Paid</th></tr><tr><td>INV-1</td><td>10.00</td></tr></table>"
    )
    assert [type(e).__name__ for e in elements][-1] == "Table"
    assert elements[0].text == "We thank you for your business. Payment was sent today."
    assert "<td>INV-1</td><td>10.00</td>" in elements[-1].metadata.text_as_html


def test_pdf_yields_text_with_rows_and_columns(globex_pdf) -> None:
    content = read_pdf(globex_pdf)
    texts = [ln.text for ln in content.lines]
    assert texts[:4] == [
        "REMITTANCE ADVICE",
        "Payer:\tGlobex GmbH",
        "Payment reference:\tPMT-2025-03-0042",
        "Payment date:\t14.03.2025",
    ]
    assert "INV2025000123\t01.02.2025\t1.234,56\t24,69\t1.209,87" in texts
    assert all(ln.page == 1 for ln in content.lines)


def test_pdf_without_text_layer_is_rejected(tmp_path: Path) -> None:
    fig = plt.figure(figsize=(4, 3))
    fig.add_axes((0, 0, 1, 1)).plot([0, 1], [0, 1])
    fig.axes[0].set_axis_off()
    path = tmp_path / "scan.pdf"
    fig.savefig(path, format="pdf")
    plt.close(fig)
    with pytest.raises(ParseError, match="scan.pdf: PDF has no text layer"):
        parse_remittance_document(path)


# --- e-mails ---------------------------------------------------------------------------------------

PLAIN_BODY = """Dear Supplier,

Please find below the details of our payment.

Payer: Acme Corp
Payment reference: PAY-778899
Payment date: 03/14/2025

Invoice No.        Invoice Amount     Discount   Deduction   Reason          Amount Paid
INV-2025-000123          1,234.56        24.69                                  1,209.87
INV-2025-000124            525.00                    25.00   Damaged goods        500.00
2025000125                 100.00                                                 100.00
----------------------------------------------------------------------------------------
Total                                                                           1,809.87

Kind regards,
Accounts Payable
"""


def test_email_with_plain_text_table(tmp_path: Path) -> None:
    msg = message("Remittance advice PAY-778899")
    msg.set_content(PLAIN_BODY)
    path = tmp_path / "plain.eml"
    path.write_bytes(msg.as_bytes())

    result = parse_remittance_document(path)
    assert result.source_format == "eml"
    [doc] = result.remittances
    assert (
        doc.source_format,
        doc.payer_name,
        doc.payment_reference,
        doc.payment_date,
        doc.total_amount,
        doc.currency,
    ) == (
        "eml",
        "Acme Corp",
        "PAY-778899",
        dt.date(2025, 3, 14),
        Decimal("1809.87"),
        None,
    )
    assert lines_of(doc) == [
        ("INV-2025-000123", Decimal("1209.87"), Decimal("1234.56"), Decimal("24.69"), None, None),
        ("INV-2025-000124", Decimal("500.00"), Decimal("525.00"), None, Decimal("25.00"), "Damaged goods"),
        ("2025000125", Decimal("100.00"), Decimal("100.00"), None, None, None),
    ]
    # Fixed-width rows with empty cells are placed by position: a little less sure than clean splits.
    assert [ln.confidence for ln in doc.lines] == [0.95, 0.95, 0.95]
    assert doc.payer_confidence == 0.9
    assert result.warnings == []


HTML_BODY = """<html><head><style>td {font-family: Arial}</style></head><body>
<table width="100%" role="presentation"><tr><td>
  <p>Hello,<br>Paid by: <b>Umbrella Corp</b><br>Payment No.: 55512<br>Value date: March 14, 2025</p>
  <table border="1">
    <thead><tr><th>Inv No.</th><th>Invoice Amt</th><th>Adjustment</th><th>Adj. reason</th><th>Payment</th></tr></thead>
    <tbody>
      <tr><td>INV-2025-000300</td><td>$2,000.00</td><td>($100.00)</td><td>Promo allowance</td><td>$1,900.00</td></tr>
      <tr><td>INV-2025-000301<br>(re-billed)</td><td>$75.25</td><td></td><td></td><td>$75.25</td></tr>
      <tr><td colspan="4">Total payment</td><td>$1,975.25</td></tr>
    </tbody>
  </table>
</td></tr></table>
<p>Regards<br>Umbrella AP</p></body></html>"""


def test_email_with_html_table_inside_a_layout_table(tmp_path: Path) -> None:
    msg = message("Payment notification", sender="Umbrella AP <ap@umbrella.example>")
    msg.set_content("Your mail client does not show HTML; the table is in the HTML part.")
    msg.add_alternative(HTML_BODY, subtype="html")
    path = tmp_path / "html.eml"
    path.write_bytes(msg.as_bytes())

    [doc] = parse_remittance_document(path).remittances
    assert (doc.payer_name, doc.payment_reference, doc.payment_date, doc.total_amount, doc.currency) == (
        "Umbrella Corp",
        "55512",
        dt.date(2025, 3, 14),
        Decimal("1975.25"),
        "USD",
    )
    assert lines_of(doc) == [
        (
            "INV-2025-000300",
            Decimal("1900.00"),
            Decimal("2000.00"),
            None,
            Decimal("100.00"),
            "Promo allowance",
        ),
        ("INV-2025-000301", Decimal("75.25"), Decimal("75.25"), None, None, None),
    ]
    # A grid cell under a recognised header; the second reference was picked out of a cell with a note.
    assert [ln.confidence for ln in doc.lines] == [0.985, 0.94]


def test_email_with_pdf_attachment(tmp_path: Path, globex_pdf: bytes) -> None:
    msg = message("Zahlungsavis", sender="Globex Buchhaltung <ap@globex.example>")
    msg.set_content("Please find our remittance advice attached.\n")
    msg.add_attachment(globex_pdf, maintype="application", subtype="pdf", filename="avis.pdf")
    path = tmp_path / "pdf.eml"
    path.write_bytes(msg.as_bytes())

    result = parse_remittance_document(path)
    [doc] = result.remittances
    assert (
        doc.source_format,
        doc.payer_name,
        doc.payment_reference,
        doc.payment_date,
        doc.total_amount,
        doc.currency,
    ) == (
        "pdf",
        "Globex GmbH",
        "PMT-2025-03-0042",
        dt.date(2025, 3, 14),
        Decimal("1709.87"),
        "EUR",
    )
    assert lines_of(doc) == [
        ("INV2025000123", Decimal("1209.87"), Decimal("1234.56"), Decimal("24.69"), None, None),
        ("INV2025000124", Decimal("500.00"), Decimal("500.00"), None, None, None),
    ]
    assert all(0.94 <= ln.confidence <= 0.98 for ln in doc.lines)
    assert result.warnings == []


@pytest.mark.parametrize(
    ("sent", "read_as"),
    [
        ("Mon, 01 Dec 2025 09:00:00 +0000", dt.date(2025, 12, 1)),  # a UK payer: day first
        ("Sun, 12 Jan 2025 09:00:00 +0000", dt.date(2025, 1, 12)),  # a US payer: month first
    ],
)
def test_an_ambiguous_payment_date_is_read_nearest_the_day_the_advice_was_sent(
    tmp_path: Path, sent: str, read_as: dt.date
) -> None:
    """01/12/2025 in a PDF with no other date and no decimal commas: nothing in the document says
    which order it writes; the e-mail's Date header does (advices go out around the payment)."""
    pdf = pdf_bytes(
        [("Payer:", "Orchard Industries Ltd"), ("Payment date:", "01/12/2025")],
        [
            ["Invoice", "Invoice amount", "Paid"],
            ["INV-106074", "5,856.96", "3,018.23"],
            ["INV-106466", "670.00", "670.00"],
            ["Total", "", "3,688.23"],
        ],
        ["left", "right", "right"],
    )
    msg = message("Remittance advice", sender="Orchard AP <ap@orchard.example>")
    del msg["Date"]
    msg["Date"] = sent
    msg.set_content("Please find our remittance advice attached.\n")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="advice.pdf")
    path = tmp_path / "advice.eml"
    path.write_bytes(msg.as_bytes())

    [doc] = parse_remittance_document(path).remittances
    assert doc.payment_date == read_as
    assert [ln.invoice_reference for ln in doc.lines] == ["INV-106074", "INV-106466"]


def test_email_with_xlsx_attachment_named_to_escape(tmp_path: Path) -> None:
    msg = message("Payment", sender="payables@initech.example")
    msg.set_content("Attached.\n")
    msg.add_attachment(
        initech_xlsx(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename="../../etc/passwd"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "xlsx.eml"
    path.write_bytes(msg.as_bytes())

    result = parse_remittance_document(path)
    [doc] = result.remittances
    assert (
        doc.source_format,
        doc.payer_name,
        doc.payment_reference,
        doc.payment_date,
        doc.total_amount,
        doc.currency,
    ) == (
        "xlsx",
        "Initech Ltd",
        "CHK-000981",
        dt.date(2025, 3, 14),
        Decimal("1180.5"),
        "GBP",
    )
    assert lines_of(doc) == [
        ("INV-2025-000200", Decimal("980.0"), Decimal("1000"), Decimal("20"), None, None),
        ("2025000201", Decimal("200.5"), Decimal("250.5"), None, Decimal("50"), "Pricing"),
    ]
    assert [ln.confidence for ln in doc.lines] == [0.99, 0.99]
    # Nothing was written anywhere, and a caller that stores attachments stays in its folder.
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["inbox", "xlsx.eml"]
    assert safe_filename("../../etc/passwd", "x") == "passwd"
    assert safe_attachment_path(inbox, "../../etc/passwd") == inbox.resolve() / "passwd"
    assert safe_attachment_path(inbox, "..\\..\\boot.ini") == inbox.resolve() / "boot.ini"
    assert safe_attachment_path(inbox, "..") == inbox.resolve() / "attachment"
    assert safe_attachment_path(inbox, "CON.pdf") == inbox.resolve() / "_CON.pdf"


def test_body_preview_and_attachment_of_the_same_advice_count_once(tmp_path: Path) -> None:
    msg = message("Remittance")
    msg.set_content("Invoice          Amount Paid\nINV-2025-000200     980.00\n2025000201          200.50\n")
    msg.add_attachment(initech_xlsx(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename="remit.xlsx")
    path = tmp_path / "both.eml"
    path.write_bytes(msg.as_bytes())
    [doc] = parse_remittance_document(path).remittances
    assert doc.source_format == "xlsx"
    assert [ln.invoice_reference for ln in doc.lines] == ["INV-2025-000200", "2025000201"]


def test_email_with_invoices_in_a_sentence(tmp_path: Path) -> None:
    msg = message("Payment for invoices", sender="Hooli Finance <finance@hooli.example>")
    msg.set_content(
        "Hi,\n\nWe have paid invoice INV-2025-000900 for USD 1,250.00 and invoice INV-2025-000901 for USD 80.10 "
        "on 14 March 2025 with reference TRX-55821.\n\nBest,\nHooli\n"
    )
    path = tmp_path / "sentence.eml"
    path.write_bytes(msg.as_bytes())
    [doc] = parse_remittance_document(path).remittances
    assert [(ln.invoice_reference, ln.paid_amount, ln.confidence) for ln in doc.lines] == [
        ("INV-2025-000900", Decimal("1250.00"), 0.8),
        ("INV-2025-000901", Decimal("80.10"), 0.8),
    ]
    assert (doc.payer_name, doc.payer_confidence) == ("Hooli Finance", 0.6)  # the sender's display name
    assert (doc.payment_reference, doc.payment_date, doc.currency) == (
        "TRX-55821",
        dt.date(2025, 3, 14),
        "USD",
    )
    assert doc.total_amount == Decimal("1330.10")  # not stated: the sum of the lines


def test_zip_attachment_is_read_within_bounds(tmp_path: Path, monkeypatch) -> None:
    buf = io.StringIO()
    csv.writer(buf).writerows(
        [["Invoice", "Amount Paid"], ["INV-2025-000700", "310.00"], ["INV-2025-000701", "90.00"]]
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../remit.csv", buf.getvalue())
        zf.writestr("logo.png", b"\x89PNG\r\n\x1a\n")
    msg = message("Remittance")
    msg.set_content("See zip.\n")
    msg.add_attachment(archive.getvalue(), maintype="application", subtype="zip", filename="remit.zip")
    path = tmp_path / "zip.eml"
    path.write_bytes(msg.as_bytes())

    [doc] = parse_remittance_document(path).remittances
    assert [(ln.invoice_reference, ln.paid_amount) for ln in doc.lines] == [
        ("INV-2025-000700", Decimal("310.00")),
        ("INV-2025-000701", Decimal("90.00")),
    ]
    monkeypatch.setattr(documents, "MAX_ZIP_MEMBERS", 1)
    result = parse_remittance_document(path)
    assert result.remittances[0].lines == []
    assert any("remit.zip holds 2 files (limit 1), skipped" in w for w in result.warnings)


def test_oversized_attachment_is_skipped(tmp_path: Path, monkeypatch, globex_pdf: bytes) -> None:
    monkeypatch.setattr(documents, "MAX_ATTACHMENT_BYTES", 1000)
    msg = message("Remittance")
    msg.set_content("Attached.\n")
    msg.add_attachment(globex_pdf, maintype="application", subtype="pdf", filename="big.pdf")
    path = tmp_path / "big.eml"
    path.write_bytes(msg.as_bytes())
    result = parse_remittance_document(path)
    assert result.remittances[0].lines == []
    assert any(
        "attachment big.pdf:" in w and "over the 1000 byte limit, skipped" in w for w in result.warnings
    )


# --- standalone documents --------------------------------------------------------------------------


def test_standalone_pdf(tmp_path: Path, globex_pdf: bytes) -> None:
    path = tmp_path / "advice.pdf"
    path.write_bytes(globex_pdf)
    result = parse_remittance_document(path)
    assert result.source_format == "pdf"
    [doc] = result.remittances
    assert (doc.payer_name, doc.payment_reference, doc.total_amount, doc.currency) == (
        "Globex GmbH",
        "PMT-2025-03-0042",
        Decimal("1709.87"),
        "EUR",
    )
    assert [(ln.invoice_reference, ln.paid_amount, ln.discount_amount) for ln in doc.lines] == [
        ("INV2025000123", Decimal("1209.87"), Decimal("24.69")),
        ("INV2025000124", Decimal("500.00"), None),
    ]


def test_html_page(tmp_path: Path) -> None:
    path = tmp_path / "remittance.html"
    path.write_text(HTML_BODY, encoding="utf-8")
    result = parse_remittance_document(path)
    assert result.source_format == "html"
    [doc] = result.remittances
    assert doc.source_format == "html"
    assert [(ln.invoice_reference, ln.paid_amount) for ln in doc.lines] == [
        ("INV-2025-000300", Decimal("1900.00")),
        ("INV-2025-000301", Decimal("75.25")),
    ]
    assert (doc.payer_name, doc.payment_reference, doc.total_amount) == (
        "Umbrella Corp",
        "55512",
        Decimal("1975.25"),
    )


def test_standalone_xlsx_csv_and_text(tmp_path: Path) -> None:
    (tmp_path / "remit.xlsx").write_bytes(initech_xlsx())
    [doc] = parse_remittance_document(tmp_path / "remit.xlsx").remittances
    assert [ln.invoice_reference for ln in doc.lines] == ["INV-2025-000200", "2025000201"]

    (tmp_path / "remit.csv").write_text(
        "Doc No.;Amount Due;Amount Paid\nINV-2025-000500;1.500,00;1.470,00\nINV-2025-000501;99,90;99,90\n",
        encoding="cp1252",
    )
    [doc] = parse_remittance_document(tmp_path / "remit.csv").remittances
    assert [(ln.invoice_reference, ln.paid_amount, ln.invoice_amount) for ln in doc.lines] == [
        ("INV-2025-000500", Decimal("1470.00"), Decimal("1500.00")),
        ("INV-2025-000501", Decimal("99.90"), Decimal("99.90")),
    ]

    # A printed data frame: single spaces between the headers, a row-number column.
    (tmp_path / "remit.txt").write_text(
        "    invoice_number  invoice_amount  amount_paid\n"
        "0  INV-2025-000600         1234.56      1209.87\n"
        "1       2025000601          500.00       500.00\n"
    )
    [doc] = parse_remittance_document(tmp_path / "remit.txt").remittances
    assert [(ln.invoice_reference, ln.paid_amount, ln.invoice_amount) for ln in doc.lines] == [
        ("INV-2025-000600", Decimal("1209.87"), Decimal("1234.56")),
        ("2025000601", Decimal("500.00"), Decimal("500.00")),
    ]


def test_x12_file_through_the_document_entry_point(tmp_path: Path) -> None:
    segments = [
        "ISA*00*          *00*          *ZZ*ACME           *ZZ*OPENAR         *250314*1200*U*00401*000000001*0*P*>",
        "GS*RA*ACME*OPENAR*20250314*1200*1*X*004010",
        "ST*820*0001",
        "BPR*C*100*C*ACH************20250314",
        "TRN*1*PAY-1",
        "ENT*1",
        "RMR*IV*INV-1001**100",
        "SE*6*0001",
        "GE*1*1",
        "IEA*1*000000001",
    ]
    path = tmp_path / "remit.edi"
    path.write_text("~".join(segments) + "~")
    [ex] = extract_document(path.read_bytes(), path.name)
    assert ex.lines[0].invoice_reference.value == "INV-1001" and ex.lines[0].confidence == 1.0


def test_unsupported_and_oversized_files(tmp_path: Path, monkeypatch) -> None:
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(ParseError, match=r"old.xls: legacy Office files \(.xls/.doc/.msg\) are not read"):
        parse_remittance_document(legacy)
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 10)
    with pytest.raises(ParseError, match="over the 10 byte limit"):
        parse_remittance_document(legacy)


def test_format_flowed_body_rows_are_joined_again(tmp_path: Path) -> None:
    # RFC 3676: the sender's client wrapped each long row after a space; the trailing space marks it.
    body = (
        "Invoice No.          Description                            Discount      \r\n"
        "Amount Paid\r\n"
        "INV-2025-000800      Consulting services February 2025         20.00      \r\n"
        "980.00\r\n"
    )
    raw = (
        "From: Payer <ap@payer.example>\r\nTo: ar@openar.example\r\nSubject: Remittance\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n" + body
    )
    path = tmp_path / "flowed.eml"
    path.write_bytes(raw.encode())
    [doc] = parse_remittance_document(path).remittances
    assert [(ln.invoice_reference, ln.paid_amount, ln.discount_amount) for ln in doc.lines] == [
        ("INV-2025-000800", Decimal("980.00"), Decimal("20.00"))
    ]
