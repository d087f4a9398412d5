"""What the engine knows about payers: the customer master, and everything past confirmed payments taught it.

Built from the customer master (names, parent/child hierarchy, bank accounts), the rules file's
customer entries (trading names, extra accounts, pays-for), and then *learned* from every confirmed
application (auto-applied and not reversed, accepted, or corrected by a person): which bank
accounts pay for which customers, which names they pay under, and each customer's habits (how many
invoices per payment, discounts, partial payments, days from due date). A correction for a new
payer account or a customer-specific name is therefore used by the very next run.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from ml.cashapp.names import NameIndex, normalize_name
from ml.cashapp.rules import Rules


def normalize_account(account: str | None) -> str:
    """IBANs and account numbers as banks print them (spaces, dashes, lower case) → one key."""
    if not account:
        return ""
    return _normalize_account(str(account))


@lru_cache(maxsize=1 << 16)
def _normalize_account(account: str) -> str:
    # Cached: the same few thousand accounts come back on every statement line (measured 3% of the
    # engine's time character by character).
    return "".join(ch for ch in account.upper() if ch.isalnum())


@dataclass
class Habits:
    """Running statistics of one customer's confirmed payments (what the scorer compares against)."""

    payments: int = 0
    items: int = 0
    with_discount: int = 0
    partial: int = 0
    short: int = 0
    overpaid: int = 0
    on_account: int = 0
    days_from_due_sum: float = 0.0
    days_from_due_sq: float = 0.0
    bank_fees: int = 0  # confirmed payments closed with a BANK_FEE deduction
    bank_fee_max_cents: int = 0  # the largest of those fees: the customer pays net of fees up to it
    # Invoices paid in part: the share of the open balance each part paid (an instalment payer's split)
    split_share_sum: float = 0.0
    splits: int = 0

    def learn(
        self,
        n_items: int,
        discount: bool,
        partial: bool,
        short: bool,
        over: bool,
        days_from_due: list[int],
        split_shares: list[float] = (),
    ):
        self.payments += 1
        self.items += n_items
        self.with_discount += discount
        self.partial += partial
        self.short += short
        self.overpaid += over
        self.on_account += n_items == 0
        for d in days_from_due:
            self.days_from_due_sum += d
            self.days_from_due_sq += d * d
        for share in split_shares:
            self.split_share_sum += share
            self.splits += 1

    def vector(self) -> tuple[float, ...]:
        """(log payments, mean items, discount rate, partial rate, short rate, over rate, mean days, sd days,
        mean share an invoice paid in part got: -1 before any)."""
        n = self.payments
        split = self.split_share_sum / self.splits if self.splits else -1.0
        if n == 0:
            return (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0, split)
        k = max(self.items, 1)
        mean = self.days_from_due_sum / k
        var = max(self.days_from_due_sq / k - mean * mean, 0.0)
        return (
            math.log1p(n),
            self.items / n,
            self.with_discount / n,
            self.partial / n,
            self.short / n,
            self.overpaid / n,
            mean,
            math.sqrt(var),
            split,
        )


@dataclass
class Customer:
    customer_id: str
    name: str
    parent_id: str | None
    currency: str | None
    account: str  # normalized master account ("" when none)


@dataclass
class PayerKnowledge:
    rules: Rules
    customers: dict[str, Customer] = field(default_factory=dict)
    top_of: dict[str, str] = field(default_factory=dict)  # customer -> top parent
    family: dict[str, list[str]] = field(default_factory=dict)  # top parent -> members
    master_account: dict[str, str] = field(default_factory=dict)  # account -> customer
    seen_account: dict[str, Counter] = field(default_factory=dict)  # account -> customers paid for
    seen_name: dict[str, Counter] = field(default_factory=dict)  # normalized name -> customers
    names: NameIndex = field(default_factory=NameIndex)
    habits: dict[str, Habits] = field(default_factory=dict)
    pays_for: dict[str, set[str]] = field(default_factory=dict)  # payer customer -> extra customers
    rejected: set[tuple[str, str]] = field(default_factory=set)  # (account, customer) people rejected
    own_names: set[str] = field(default_factory=set)  # normalized names of the customer master

    # -- building ---------------------------------------------------------------------------------------

    @classmethod
    def from_customers(cls, customers: pd.DataFrame, rules: Rules) -> PayerKnowledge:
        """From the customer master: customer_id, customer_name, parent_customer_id, bank_account,
        currency (the ERP ``customers`` extract or ``dim_customers``)."""
        need = {"customer_id", "customer_name"}
        missing = need - set(customers.columns)
        if missing:
            raise ValueError(f"customer master lacks columns: {', '.join(sorted(missing))}")
        k = cls(rules=rules)

        def val(row, col):
            v = row.get(col)
            return v if isinstance(v, str) and v.strip() else None

        for row in customers.to_dict("records"):
            cid = str(row["customer_id"])
            c = Customer(
                cid,
                str(row["customer_name"]),
                val(row, "parent_customer_id"),
                val(row, "currency"),
                normalize_account(val(row, "bank_account")),
            )
            k.customers[cid] = c
            k.names.add(c.name, cid)
            k.own_names.add(normalize_name(c.name))
            if c.account:
                k.master_account[c.account] = cid
        for cid in k.customers:
            top, seen = cid, set()
            while k.customers.get(top) and k.customers[top].parent_id and top not in seen:
                seen.add(top)
                top = k.customers[top].parent_id
            k.top_of[cid] = top
            k.family.setdefault(top, []).append(cid)
        for cid, rule in rules.customers.items():
            for name in rule.names:
                k.names.add(name, cid)
                k.own_names.add(normalize_name(name))
                k.seen_name.setdefault(normalize_name(name), Counter())[cid] += 1
            for acct in rule.accounts:
                k.master_account.setdefault(normalize_account(acct), cid)
            if rule.pays_for:
                k.pays_for.setdefault(cid, set()).update(rule.pays_for)
        return k

    # -- questions --------------------------------------------------------------------------------------

    def family_of(self, customer_id: str) -> list[str]:
        """Every account whose invoices a payment identified as ``customer_id`` may pay."""
        if not self.rules.family_search:
            members = [customer_id]
        else:
            members = list(self.family.get(self.top_of.get(customer_id, customer_id), [customer_id]))
        for extra in self.pays_for.get(customer_id, ()):
            if extra not in members:
                members.append(extra)
        return members

    def is_intermediary_name(self, normalized: str) -> bool:
        """A name confirmed on payments for customers of more than one family, and no customer's own
        name: a card processor, a payment service or a bank paying on others' behalf. It says nothing
        about who paid, so it gives no alias and no name search (the first customer it was confirmed
        for would otherwise take every later payment under it)."""
        seen = self.seen_name.get(normalized)
        if not seen or len(seen) < 2 or normalized in self.own_names:
            return False
        return len({self.family_key(c) for c, n in seen.items() if n > 0}) > 1

    def family_key(self, customer_id: str) -> str:
        return self.top_of.get(customer_id, customer_id) if self.rules.family_search else customer_id

    def habit(self, customer_id: str) -> Habits:
        return self.habits.get(customer_id) or Habits()

    # -- learning ---------------------------------------------------------------------------------------

    def learn_payment(
        self,
        *,
        account: str | None,
        name: str | None,
        customer_ids: list[str],
        n_items: int,
        discount: bool,
        partial: bool,
        short: bool,
        over: bool,
        days_from_due: list[int],
        bank_fee_cents: int = 0,
        split_shares: list[float] = (),
    ) -> None:
        """One confirmed payment: who it paid for and how (customer_ids: owners of the items paid, or
        the customer it was put on account for; bank_fee_cents: a BANK_FEE deduction confirmed on it)."""
        acct = normalize_account(account)
        norm = normalize_name(name)
        owners = list(dict.fromkeys(customer_ids))
        for cid in owners:
            if acct:
                self.seen_account.setdefault(acct, Counter())[cid] += 1
                self.rejected.discard((acct, cid))
            if norm:
                self.rejected.discard((norm, cid))
                counter = self.seen_name.setdefault(norm, Counter())
                if not counter:
                    self.names.add(norm, cid, normalized=True)
                counter[cid] += 1
        if owners:
            main = owners[0]
            h = self.habits.setdefault(main, Habits())
            h.learn(n_items, discount, partial, short, over, days_from_due, split_shares)
            if bank_fee_cents > 0:
                h.bank_fees += 1
                h.bank_fee_max_cents = max(h.bank_fee_max_cents, bank_fee_cents)
            payer = self.master_account.get(acct)
            if payer and payer not in owners:
                fam = set(self.family_of(payer))
                extra = {o for o in owners if o not in fam}
                if extra:
                    self.pays_for.setdefault(payer, set()).update(extra)

    def learned_bank_fee(self, customer_id: str) -> int:
        """Cents up to which this customer was confirmed to pay net of bank fees (0: never)."""
        h = self.habits.get(customer_id)
        return h.bank_fee_max_cents if h is not None and h.bank_fees else 0

    def reject(self, account: str | None, customer_id: str, name: str | None = None) -> None:
        """A person said this payer (account, and the name it used) does not pay for this customer."""
        acct = normalize_account(account)
        if acct:
            self.rejected.add((acct, customer_id))
            c = self.seen_account.get(acct)
            if c is not None:
                c.pop(customer_id, None)
        norm = normalize_name(name)
        if norm:
            self.rejected.add((norm, customer_id))
            c = self.seen_name.get(norm)
            if c is not None:
                c.pop(customer_id, None)
