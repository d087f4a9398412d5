"""The ERP extract contracts: one definition of every extract's columns, types, keys and rules.

The simulator writes these files, the loader validates and loads them, the great-expectations
suites are built from them, and dbt's sources describe the tables they land in. Change a column
here and every one of those follows.

File layout in the landing folder: ``<landing>/erp/<extract>/<extract>_<YYYY-MM-DD>.csv``.
The date in the file name is the extract date (the ERP's business day the file covers). A file
for a day that was already loaded, with different content, is a corrected re-export: its rows
replace that day's rows. Rows of the same key in later extracts are newer versions (status
changes, snapshot refreshes); staging keeps the latest.

CSV conventions (as ERPs export them): UTF-8 (a BOM is tolerated), comma separated, header row,
dates ``YYYY-MM-DD``, timestamps ISO 8601 with offset, amounts with a dot decimal and no thousands
separator, empty cell = null.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FUNCTIONAL_CURRENCY = "USD"
CURRENCIES = ("USD", "EUR", "GBP")

PAYMENT_TERMS = ("NET30", "NET45", "NET60", "2/10NET30")
SEGMENTS = ("enterprise", "mid_market", "small_business")
PAYMENT_METHODS = ("wire", "ach", "check", "card")
CREDIT_MEMO_REASONS = (
    "PRICING",
    "QUANTITY",
    "DAMAGED",
    "RETURN",
    "PROMOTION",
    "DUPLICATE_BILLING",
    "WRITE_OFF",
    "REBATE",
)
DISPUTE_REASONS = (
    "PRICING",
    "QUANTITY",
    "DAMAGED",
    "NOT_RECEIVED",
    "DUPLICATE_BILLING",
    "PROMOTION",
    "SERVICE_ISSUE",
)
DISPUTE_STATUSES = ("open", "resolved_credit", "resolved_no_credit")
PROMISE_STATUSES = ("open", "kept", "broken")
ACTIVITY_TYPES = ("call", "email", "letter")
ACTIVITY_OUTCOMES = (
    "reached",
    "no_answer",
    "left_voicemail",
    "promise_to_pay",
    "dispute_raised",
    "sent",
    "bounced",
    "replied",
)


@dataclass(frozen=True)
class Column:
    """One extract column. ``kind`` is the logical type; ``sql_type`` follows from it."""

    name: str
    kind: str  # text | int | date | timestamp | amount | rate | pct
    required: bool = True
    allowed: tuple[str, ...] | None = None
    references: str | None = None  # "<extract>.<column>": the value must exist there
    min_value: str | None = None  # lower bound, inclusive (as text to keep Decimal exact)
    description: str = ""

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


SQL_TYPES = {
    "text": "varchar",
    "int": "integer",
    "date": "date",
    "timestamp": "timestamptz",
    "amount": "decimal(18, 2)",  # money: exact, two minor-unit digits for every supported currency
    "rate": "decimal(18, 8)",
    "pct": "decimal(7, 4)",
}


@dataclass(frozen=True)
class DateOrder:
    """``later`` must be on or after ``earlier`` when both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Extract:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    date_orders: tuple[DateOrder, ...] = field(default_factory=tuple)
    snapshot: bool = False  # True: each file is a full snapshot, not a delta

    @property
    def table(self) -> str:
        return f"erp_{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


LOAD_METADATA_COLUMNS = (
    ("_source_file", "varchar", "Path of the landing file, relative to the landing folder."),
    ("_content_hash", "varchar", "SHA-256 of the file's bytes: the identity of a load."),
    ("_row_number", "integer", "1-based data row number in the file (header excluded)."),
    ("_extract_date", "date", "Business day the file covers, from its name."),
    ("_loaded_at", "timestamptz", "When the row was loaded."),
)

_cur = CURRENCIES
EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in (
        Extract(
            "collectors",
            "Collectors and their daily capacity (snapshot).",
            key=("collector_id",),
            snapshot=True,
            columns=(
                Column("collector_id", "text"),
                Column("collector_name", "text"),
                Column("email", "text"),
                Column("daily_capacity", "int", min_value="1", description="Customer contacts per day."),
            ),
        ),
        Extract(
            "customers",
            "Customer master (snapshot): parent/child accounts, terms, credit limits, owning collector.",
            key=("customer_id",),
            snapshot=True,
            columns=(
                Column("customer_id", "text"),
                Column("customer_name", "text"),
                Column("parent_customer_id", "text", required=False, references="customers.customer_id"),
                Column("country", "text", description="ISO 3166-1 alpha-2."),
                Column("currency", "text", allowed=_cur),
                Column("credit_limit", "amount", min_value="0"),
                Column("payment_terms", "text", allowed=PAYMENT_TERMS),
                Column("segment", "text", allowed=SEGMENTS),
                Column("collector_id", "text", references="collectors.collector_id"),
                Column("contact_email", "text", required=False),
                Column(
                    "bank_account",
                    "text",
                    required=False,
                    description="Payer IBAN or account number known to the ERP.",
                ),
                Column("created_date", "date"),
            ),
        ),
        Extract(
            "invoices",
            "Invoices issued (daily delta by invoice date).",
            key=("invoice_id",),
            date_orders=(DateOrder("invoice_date", "due_date"),),
            columns=(
                Column("invoice_id", "text"),
                Column("customer_id", "text", references="customers.customer_id"),
                Column("invoice_date", "date"),
                Column("due_date", "date"),
                Column("currency", "text", allowed=_cur),
                Column(
                    "amount",
                    "amount",
                    min_value="0.01",
                    description="Gross invoice amount, transaction currency.",
                ),
                Column("payment_terms", "text", allowed=PAYMENT_TERMS),
                Column("discount_pct", "pct", min_value="0", description="Early-payment discount, percent."),
                Column("discount_due_date", "date", required=False),
                Column("po_number", "text", required=False),
            ),
        ),
        Extract(
            "credit_memos",
            "Credit memos, applied to an invoice or left on account.",
            key=("credit_memo_id",),
            columns=(
                Column("credit_memo_id", "text"),
                Column("customer_id", "text", references="customers.customer_id"),
                Column("credit_date", "date"),
                Column("currency", "text", allowed=_cur),
                Column("amount", "amount", min_value="0.01", description="Positive amount credited."),
                Column("applied_invoice_id", "text", required=False, references="invoices.invoice_id"),
                Column("reason_code", "text", allowed=CREDIT_MEMO_REASONS),
            ),
        ),
        Extract(
            "payments",
            "Cash receipts posted in the ERP.",
            key=("payment_id",),
            columns=(
                Column("payment_id", "text"),
                Column("customer_id", "text", references="customers.customer_id"),
                Column("payment_date", "date"),
                Column("currency", "text", allowed=_cur),
                Column("amount", "amount", min_value="0.01"),
                Column("method", "text", allowed=PAYMENT_METHODS),
                Column("reference", "text", required=False, description="Payer's reference as received."),
            ),
        ),
        Extract(
            "payment_applications",
            "How each receipt was applied to invoices (cash plus discount allowed).",
            key=("application_id",),
            columns=(
                Column("application_id", "text"),
                Column("payment_id", "text", references="payments.payment_id"),
                Column("invoice_id", "text", references="invoices.invoice_id"),
                Column("applied_date", "date"),
                Column(
                    "applied_amount", "amount", min_value="0", description="Cash applied, invoice currency."
                ),
                Column("discount_amount", "amount", min_value="0", description="Early-pay discount allowed."),
            ),
        ),
        Extract(
            "promises_to_pay",
            "Promises to pay taken by collectors; later extracts carry status changes.",
            key=("promise_id",),
            date_orders=(DateOrder("promise_date", "promised_pay_date"),),
            columns=(
                Column("promise_id", "text"),
                Column("customer_id", "text", references="customers.customer_id"),
                Column("invoice_id", "text", required=False, references="invoices.invoice_id"),
                Column("collector_id", "text", references="collectors.collector_id"),
                Column("promise_date", "date"),
                Column("promised_pay_date", "date"),
                Column("currency", "text", allowed=_cur),
                Column("promised_amount", "amount", min_value="0.01"),
                Column("status", "text", allowed=PROMISE_STATUSES),
            ),
        ),
        Extract(
            "collection_activities",
            "Calls, e-mails and letters with their outcome.",
            key=("activity_id",),
            columns=(
                Column("activity_id", "text"),
                Column("customer_id", "text", references="customers.customer_id"),
                Column("invoice_id", "text", required=False, references="invoices.invoice_id"),
                Column("collector_id", "text", references="collectors.collector_id"),
                Column("activity_at", "timestamp", description="When, with the customer's UTC offset."),
                Column("activity_type", "text", allowed=ACTIVITY_TYPES),
                Column("outcome", "text", allowed=ACTIVITY_OUTCOMES),
                Column("note", "text", required=False),
            ),
        ),
        Extract(
            "disputes",
            "Disputes and deductions with reason codes; later extracts carry resolutions.",
            key=("dispute_id",),
            date_orders=(DateOrder("opened_date", "resolved_date"),),
            columns=(
                Column("dispute_id", "text"),
                Column("customer_id", "text", references="customers.customer_id"),
                Column("invoice_id", "text", references="invoices.invoice_id"),
                Column("opened_date", "date"),
                Column("reason_code", "text", allowed=DISPUTE_REASONS),
                Column("currency", "text", allowed=_cur),
                Column("disputed_amount", "amount", min_value="0.01"),
                Column(
                    "is_deduction",
                    "text",
                    allowed=("true", "false"),
                    description="Short-paid by the customer.",
                ),
                Column("status", "text", allowed=DISPUTE_STATUSES),
                Column("resolved_date", "date", required=False),
            ),
        ),
        Extract(
            "customer_messages",
            "Inbound customer e-mails (text only; true intents live in ground truth).",
            key=("message_id",),
            columns=(
                Column("message_id", "text"),
                Column("customer_id", "text", required=False, references="customers.customer_id"),
                Column("received_at", "timestamp"),
                Column("from_address", "text"),
                Column("subject", "text", required=False),
                Column("body", "text", required=False),
            ),
        ),
        Extract(
            "fx_rates",
            "Daily rates: one unit of currency in functional currency.",
            key=("rate_date", "currency"),
            columns=(
                Column("rate_date", "date"),
                Column("currency", "text", allowed=_cur),
                Column("rate_to_functional", "rate", min_value="0.00000001"),
            ),
        ),
    )
}

# Load order: referenced extracts first, so reference rules see the rows they point to.
LOAD_ORDER = (
    "collectors",
    "customers",
    "fx_rates",
    "invoices",
    "credit_memos",
    "payments",
    "payment_applications",
    "promises_to_pay",
    "collection_activities",
    "disputes",
    "customer_messages",
)
assert set(LOAD_ORDER) == set(EXTRACTS)
