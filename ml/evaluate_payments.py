"""``openar evaluate payments``: run the payment model's backtest on an invoice history you bring.

    openar evaluate payments --invoices FILE.csv \\
        --map customer=COL,invoice=COL,invoice_date=COL,due_date=COL,amount=COL,paid_date=COL[,disputed=COL,...] \\
        [--json] [--date-format FMT] [--as-of YYYY-MM-DD]

The file is read as the user's ERP exported it: comma, semicolon, tab or pipe separated; UTF-8 or
Windows-1252; dates in any common format (``2025-03-15``, ``03/15/2025``, ``15.03.2025``,
``15/03/2025``, ``15-Mar-2025``, ...), detected per column; amounts as text with thousands
separators and currency signs (``$1,234.50``, ``1.234,50 €``, ``CHF 1'234.50``, ``(100.00)``);
identifiers kept as text, leading zeros included. An empty paid date means still open.

Known optional mappings: ``dispute_date`` (when a dispute was raised: used point-in-time),
``disputed`` (a flag without a date: treated as known at issue), ``currency``, ``terms``,
``discount`` (percent), ``country`` (ISO code: holidays), ``parent`` (parent customer),
``segment``, ``credit_limit``. Any other ``name=COL`` becomes an extra feature ``x_name``,
known at issue (numbers as numbers, yes/no as 0/1, text as categories).

A file that cannot be used fails with the column, the rule and example values with their line
numbers. A handful of bad rows (at most 1%) are left out with a warning instead.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from ml.history import InvoiceHistory, normalize_history

REQUIRED = ("customer", "invoice", "invoice_date", "due_date", "amount", "paid_date")
KNOWN_OPTIONAL = (
    "dispute_date",
    "disputed",
    "currency",
    "terms",
    "discount",
    "country",
    "parent",
    "segment",
    "credit_limit",
)
MAX_BAD_SHARE = 0.01  # bad rows tolerated (and left out) before the file is refused
MAX_BYTES = 2 * 1024**3

# Tried in this order; when two read every value (03/04/2025), the other date columns, then the
# invoice-before-due rule, then this order (US month/day first for slashes) decide.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
    "%Y.%m.%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%d.%m.%y",
    "%m/%d/%y",
    "%d/%m/%y",
)
_TIME_SUFFIX = re.compile(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2}|[AaPp][Mm])?$")
_TRUE = {"true", "yes", "y", "1", "x", "t", "ja", "j", "oui", "si", "sí", "disputed"}
_FALSE = {"false", "no", "n", "0", "f", "", "nein", "non", "-"}


class InvoiceFileError(ValueError):
    """The file cannot be used; the message says which column, which rule, and shows examples."""


@dataclass
class ParseReport:
    rows_read: int = 0
    rows_used: int = 0
    delimiter: str = ","
    encoding: str = "utf-8"
    date_formats: dict[str, str] = field(default_factory=dict)
    amount_style: str = ""
    warnings: list[str] = field(default_factory=list)


# --- mapping --------------------------------------------------------------------------------------------


def parse_mapping(spec: str) -> dict[str, str]:
    """``customer=Cust No,invoice=Doc`` → {"customer": "Cust No", ...}; names are case-insensitive."""
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InvoiceFileError(f"--map: '{part.strip()}' is not NAME=COLUMN (e.g. customer=Customer No)")
        name, col = (x.strip() for x in part.split("=", 1))
        name = name.lower().replace("-", "_").replace(" ", "_")
        if not name or not col:
            raise InvoiceFileError(f"--map: '{part.strip()}' needs both a name and a column")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise InvoiceFileError(f"--map: '{name}' is not a usable name (letters, digits and _ only)")
        if name in mapping:
            raise InvoiceFileError(f"--map: '{name}' is mapped twice")
        mapping[name] = col
    missing = [r for r in REQUIRED if r not in mapping]
    if missing:
        raise InvoiceFileError(f"--map: missing {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    return mapping


# --- reading ---------------------------------------------------------------------------------------------


def _read_table(path: Path, report: ParseReport) -> pd.DataFrame:
    if not path.is_file():
        raise InvoiceFileError(f"{path}: no such file")
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise InvoiceFileError(f"{path}: {len(data):,} bytes is over the {MAX_BYTES:,}-byte limit")
    try:
        text = data.decode("utf-8-sig")
        report.encoding = "utf-8"
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        report.encoding = "windows-1252"
        report.warnings.append(f"{path.name} is not UTF-8: read as Windows-1252")
    if not text.strip():
        raise InvoiceFileError(f"{path}: the file is empty")
    sample = text[:65536]
    try:
        delim = csv.Sniffer().sniff(sample.split("\n", 1)[0] + "\n", delimiters=",;\t|").delimiter
    except csv.Error:
        delim = ","
    report.delimiter = delim
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=delim,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=True,
        )
    except pd.errors.ParserError as e:
        raise InvoiceFileError(f"{path}: not a well-formed CSV ({str(e).strip()})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _resolve_columns(df: pd.DataFrame, mapping: dict[str, str], path: Path) -> dict[str, str]:
    by_lower = {c.lower(): c for c in df.columns}
    resolved = {}
    for name, col in mapping.items():
        if col in df.columns:
            resolved[name] = col
        elif col.lower() in by_lower:
            resolved[name] = by_lower[col.lower()]
        else:
            raise InvoiceFileError(
                f"{path.name}: column '{col}' (mapped as {name}) is not in the header; "
                f"the columns are: {', '.join(df.columns)}"
            )
    return resolved


def _examples(values: pd.Series, bad: np.ndarray, k: int = 5) -> str:
    idx = np.flatnonzero(bad)[:k]
    # +2: line 1 is the header and rows count from 0
    return ", ".join(f"'{values.iat[i]}' (line {i + 2})" for i in idx)


def _bad_rows(
    name: str, col: str, values: pd.Series, bad: np.ndarray, rule: str, report: ParseReport, drop: np.ndarray
) -> None:
    n_bad = int(bad.sum())
    if not n_bad:
        return
    msg = f"column '{col}' ({name}): {n_bad:,} of {len(values):,} values {rule}: {_examples(values, bad)}"
    if n_bad > MAX_BAD_SHARE * len(values):
        raise InvoiceFileError(msg)
    report.warnings.append(msg + " — those rows are left out")
    drop |= bad


# --- dates -----------------------------------------------------------------------------------------------


def _date_candidates(values: pd.Series) -> dict[str, pd.Series]:
    """Every format that reads at least one value, with what it reads."""
    v = values.str.strip().str.replace(_TIME_SUFFIX, "", regex=True)
    present = v != ""
    out = {}
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(v.where(present), format=fmt, errors="coerce")
        if parsed[present].notna().any():
            out[fmt] = parsed
    return out


def parse_dates(
    frame: pd.DataFrame,
    columns: dict[str, str],
    report: ParseReport,
    drop: np.ndarray,
    date_format: str | None = None,
) -> dict[str, pd.Series]:
    """Parse every mapped date column, choosing one format per column (see ``DATE_FORMATS``)."""
    results: dict[str, pd.Series] = {}
    cands: dict[str, dict[str, pd.Series]] = {}
    for name, col in columns.items():
        values = frame[col].astype(str)
        present = values.str.strip() != ""
        if date_format:
            v = values.str.strip().str.replace(_TIME_SUFFIX, "", regex=True)
            cands[name] = {date_format: pd.to_datetime(v.where(present), format=date_format, errors="coerce")}
        else:
            cands[name] = _date_candidates(values)
        if not cands[name] and present.any():
            raise InvoiceFileError(
                f"column '{col}' ({name}): no value is a date in a format I know, e.g. "
                f"{_examples(values, present.to_numpy())}; pass --date-format (e.g. --date-format %d/%m/%Y)"
            )
    # Formats that read the most values; ties are resolved across columns.
    best: dict[str, list[str]] = {}
    for name, col in columns.items():
        present = frame[col].astype(str).str.strip() != ""
        counts = {fmt: int(s[present].notna().sum()) for fmt, s in cands[name].items()}
        top = max(counts.values()) if counts else 0
        best[name] = [f for f in cands[name] if counts[f] == top]
    decided = {n: b[0] for n, b in best.items() if len(b) == 1}
    for name, options in best.items():
        if len(options) <= 1:
            continue
        shared = [f for f in options if f in decided.values()]
        if shared:
            decided[name] = shared[0]
            continue
        choice = options[0]
        if {"invoice_date", "due_date"} <= set(cands) and name in ("invoice_date", "due_date"):
            other = "due_date" if name == "invoice_date" else "invoice_date"
            other_fmt = decided.get(other) or options[0]
            scores = {}
            for f in options:
                a = cands[name][f]
                b = cands[other].get(other_fmt if other in decided else f)
                if b is None:
                    continue
                ok = (a <= b) if name == "invoice_date" else (b <= a)
                scores[f] = ok.mean()
            if scores:
                choice = max(options, key=lambda f: scores.get(f, -1))
        decided[name] = choice
        report.warnings.append(
            f"column '{columns[name]}' ({name}): dates such as "
            f"'{frame[columns[name]].iat[0]}' fit both {' and '.join(options)}; read as {choice} "
            "(pass --date-format if that is wrong)"
        )
    for name, col in columns.items():
        values = frame[col].astype(str)
        present = (values.str.strip() != "").to_numpy()
        if name not in decided:
            results[name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]")
            continue
        fmt = decided[name]
        parsed = cands[name][fmt]
        report.date_formats[name] = fmt
        bad = present & parsed.isna().to_numpy()
        _bad_rows(name, col, values, bad, f"are not dates like the rest of the column ({fmt})", report, drop)
        results[name] = parsed.astype("datetime64[s]")
    return results


# --- amounts ---------------------------------------------------------------------------------------------

_NON_NUMERIC = re.compile(r"[^\d.,\-+()]")


def _amount_style(cleaned: pd.Series) -> tuple[str, str]:
    """(decimal separator, thousands separator) used by a column of cleaned amount texts."""
    has_dot = cleaned.str.contains(".", regex=False)
    has_comma = cleaned.str.contains(",", regex=False)
    both = cleaned[has_dot & has_comma]
    if len(both):
        last_comma = both.str.rfind(",") > both.str.rfind(".")
        return (",", ".") if last_comma.mean() >= 0.5 else (".", ",")
    if has_comma.any():
        tail = cleaned[has_comma].str.extract(r",(\d*)$")[0].fillna("")
        multi = cleaned[has_comma].str.count(",") > 1
        if (tail.str.len().isin([1, 2])).any() and not multi.any():
            return ",", ""
        return ".", ","
    if has_dot.any():
        tail = cleaned[has_dot].str.extract(r"\.(\d*)$")[0].fillna("")
        multi = cleaned[has_dot].str.count(r"\.") > 1
        if multi.any() or (tail.str.len() == 3).all():
            return ",", "."  # 1.234 / 1.234.567: European thousands
        return ".", ""
    return ".", ""


def parse_amounts(
    values: pd.Series, name: str, col: str, report: ParseReport, drop: np.ndarray, *, allow_zero: bool = False
) -> np.ndarray:
    """Amount texts → integer minor units (two decimals). Raises/warns on what is not an amount."""
    raw = values.astype(str).str.strip()
    present = (raw != "").to_numpy()
    cleaned = raw.str.replace("\u2212", "-", regex=False).str.replace(_NON_NUMERIC, "", regex=True)
    dec, thou = _amount_style(cleaned[present])
    report.amount_style = report.amount_style or f"decimal '{dec}'" + (
        f", thousands '{thou}'" if thou else ""
    )
    out = np.zeros(len(raw), dtype="int64")
    bad = np.zeros(len(raw), dtype=bool)
    cents = Decimal("0.01")
    for i, text in enumerate(cleaned.to_numpy()):  # Decimal parsing is per value: exact beats fast here
        if not present[i]:
            bad[i] = True
            continue
        neg = text.startswith("(") and text.endswith(")") or text.endswith("-") or text.startswith("-")
        t = text.strip("()+-")
        if thou:
            t = t.replace(thou, "")
        if dec == ",":
            t = t.replace(",", ".")
        if not re.fullmatch(r"\d+(\.\d+)?", t):
            bad[i] = True
            continue
        try:
            d = Decimal(t).quantize(cents, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            bad[i] = True
            continue
        out[i] = int(d * 100) * (-1 if neg else 1)
    _bad_rows(name, col, raw, bad & ~drop, "are not amounts", report, drop)
    nonpos = (out < 0) if allow_zero else (out <= 0)
    nonpos &= ~bad & ~drop
    if nonpos.any():
        report.warnings.append(
            f"column '{col}' ({name}): {int(nonpos.sum()):,} rows are zero or negative (credit "
            f"notes?), e.g. {_examples(raw, nonpos)} — left out"
        )
        drop |= nonpos
    return out


def _flags(values: pd.Series, name: str, col: str, report: ParseReport, drop: np.ndarray) -> np.ndarray:
    v = values.astype(str).str.strip().str.lower()
    is_true, is_false = v.isin(_TRUE).to_numpy(), v.isin(_FALSE).to_numpy()
    _bad_rows(name, col, values.astype(str), ~(is_true | is_false), "are not yes/no values", report, drop)
    return is_true


# --- the history ----------------------------------------------------------------------------------------------


def load_invoice_history(
    path: Path, mapping: dict[str, str], *, date_format: str | None = None
) -> tuple[InvoiceHistory, ParseReport]:
    """Read a user's invoice CSV into the canonical history (see ``ml.history``)."""
    path = Path(path)
    report = ParseReport()
    df = _read_table(path, report)
    cols = _resolve_columns(df, mapping, path)
    report.rows_read = len(df)
    if not len(df):
        raise InvoiceFileError(f"{path.name}: the file has a header but no rows")
    drop = np.zeros(len(df), dtype=bool)

    ids = {}
    for name in ("customer", "invoice"):
        v = df[cols[name]].astype(str).str.strip()
        _bad_rows(name, cols[name], v, (v == "").to_numpy(), "are empty", report, drop)
        ids[name] = v
    date_cols = {n: cols[n] for n in ("invoice_date", "due_date", "paid_date", "dispute_date") if n in cols}
    dates = parse_dates(df, date_cols, report, drop, date_format)
    for n in ("invoice_date", "due_date"):
        _bad_rows(
            n,
            cols[n],
            df[cols[n]].astype(str),
            (dates[n].isna().to_numpy() & ~drop),
            "are empty",
            report,
            drop,
        )
    amount = parse_amounts(df[cols["amount"]], "amount", cols["amount"], report, drop)

    due_before = (dates["due_date"] < dates["invoice_date"]).to_numpy() & ~drop
    _bad_rows(
        "due_date",
        cols["due_date"],
        df[cols["due_date"]].astype(str),
        due_before,
        "are before the invoice date",
        report,
        drop,
    )
    paid_before = (dates["paid_date"] < dates["invoice_date"]).to_numpy() & ~drop
    _bad_rows(
        "paid_date",
        cols["paid_date"],
        df[cols["paid_date"]].astype(str),
        paid_before,
        "are before the invoice date",
        report,
        drop,
    )

    inv = pd.DataFrame(
        {
            "invoice_id": ids["invoice"],
            "customer_id": ids["customer"],
            "invoice_date": dates["invoice_date"],
            "due_date": dates["due_date"],
            "amount_minor": amount,
            "paid_date": dates["paid_date"],
        }
    )
    if "dispute_date" in dates:
        inv["dispute_date"] = dates["dispute_date"]
    if "currency" in cols:
        inv["currency"] = df[cols["currency"]].astype(str).str.strip().str.upper()
    if "terms" in cols:
        inv["terms"] = df[cols["terms"]].astype(str).str.strip().str.upper()
    if "discount" in cols:
        inv["discount_pct"] = (
            parse_amounts(
                df[cols["discount"]].where(df[cols["discount"]].str.strip() != "", "0"),
                "discount",
                cols["discount"],
                report,
                drop,
                allow_zero=True,
            )
            / 100.0
        )
    extra: list[str] = []
    if "disputed" in cols:
        inv["disputed_flag"] = _flags(
            df[cols["disputed"]], "disputed", cols["disputed"], report, drop
        ).astype(float)
        extra.append("disputed_flag")
        report.warnings.append(
            f"column '{cols['disputed']}' (disputed) has no date: it is treated as known the day "
            "the invoice was issued; map dispute_date instead if the file has one"
        )
    for name, col in cols.items():
        if name in REQUIRED or name in KNOWN_OPTIONAL:
            continue
        inv[name] = df[col].astype(str).str.strip().replace("", np.nan)
        extra.append(name)

    inv = inv[~drop]
    dup = inv["invoice_id"].duplicated(keep=False)
    if dup.any():
        same = inv[dup].drop_duplicates()
        if same["invoice_id"].duplicated().any():
            first = same.loc[same["invoice_id"].duplicated(), "invoice_id"].iloc[0]
            lines = (np.flatnonzero((ids["invoice"] == first).to_numpy()) + 2).tolist()[:5]
            raise InvoiceFileError(
                f"column '{cols['invoice']}' (invoice): invoice '{first}' appears on lines "
                f"{', '.join(map(str, lines))} with different values; invoice ids must be unique"
            )
        report.warnings.append(f"{int(dup.sum() - len(same)):,} exact duplicate rows left out")
        inv = inv.drop_duplicates("invoice_id")
    report.rows_used = len(inv)
    if report.rows_used < 100 or inv["paid_date"].notna().sum() < 50:
        raise InvoiceFileError(
            f"{path.name}: {report.rows_used:,} usable invoices, "
            f"{int(inv['paid_date'].notna().sum()):,} of them paid; the evaluation needs at least "
            "100 invoices and 50 paid ones"
        )

    customers = pd.DataFrame({"customer_id": ids["customer"]})
    for name, target in (("country", "country"), ("parent", "parent_id"), ("segment", "segment")):
        if name in cols:
            customers[target] = df[cols[name]].astype(str).str.strip().replace("", None)
    if "credit_limit" in cols:
        customers["credit_limit_functional_minor"] = parse_amounts(
            df[cols["credit_limit"]].where(df[cols["credit_limit"]].str.strip() != "", "0"),
            "credit_limit",
            cols["credit_limit"],
            report,
            np.zeros(len(df), dtype=bool),
            allow_zero=True,
        )
    if "country" in customers:
        customers["country"] = customers["country"].fillna("").str.upper()
    customers = customers[~drop].drop_duplicates("customer_id", keep="last")
    h = normalize_history(
        InvoiceHistory(
            invoices=inv.reset_index(drop=True),
            customers=customers,
            extra_features=tuple(extra),
            source=path.name,
        )
    )
    return h, report


# --- the command ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openar evaluate payments",
        description="Backtest openar's payment-date model on your own invoice history.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--invoices", help="CSV of invoices (one row per invoice)")
    source.add_argument(
        "--world",
        help="instead of a CSV: a simulated world (openar simulate --out DIR), backtested against its "
        "ground truth with the early warnings checked against its troubled customers",
    )
    p.add_argument(
        "--map",
        dest="mapping",
        help="customer=COL,invoice=COL,invoice_date=COL,due_date=COL,amount=COL,paid_date=COL[,...]",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--date-format", help="strptime format of every date column, when detection is not enough")
    p.add_argument("--folds", type=int, default=4, help="rolling-origin folds (default 4)")
    p.add_argument("--step-days", type=int, default=61, help="days between origins (default 61)")
    p.add_argument(
        "--min-train-days", type=int, default=240, help="history before the first origin (default 240)"
    )
    p.add_argument("--num-boost-round", type=int, default=None, help="boosting rounds (default: the model's)")
    return p


def run(args: argparse.Namespace) -> dict:
    from ml.backtest import rolling_backtest
    from ml.payment_model import ModelConfig

    mapping = parse_mapping(args.mapping)
    h, report = load_invoice_history(Path(args.invoices), mapping, date_format=args.date_format)
    config = (
        ModelConfig()
        if args.num_boost_round is None
        else ModelConfig(
            num_boost_round=args.num_boost_round, classifier_rounds=max(10, args.num_boost_round // 2)
        )
    )
    result = None
    for folds in range(max(1, args.folds), 0, -1):  # fewer folds on a shorter history, rather than nothing
        try:
            result = rolling_backtest(
                h, config, n_folds=folds, step_days=args.step_days, min_train_days=args.min_train_days
            )
            break
        except ValueError as e:
            if folds == 1:
                raise InvoiceFileError(f"{Path(args.invoices).name}: {e}") from None
    return {
        "file": str(args.invoices),
        "rows_read": report.rows_read,
        "rows_used": report.rows_used,
        "customers": int(h.invoices["customer_id"].nunique()),
        "history": [str(h.first_date), str(h.last_date)],
        "parsing": {
            "delimiter": report.delimiter,
            "encoding": report.encoding,
            "date_formats": report.date_formats,
            "amounts": report.amount_style,
        },
        "extra_features": [f"x_{c}" for c in h.extra_features],
        "warnings": report.warnings,
        "origins": [o.isoformat() for o in result.origins],
        "info": result.info,
        **result.metrics_json(),
        "_table": result.table(),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``openar evaluate payments``: 0 done, 2 unusable input, 1 other failure."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.world:
        return _world(args)
    if not args.mapping:
        parser.error("--map is required with --invoices")
    try:
        out = run(args)
    except InvoiceFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = out.pop("_table")
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(
        f"{out['file']}: {out['rows_used']:,} of {out['rows_read']:,} rows used, {out['customers']:,} customers, "
        f"{out['history'][0]} to {out['history'][1]}"
    )
    fmts = ", ".join(f"{k} {v}" for k, v in out["parsing"]["date_formats"].items())
    print(
        f"read as: delimiter {out['parsing']['delimiter']!r}, {out['parsing']['encoding']}, dates {fmts}, "
        f"amounts {out['parsing']['amounts']}"
    )
    if out["extra_features"]:
        print(f"extra features: {', '.join(out['extra_features'])}")
    for w in out["warnings"]:
        print(f"warning: {w}")
    print(f"backtest origins: {', '.join(out['origins'])} ({out['info']['test_rows']:,} test invoices)\n")
    print(table)
    return 0


def _world(args: argparse.Namespace) -> int:
    from ml.world_report import world_report

    # with --json, stdout carries only the JSON document: the report's lines go to stderr
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    try:
        out = world_report(Path(args.world), folds=args.folds, step_days=args.step_days, say=say)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
