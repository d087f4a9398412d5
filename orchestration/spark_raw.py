"""The raw ERP tables for dbt on Spark: exported from the DuckDB warehouse as Parquet, then
registered as ``raw.erp_*`` in Spark's metastore by the dbt macro ``register_raw_parquet``
(dbt_project/macros/spark_raw.sql), with the contract's types.

The loader writes DuckDB only; this is the bridge a team uses to run the same dbt project on Spark
(local session mode or a cluster reading the same files from shared storage)::

    python -m orchestration.spark_raw            # export, print the dbt commands
    dbt run-operation register_raw_parquet --target spark --args '{location: <dir>}'
    dbt build --target spark

Nothing here imports Spark: the export is DuckDB's own COPY, and the registration runs inside the
dbt process, whose Spark session (and Derby metastore, one process at a time) it shares.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ingestion.ddl import RAW_SCHEMA
from ingestion.erp_contracts import EXTRACTS, LOAD_ORDER

SPARK_DIR_NAME = "spark"  # <data dir>/spark: warehouse/, metastore_db/, derby/ (dbt_project/profiles.yml)


def raw_parquet_dir(data_dir: Path) -> Path:
    """Default export folder: beside the Spark warehouse that profiles.yml pins under the data dir."""
    return Path(data_dir).resolve() / SPARK_DIR_NAME / "raw_parquet"


def export_raw_parquet(duckdb_path: Path, out_dir: Path) -> dict[str, int]:
    """Every ``raw.erp_*`` table of the DuckDB warehouse to ``out_dir/<table>/data.parquet``,
    replacing an earlier export. Returns rows per table.

    Opens the warehouse read-only: the DuckDB single-writer rule lets this run beside readers, but
    not while the pipeline writes (it fails with DuckDB's lock error then, rather than wait).
    Timestamps with time zone are written as UTC instants, which Spark reads as ``timestamp``.
    """
    import duckdb

    out_dir = Path(out_dir).resolve()
    counts: dict[str, int] = {}
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        for name in LOAD_ORDER:
            table = EXTRACTS[name].table
            table_dir = out_dir / table
            if table_dir.exists():
                shutil.rmtree(table_dir)
            table_dir.mkdir(parents=True)
            target = table_dir / "data.parquet"
            con.execute(
                f"copy (select * from {RAW_SCHEMA}.{table}) to '{target}' (format parquet, compression zstd)"
            )
            counts[table] = con.execute(f"select count(*) from read_parquet('{target}')").fetchone()[0]
    finally:
        con.close()
    return counts


def register_args(out_dir: Path) -> list[str]:
    """dbt arguments that register an export as the raw tables of the Spark target."""
    return [
        "run-operation",
        "register_raw_parquet",
        "--target",
        "spark",
        "--args",
        f"{{location: '{Path(out_dir).resolve()}'}}",
    ]


def main(argv: list[str] | None = None) -> int:
    from orchestration.settings import load_settings

    settings = load_settings()
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.spark_raw",
        description="Export the raw ERP tables of the DuckDB warehouse as Parquet for dbt on Spark.",
    )
    parser.add_argument(
        "--warehouse", type=Path, default=settings.warehouse_path, help="DuckDB file (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=raw_parquet_dir(settings.data_dir),
        help="export folder, one subfolder per table (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    counts = export_raw_parquet(args.warehouse, args.out)
    for table, rows in counts.items():
        print(f"{table:32} {rows:>12,} rows")
    dbt = "dbt --project-dir dbt_project --profiles-dir dbt_project"
    quoted = " ".join(a if not a.startswith("{") else f'"{a}"' for a in register_args(args.out))
    print(f"\nnext (OPENAR_DATA_DIR={settings.data_dir}):\n  {dbt} {quoted}\n  {dbt} build --target spark")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
