"""What people write: customer e-mails, collectors' notes, and payment references on bank lines.

The intent classifier and the promise extractor are trained and judged on these, so each intent has
several unrelated templates (short and long, English plus some German and French), dates and
amounts are written the way that customer's locale writes them, and there are confounders (an
out-of-office reply with a return date, a holiday notice with dates, a partial promise).
"""

from __future__ import annotations

import datetime as dt

from simulator.money import fmt_grouped
from simulator.rand import Draws

_CUR_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£"}
_MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
_MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def amount_text(d: Draws, cents: int, currency: str, country: str) -> str:
    sym = _CUR_SYMBOL[currency]
    if country in ("DE", "NL", "ES", "IT"):
        return d.choice(
            (
                f"{fmt_grouped(cents, 'de')} {currency}",
                f"{fmt_grouped(cents, 'de')} {sym}",
                f"{currency} {fmt_grouped(cents, 'de')}",
                f"{sym}{fmt_grouped(cents)}",
            )
        )
    if country == "FR":
        return d.choice(
            (
                f"{fmt_grouped(cents, 'fr')} {sym}",
                f"{fmt_grouped(cents, 'fr')} {currency}",
                f"{currency} {fmt_grouped(cents)}",
            )
        )
    return d.choice(
        (
            f"{sym}{fmt_grouped(cents)}",
            f"{currency} {fmt_grouped(cents)}",
            f"{fmt_grouped(cents)} {currency}",
            f"{sym}{fmt_grouped(cents)}",
        )
    )


def date_text(d: Draws, day: dt.date, country: str, received: dt.date | None = None) -> str:
    """A date as this customer writes it; now and then relative to when the e-mail was sent."""
    r = d.u()
    if received is not None and 0 < (day - received).days <= 6 and r < 0.15:
        return _WEEKDAYS[day.weekday()]  # "on Friday": the reader must resolve it against the sent date
    if country == "US" or country == "CA":
        return d.choice(
            (
                f"{day:%B} {day.day}, {day.year}",
                f"{day:%m/%d/%Y}",
                f"{day:%b} {day.day}",
                f"{_WEEKDAYS[day.weekday()]}, {day:%B} {day.day}",
            )
        )
    if country == "DE":
        return d.choice((f"{day:%d.%m.%Y}", f"{day.day}. {_MONTHS_DE[day.month - 1]} {day.year}"))
    if country == "FR":
        return d.choice((f"{day:%d/%m/%Y}", f"{day.day} {_MONTHS_FR[day.month - 1]} {day.year}"))
    return d.choice(
        (f"{day.day} {day:%B} {day.year}", f"{day:%d/%m/%Y}", f"{day.day} {day:%b}", f"{day:%Y-%m-%d}")
    )


def invoice_list(d: Draws, ids: list[str]) -> str:
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 6:
        return ", ".join(ids[:5]) + f" and {len(ids) - 5} others"
    sep = d.choice((", ", " / ", " and ", ", "))
    return sep.join(ids[:-1]) + (" and " if sep == ", " and d.u() < 0.5 else sep) + ids[-1]


def _sign(d: Draws, sender: str, company: str, language: str) -> str:
    if language == "de":
        return d.choice(("Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße")) + f"\n{sender}\n{company}"
    if language == "fr":
        return (
            d.choice(("Cordialement,", "Bien à vous,", "Salutations distinguées,")) + f"\n{sender}\n{company}"
        )
    closing = d.choice(("Regards,", "Kind regards,", "Best,", "Thanks,", "Many thanks,", "Best regards,"))
    if d.u() < 0.3:
        return f"{closing}\n{sender}"
    return f"{closing}\n{sender}\nAccounts Payable | {company}"


# --- intents -------------------------------------------------------------------------------------------


def promise_message(
    d: Draws,
    *,
    language: str,
    country: str,
    collector_first: str,
    sender: str,
    company: str,
    account: str,
    invoice_ids: list[str],
    amount: str,
    date: str,
    partial: bool,
) -> tuple[str, str]:
    invs = invoice_list(d, invoice_ids)
    sign = _sign(d, sender, company, language)
    if language == "de" and d.u() < 0.7:
        subj = d.choice((f"AW: Zahlungserinnerung {account}", f"AW: Offene Posten {account}", "Zahlungsavis"))
        body = (
            f"Sehr geehrte Damen und Herren,\n\nvielen Dank für Ihre Nachricht. Die Zahlung über {amount} für "
            f"{'die Rechnungen' if len(invoice_ids) > 1 else 'die Rechnung'} {invs} erfolgt am {date}.\n\n{sign}"
        )
        return subj, body
    if language == "fr" and d.u() < 0.7:
        subj = d.choice((f"RE : Relance facture(s) {invs}", f"RE: Relevé de compte {account}"))
        body = (
            f"Bonjour {collector_first},\n\nNous vous confirmons que le règlement de {amount} "
            f"({invs}) sera effectué le {date}.\n\n{sign}"
        )
        return subj, body
    if partial:
        subj = d.choice(("RE: Past due balance", f"RE: Account {account} - overdue", "Payment plan"))
        body = d.choice(
            (
                f"Hi {collector_first},\n\nWe are a bit tight this month. We can pay {amount} on {date} towards "
                f"{invs} and will settle the rest at the end of next month.\n\n{sign}",
                f"Hello,\n\nAs discussed we will send a partial payment of {amount} on {date}. The balance will follow "
                f"once our customer pays us.\n\n{sign}",
            )
        )
        return subj, body
    k = d.randint(0, 4)
    if k == 0:
        return (
            f"RE: Payment reminder - {account}",
            f"Hi {collector_first},\n\nThanks for the reminder. {invs} for {amount} is scheduled for payment "
            f"on {date}.\n\n{sign}",
        )
    if k == 1:
        return (
            "Re: Overdue invoices",
            f"Hello,\n\nWe will pay {amount} on {date} covering {invs}. Sorry for the delay - our approval "
            f"workflow was held up.\n\n{sign}",
        )
    if k == 2:
        return (
            f"Payment confirmation {invoice_ids[0]}",
            f"Dear {collector_first},\n\nPlease note that payment of {amount} has been approved and will be "
            f"released on {date}.\nInvoices: {invs}\n\n{sign}",
        )
    if k == 3:
        return (
            "RE: Statement of account",
            f"Payment for {invs} ({amount}) will go out by {date}. Thx\n\n{sender}",
        )
    return (
        f"RE: {invoice_ids[0]}",
        f"Good morning,\n\nI have added {invs} to our next payment run. You should see {amount} in your "
        f"account by {date} at the latest.\n\n{sign}",
    )


DISPUTE_REASON_TEXT = {
    "PRICING": (
        "the unit price on {inv} does not match our PO {po}",
        "you billed the old list price on {inv}",
        "the price increase on {inv} was never agreed with our purchasing team",
    ),
    "QUANTITY": (
        "we were invoiced for {q1} units on {inv} but only {q2} were delivered",
        "the quantity on {inv} is wrong, the delivery note shows {q2} pcs",
    ),
    "DAMAGED": (
        "part of the shipment for {inv} arrived damaged (photos attached)",
        "{q3} cartons on delivery {inv} were crushed and unusable",
    ),
    "NOT_RECEIVED": (
        "we never received the goods billed on {inv}",
        "there is no proof of delivery for {inv}",
        "our warehouse has no record of receiving the order on {inv}",
    ),
    "DUPLICATE_BILLING": (
        "{inv} duplicates an invoice we already paid",
        "{inv} looks like a duplicate of a previous invoice",
    ),
    "PROMOTION": (
        "the promotional discount agreed for this quarter was not applied to {inv}",
        "the {q3}% promo allowance is missing on {inv}",
    ),
    "SERVICE_ISSUE": (
        "the service billed on {inv} was not performed as agreed",
        "the SLA was missed twice this month, so we do not accept {inv} in full",
    ),
}
_DE_REASON = {
    "PRICING": "der Preis stimmt nicht mit unserer Bestellung {po} überein",
    "QUANTITY": "die berechnete Menge ({q1} Stück) weicht von der Lieferung ({q2} Stück) ab",
    "DAMAGED": "ein Teil der Ware wurde beschädigt geliefert",
    "NOT_RECEIVED": "wir haben die Ware nie erhalten",
    "DUPLICATE_BILLING": "die Rechnung wurde doppelt gestellt",
    "PROMOTION": "der vereinbarte Aktionsrabatt fehlt",
    "SERVICE_ISSUE": "die Leistung wurde nicht wie vereinbart erbracht",
}
_FR_REASON = {
    "PRICING": "le prix ne correspond pas à notre bon de commande {po}",
    "QUANTITY": "la quantité facturée ({q1}) ne correspond pas à la livraison ({q2})",
    "DAMAGED": "une partie de la marchandise est arrivée endommagée",
    "NOT_RECEIVED": "nous n'avons jamais reçu la marchandise",
    "DUPLICATE_BILLING": "cette facture fait doublon",
    "PROMOTION": "la remise promotionnelle convenue n'a pas été appliquée",
    "SERVICE_ISSUE": "la prestation n'a pas été réalisée comme convenu",
}


def dispute_message(
    d: Draws, *, language: str, sender: str, company: str, invoice_id: str, po: str, reason: str, amount: str
) -> tuple[str, str]:
    q1 = d.randint(20, 400)
    fill = {
        "inv": invoice_id,
        "po": po or "on file",
        "q1": q1,
        "q2": max(1, q1 - d.randint(1, q1 // 4 + 1)),
        "q3": d.randint(2, 12),
    }
    sign = _sign(d, sender, company, language)
    if language == "de" and d.u() < 0.7:
        text = _DE_REASON[reason].format(**fill)
        return (
            d.choice((f"Reklamation Rechnung {invoice_id}", f"Beanstandung {invoice_id}")),
            f"Sehr geehrte Damen und Herren,\n\nwir beanstanden die Rechnung {invoice_id}: {text}. "
            f"Bitte senden Sie uns eine Gutschrift über {amount}. Bis zur Klärung halten wir die Zahlung zurück."
            f"\n\n{sign}",
        )
    if language == "fr" and d.u() < 0.7:
        text = _FR_REASON[reason].format(**fill)
        return (
            d.choice((f"Contestation facture {invoice_id}", f"Litige sur la facture {invoice_id}")),
            f"Bonjour,\n\nNous contestons la facture {invoice_id} : {text}. Merci de nous faire parvenir un avoir "
            f"de {amount}. Le paiement est suspendu dans l'attente.\n\n{sign}",
        )
    text = d.choice(DISPUTE_REASON_TEXT[reason]).format(**fill)
    k = d.randint(0, 3)
    if k == 0:
        return (
            f"Dispute - invoice {invoice_id}",
            f"Hello,\n\nWe are disputing {invoice_id}: {text}. Please issue a credit note for {amount}. "
            f"We will hold payment until this is resolved.\n\n{sign}",
        )
    if k == 1:
        return (
            f"Query on invoice {invoice_id}",
            f"Hi,\n\nQuick one on {invoice_id} - {text}. Can you look into it and send a corrected invoice or "
            f"a credit of {amount}?\n\n{sign}",
        )
    if k == 2:
        return (
            f"RE: {invoice_id}",
            f"{text[0].upper()}{text[1:]}. Not paying this until it is fixed.\n\n{sender}",
        )
    return (
        f"Invoice {invoice_id} - issue",
        f"Dear AR team,\n\nPlease note our objection to {invoice_id}: {text}. The disputed amount is {amount}. "
        f"Kindly confirm once a credit memo has been raised.\n\n{sign}",
    )


def copy_request_message(
    d: Draws, *, language: str, sender: str, company: str, invoice_ids: list[str], reply_to: str
) -> tuple[str, str]:
    invs = invoice_list(d, invoice_ids)
    sign = _sign(d, sender, company, language)
    if language == "de" and d.u() < 0.7:
        return (
            "Rechnungskopie",
            f"Guten Tag,\n\nbitte senden Sie uns eine Kopie der Rechnung {invs}, "
            f"wir finden sie nicht in unserem System.\n\n{sign}",
        )
    if language == "fr" and d.u() < 0.7:
        return (
            "Demande de duplicata",
            f"Bonjour,\n\nPourriez-vous nous renvoyer la facture {invs} ? "
            f"Nous ne la retrouvons pas.\n\n{sign}",
        )
    k = d.randint(0, 3)
    if k == 0:
        return (
            "Invoice copy request",
            f"Hello,\n\nCould you please send us a copy of {invs}? We cannot find "
            f"{'them' if len(invoice_ids) > 1 else 'it'} in our system.\n\n{sign}",
        )
    if k == 1:
        return (
            f"Missing invoice {invoice_ids[0]}",
            f"Hi,\n\nPlease resend {invs} to {reply_to} - our AP portal rejected the original PDF.\n\n{sign}",
        )
    if k == 2:
        return (
            "RE: Payment reminder",
            f"We have no record of {invs}. Please send a copy with the PO number "
            f"and we will process it.\n\n{sign}",
        )
    return (f"Copy of {invs}", f"Can I get a copy of {invs} please?\n\n{sender}")


def remittance_message(
    d: Draws,
    *,
    language: str,
    sender: str,
    company: str,
    kind: str,
    amount: str,
    date: str,
    lines: list[str],
    reference: str,
    channel: str,
) -> tuple[str, str]:
    rail = {"wire": "bank transfer", "ach": "ACH", "check": "check", "card": "card"}[channel]
    if kind == "email_body":
        table = "\n".join(lines)
        if language == "de" and d.u() < 0.6:
            return (
                "Zahlungsavis",
                f"Sehr geehrte Damen und Herren,\n\nwir haben am {date} {amount} an Sie überwiesen."
                f"\n\nRechnung / Betrag\n{table}\n\n{_sign(d, sender, company, language)}",
            )
        subj = d.choice(
            (
                f"Remittance advice - {reference or 'payment'}",
                f"Payment advice from {company}",
                "Remittance",
                f"Payment notification {date}",
            )
        )
        return subj, (
            f"Dear Supplier,\n\nPlease be advised that we have made a payment of {amount} on {date} by "
            f"{rail}.\n\nInvoice / Amount paid\n{table}\n\nTotal: {amount}\n\n"
            f"{_sign(d, sender, company, language)}"
        )
    ext = "pdf" if kind == "email_pdf" else "xlsx"
    subj = d.choice(
        (f"Remittance advice {reference}".strip(), f"{company} - payment advice", "Payment remittance")
    )
    return subj, (
        f"Hello,\n\nPlease find attached the remittance advice for our payment of {amount} dated {date}.\n\n"
        f"Attachment: {d.choice(('Remittance_', 'RA_', 'Payment_Advice_', 'ZAHLAVIS_'))}"
        f"{d.randint(100000, 999999)}.{ext}\n\n"
        f"{_sign(d, sender, company, language)}"
    )


def contact_change_message(
    d: Draws, *, language: str, sender: str, company: str, old_name: str, new_email: str
) -> tuple[str, str]:
    sign = _sign(d, sender, company, language)
    if language == "de" and d.u() < 0.6:
        return (
            "Neuer Ansprechpartner Buchhaltung",
            f"Guten Tag,\n\nbitte beachten Sie, dass {old_name} nicht mehr für uns tätig ist. Bitte senden Sie "
            f"Rechnungen und Mahnungen künftig an {new_email}.\n\n{sign}",
        )
    k = d.randint(0, 2)
    if k == 0:
        return (
            "Change of AP contact",
            f"Hello,\n\nPlease note that {old_name} has left the company. Going forward please send all invoices "
            f"and statements to {new_email}.\n\n{sign}",
        )
    if k == 1:
        return (
            "New e-mail address for invoices",
            f"Hi,\n\nOur accounts payable team has a new e-mail address: {new_email}. Please update your records."
            f"\n\n{sign}",
        )
    return (
        "Update your records",
        f"I have taken over from {old_name}. Please use {new_email} for anything "
        f"related to our account.\n\n{sign}",
    )


def out_of_office_message(
    d: Draws, *, language: str, sender: str, original_subject: str, back: str, colleague: str
) -> tuple[str, str]:
    if language == "de" and d.u() < 0.7:
        return (
            f"Abwesenheitsnotiz: {original_subject}",
            f"Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich {back} nicht im Büro. In dringenden "
            f"Fällen wenden Sie sich bitte an {colleague}.\n\n{sender}",
        )
    if language == "fr" and d.u() < 0.7:
        return (
            f"Réponse automatique : {original_subject}",
            f"Bonjour,\n\nJe suis absent(e) jusqu'au {back}. Pour toute urgence, merci de contacter {colleague}."
            f"\n\n{sender}",
        )
    return (
        d.choice((f"Automatic reply: {original_subject}", f"Out of Office: {original_subject}")),
        d.choice(
            (
                f"Thank you for your email. I am out of the office until {back} with limited access to email. "
                f"For urgent matters please contact {colleague}.",
                f"I'm currently on leave and will be back on {back}. Your message will not be forwarded.",
                f"Hi, I am out of office returning {back}. For payment queries please write to {colleague}.",
            )
        ),
    )


_STREETS = {
    "US": ("Main Street", "Industrial Way", "Commerce Drive", "Oak Avenue", "Lakeview Blvd"),
    "GB": ("Harbour Road", "High Street", "Station Road", "Mill Lane"),
    "DE": ("Parkstraße", "Industriestraße", "Hauptstraße", "Am Hafen"),
    "FR": ("rue de la Gare", "avenue Jean Jaurès", "boulevard Pasteur"),
    "NL": ("Stationsweg", "Industrieweg", "Havenstraat"),
    "IT": ("Via Roma", "Via Garibaldi"),
    "ES": ("Calle Mayor", "Avenida de la Industria"),
    "IE": ("Dock Road", "Main Street"),
    "CA": ("King Street", "Industrial Parkway"),
}


def other_message(
    d: Draws, *, language: str, sender: str, company: str, country: str, today: dt.date, account: str
) -> tuple[str, str]:
    sign = _sign(d, sender, company, language)
    k = d.randint(0, 6)
    if k == 0:
        return (
            "Statement request",
            f"Hello,\n\nCould you send us an updated statement of account for {account}?\n\n{sign}",
        )
    if k == 1:
        return (
            "Bank details verification",
            "Hi,\n\nWe received a letter saying your bank details have changed. "
            f"Please confirm by phone before we update our vendor master.\n\n{sign}",
        )
    if k == 2:
        start = today + dt.timedelta(days=d.randint(10, 40))
        end = start + dt.timedelta(days=d.randint(7, 14))
        return (
            "Holiday closure",
            f"Dear partners,\n\nPlease note that our offices will be closed from "
            f"{date_text(d, start, country)} to {date_text(d, end, country)}. Payments will "
            f"resume after that.\n\n{sign}",
        )
    if k == 3:
        street = _STREETS.get(country, _STREETS["US"])
        address = (
            f"{d.choice(street)} {d.randint(1, 120)}"
            if country in ("DE", "NL", "IT", "ES")
            else f"{d.randint(1, 999)} {d.choice(street)}"
        )
        return (
            "New billing address",
            f"Hello,\n\nPlease note our new billing address: {address}. All future "
            f"invoices should show it.\n\n{sign}",
        )
    if k == 4:
        return (
            "PO numbers on invoices",
            f"Hi,\n\nCan you please make sure our PO number is on every invoice? "
            f"Otherwise our system cannot match them.\n\n{sign}",
        )
    if k == 5:
        return (
            "RE: Payment reminder",
            f"Thanks, received. I will check with our controller and get back to you.\n\n{sender}",
        )
    return (
        "Account balance",
        f"Good afternoon,\n\nCan you confirm the open balance on our account {account}? "
        f"Our records show a different figure.\n\n{sign}",
    )


# --- collector notes -------------------------------------------------------------------------------


def activity_note(
    d: Draws,
    kind: str,
    *,
    contact: str = "",
    invoice_ids: tuple[str, ...] = (),
    amount: str = "",
    date: str = "",
    reason: str = "",
) -> str | None:
    invs = ", ".join(invoice_ids[:3]) + (" +" if len(invoice_ids) > 3 else "")
    if kind == "email_reminder":
        return d.choice(
            (
                f"Reminder sent for {len(invoice_ids)} overdue invoice(s) ({amount})",
                f"Statement + reminder e-mailed re {invs}",
                f"Dunning e-mail level 1: {invs}",
            )
        )
    if kind == "email_bounced":
        return d.choice(("E-mail bounced - contact no longer valid?", "Undeliverable, check AP contact"))
    if kind == "email_replied":
        return d.choice(("Customer replied, see inbox", f"Reply received re {invs}"))
    if kind == "call_promise":
        return d.choice(
            (
                f"Spoke with {contact}; promised {amount} by {date}",
                f"PTP {amount} on {date} ({invs})",
                f"{contact} confirmed payment run {date} for {amount}",
            )
        )
    if kind == "call_reached":
        return d.choice(
            (
                f"Spoke with {contact}, invoices in approval",
                f"{contact} will check and call back",
                "Reached AP, no commitment",
                f"{contact}: waiting for budget holder sign-off",
            )
        )
    if kind == "call_dispute":
        return d.choice(
            (
                f"Customer disputes {invs}: {reason.lower().replace('_', ' ')}",
                f"{contact} raised a {reason} issue on {invs}",
            )
        )
    if kind == "call_voicemail":
        return d.choice((f"Left VM for {contact}", "Left voicemail re past due", None))
    if kind == "call_no_answer":
        return d.choice(("No answer", None, "No pick up, try again"))
    if kind == "letter":
        return d.choice(
            (
                f"Final notice letter sent ({amount})",
                f"Dunning letter level 2 for {invs}",
                "Pre-collection letter sent",
            )
        )
    if kind == "copy_sent":
        return f"Invoice copy sent: {invs}"
    return None


# --- bank references -------------------------------------------------------------------------------

REFERENCE_STYLES = (
    ("invoices", 0.34),
    ("numbers", 0.14),
    ("partial", 0.12),
    ("typo", 0.05),
    ("po", 0.1),
    ("account", 0.07),
    ("none", 0.18),
)
REFERENCE_WIDTH = {"wire": 140, "ach": 80, "check": 0, "card": 22}


def _digits_of(invoice_id: str) -> str:
    return "".join(ch for ch in invoice_id if ch.isdigit())


def _transpose(d: Draws, s: str) -> str:
    if len(s) < 3:
        return s
    i = d.randint(1, len(s) - 2)
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def payment_reference(
    d: Draws,
    style: str,
    *,
    invoice_ids: list[str],
    po_numbers: list[str],
    account: str,
    channel: str,
    for_subsidiary: str | None = None,
) -> str:
    """The free text a payer's bank line carries, cut to the rail's width (checks carry none)."""
    width = REFERENCE_WIDTH[channel]
    if width == 0:
        return ""
    if d.u() < 0.1:
        style = "none"
    if style == "invoices" and invoice_ids:
        text = d.choice(("", "", "RE ", "INVOICES ", "PAYMENT ")) + " ".join(invoice_ids)
    elif style == "numbers" and invoice_ids:
        text = d.choice((", ", " ", "/")).join(_digits_of(i) for i in invoice_ids)
    elif style == "partial" and invoice_ids:
        first = _digits_of(invoice_ids[0])
        text = d.choice((f"INV {first[:-1]}", f"{first[1:]}", f"IN{first}", f"INV-{first[:4]}"))
        if len(invoice_ids) > 1:
            text += d.choice((" ETC", f" +{len(invoice_ids) - 1}", ""))
    elif style == "typo" and invoice_ids:
        ids = list(invoice_ids)
        k = d.randint(0, len(ids) - 1)
        ids[k] = ids[k][:4] + _transpose(d, ids[k][4:])
        text = " ".join(ids)
    elif style == "po" and po_numbers:
        text = "PO " + " ".join(po_numbers)
    elif style == "account":
        text = d.choice((f"CUST {account}", f"ACCT {account[1:]}", f"{account} PAYMENT"))
    else:
        text = d.choice(("", "", "PAYMENT", "INVOICE PAYMENT", "SUPPLIER PAYMENT", "AP PAYMENT", "TRANSFER"))
    if for_subsidiary and d.u() < 0.4:
        text = f"{for_subsidiary} {text}".strip()
    return text.upper()[:width].rstrip()
