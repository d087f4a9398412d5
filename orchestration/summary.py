"""The summary `make run` prints: what was loaded, what the ledger says, where everything is."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from orchestration.settings import Settings

BUCKETS = ("current", "1_30", "31_60", "61_90", "91_120", "over_120")


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def collect_summary(settings: Settings) -> dict:
    """Read the warehouse read-only (call when no run is writing) and return the figures."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = 'raw' or table_schema like '%marts%' order by 1, 2"
        ).fetchall()
        counts = {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables
        }
        marts = next((s for s, t in tables if t == "rpt_ar_aging"), None)
        figures: dict = {"row_counts": counts}
        if marts:
            cols = ", ".join(f"sum(bucket_{b}_functional)" for b in BUCKETS)
            row = con.execute(
                f'select max(as_of_date), sum(total_open_functional), {cols} from "{marts}".rpt_ar_aging'
            ).fetchone()
            figures["as_of_date"] = row[0]
            figures["open_ar_functional"] = row[1]
            figures["aging_functional"] = dict(zip(BUCKETS, row[2:], strict=True))
            kpi = con.execute(
                f'select kpi_date, dso_standard, dso_countback, best_possible_dso, cei_pct from "{marts}".rpt_ar_kpis '
                "order by kpi_date desc limit 1"
            ).fetchone()
            if kpi:
                figures["kpis"] = dict(
                    zip(
                        ("kpi_date", "dso_standard", "dso_countback", "best_possible_dso", "cei_pct"),
                        kpi,
                        strict=True,
                    )
                )
        figures["quarantined_rows"] = counts.get("raw.quarantine", 0)
        return figures
    finally:
        con.close()


def print_summary(settings: Settings) -> None:
    if not settings.warehouse_path.exists():
        print(f"No warehouse yet at {settings.warehouse_path}: run `make run`.")
        return
    f = collect_summary(settings)
    print("\nRows per table:")
    for name, n in f["row_counts"].items():
        print(f"  {name:<44} {n:>12,}")
    if "open_ar_functional" in f:
        print(
            f"\nOpen AR as of {f['as_of_date']}: {_money(f['open_ar_functional'])} USD (functional currency)"
        )
        print("Aging (USD):")
        total = Decimal(f["open_ar_functional"] or 0)
        for b, v in f["aging_functional"].items():
            share = (Decimal(v or 0) / total * 100) if total else Decimal(0)
            print(f"  {b.replace('_', '-'):<10} {_money(v):>18}  {share:5.1f}%")
    if "kpis" in f:
        k = f["kpis"]
        print(
            f"DSO {k['dso_standard']:.1f} days (countback {k['dso_countback']:.1f}, best possible "
            f"{k['best_possible_dso']:.1f}), CEI {k['cei_pct']:.1f}% on {k['kpi_date']}"
        )
    if f["quarantined_rows"]:
        print(f"\n{f['quarantined_rows']} quarantine entries: see raw.quarantine (reason column)")
    print(f"\nWarehouse (DuckDB):      {settings.warehouse_path}")
    print(f"Published marts (read):  {settings.published_path}")
    print(f"Ground truth:            {settings.ground_truth_dir}")
    print("Dagster UI:              make ui   → http://127.0.0.1:3000")
    print("Streamlit app:           make app  → http://127.0.0.1:8501")
