"""The cash-application rules (``cashapp_rules.yaml`` at the repository root), validated into one object.

A rules file is configuration people edit by hand, so every problem is reported with the file and
the key path (``cashapp_rules.yaml: matching.bank_fee.max_share: ...``) and unknown keys are errors
(a misspelt key silently falling back to its default is how tolerances drift unnoticed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from ml.cashapp.money import to_cents

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES_PATH = REPO_ROOT / "cashapp_rules.yaml"


class RulesError(ValueError):
    """A rules file that cannot be used: the message names the file and the key."""


@dataclass(frozen=True)
class CustomerRule:
    pays_for: tuple[str, ...] = ()
    net_of_bank_fees: bool = False
    bank_fee_max_cents: int | None = None
    names: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    auto_apply: bool = True


@dataclass(frozen=True)
class Rules:
    discount_grace_days: int = 3
    bank_fee_max_cents: dict[str, int] = field(
        default_factory=lambda: {"default": 3000, "USD": 3000, "EUR": 2500, "GBP": 2000}
    )
    bank_fee_max_share: Decimal = Decimal("0.01")
    fx_tolerance_share: Decimal = Decimal("0.005")
    underpay_writeoff_cents: dict[str, int] = field(default_factory=lambda: {"default": 500})
    underpay_writeoff_share: Decimal = Decimal("0.005")
    overpay_writeoff_cents: dict[str, int] = field(default_factory=lambda: {"default": 100})
    round_amount_units_cents: tuple[int, ...] = (1000, 10000)
    # Unexplained short-pays: a shortfall of at least this much, and at most max_share of the invoice
    # that carries it, may be proposed as a deduction (never applied automatically).
    deduction_min_cents: dict[str, int] = field(default_factory=lambda: {"default": 100})
    deduction_max_share: Decimal = Decimal("0.30")
    subset_max_items: int = 40
    subset_max_set_size: int = 8
    subset_max_nodes: int = 20000
    subset_max_solutions: int = 6
    family_search: bool = True
    remittance_link_days: int = 7
    target_precision: Decimal = Decimal("0.999")
    min_auto_confidence: Decimal = Decimal("0.90")
    heuristic_auto_confidence: Decimal = Decimal("0.97")
    suggestions: int = 3
    never_auto_methods: tuple[str, ...] = ("on_account", "oldest_first", "deduction")
    # Credits that are no customer payment: per format family (bai2, camt, mt940, ...), codes that
    # start the parser's transaction_code; our own names and accounts (transfers between our accounts).
    not_payment_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    own_names: tuple[str, ...] = ()
    own_accounts: tuple[str, ...] = ()
    customers: dict[str, CustomerRule] = field(default_factory=dict)
    source: str = "<defaults>"

    @staticmethod
    def _per_currency(table: dict[str, int], currency: str) -> int:
        return table.get(currency, table.get("default", 0))

    def bank_fee_limit(self, currency: str, customer_id: str | None = None) -> int:
        rule = self.customers.get(customer_id) if customer_id else None
        if rule is not None and rule.bank_fee_max_cents is not None:
            return rule.bank_fee_max_cents
        return self._per_currency(self.bank_fee_max_cents, currency)

    def underpay_writeoff_limit(self, currency: str) -> int:
        return self._per_currency(self.underpay_writeoff_cents, currency)

    def overpay_writeoff_limit(self, currency: str) -> int:
        return self._per_currency(self.overpay_writeoff_cents, currency)

    def deduction_min(self, currency: str) -> int:
        return self._per_currency(self.deduction_min_cents, currency)

    def not_payment_code(self, source_format: str, code: str | None) -> bool:
        """True when the bank's transaction code marks a credit that is no customer payment."""
        if not code:
            return False
        family = format_family(source_format)
        return any(code.upper().startswith(c) for c in self.not_payment_codes.get(family, ()))

    def customer(self, customer_id: str | None) -> CustomerRule:
        return self.customers.get(customer_id or "", _NO_RULE)


_NO_RULE = CustomerRule()
FORMAT_FAMILIES = ("bai2", "camt", "mt940", "lockbox", "csv")


def format_family(source_format: str) -> str:
    """camt.052/053/054 -> camt, mt940/mt942 -> mt940; others as they are."""
    f = (source_format or "").lower()
    if f.startswith("camt"):
        return "camt"
    if f.startswith("mt94"):
        return "mt940"
    return f


_SCHEMA = {
    "version": None,
    "matching": {
        "discount_grace_days": None,
        "bank_fee": {"max_amount": None, "max_share": None},
        "fx_tolerance_share": None,
        "write_off": {"underpayment_max": None, "underpayment_max_share": None, "overpayment_max": None},
        "round_amount_units": None,
        "deductions": {"min_amount": None, "max_share": None},
        "subset_search": {"max_items": None, "max_set_size": None, "max_nodes": None, "max_solutions": None},
        "family_search": None,
        "remittance_link_days": None,
    },
    "decision": {
        "target_precision": None,
        "min_auto_confidence": None,
        "heuristic_auto_confidence": None,
        "suggestions": None,
        "never_auto_methods": None,
    },
    "not_customer_payments": {"transaction_codes": None, "own_names": None, "own_accounts": None},
    "customers": None,
}
_CUSTOMER_KEYS = {"pays_for", "net_of_bank_fees", "bank_fee_max", "names", "accounts", "auto_apply"}


def _check_keys(node: dict, schema: dict, where: str, err) -> None:
    for key in node:
        if key not in schema:
            err(f"{where}{key}", f"unknown key (allowed: {', '.join(sorted(schema))})")
        elif isinstance(schema[key], dict):
            if not isinstance(node[key], dict):
                err(f"{where}{key}", "must be a mapping")
            _check_keys(node[key], schema[key], f"{where}{key}.", err)


def load_rules(path: str | Path | None = None) -> Rules:
    """Read and validate a rules file (default: ``cashapp_rules.yaml`` at the repository root)."""
    path = Path(path) if path else DEFAULT_RULES_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RulesError(f"{path}: cannot read the rules file ({e.strerror})") from e
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise RulesError(f"{path}:{line} not valid YAML ({getattr(e, 'problem', e)})") from e
    return rules_from_dict(doc, source=str(path))


def rules_from_dict(doc: dict, source: str = "<dict>") -> Rules:
    def err(key: str, msg: str):
        raise RulesError(f"{source}: {key}: {msg}")

    if not isinstance(doc, dict):
        err("(top)", "the rules file must be a mapping")
    _check_keys(doc, _SCHEMA, "", err)
    if doc.get("version", 1) != 1:
        err("version", f"unsupported version {doc.get('version')!r} (this engine reads version 1)")
    m = doc.get("matching") or {}
    dcs = doc.get("decision") or {}
    d = Rules()

    def integer(key, value, lo, hi):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            err(key, f"must be a whole number between {lo} and {hi}, got {value!r}")
        return value

    def share(key, value, lo="0", hi="1"):
        try:
            v = Decimal(str(value))
        except InvalidOperation:
            err(key, f'must be a number written as text like "0.01", got {value!r}')
        if not v.is_finite() or not Decimal(lo) <= v <= Decimal(hi):
            err(key, f"must be between {lo} and {hi}, got {value!r}")
        return v

    def cents(key, value):
        try:
            c = to_cents(str(value))
        except (ValueError, TypeError) as e:
            err(key, f'must be an amount with at most two decimals, like "5.00" ({e})')
        if c < 0:
            err(key, f"must not be negative, got {value!r}")
        return c

    def per_currency(key, value, default):
        if value is None:
            return default
        if not isinstance(value, dict) or not value:
            err(key, 'must map currencies to amounts, like {default: "5.00", EUR: "4.00"}')
        return {str(k): cents(f"{key}.{k}", v) for k, v in value.items()}

    def boolean(key, value):
        if not isinstance(value, bool):
            err(key, f"must be true or false, got {value!r}")
        return value

    def strings(key, value):
        if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
            err(key, "must be a list of non-empty strings")
        return tuple(x.strip() for x in value)

    kw: dict = {"source": source}
    if "discount_grace_days" in m:
        kw["discount_grace_days"] = integer("matching.discount_grace_days", m["discount_grace_days"], 0, 60)
    fee = m.get("bank_fee") or {}
    kw["bank_fee_max_cents"] = per_currency(
        "matching.bank_fee.max_amount", fee.get("max_amount"), d.bank_fee_max_cents
    )
    if "max_share" in fee:
        kw["bank_fee_max_share"] = share("matching.bank_fee.max_share", fee["max_share"], hi="0.2")
    if "fx_tolerance_share" in m:
        kw["fx_tolerance_share"] = share("matching.fx_tolerance_share", m["fx_tolerance_share"], hi="0.2")
    wo = m.get("write_off") or {}
    kw["underpay_writeoff_cents"] = per_currency(
        "matching.write_off.underpayment_max", wo.get("underpayment_max"), d.underpay_writeoff_cents
    )
    if "underpayment_max_share" in wo:
        kw["underpay_writeoff_share"] = share(
            "matching.write_off.underpayment_max_share", wo["underpayment_max_share"], hi="0.2"
        )
    kw["overpay_writeoff_cents"] = per_currency(
        "matching.write_off.overpayment_max", wo.get("overpayment_max"), d.overpay_writeoff_cents
    )
    ded = m.get("deductions") or {}
    kw["deduction_min_cents"] = per_currency(
        "matching.deductions.min_amount", ded.get("min_amount"), d.deduction_min_cents
    )
    if "max_share" in ded:
        kw["deduction_max_share"] = share("matching.deductions.max_share", ded["max_share"], hi="0.9")
    if "round_amount_units" in m:
        units = m["round_amount_units"]
        if not isinstance(units, list):
            err("matching.round_amount_units", 'must be a list of amounts like ["1000.00"]')
        kw["round_amount_units_cents"] = tuple(
            cents(f"matching.round_amount_units[{i}]", u) for i, u in enumerate(units)
        )
        if any(u <= 0 for u in kw["round_amount_units_cents"]):
            err("matching.round_amount_units", "units must be positive")
    ss = m.get("subset_search") or {}
    for key, attr, lo, hi in (
        ("max_items", "subset_max_items", 2, 400),
        ("max_set_size", "subset_max_set_size", 2, 30),
        ("max_nodes", "subset_max_nodes", 100, 10_000_000),
        ("max_solutions", "subset_max_solutions", 1, 100),
    ):
        if key in ss:
            kw[attr] = integer(f"matching.subset_search.{key}", ss[key], lo, hi)
    if "family_search" in m:
        kw["family_search"] = boolean("matching.family_search", m["family_search"])
    if "remittance_link_days" in m:
        kw["remittance_link_days"] = integer(
            "matching.remittance_link_days", m["remittance_link_days"], 0, 60
        )
    for key in ("target_precision", "min_auto_confidence", "heuristic_auto_confidence"):
        if key in dcs:
            kw[key] = share(f"decision.{key}", dcs[key], lo="0.5")
    if "suggestions" in dcs:
        kw["suggestions"] = integer("decision.suggestions", dcs["suggestions"], 1, 10)
    if "never_auto_methods" in dcs:
        from ml.cashapp.candidates import METHODS  # late: candidates imports rules

        methods = strings("decision.never_auto_methods", dcs["never_auto_methods"])
        for meth in methods:
            if meth not in METHODS:
                err("decision.never_auto_methods", f"unknown method {meth!r} (known: {', '.join(METHODS)})")
        kw["never_auto_methods"] = methods
    ncp = doc.get("not_customer_payments") or {}
    codes = ncp.get("transaction_codes") or {}
    if not isinstance(codes, dict):
        err(
            "not_customer_payments.transaction_codes",
            f"must map format families ({', '.join(FORMAT_FAMILIES)}) to lists of codes",
        )
    table = {}
    for fam, lst in codes.items():
        if fam not in FORMAT_FAMILIES:
            err(
                f"not_customer_payments.transaction_codes.{fam}",
                f"unknown format family (one of {', '.join(FORMAT_FAMILIES)})",
            )
        table[fam] = tuple(c.upper() for c in strings(f"not_customer_payments.transaction_codes.{fam}", lst))
    kw["not_payment_codes"] = table
    if "own_names" in ncp:
        kw["own_names"] = strings("not_customer_payments.own_names", ncp["own_names"] or [])
    if "own_accounts" in ncp:
        kw["own_accounts"] = strings("not_customer_payments.own_accounts", ncp["own_accounts"] or [])
    customers = doc.get("customers") or {}
    if not isinstance(customers, dict):
        err("customers", "must map customer ids to their rules")
    rules: dict[str, CustomerRule] = {}
    for cid, spec in customers.items():
        where = f"customers.{cid}"
        if not isinstance(spec, dict):
            err(where, "must be a mapping of rules")
        unknown = set(spec) - _CUSTOMER_KEYS
        if unknown:
            err(
                f"{where}.{sorted(unknown)[0]}", f"unknown key (allowed: {', '.join(sorted(_CUSTOMER_KEYS))})"
            )
        rules[str(cid)] = CustomerRule(
            pays_for=strings(f"{where}.pays_for", spec["pays_for"]) if "pays_for" in spec else (),
            net_of_bank_fees=boolean(f"{where}.net_of_bank_fees", spec["net_of_bank_fees"])
            if "net_of_bank_fees" in spec
            else False,
            bank_fee_max_cents=cents(f"{where}.bank_fee_max", spec["bank_fee_max"])
            if "bank_fee_max" in spec
            else None,
            names=strings(f"{where}.names", spec["names"]) if "names" in spec else (),
            accounts=strings(f"{where}.accounts", spec["accounts"]) if "accounts" in spec else (),
            auto_apply=boolean(f"{where}.auto_apply", spec["auto_apply"]) if "auto_apply" in spec else True,
        )
    kw["customers"] = rules
    return Rules(**kw)
