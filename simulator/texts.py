"""What people write: customer e-mails, collectors' notes, and payment references on bank lines.

The intent classifier and the promise extractor are trained and judged on these, so each intent is
written by many wording *families* (formal and curt, English, German and French, portal notifications,
replies above a quoted reminder, signatures with disclaimers, typos, a secondary request beside the
main one), and dates and amounts are written the way that customer's locale writes them — with and
without year, grouped or not, symbol or code, "Friday" or "end of the month" relative to the day sent.
The family of each message goes to the ground truth, so an evaluation can hold whole families out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

from simulator.money import fmt_grouped
from simulator.rand import Draws

_CUR_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£"}
_CUR_WORD = {"USD": "dollars", "EUR": "euros", "GBP": "pounds"}
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


def _ungrouped(cents: int, mark: str = ".") -> str:
    whole, frac = divmod(abs(cents), 100)
    return f"{whole}{mark}{frac:02d}"


# Each of amount_text and date_text takes exactly the draws it always took from the customer's
# stream (one ``choice``, plus one ``u`` for dates): longer option lists change the wording, never
# the draws that decide payments.


def amount_text(d: Draws, cents: int, currency: str, country: str) -> str:
    sym = _CUR_SYMBOL[currency]
    word = _CUR_WORD[currency]
    if country in ("DE", "NL", "ES", "IT"):
        return d.choice(
            (
                f"{fmt_grouped(cents, 'de')} {currency}",
                f"{fmt_grouped(cents, 'de')} {sym}",
                f"{currency} {fmt_grouped(cents, 'de')}",
                f"{sym}{fmt_grouped(cents)}",
                f"{sym} {fmt_grouped(cents, 'de')}",
                f"{_ungrouped(cents, ',')} {currency}",
                f"{fmt_grouped(cents, 'de')} {'Euro' if currency == 'EUR' else currency}",
            )
        )
    if country == "FR":
        return d.choice(
            (
                f"{fmt_grouped(cents, 'fr')} {sym}",
                f"{fmt_grouped(cents, 'fr')} {currency}",
                f"{currency} {fmt_grouped(cents)}",
                f"{_ungrouped(cents, ',')} {sym}",
                f"{fmt_grouped(cents, 'fr')} {word}",
            )
        )
    return d.choice(
        (
            f"{sym}{fmt_grouped(cents)}",
            f"{currency} {fmt_grouped(cents)}",
            f"{fmt_grouped(cents)} {currency}",
            f"{sym}{fmt_grouped(cents)}",
            f"{sym}{_ungrouped(cents)}",
            f"{sym} {fmt_grouped(cents)}",
            f"{fmt_grouped(cents)} {word}",
            f"{'US$' if currency == 'USD' else currency + ' '}{fmt_grouped(cents)}",
        )
    )


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _near(r: float, day: dt.date, received: dt.date) -> str:
    """A day at most six days ahead as people name it; ``r`` in [0, 1) picks the form without a draw."""
    name = _WEEKDAYS[day.weekday()]
    if (day - received).days == 1 and r < 0.25:
        return "tomorrow"
    return (name, f"this {name}", f"{name[:3]} {day.day}", name)[int(r * 4)]


def _far(r: float, day: dt.date, received: dt.date) -> str | None:
    monday_next = received + dt.timedelta(days=7 - received.weekday())
    if monday_next <= day < monday_next + dt.timedelta(days=5) and r < 0.5:
        return f"{_WEEKDAYS[day.weekday()]} next week"
    if day.day == calendar.monthrange(day.year, day.month)[1] and day.month == received.month:
        return ("the end of the month", "month end", f"the end of {day:%B}")[int(r * 3)]
    return None


def date_text(d: Draws, day: dt.date, country: str, received: dt.date | None = None) -> str:
    """A date as this customer writes it; now and then relative to when the e-mail was sent."""
    r = d.u()
    if received is not None and 0 < (day - received).days <= 6 and r < 0.15:
        if country in ("DE", "FR"):
            return _WEEKDAYS[day.weekday()]
        return _near(r / 0.15, day, received)  # "on Friday": the reader resolves it against the sent date
    written = _written(d, day, country)
    if received is not None and r < 0.3 and country not in ("DE", "FR"):
        return _far((r - 0.15) / 0.15 if r >= 0.15 else r / 0.15, day, received) or written
    return written


def _written(d: Draws, day: dt.date, country: str) -> str:
    if country == "US" or country == "CA":
        return d.choice(
            (
                f"{day:%B} {day.day}, {day.year}",
                f"{day:%m/%d/%Y}",
                f"{day:%b} {day.day}",
                f"{_WEEKDAYS[day.weekday()]}, {day:%B} {day.day}",
                f"{day.month}/{day.day}",
                f"{day:%B} {_ordinal(day.day)}",
                f"{day:%m-%d-%Y}",
                f"{day:%b}. {day.day}",
                f"{day.month}/{day.day}/{day:%y}",
            )
        )
    if country == "DE":
        return d.choice(
            (
                f"{day:%d.%m.%Y}",
                f"{day.day}. {_MONTHS_DE[day.month - 1]} {day.year}",
                f"{day.day}.{day.month}.",
                f"{day:%d.%m.%y}",
                f"{day.day}. {_MONTHS_DE[day.month - 1]}",
                f"{day:%Y-%m-%d}",
            )
        )
    if country == "FR":
        return d.choice(
            (
                f"{day:%d/%m/%Y}",
                f"{day.day} {_MONTHS_FR[day.month - 1]} {day.year}",
                f"{day:%d/%m}",
                f"{day.day} {_MONTHS_FR[day.month - 1]}",
                f"{day:%d.%m.%Y}",
            )
        )
    return d.choice(
        (
            f"{day.day} {day:%B} {day.year}",
            f"{day:%d/%m/%Y}",
            f"{day.day} {day:%b}",
            f"{day:%Y-%m-%d}",
            f"{_ordinal(day.day)} {day:%B}",
            f"the {_ordinal(day.day)} of {day:%B}",
            f"{day.day}-{day:%b}-{day.year}",
            f"{day:%d/%m/%y}",
            f"{day:%d.%m.%Y}",
        )
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


# --- intents: the classic templates -------------------------------------------------------------------------------------------


def _classic_promise_message(
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


def _classic_dispute_message(
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


def _classic_copy_request_message(
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


def _classic_remittance_message(
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


def _classic_contact_change_message(
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


def _classic_out_of_office_message(
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


def _classic_other_message(
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


# --- wording families ------------------------------------------------------------------------------
#
# The classic templates above stay (a fifth of the messages, and their draws from the customer's stream
# are unchanged, so the rest of the world is identical whatever wording is chosen). Every other message
# is written by one of many *families* — a register and sentence plan of its own — and then dressed
# the way real mail is: a reply header, a quoted reminder below, a signature block, a typo or two, a
# secondary request that does not change the main intent. The family name goes to the ground truth
# (``message_intents.wording``) so an evaluation can hold out whole families, not just rows.
#
# Wording draws come from a stream of their own, seeded by the classic text (which already encodes the
# world's seed, the account, amounts and invoices): changing a family never moves a payment.

CLASSIC_SHARE = 0.2


class Subject(str):
    """A subject line that remembers its wording family (``intent:language:name``).

    A ``str`` so every caller that stores or writes the subject is unchanged; the world's ``_message``
    reads ``.family`` for the ground truth.
    """

    family: str

    def __new__(cls, text: str, family: str):
        s = super().__new__(cls, text)
        s.family = family
        return s


def _wording(*parts: str) -> Draws:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return Draws(np.random.default_rng(int.from_bytes(digest, "big")))


@dataclass
class _Ctx:
    language: str
    sender: str
    company: str
    invs: str = ""
    first_invoice: str = ""
    n_invoices: int = 1
    amount: str = ""
    date: str = ""
    account: str = ""
    collector: str = ""
    partial: bool = False
    reason: str = ""
    reason_text: str = ""
    po: str = ""
    new_email: str = ""
    old_name: str = ""
    back: str = ""
    colleague: str = ""
    original_subject: str = ""
    reply_to: str = ""
    extra: dict = field(default_factory=dict)


def _hi(w: Draws, c: _Ctx) -> str:
    if c.language == "de":
        named = (f"Hallo {c.collector},",) if c.collector else ("Hallo zusammen,",)
        return w.choice(("Sehr geehrte Damen und Herren,", "Guten Tag,", "Hallo,", *named))
    if c.language == "fr":
        named = (f"Bonjour {c.collector},",) if c.collector else ("Bonjour Madame, Monsieur,",)
        return w.choice(("Bonjour,", "Madame, Monsieur,", "Bonjour à tous,", *named))
    named = (
        (f"Hi {c.collector},", f"Dear {c.collector},", f"{c.collector} -") if c.collector else ("Hi there,",)
    )
    return w.choice(
        (*named, "Hello,", "Good morning,", "Hi,", "Dear Sir or Madam,", "Hi team,", "Good afternoon,", "")
    )


# Each family: (name, languages, function(w, ctx) -> (subject, core text)).
def _p_runs(w, c):
    return (
        w.choice(("RE: open items", f"RE: Statement {c.account}", "payment", "Re: Your reminder")),
        f"{_hi(w, c)}\n\nour payment runs are on {w.choice(('Tuesdays', 'Thursdays', 'the 15th and the 30th'))}. "
        f"{c.invs} ({c.amount}) {w.choice(('is in', 'has been put in', 'is booked into'))} the run of {c.date}, "
        f"so the funds should reach you shortly after.",
    )


def _p_sorry(w, c):
    return (
        w.choice(("Apologies - late payment", "RE: Overdue notice", f"Re: {c.first_invoice}")),
        f"{_hi(w, c)}\n\nApologies for the late payment, this one slipped through during our month-end close. "
        f"I've processed {c.amount} today with a value date of {c.date}. It covers {c.invs}.",
    )


def _p_approval(w, c):
    return (
        w.choice(("RE: Payment status", f"Status of {c.first_invoice}", "Re: Past due")),
        f"{_hi(w, c)}\n\n{c.invs} {'have' if c.n_invoices > 1 else 'has'} finally been approved by our controller. "
        f"Payment of {c.amount} is planned for {c.date}.",
    )


def _p_short(w, c):
    return (
        w.choice(("Re:", "re: overdue", f"RE: {c.account}", "ok")),
        w.choice(
            (
                f"{c.amount} going out {c.date}.",
                f"will pay {c.amount} on {c.date}",
                f"ok - {c.amount} on {c.date}, promise.",
                f"Pay date {c.date}, amount {c.amount}.",
            )
        ),
    )


def _p_phone(w, c):
    return (
        w.choice(("Following our call", "As discussed on the phone", "Call today")),
        f"{_hi(w, c)}\n\nThanks for your call this morning. As agreed, we commit to paying {c.amount} "
        f"by {c.date} for {c.invs}. Please hold off any further reminders until then.",
    )


def _p_cashflow(w, c):
    return (
        w.choice(("Payment plan", "RE: Account on hold?", "Re: Final reminder")),
        f"{_hi(w, c)}\n\nWe had a difficult quarter and cash is tight. What we can do is {c.amount} on {c.date}"
        f"{' and the remainder in the following weeks' if c.partial else ''}. Please don't put the account "
        "on hold, we value working with you.",
    )


def _p_portal(w, c):
    return (
        w.choice(("Payment scheduled", "Scheduled payment notification", "Your invoice has been scheduled")),
        f"This is to let you know that a payment has been scheduled.\n\nSupplier: your company\n"
        f"Invoice(s): {c.invs}\nAmount: {c.amount}\nScheduled payment date: {c.date}\n\n"
        "This message was generated by our AP system; replies are read by the AP team.",
    )


def _p_cheque(w, c):
    return (
        w.choice(("check in the mail", "RE: Overdue", "cheque")),
        f"{_hi(w, c)}\n\nA {w.choice(('check', 'cheque'))} for {c.amount} will be mailed on {c.date}. "
        f"It will reference {c.invs}.",
    )


def _p_de_kurz(w, c):
    return (
        w.choice(("AW: Mahnung", f"AW: Kontoauszug {c.account}", "Zahlung", "AW: Zahlungserinnerung")),
        f"{_hi(w, c)}\n\n{w.choice(('wir werden', 'Wir überweisen', 'wir zahlen'))} {c.amount} am {c.date}"
        f"{'.' if w.u() < 0.5 else ' (' + c.invs + ').'} Entschuldigen Sie die Verzögerung.",
    )


def _p_de_freigabe(w, c):
    return (
        w.choice(("AW: Offene Rechnungen", "Freigabe Zahlung", f"AW: {c.first_invoice}")),
        f"{_hi(w, c)}\n\ndie Rechnung(en) {c.invs} {'sind' if c.n_invoices > 1 else 'ist'} jetzt freigegeben. "
        f"Der Betrag von {c.amount} wird mit dem Zahllauf vom {c.date} überwiesen.",
    )


def _p_fr_court(w, c):
    return (
        w.choice(("RE: Relance", "TR: facture impayée", f"RE : {c.first_invoice}", "Règlement")),
        f"{_hi(w, c)}\n\nLe virement de {c.amount} {w.choice(('partira', 'sera émis', 'est programmé pour'))} "
        f"le {c.date}. Désolé pour le retard.",
    )


def _p_fr_echeancier(w, c):
    return (
        w.choice(("Proposition d'échéancier", "RE: Mise en demeure", "Paiement partiel")),
        f"{_hi(w, c)}\n\nSuite à notre échange, nous procéderons à un paiement de {c.amount} le {c.date} "
        f"pour les factures {c.invs}. Merci de votre compréhension.",
    )


PROMISE_FAMILIES = (
    ("runs", ("en",), _p_runs),
    ("sorry", ("en",), _p_sorry),
    ("approval", ("en",), _p_approval),
    ("short", ("en",), _p_short),
    ("phone", ("en",), _p_phone),
    ("cashflow", ("en",), _p_cashflow),
    ("portal", ("en",), _p_portal),
    ("cheque", ("en",), _p_cheque),
    ("de_kurz", ("de",), _p_de_kurz),
    ("de_freigabe", ("de",), _p_de_freigabe),
    ("fr_court", ("fr",), _p_fr_court),
    ("fr_echeancier", ("fr",), _p_fr_echeancier),
)


def _d_formal(w, c):
    return (
        w.choice(
            (f"Formal dispute: {c.first_invoice}", f"Invoice {c.first_invoice} contested", "Billing dispute")
        ),
        f"{_hi(w, c)}\n\nWe hereby formally contest invoice {c.first_invoice}. Reason: {c.reason_text}. "
        f"Until a credit note of {c.amount} is issued, this invoice is on hold in our system.",
    )


def _d_angry(w, c):
    return (
        w.choice(("!!! wrong invoice", f"{c.first_invoice} is wrong", "Not acceptable")),
        f"This is the second time this happens. {c.reason_text[0].upper()}{c.reason_text[1:]}. "
        "Fix it and send a corrected invoice, we will not pay the current one.",
    )


def _d_question(w, c):
    return (
        w.choice((f"Question about {c.first_invoice}", "Discrepancy", f"RE: {c.first_invoice} - query")),
        f"{_hi(w, c)}\n\nWhen matching {c.first_invoice} our AP clerk noticed that {c.reason_text}. "
        f"Could you check on your side? We've blocked the invoice for now (difference {c.amount}).",
    )


def _d_deduct(w, c):
    return (
        w.choice(("Short payment", "Deduction notice", f"Deduction on {c.first_invoice}")),
        f"{_hi(w, c)}\n\nPlease be informed that we will deduct {c.amount} from {c.first_invoice} because "
        f"{c.reason_text}. Please raise a credit memo for the difference.",
    )


def _d_de(w, c):
    return (
        w.choice(
            (f"Einspruch {c.first_invoice}", f"AW: Rechnung {c.first_invoice} fehlerhaft", "Reklamation")
        ),
        f"{_hi(w, c)}\n\nzur Rechnung {c.first_invoice} müssen wir widersprechen: {c.reason_text}. "
        f"Wir bitten um Korrektur bzw. Gutschrift ({c.amount}).",
    )


def _d_fr(w, c):
    return (
        w.choice((f"Réclamation {c.first_invoice}", "Facture erronée", f"RE : litige {c.first_invoice}")),
        f"{_hi(w, c)}\n\nNous ne pouvons pas régler la facture {c.first_invoice} en l'état : {c.reason_text}. "
        f"Merci d'émettre un avoir ({c.amount}).",
    )


DISPUTE_FAMILIES = (
    ("formal", ("en",), _d_formal),
    ("angry", ("en",), _d_angry),
    ("question", ("en",), _d_question),
    ("deduct", ("en",), _d_deduct),
    ("de_einspruch", ("de",), _d_de),
    ("fr_reclamation", ("fr",), _d_fr),
)


def _c_portal(w, c):
    return (
        w.choice(("Invoice not in portal", "Please upload invoice", f"{c.first_invoice} not received")),
        f"{_hi(w, c)}\n\nWe cannot find {c.invs} in our supplier portal, so it has not been booked. "
        f"Please {w.choice(('upload it again', 're-send it', 'send it to ' + (c.reply_to or 'our AP mailbox')))}.",
    )


def _c_short(w, c):
    return (
        w.choice(("invoice copy", f"copy {c.first_invoice}", "Re: reminder", "pdf?")),
        w.choice(
            (
                f"pls send pdf of {c.invs}",
                f"Can you resend {c.invs}? Thx",
                f"need a copy of {c.invs} to process payment",
                f"Send me {c.invs} again please, the attachment was missing.",
            )
        ),
    )


def _c_signed(w, c):
    return (
        w.choice(("Duplicate invoice needed", "Request: invoice copy with PO", "Audit - invoice copies")),
        f"{_hi(w, c)}\n\nFor our {w.choice(('year-end audit', 'auditors', 'tax filing'))} we need a copy of "
        f"{c.invs}, ideally with the delivery note and our PO number. Could you e-mail {'them' if c.n_invoices > 1 else 'it'}?",
    )


def _c_never(w, c):
    return (
        w.choice(("RE: Overdue invoice", f"RE: {c.first_invoice}", "Never received")),
        f"{_hi(w, c)}\n\nThis is the first we hear of {c.invs} - it never reached our AP inbox. "
        f"Can you send it over so we can get it approved?",
    )


def _c_de(w, c):
    return (
        w.choice(("Bitte Rechnung erneut senden", f"AW: {c.first_invoice}", "Rechnung fehlt")),
        f"{_hi(w, c)}\n\nkönnten Sie uns die Rechnung {c.invs} noch einmal als PDF zusenden? "
        "Sie liegt uns leider nicht vor.",
    )


def _c_fr(w, c):
    return (
        w.choice(("Copie de facture", f"RE : {c.first_invoice}", "Facture manquante")),
        f"{_hi(w, c)}\n\nMerci de nous transmettre une copie de la facture {c.invs}, nous ne l'avons pas "
        "reçue.",
    )


COPY_FAMILIES = (
    ("portal", ("en",), _c_portal),
    ("short", ("en",), _c_short),
    ("audit", ("en",), _c_signed),
    ("never", ("en",), _c_never),
    ("de_erneut", ("de",), _c_de),
    ("fr_copie", ("fr",), _c_fr),
)


def _k_retire(w, c):
    return (
        w.choice(("Change of contact", "New AP contact", "Contact update")),
        f"{_hi(w, c)}\n\n{c.old_name} {w.choice(('retired at the end of last month', 'is on long-term leave', 'moved to another department'))}. "
        f"I am your new contact for payables; please write to {c.new_email} from now on.",
    )


def _k_mailbox(w, c):
    return (
        w.choice(("Our AP mailbox has changed", "New e-mail address", "Important: new invoice address")),
        f"{_hi(w, c)}\n\nAs of this month, invoices, statements and reminders should be sent to {c.new_email}. "
        "The old address will be closed.",
    )


def _k_short(w, c):
    return (
        w.choice(("new contact", "FYI", "contact")),
        f"pls use {c.new_email} instead of {c.old_name} going forward. thx",
    )


def _k_de(w, c):
    return (
        w.choice(("Änderung Ansprechpartner", "Neue E-Mail-Adresse Kreditorenbuchhaltung")),
        f"{_hi(w, c)}\n\nab sofort bin ich für Ihre Rechnungen zuständig (Nachfolge von {c.old_name}). "
        f"Bitte nutzen Sie künftig {c.new_email}.",
    )


def _k_fr(w, c):
    return (
        w.choice(("Changement d'interlocuteur", "Nouvelle adresse de facturation électronique")),
        f"{_hi(w, c)}\n\n{c.old_name} a quitté la société. Merci d'adresser désormais vos factures et relances à "
        f"{c.new_email}.",
    )


CONTACT_FAMILIES = (
    ("retire", ("en",), _k_retire),
    ("mailbox", ("en",), _k_mailbox),
    ("short", ("en",), _k_short),
    ("de_nachfolge", ("de",), _k_de),
    ("fr_interlocuteur", ("fr",), _k_fr),
)

_OOO_TEXT = {
    "en": (
        "I am currently out of the office and will return on {back}. I will have no access to e-mail. "
        "For anything urgent contact {colleague}.",
        "Thanks for your message. I'm away until {back} and will respond when I'm back.",
        "Automatic reply: I am on annual leave until {back} inclusive.",
    ),
    "de": (
        "Ich bin bis zum {back} nicht erreichbar. Ihre Nachricht wird nicht weitergeleitet. Vertretung: {colleague}.",
        "Danke für Ihre E-Mail. Ich befinde mich bis {back} im Urlaub und habe keinen Zugriff auf meine E-Mails.",
    ),
    "fr": (
        "Je suis en congés jusqu'au {back} inclus. En cas d'urgence, contactez {colleague}.",
        "Merci pour votre message. Je serai de retour le {back}.",
    ),
    "nl": (
        "Ik ben afwezig tot en met {back}. Voor dringende zaken kunt u contact opnemen met {colleague}.",
        "Bedankt voor uw bericht. Ik ben met vakantie tot {back}.",
    ),
    "es": (
        "Estoy fuera de la oficina hasta el {back}. Para asuntos urgentes contacte con {colleague}.",
        "Gracias por su mensaje. Estaré de vacaciones hasta el {back}.",
    ),
    "it": (
        "Sono fuori ufficio fino al {back}. Per urgenze contattare {colleague}.",
        "Grazie per il messaggio. Sarò assente fino al {back} compreso.",
    ),
}
_OOO_SUBJECT = {
    "en": ("Automatic reply: {s}", "Out of office: {s}", "Auto-Reply: {s}", "Away: {s}", "Autoreply"),
    "de": ("Abwesenheitsnotiz: {s}", "Automatische Antwort: {s}", "Abwesend: {s}"),
    "fr": ("Réponse automatique : {s}", "Absence : {s}", "Message d'absence"),
    "nl": ("Automatisch antwoord: {s}", "Afwezig: {s}"),
    "es": ("Respuesta automática: {s}", "Fuera de la oficina: {s}"),
    "it": ("Risposta automatica: {s}", "Fuori sede: {s}"),
}


def _ooo(lang: str):
    def f(w, c):
        subj = w.choice(_OOO_SUBJECT[lang]).format(s=c.original_subject)
        text = w.choice(_OOO_TEXT[lang]).format(back=c.back, colleague=c.colleague)
        if w.u() < 0.35 and lang != "en":  # multinational companies answer in two languages
            text += "\n\n---\n\n" + w.choice(_OOO_TEXT["en"]).format(back=c.back, colleague=c.colleague)
        return subj, text

    return f


OOO_FAMILIES = tuple((f"ooo_{lang}", ("en", "de", "fr"), _ooo(lang)) for lang in _OOO_TEXT)


def _o_w9(w, c):
    return (
        w.choice(("Vendor form", "W-9 / tax form request", "Supplier onboarding")),
        f"{_hi(w, c)}\n\nWe are updating our vendor master. Please complete the attached supplier form and "
        "return it with a current tax certificate.",
    )


def _o_erp(w, c):
    return (
        w.choice(("New ERP system", "System migration", "Important information for suppliers")),
        f"{_hi(w, c)}\n\nWe are moving to a new ERP system next quarter. Payments may be delayed by a few days "
        "during the switch. Your vendor number stays the same.",
    )


def _o_thanks(w, c):
    return (
        w.choice(("Re: Statement", "RE: Payment reminder", "thanks")),
        w.choice(
            (
                "Thanks, noted. I'll look into it.",
                "Received, thank you. Will revert.",
                "Forwarded to my colleague who handles this.",
                "Thank you for the statement.",
            )
        ),
    )


def _o_meeting(w, c):
    return (
        w.choice(("Quarterly review", "Meeting request", "Call next week?")),
        f"{_hi(w, c)}\n\nCould we set up a short call with your credit team to review our credit limit and "
        "terms for next year?",
    )


def _o_de(w, c):
    return (
        w.choice(("Anfrage Kontoauszug", "Saldenbestätigung", "Frage zu Ihrem Schreiben")),
        f"{_hi(w, c)}\n\nbitte senden Sie uns eine Saldenbestätigung zum Monatsende für unsere Prüfung.",
    )


def _o_fr(w, c):
    return (
        w.choice(("Demande de relevé", "Confirmation de solde", "Question")),
        f"{_hi(w, c)}\n\npourriez-vous nous envoyer un relevé de compte à jour ? Merci d'avance.",
    )


OTHER_FAMILIES = (
    ("vendor_form", ("en",), _o_w9),
    ("erp", ("en",), _o_erp),
    ("ack", ("en",), _o_thanks),
    ("meeting", ("en",), _o_meeting),
    ("de_saldo", ("de",), _o_de),
    ("fr_releve", ("fr",), _o_fr),
)

# A second request that does not change what the message is mainly about.
_ASIDES = {
    "promise_to_pay": (
        "Also, could you send me an updated statement when you get a chance?",
        "PS: please note our new PO reference for future orders.",
        "On a separate note, one of the other invoices still needs checking on our side.",
    ),
    "dispute": (
        "The remaining invoices will be paid as usual.",
        "Everything else on the statement is fine.",
    ),
    "invoice_copy_request": (
        "Once we have it we will schedule the payment.",
        "Everything else on the statement looks fine.",
    ),
    "contact_change": ("Thanks for your patience during the handover.",),
    "other": ("Have a nice weekend.", "Thanks in advance."),
}
_QUOTE_HEADERS = {
    "en": (
        "On {day}, {who} <{mail}> wrote:",
        "-----Original Message-----\nFrom: {who} <{mail}>\nSent: {day}\nSubject: {subj}",
        "________________________________\nFrom: {who}\nSent: {day}\nTo: Accounts Payable\nSubject: {subj}",
    ),
    "de": (
        "Am {day} schrieb {who} <{mail}>:",
        "-----Ursprüngliche Nachricht-----\nVon: {who}\nGesendet: {day}\nBetreff: {subj}",
    ),
    "fr": (
        "Le {day}, {who} <{mail}> a écrit :",
        "-----Message d'origine-----\nDe : {who}\nEnvoyé : {day}\nObjet : {subj}",
    ),
}
_QUOTED_REMINDER = {
    "en": (
        "Dear customer,\n\nOur records show that {invs} {are} now overdue. The total amount of {amount} "
        "was due 30 days ago. Please let us know when we can expect payment.\n\nCredit Control",
        "Hello,\n\nfriendly reminder: {invs} ({amount}) {are} past due. Could you confirm a payment date?\n\nThanks",
    ),
    "de": (
        "Sehr geehrte Damen und Herren,\n\nwir vermissen den Ausgleich von {invs} über {amount}. "
        "Bitte teilen Sie uns den Zahlungstermin mit.\n\nForderungsmanagement",
    ),
    "fr": (
        "Madame, Monsieur,\n\nsauf erreur de notre part, {invs} ({amount}) reste impayée à ce jour. "
        "Merci de nous indiquer une date de règlement.\n\nService recouvrement",
    ),
}
_TYPO_WORD = re.compile(r"\b[a-zäöüéè]{5,}\b")


# Typos hit the prose, not the facts: a misspelt month or currency would make the truth ambiguous.
_FACT_WORDS = frozenset(
    [m.lower() for m in _MONTHS_DE + _MONTHS_FR + _WEEKDAYS]
    + [dt.date(2000, k, 1).strftime("%B").lower() for k in range(1, 13)]
    + ["dollars", "euros", "pounds", "tomorrow", "month", "week", "close"]
)


def _typo_words(text: str) -> list[re.Match]:
    return [m for m in _TYPO_WORD.finditer(text) if m.group(0).lower() not in _FACT_WORDS]


def _typos(w: Draws, text: str, n: int) -> str:
    words = _typo_words(text)
    for _ in range(min(n, len(words))):
        m = words[int(w.u() * len(words))]
        s, i = m.group(0), 1 + int(w.u() * (len(m.group(0)) - 2))
        kind = w.u()
        if kind < 0.4:
            t = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        elif kind < 0.7:
            t = s[:i] + s[i + 1 :]
        else:
            t = s[:i] + s[i] + s[i:]
        text = text[: m.start()] + t + text[m.end() :]
        words = _typo_words(text)
    return text


def _signature(w: Draws, c: _Ctx) -> str:
    k = w.u()
    if k < 0.15:
        return ""
    if k < 0.3:
        return c.sender.split(" ")[0]
    if k < 0.45:
        return f"{c.sender}\nSent from my iPhone"
    lines = [
        c.sender,
        w.choice(
            (
                "Accounts Payable",
                "AP Specialist",
                "Finance",
                "Buchhaltung" if c.language == "de" else "Controller",
                "Purchase-to-Pay",
            )
        ),
    ]
    lines.append(c.company)
    if w.u() < 0.5:
        lines.append(f"Tel. +{w.randint(1, 49)} {w.randint(100, 999)} {w.randint(1000000, 9999999)}")
    if w.u() < 0.25:
        lines.append(
            "CONFIDENTIALITY NOTICE: This e-mail and any attachments are for the intended recipient only. "
            "If you received it in error please delete it."
        )
    closing = {
        "de": ("Mit freundlichen Grüßen", "Viele Grüße", "Gruß"),
        "fr": ("Cordialement,", "Bien cordialement,", "Bonne journée,"),
    }.get(c.language, ("Regards,", "Best,", "Thanks,", "Kind regards,", "Cheers,", "Thank you,"))
    return w.choice(closing) + "\n" + "\n".join(lines)


_SUBJECT_PREFIX = {
    "en": ("RE: ", "Re: ", "FW: ", "Fwd: "),
    "de": ("AW: ", "WG: ", "Re: "),
    "fr": ("RE : ", "TR : ", "Re: "),
}


def _dress(w: Draws, intent: str, subject: str, core: str, c: _Ctx, *, reply_thread: bool) -> tuple[str, str]:
    lang = c.language if c.language in _QUOTE_HEADERS else "en"
    if intent in _ASIDES and w.u() < 0.2 and c.language == "en":
        core = f"{core}\n\n{w.choice(_ASIDES[intent])}"
    if w.u() < 0.25:
        core = _typos(w, core, 1 + int(w.u() * 3))
    if w.u() < 0.08:
        core = core.lower()
    sign = _signature(w, c)
    body = f"{core}\n\n{sign}".strip()
    if reply_thread and w.u() < 0.35:
        header = w.choice(_QUOTE_HEADERS[lang]).format(
            day=w.choice(("Monday", "Tue, 10:42", "yesterday", "Thursday 09:15")),
            who=w.choice(("Credit Control", "Accounts Receivable", c.collector or "Collections")),
            mail="ar@supplier.example",
            subj=subject,
        )
        quoted = w.choice(_QUOTED_REMINDER[lang]).format(
            invs=c.invs or "your invoices",
            amount=c.amount or "the balance",
            are="are" if c.n_invoices > 1 else "is",
        )
        prefix = "> " if w.u() < 0.5 else ""
        body += f"\n\n{header}\n" + "\n".join(prefix + line for line in quoted.splitlines())
        if not re.match(r"(?i)(re|aw|tr|wg|fw|fwd)\s?:", subject):
            subject = w.choice(_SUBJECT_PREFIX.get(lang, _SUBJECT_PREFIX["en"])) + subject
    elif w.u() < 0.1:
        subject = subject.upper() if w.u() < 0.3 else subject.lower()
    return subject, body


def _render(
    intent: str,
    classic: tuple[str, str],
    classic_family: str,
    families,
    c: _Ctx,
    *,
    reply_thread: bool = True,
) -> tuple[Subject, str]:
    w = _wording(intent, *classic)
    if w.u() < CLASSIC_SHARE:
        return Subject(classic[0], f"{intent}:classic_{classic_family}"), classic[1]
    fitting = [f for f in families if c.language in f[1]]
    # A fifth of German and French writers answer in English.
    if c.language != "en" and w.u() < 0.2:
        fitting = [f for f in families if "en" in f[1]]
        c.language = "en"
    name, _, fn = w.choice(fitting)
    subject, core = fn(w, c)
    subject, body = _dress(w, intent, subject, core, c, reply_thread=reply_thread)
    return Subject(subject, f"{intent}:{name}"), body


_CLASSIC_CUES = (
    # The classic templates, told apart by a phrase of their own (their family in the ground truth).
    ("erfolgt am", "de"),
    ("sera effectué", "fr"),
    ("tight this month", "partial_tight"),
    ("partial payment of", "partial_plan"),
    ("Thanks for the reminder", "reminder"),
    ("Sorry for the delay", "delay"),
    ("will be released", "released"),
    ("will go out by", "go_out"),
    ("next payment run", "run"),
    ("beanstanden", "de"),
    ("contestons", "fr"),
    ("We are disputing", "disputing"),
    ("Quick one", "quick"),
    ("Not paying this", "not_paying"),
    ("our objection", "objection"),
    ("Kopie der Rechnung", "de"),
    ("renvoyer la facture", "fr"),
    ("Could you please send us a copy", "copy"),
    ("AP portal rejected", "portal"),
    ("We have no record of", "no_record"),
    ("Can I get a copy", "short"),
    ("nicht mehr für uns", "de"),
    ("has left the company", "left"),
    ("has a new e-mail address", "new_address"),
    ("I have taken over", "taken_over"),
    ("nicht im Büro", "de"),
    ("absent(e)", "fr"),
    ("out of the office until", "until"),
    ("currently on leave", "leave"),
    ("out of office returning", "returning"),
    ("statement of account for", "statement"),
    ("bank details have changed", "bank"),
    ("offices will be closed", "holiday"),
    ("new billing address", "address"),
    ("PO number is on every", "po"),
    ("Thanks, received", "ack"),
    ("confirm the open balance", "balance"),
)


def _classic_family(body: str) -> str:
    return next((name for cue, name in _CLASSIC_CUES if cue in body), "other")


def _collector_of(body: str) -> str:
    m = re.match(r"(?:Hi|Dear|Bonjour) ([A-ZÄÖÜÉ][\w-]+),", body)
    return m.group(1) if m else ""


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
) -> tuple[Subject, str]:
    classic = _classic_promise_message(
        d,
        language=language,
        country=country,
        collector_first=collector_first,
        sender=sender,
        company=company,
        account=account,
        invoice_ids=invoice_ids,
        amount=amount,
        date=date,
        partial=partial,
    )
    w = _wording("invoices", *classic)
    c = _Ctx(
        language,
        sender,
        company,
        invs=invoice_list(w, invoice_ids),
        first_invoice=invoice_ids[0],
        n_invoices=len(invoice_ids),
        amount=amount,
        date=date,
        account=account,
        collector=collector_first,
        partial=partial,
    )
    return _render("promise_to_pay", classic, _classic_family(classic[1]), PROMISE_FAMILIES, c)


def dispute_message(
    d: Draws, *, language: str, sender: str, company: str, invoice_id: str, po: str, reason: str, amount: str
) -> tuple[Subject, str]:
    classic = _classic_dispute_message(
        d,
        language=language,
        sender=sender,
        company=company,
        invoice_id=invoice_id,
        po=po,
        reason=reason,
        amount=amount,
    )
    w = _wording("reason", *classic)
    q1 = w.randint(20, 400)
    fill = {
        "inv": invoice_id,
        "po": po or "on file",
        "q1": q1,
        "q2": max(1, q1 - w.randint(1, q1 // 4 + 1)),
        "q3": w.randint(2, 12),
    }
    table = {"de": _DE_REASON, "fr": _FR_REASON}.get(language)
    text = (table[reason] if table else w.choice(DISPUTE_REASON_TEXT[reason])).format(**fill)
    c = _Ctx(
        language,
        sender,
        company,
        invs=invoice_id,
        first_invoice=invoice_id,
        amount=amount,
        reason=reason,
        reason_text=text,
        po=po,
    )
    subject, body = _render("dispute", classic, _classic_family(classic[1]), DISPUTE_FAMILIES, c)
    if c.language == "en" and language != "en":  # switched to English: the reason in English too
        en = w.choice(DISPUTE_REASON_TEXT[reason]).format(**fill)
        body = body.replace(text, en)
    return subject, body


def copy_request_message(
    d: Draws, *, language: str, sender: str, company: str, invoice_ids: list[str], reply_to: str
) -> tuple[Subject, str]:
    classic = _classic_copy_request_message(
        d, language=language, sender=sender, company=company, invoice_ids=invoice_ids, reply_to=reply_to
    )
    w = _wording("invoices", *classic)
    c = _Ctx(
        language,
        sender,
        company,
        invs=invoice_list(w, invoice_ids),
        first_invoice=invoice_ids[0],
        n_invoices=len(invoice_ids),
        reply_to=reply_to,
    )
    return _render("invoice_copy_request", classic, _classic_family(classic[1]), COPY_FAMILIES, c)


def contact_change_message(
    d: Draws, *, language: str, sender: str, company: str, old_name: str, new_email: str
) -> tuple[Subject, str]:
    classic = _classic_contact_change_message(
        d, language=language, sender=sender, company=company, old_name=old_name, new_email=new_email
    )
    c = _Ctx(language, sender, company, old_name=old_name, new_email=new_email)
    return _render(
        "contact_change", classic, _classic_family(classic[1]), CONTACT_FAMILIES, c, reply_thread=False
    )


def out_of_office_message(
    d: Draws, *, language: str, sender: str, original_subject: str, back: str, colleague: str
) -> tuple[Subject, str]:
    classic = _classic_out_of_office_message(
        d, language=language, sender=sender, original_subject=original_subject, back=back, colleague=colleague
    )
    c = _Ctx(language, sender, "", back=back, colleague=colleague, original_subject=original_subject)
    w = _wording("out_of_office", *classic)
    if w.u() < CLASSIC_SHARE:
        return Subject(classic[0], f"out_of_office:classic_{_classic_family(classic[1])}"), classic[1]
    # Auto-replies are not dressed: no typos, no quoted thread, a bare name at most.
    own = {"de": "ooo_de", "fr": "ooo_fr"}.get(language, "ooo_en")
    pick = own if w.u() < 0.6 else w.choice([f[0] for f in OOO_FAMILIES])
    fn = next(f[2] for f in OOO_FAMILIES if f[0] == pick)
    subject, text = fn(w, c)
    if w.u() < 0.5:
        text += f"\n\n{sender}"
    return Subject(subject, f"out_of_office:{pick}"), text


def other_message(
    d: Draws, *, language: str, sender: str, company: str, country: str, today: dt.date, account: str
) -> tuple[Subject, str]:
    classic = _classic_other_message(
        d, language=language, sender=sender, company=company, country=country, today=today, account=account
    )
    c = _Ctx(language, sender, company, account=account)
    return _render("other", classic, _classic_family(classic[1]), OTHER_FAMILIES, c, reply_thread=False)


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
