"""Remittance advices as payers send them: e-mails with the invoices in the body (text or HTML table),
e-mails with a PDF or XLSX advice attached, and EDI X12 820 files.

Each payer's AP system has a habit (:class:`AdviceStyle`, drawn once per paying account): which
columns its table has and what they are called, how it writes amounts (``1,234.56``, ``1.234,56``,
``1 234,56``) and dates, and whether it writes our invoice numbers in full (``INV-100123``), as digits
only (``100123``, the way many AP systems key a supplier's number) or without the hyphen. Column
headings are English, with the German word beside it for payers writing in German (``Invoice No. /
Beleg-Nr.``), the way SAP prints advices for foreign suppliers. The ground truth keeps every line as
the document writes it (``remittance_lines.csv``), so an extractor is judged on what is on the page.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from html import escape

from simulator.docbytes import pdf_bytes, xlsx_bytes
from simulator.money import fmt_grouped
from simulator.rand import Draws

_RAIL = {"wire": "bank transfer", "ach": "ACH", "check": "check", "card": "card"}
_RAIL_DE = {"wire": "Überweisung", "ach": "Lastschrift", "check": "Scheck", "card": "Karte"}
_RAIL_FR = {"wire": "virement", "ach": "prélèvement", "check": "chèque", "card": "carte"}

# Column layouts AP systems print: (kind, heading) in order. Kinds: ref, date, gross, disc, ded,
# reason, paid. A layout without ded/disc columns is only used for payments that have none.
LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "full": (
        ("ref", "Invoice No."),
        ("date", "Invoice Date"),
        ("gross", "Invoice Amount"),
        ("disc", "Discount"),
        ("ded", "Deduction"),
        ("reason", "Reason"),
        ("paid", "Amount Paid"),
    ),
    "doc": (
        ("ref", "Document No."),
        ("date", "Doc. Date"),
        ("gross", "Gross Amount"),
        ("disc", "Discount Taken"),
        ("ded", "Adjustment"),
        ("paid", "Net Amount"),
    ),
    "short": (("ref", "Invoice"), ("gross", "Gross"), ("disc", "Disc."), ("paid", "Net Paid")),
    "minimal": (("ref", "Your Invoice"), ("paid", "Amount Paid")),
}
_GERMAN = {
    "Invoice No.": "Invoice No. / Beleg-Nr.",
    "Invoice Date": "Invoice Date / Datum",
    "Invoice Amount": "Invoice Amount / Rechnungsbetrag",
    "Discount": "Discount / Skonto",
    "Deduction": "Deduction / Abzug",
    "Reason": "Reason / Grund",
    "Amount Paid": "Amount Paid / Zahlbetrag",
}


@dataclass
class AdviceStyle:
    """One payer's AP system: stable from one advice to the next."""

    layout: str
    amounts: str  # en | de | fr
    dates: str  # strftime pattern
    refs: str  # full | digits | compact
    html: bool  # e-mail body tables as HTML (with a text alternative)
    bilingual: bool


def draw_style(d: Draws, country: str, language: str) -> AdviceStyle:
    amounts = "de" if country in ("DE", "NL", "ES", "IT") else "fr" if country == "FR" else "en"
    dates = {"US": "%m/%d/%Y", "CA": "%Y-%m-%d", "DE": "%d.%m.%Y", "FR": "%d/%m/%Y"}.get(country, "%d/%m/%Y")
    if d.chance(0.15):
        dates = "%Y-%m-%d"
    return AdviceStyle(
        layout=d.weighted((("full", 0.35), ("doc", 0.25), ("short", 0.25), ("minimal", 0.15))),
        amounts=amounts,
        dates=dates,
        refs=d.weighted((("full", 0.75), ("digits", 0.2), ("compact", 0.05))),
        html=d.chance(0.45),
        bilingual=language == "de" and d.chance(0.7),
    )


@dataclass
class AdviceLine:
    invoice_id: str
    invoice_date: dt.date
    invoice_amount: int  # cents: the invoice as billed
    discount: int
    deduction: int
    reason: str | None
    paid: int
    reference: str = ""  # as the document writes it (set by ``Advice.written``)


@dataclass
class Advice:
    """Everything a document of one payment says; rendering choices come from ``style``."""

    payment_id: str
    kind: str  # email_body | email_pdf | email_xlsx | edi820 | lockbox_detail
    style: AdviceStyle
    payer_name: str
    sender_name: str
    sender_email: str
    language: str
    currency: str
    amount: int
    paid_on: dt.date
    reference: str
    channel: str
    lines: list[AdviceLine] = field(default_factory=list)
    attachment_name: str = ""
    sent_minute: int = 0  # minute of the day the e-mail goes out, in the payer's time zone

    def written(self) -> None:
        for ln in self.lines:
            digits = ln.invoice_id.split("-")[-1]
            ln.reference = {"digits": digits, "compact": ln.invoice_id.replace("-", "")}.get(
                self.style.refs, ln.invoice_id
            )

    def money(self, cents: int) -> str:
        return fmt_grouped(cents, self.style.amounts)

    def columns(self) -> list[tuple[str, str]]:
        cols = list(LAYOUTS[self.style.layout])
        has_disc = any(ln.discount for ln in self.lines)
        has_ded = any(ln.deduction for ln in self.lines)
        kinds = {k for k, _ in cols}
        if (has_ded and "ded" not in kinds) or (has_disc and "disc" not in kinds):
            cols = list(LAYOUTS["full"])  # the short layouts are only printed when nothing is taken off
        if self.style.bilingual:
            cols = [(k, _GERMAN.get(h, h)) for k, h in cols]
        return cols

    def cell(self, kind: str, ln: AdviceLine) -> str:
        if kind == "ref":
            return ln.reference
        if kind == "date":
            return ln.invoice_date.strftime(self.style.dates)
        if kind == "gross":
            return self.money(ln.invoice_amount)
        if kind == "disc":
            return self.money(ln.discount) if ln.discount else ""
        if kind == "ded":
            return self.money(ln.deduction) if ln.deduction else ""
        if kind == "reason":
            return ln.reason.lower().replace("_", " ").capitalize() if ln.reason else ""
        return self.money(ln.paid)


# --- e-mail text -----------------------------------------------------------------------------------


def _greeting(a: Advice, amount: str, date: str) -> str:
    if a.language == "de":
        return (
            "Sehr geehrte Damen und Herren,\n\n"
            f"wir haben am {date} {amount} per {_RAIL_DE[a.channel]} an Sie gezahlt. "
            "Die Zahlung betrifft folgende Rechnungen:"
        )
    if a.language == "fr":
        return (
            "Madame, Monsieur,\n\n"
            f"Nous vous informons du règlement de {amount} par {_RAIL_FR[a.channel]} le {date}, "
            "pour les factures suivantes :"
        )
    return (
        "Dear Supplier,\n\n"
        f"Please be advised that we have made a payment of {amount} on {date} by {_RAIL[a.channel]}, "
        "covering the invoices below."
    )


def _sign(a: Advice) -> str:
    closing = {"de": "Mit freundlichen Grüßen", "fr": "Cordialement,"}.get(a.language, "Kind regards,")
    return f"{closing}\n{a.sender_name}\nAccounts Payable | {a.payer_name}"


def text_table(a: Advice) -> str:
    cols = a.columns()
    rows = [[h for _, h in cols]] + [[a.cell(k, ln) for k, _ in cols] for ln in a.lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    right = [k in ("gross", "disc", "ded", "paid") for k, _ in cols]

    def fmt(r: list[str]) -> str:
        out = [(c.rjust(w) if rt else c.ljust(w)) for c, w, rt in zip(r, widths, right, strict=True)]
        return "   ".join(out).rstrip()

    lines = [fmt(rows[0])] + [fmt(r) for r in rows[1:]]
    rule = "-" * len(max(lines, key=len))
    total = f"Total{' ' * max(1, len(rule) - 5 - len(a.money(a.amount)))}{a.money(a.amount)}"
    return "\n".join([lines[0], *lines[1:], rule, total])


def html_table(a: Advice) -> str:
    cols = a.columns()
    head = "".join(f"<th>{escape(h)}</th>" for _, h in cols)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td align="right">{escape(a.cell(k, ln))}</td>'
            if k in ("gross", "disc", "ded", "paid")
            else f"<td>{escape(a.cell(k, ln))}</td>"
            for k, _ in cols
        )
        + "</tr>"
        for ln in a.lines
    )
    span = len(cols) - 1
    total = (
        f'<tr><td colspan="{span}"><b>Total</b></td><td align="right"><b>{a.money(a.amount)}</b></td></tr>'
    )
    return (
        '<table border="1" cellpadding="4" cellspacing="0">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}{total}</tbody></table>"
    )


def email_parts(a: Advice) -> tuple[str, str, str | None]:
    """(subject, text body, HTML body or None). The text body is also the ERP inbox's copy."""
    amount = f"{a.currency} {a.money(a.amount)}"
    date = a.paid_on.strftime(a.style.dates)
    ref = a.reference or a.payment_id
    if a.kind == "email_body":
        subject = {
            "de": f"Zahlungsavis {ref}",
            "fr": f"Avis de paiement {ref}",
        }.get(a.language, f"Remittance advice - {ref}")
        text = f"{_greeting(a, amount, date)}\n\n{text_table(a)}\n\n{_sign(a)}\n"
        html = None
        if a.style.html:
            intro = escape(_greeting(a, amount, date)).replace("\n", "<br>")
            sign = escape(_sign(a)).replace("\n", "<br>")
            html = f"<html><body><p>{intro}</p>{html_table(a)}<p>{sign}</p></body></html>"
        return subject, text, html
    what = "PDF" if a.kind == "email_pdf" else "Excel"
    subject = {"de": f"Zahlungsavis {ref}", "fr": f"Avis de paiement {ref}"}.get(
        a.language, f"Payment advice {ref}"
    )
    if a.language == "de":
        intro = f"Sehr geehrte Damen und Herren,\n\nanbei erhalten Sie das Zahlungsavis ({what}) zu unserer Zahlung über {amount} vom {date}."
    elif a.language == "fr":
        intro = f"Madame, Monsieur,\n\nVeuillez trouver ci-joint l'avis de paiement ({what}) de notre règlement de {amount} du {date}."
    else:
        intro = f"Hello,\n\nPlease find attached the remittance advice ({what}) for our payment of {amount} dated {date}."
    return subject, f"{intro}\n\nAttachment: {a.attachment_name}\n\n{_sign(a)}\n", None


# --- attachments -----------------------------------------------------------------------------------


def advice_pdf(a: Advice) -> bytes:
    """The advice as an AP system prints it: a label block, then the table, 38 rows a page."""
    cols = a.columns()
    left, right = 40.0, 555.0
    width = (right - left) / len(cols)
    xs = []
    for i, (k, _) in enumerate(cols):
        if k in ("gross", "disc", "ded", "paid"):
            xs.append(-(left + (i + 1) * width - 6))  # right edge of the column
        else:
            xs.append(left + i * width)
    head = [
        (left, 60, "REMITTANCE ADVICE", 16, True),
        (left, 95, "Payer:", 10, False),
        (170, 95, a.payer_name, 10, False),
        (left, 112, "Payment reference:", 10, False),
        (170, 112, a.reference or a.payment_id, 10, False),
        (left, 129, "Payment date:", 10, False),
        (170, 129, a.paid_on.strftime(a.style.dates), 10, False),
        (left, 146, "Currency:", 10, False),
        (170, 146, a.currency, 10, False),
    ]
    size = 8.5 if len(cols) > 5 else 9.5
    pages, items, y = [], list(head), 185.0
    # A bilingual heading ("Invoice Amount / Rechnungsbetrag") does not fit a column of a printed
    # table: AP systems stack the two languages, the German under the English.
    table_head = []
    for x, (_, h) in zip(xs, cols, strict=True):
        top, _, bottom = h.partition(" / ")
        table_head.append((x, 0, top, size, True))
        if bottom:
            table_head.append((x, size + 2, bottom, size, False))
    head_height = 18 + (size + 2 if any(dy for _, dy, _, _, _ in table_head) else 0)
    items += [(x, y + dy, h, s, b) for x, dy, h, s, b in table_head]
    y += head_height
    for n, ln in enumerate(a.lines):
        if n and n % 38 == 0:
            pages.append(items)
            items, y = (
                [(left, 50, f"REMITTANCE ADVICE (continued) - {a.reference or a.payment_id}", 10, True)],
                80.0,
            )
            items += [(x, y + dy, h, s, b) for x, dy, h, s, b in table_head]
            y += head_height
        for x, (k, _) in zip(xs, cols, strict=True):
            items.append((x, y, a.cell(k, ln), size, False))
        y += 15
    items.append((left, y + 8, "Total", size + 0.5, True))
    items.append((xs[-1], y + 8, f"{a.money(a.amount)} {a.currency}", size + 0.5, True))
    pages.append(items)
    return pdf_bytes(pages, title=f"Remittance advice {a.reference or a.payment_id}")


def advice_xlsx(a: Advice) -> bytes:
    cols = a.columns()
    rows: list[list[object]] = [
        ["Remittance advice"],
        ["Payer", a.payer_name],
        ["Payment reference", a.reference or a.payment_id],
        ["Payment date", a.paid_on],
        ["Currency", a.currency],
        [],
        [h for _, h in cols],
    ]
    for ln in a.lines:
        row: list[object] = []
        for k, _ in cols:
            if k == "date":
                row.append(ln.invoice_date)
            elif k in ("gross", "disc", "ded", "paid"):
                cents = {
                    "gross": ln.invoice_amount,
                    "disc": ln.discount,
                    "ded": ln.deduction,
                    "paid": ln.paid,
                }[k]
                row.append(("amount", cents) if cents or k in ("gross", "paid") else None)
            else:
                row.append(a.cell(k, ln))
        rows.append(row)
    rows.append(["Total"] + [None] * (len(cols) - 2) + [("amount", a.amount)])
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}[a.currency]
    return xlsx_bytes(
        rows,
        sheet="Remittance",
        amount_format=f'"{symbol}"#,##0.00',
        date_format="dd.mm.yyyy" if a.style.amounts == "de" else "yyyy-mm-dd",
        bold_rows=(0, 6),
    )


# --- EDI X12 820 -----------------------------------------------------------------------------------

# ADX02 adjustment reason codes (X12 element 426) for our deduction reasons.
_ADX_CODES = {
    "PRICING": "01",
    "QUANTITY": "04",
    "DAMAGED": "06",
    "NOT_RECEIVED": "11",
    "DUPLICATE_BILLING": "53",
    "PROMOTION": "72",
    "SERVICE_ISSUE": "CS",
}


def _x12_amount(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _x12_text(text: str) -> str:
    # X12's basic character set is uppercase ASCII: accented names are written without their accents
    # (NFKD splits "Ó" into "O" + a combining mark), and the element separator, the component separator
    # and the terminator cannot appear in data.
    ascii_text = unicodedata.normalize("NFKD", text.upper()).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_text if ch not in "*~>^\r\n")[:60]


def x12_820(
    advices: list[Advice],
    *,
    sender_id: str,
    receiver_name: str,
    receiver_id: str,
    control: int,
    created: dt.datetime,
    traces: list[str],
    payer_bank: tuple[str, str],
    our_bank: tuple[str, str],
) -> tuple[bytes, list[int]]:
    """One interchange with one 820 per payment (same payer, same day). Returns the bytes and, per
    advice, the segment number of its ST (the document's position in the file)."""
    yymmdd, ccyymmdd, hhmm = created.strftime("%y%m%d"), created.strftime("%Y%m%d"), created.strftime("%H%M")
    isa = (
        f"ISA*00*          *00*          *ZZ*{sender_id:<15}*ZZ*{receiver_id:<15}*{yymmdd}*{hhmm}"
        f"*U*00401*{control:09d}*0*P*>~"
    )
    segs = [isa, f"GS*RA*{sender_id}*{receiver_id}*{ccyymmdd}*{hhmm}*{control}*X*004010~"]
    starts = []
    for n, (a, trace) in enumerate(zip(advices, traces, strict=True), start=1):
        st_no = f"{n:04d}"
        starts.append(len(segs) + 1)
        body = [
            f"ST*820*{st_no}~",
            f"BPR*C*{_x12_amount(a.amount)}*C*{'ACH' if a.channel == 'ach' else 'FWT'}*"
            f"{'CTX' if a.channel == 'ach' else ''}*01*{payer_bank[1]}*DA*{payer_bank[0]}*{sender_id}**01*"
            f"{our_bank[1]}*DA*{our_bank[0]}*{a.paid_on:%Y%m%d}~",
            f"TRN*1*{trace}*1{sender_id}~",
        ]
        if a.currency != "USD":
            body.append(f"CUR*PR*{a.currency}~")
        body += [
            f"N1*PR*{_x12_text(a.payer_name)}~",
            f"N1*PE*{_x12_text(receiver_name)}~",
            "ENT*1~",
        ]
        for ln in a.lines:
            full = ln.paid + ln.discount + ln.deduction == ln.invoice_amount
            rmr = f"RMR*IV*{ln.reference}*PI*{_x12_amount(ln.paid)}"
            if full or ln.discount:
                rmr += f"*{_x12_amount(ln.invoice_amount)}" if full else "*"
                if ln.discount:
                    rmr += f"*{_x12_amount(ln.discount)}"
            body.append(rmr + "~")
            body.append(f"DTM*003*{ln.invoice_date:%Y%m%d}~")
            if ln.deduction:
                body.append(f"ADX*{_x12_amount(-ln.deduction)}*{_ADX_CODES.get(ln.reason or '', 'CS')}~")
                if ln.reason:
                    body.append(f"NTE*ADD*{_x12_text(ln.reason.replace('_', ' '))}~")
        body.append(f"SE*{len(body) + 1}*{st_no}~")
        segs += body
    segs += [f"GE*{len(advices)}*{control}~", f"IEA*1*{control:09d}~"]
    return ("\n".join(segs) + "\n").encode("ascii"), starts
