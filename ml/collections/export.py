"""Per-collector worklist files a collector opens directly: CSV and XLSX.

Customer names, e-mail bodies and notes come from outside (the ERP, customers' own e-mails). A cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by
spreadsheet programs (CSV injection, OWASP): such text gets a leading apostrophe, which spreadsheets
show as text and do not evaluate. Numbers stay numbers (a negative amount is not text).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    ("rank", "Rank"),
    ("status", "Status"),
    ("scheduled_for", "Scheduled for"),
    ("customer_id", "Customer"),
    ("customer_name", "Name"),
    ("tier", "Risk tier"),
    ("action", "Action"),
    ("channel", "Channel"),
    ("reason", "Reason"),
    ("overdue", "Overdue (functional)"),
    ("at_risk", "At risk (functional)"),
    ("max_days_overdue", "Max days overdue"),
    ("best_time", "Best time to reach"),
    ("tone", "Tone"),
    ("email_to", "E-mail to"),
    ("email_subject", "E-mail subject"),
    ("email_body", "E-mail draft"),
    ("overdue_invoices", "Overdue invoices"),
)


def neutralize(value):
    """Text that a spreadsheet would evaluate, made inert; everything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _rows(wl: pd.DataFrame) -> list[list]:
    out = []
    for r in wl.to_dict("records"):
        r["overdue"] = Decimal(int(r["overdue_functional_minor"])).scaleb(-2)
        r["at_risk"] = Decimal(int(r["at_risk_functional_minor"])).scaleb(-2)
        hour, wd = r.get("best_hour"), r.get("best_weekday")
        parts = [
            wd if isinstance(wd, str) else None,
            f"{int(hour):02d}:00" if hour is not None and pd.notna(hour) else None,
        ]
        r["best_time"] = " ".join(x for x in parts if x) or None
        row = []
        for key, _ in EXPORT_COLUMNS:
            v = r.get(key)
            if v is None or (not isinstance(v, str | Decimal | dt.date) and pd.isna(v)):
                v = None
            elif hasattr(v, "item") and not isinstance(v, str | Decimal):
                v = v.item()  # numpy scalar → Python
            row.append(neutralize(v))
        out.append(row)
    return out


def export_worklists(
    wl: pd.DataFrame, out_dir: Path, *, formats: tuple[str, ...] = ("csv", "xlsx")
) -> list[Path]:
    """One file per collector and format: ``worklist_<collector>_<date>.<ext>``, ranked rows first."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    headers = [h for _, h in EXPORT_COLUMNS]
    for col_id, g in wl.groupby("collector_id", dropna=False, sort=True):
        g = g.sort_values(["rank", "customer_id"], na_position="last", kind="stable")
        day = g["worklist_date"].iloc[0]
        stem = f"worklist_{col_id if isinstance(col_id, str) else 'unassigned'}_{day}"
        rows = _rows(g)
        if "csv" in formats:
            p = out_dir / f"{stem}.csv"
            with p.open("w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel reads UTF-8 correctly
                w = csv.writer(f)
                w.writerow(headers)
                w.writerows(["" if v is None else v for v in row] for row in rows)
            written.append(p)
        if "xlsx" in formats:
            wb = Workbook()
            ws = wb.active
            ws.title = "Worklist"
            ws.append(headers)
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for row in rows:
                ws.append(row)
                for cell in ws[ws.max_row]:
                    if isinstance(cell.value, str):
                        cell.data_type = "s"  # never a formula, whatever openpyxl guesses
            for cell in ws["Q"][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            ws.freeze_panes = "A2"
            p = out_dir / f"{stem}.xlsx"
            wb.save(p)
            written.append(p)
    return written
