"""People's decisions on the exceptions queue, and how the engine learns from them.

The corrections table is written by the cash-application page (never the warehouse file: DuckDB
has one writer) and read by the next run. One row per decision and item:

=====================  ==============================================================================
correction_id          unique id of the decision (several rows share it when it allocates several items)
transaction_id         the bank movement (``BankTransaction.identity()``)
action                 ``accept`` (a suggestion as proposed), ``correct`` (another allocation), ``reject``
                       (a suggestion or an auto-application is wrong; nothing is confirmed)
suggestion_rank        accept/reject: the rank of the suggestion decided on (reject without rank: all)
customer_id            accept/correct: the customer the money belongs to; reject: the customer wrongly
                       proposed (optional)
item_id                accept/correct: an item paid (empty: the money stays on account)
applied_amount         accept/correct: cash applied to ``item_id`` (Decimal, 2 places)
discount_amount        accept/correct: early-pay discount allowed
deduction_amount       accept/correct: deduction taken
deduction_reason       accept/correct: reason of the deduction
booking_date           the movement's booking date
amount                 the movement's amount
counterparty_account   the payer's account as on the bank line (what is learned for next time)
counterparty_name      the payer's name as on the bank line
decided_by             who decided
decided_at             when (ISO 8601)
note                   free text
=====================  ==============================================================================

Accept and correct rows are *confirmed applications*: the next run learns the payer's account and
name for that customer and its habits (:func:`confirmed_from_corrections`), so the next payment in
the same situation (a new account, a trading name) is recognised, and the next training labels the
candidate that proposed exactly this allocation as right and every other one as wrong
(:func:`training_labels`). Reject rows teach that the proposal was wrong: the account stops pointing
at the rejected customer, and the rejected candidate is a negative example.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from ml.cashapp.knowledge import PayerKnowledge
from ml.cashapp.money import to_cents

CORRECTION_COLUMNS = (
    "correction_id",
    "transaction_id",
    "action",
    "suggestion_rank",
    "customer_id",
    "item_id",
    "applied_amount",
    "discount_amount",
    "deduction_amount",
    "deduction_reason",
    "booking_date",
    "amount",
    "counterparty_account",
    "counterparty_name",
    "decided_by",
    "decided_at",
    "note",
)
ACTIONS = ("accept", "correct", "reject")
HISTORY_COLUMNS = (
    "transaction_id",
    "booking_date",
    "amount",
    "counterparty_account",
    "counterparty_name",
    "customer_id",
    "item_id",
    "applied_amount",
    "discount_amount",
    "deduction_amount",
    "source",
    "deduction_reason",  # last: added after the first layout; readers treat it as optional
)


def empty_corrections() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CORRECTION_COLUMNS})


def _blank(v) -> bool:
    return (
        v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip()) or v is pd.NA
    )


def validate_corrections(df: pd.DataFrame, source: str = "corrections") -> pd.DataFrame:
    """Check a corrections table; raise ``ValueError`` naming the row and the rule broken."""
    missing = [c for c in ("correction_id", "transaction_id", "action") if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)}")
    for n, row in enumerate(df.to_dict("records"), start=1):
        where = f"{source} row {n} ({row.get('correction_id')})"
        action = row.get("action")
        if action not in ACTIONS:
            raise ValueError(f"{where}: action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if _blank(row.get("transaction_id")):
            raise ValueError(f"{where}: transaction_id is required")
        if action in ("accept", "correct"):
            if _blank(row.get("customer_id")):
                raise ValueError(f"{where}: {action} needs the customer_id the money belongs to")
            for col in ("applied_amount", "discount_amount", "deduction_amount"):
                v = row.get(col)
                if _blank(v):
                    continue
                try:
                    c = to_cents(v if isinstance(v, Decimal | int) else str(v))
                except (ValueError, TypeError) as e:
                    raise ValueError(f"{where}: {col} {v!r} is not an amount ({e})") from e
                if c < 0:
                    raise ValueError(f"{where}: {col} must not be negative")
            if not _blank(row.get("item_id")) and _blank(row.get("applied_amount")):
                raise ValueError(f"{where}: an item needs its applied_amount")
    return df


def _cents(v) -> int:
    if _blank(v):
        return 0
    return to_cents(v if isinstance(v, Decimal | int) else str(v))


def confirmed_from_corrections(
    corrections: pd.DataFrame | None, know: PayerKnowledge | None = None
) -> pd.DataFrame:
    """Accept/correct rows as confirmed applications (``HISTORY_COLUMNS``), the latest decision per
    transaction winning; reject rows are applied to ``know`` (the account stops pointing at the
    rejected customer) when it is given."""
    if corrections is None or corrections.empty:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    validate_corrections(corrections)
    df = corrections.copy()
    order = "decided_at" if "decided_at" in df.columns else None
    if order:
        df = df.sort_values(order, kind="stable")
    rows = []
    for _tid, grp in df.groupby("transaction_id", sort=False):
        last_id = grp["correction_id"].iloc[-1]
        last = grp[grp["correction_id"] == last_id]
        action = last["action"].iloc[0]
        if action == "reject":
            if know is not None:
                for r in last.to_dict("records"):
                    if not _blank(r.get("customer_id")):
                        know.reject(
                            r.get("counterparty_account"), r["customer_id"], r.get("counterparty_name")
                        )
            continue
        for r in last.to_dict("records"):
            rows.append(
                {
                    "transaction_id": r["transaction_id"],
                    "booking_date": r.get("booking_date"),
                    "amount": r.get("amount"),
                    "counterparty_account": r.get("counterparty_account"),
                    "counterparty_name": r.get("counterparty_name"),
                    "customer_id": r["customer_id"],
                    "item_id": None if _blank(r.get("item_id")) else r["item_id"],
                    "applied_amount": Decimal(_cents(r.get("applied_amount"))) / 100,
                    "discount_amount": Decimal(_cents(r.get("discount_amount"))) / 100,
                    "deduction_amount": Decimal(_cents(r.get("deduction_amount"))) / 100,
                    "source": action,
                    "deduction_reason": None if _blank(r.get("deduction_reason")) else r["deduction_reason"],
                }
            )
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def confirmed_keys(confirmed: pd.DataFrame) -> dict[str, frozenset]:
    """transaction_id -> the (item_id, cash cents) set that was confirmed (empty: left on account)."""
    out: dict[str, frozenset] = {}
    for tid, grp in confirmed.groupby("transaction_id", sort=False):
        out[tid] = frozenset(
            (r.item_id, _cents(r.applied_amount))
            for r in grp.itertuples(index=False)
            if not _blank(r.item_id) and _cents(r.applied_amount) > 0
        )
    return out


def training_labels(
    candidates: pd.DataFrame, confirmed: pd.DataFrame, corrections: pd.DataFrame | None = None
):
    """Training rows from stored candidates (``CandidateBatch.to_frame()`` of past runs) and what was
    confirmed (auto-applications kept, plus :func:`confirmed_from_corrections`).

    A candidate is positive when it proposed exactly the confirmed allocation. Transactions nobody has
    confirmed or rejected yet are left out (their truth is unknown). Returns ``(frame, y)``, the frame
    restricted to the labelled transactions in time order."""
    keys = confirmed_keys(confirmed)
    rejected: set[str] = set()
    if corrections is not None and not corrections.empty:
        rejected = set(corrections.loc[corrections["action"] == "reject", "transaction_id"])
    ck = candidates["candidate_key"].to_numpy()
    tids = candidates["transaction_id"].to_numpy()
    keep = np.fromiter((t in keys or t in rejected for t in tids), dtype=bool, count=len(tids))
    y = np.zeros(len(tids))
    for i, (t, k) in enumerate(zip(tids, ck, strict=True)):
        if t in keys:
            want = ";".join(f"{a}:{c}" for a, c in sorted(keys[t]))
            y[i] = 1.0 if k == want else 0.0
    frame = candidates.loc[keep].copy()
    frame["label"] = y[keep]
    frame = frame.sort_values(["payment_day", "transaction_id"], kind="stable")
    return frame, frame["label"].to_numpy()


def training_arrays(frame: pd.DataFrame, never_auto_methods=("on_account", "oldest_first")):
    """``fit_scorer`` inputs from a :func:`training_labels` frame: (X, y, groups, days, eligible, kinds,
    first), ``first`` for its keyword of the same name (frames stored before second looks were kept
    have every row first)."""
    from ml.cashapp.features import FEATURES

    X = frame[list(FEATURES)].to_numpy(dtype=np.float64)
    y = frame["label"].to_numpy(dtype=np.float64)
    tids = frame["transaction_id"].to_numpy()
    groups = np.cumsum(np.r_[0, tids[1:] != tids[:-1]]) if len(tids) else np.zeros(0, dtype=np.int64)
    days = frame["payment_day"].to_numpy(dtype=np.int64)
    eligible = ~frame["candidate_method"].isin(list(never_auto_methods)).to_numpy()
    kinds = frame["candidate_group"].to_numpy(dtype=object)
    if "second_look" in frame.columns:
        first = ~frame["second_look"].fillna(False).to_numpy(dtype=bool)
    else:
        first = np.ones(len(frame), dtype=bool)
    return X, y, groups, days, eligible, kinds, first
