"""`openar`: the command line. Subcommands wire plain modules; nothing here holds business logic."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from orchestration.settings import DEFAULT_AS_OF_DATE, apply_process_env, load_settings


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulator.world import simulate_world

    settings = load_settings()
    out = Path(args.out) if args.out else settings.data_dir
    started = time.perf_counter()
    summary = simulate_world(
        out,
        customers=args.customers,
        years=args.years,
        seed=args.seed,
        as_of=args.as_of,
        progress=lambda msg: print(f"  {msg}", flush=True),
        bank_days=args.bank_days,
    )
    print(f"simulated world in {time.perf_counter() - started:.1f}s → {out}")
    for name, info in sorted((summary.get("extracts") or {}).items()):
        print(f"  {name:<28} {info['rows']:>10,} rows in {info['files']:>5,} files")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import dagster as dg

    from assets.config import as_of_run_config
    from orchestration.definitions import DAILY_JOB, build_definitions
    from orchestration.resources import ensure_dbt_manifest
    from orchestration.summary import print_summary

    settings = load_settings()
    settings.ensure_dirs()
    apply_process_env(settings)
    ensure_dbt_manifest(settings)
    defs = build_definitions(settings)
    job = defs.resolve_job_def(DAILY_JOB)
    # INFO, not Dagster's default DEBUG: a person reads progress, not every engine event.
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if args.as_of:
        run_config["ops"] = as_of_run_config(job, args.as_of.isoformat())
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    print(
        f"\n{DAILY_JOB}: {'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f}s "
        f"(run {result.run_id})"
    )
    failed_checks = [
        e
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    for e in failed_checks:
        ev = e.event_specific_data
        print(
            f"  check failed: {ev.asset_key.to_user_string()} {ev.check_name}: {ev.description or ''}"[:400]
        )
    print_summary(settings)
    return 0 if result.success else 1


def cmd_summary(args: argparse.Namespace) -> int:
    from orchestration.summary import print_summary

    print_summary(load_settings())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from orchestration.resources import ensure_dbt_manifest

    settings = load_settings()
    settings.ensure_dirs()
    apply_process_env(settings)
    try:
        ensure_dbt_manifest(settings)
    except FileNotFoundError as e:
        print(f"openar prepare: {e}; skipping dbt parse")
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    """Run dbt with openar's profiles and paths, e.g. `openar dbt docs generate`."""
    import subprocess

    from orchestration.resources import dbt_executable
    from orchestration.settings import DBT_PROJECT_DIR

    settings = load_settings()
    apply_process_env(settings)
    cmd = [
        dbt_executable(),
        *args.dbt_args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
        "--target",
        settings.dbt_target,
    ]
    return subprocess.call(cmd, env={**os.environ, **settings.dbt_env()})


def _json_default(value):
    import decimal

    if isinstance(value, decimal.Decimal):
        return str(value)  # exact: never through float
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def cmd_parse(args: argparse.Namespace) -> int:
    """Print a file's normalized transactions (or remittance lines) as JSON lines."""
    import json
    from dataclasses import asdict

    from ingestion.normalized import ParseError
    from ingestion.parsing import parse_file

    fmt = "auto" if args.format == "camt" else args.format  # any camt.05x: the message says which
    try:
        result = parse_file(Path(args.file), fmt)
        if args.format == "camt" and not result.source_format.startswith("camt"):
            raise ParseError(f"{args.file}: not a camt message (detected {result.source_format})")
    except ParseError as e:
        print(f"openar parse: rejected: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"openar parse: {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    for t in result.transactions:
        print(json.dumps({"record": "transaction", **t.as_dict()}, default=_json_default))
    for doc in result.remittances:
        header = {k: v for k, v in asdict(doc).items() if k != "lines"}
        for line in doc.lines:
            print(
                json.dumps(
                    {
                        "record": "remittance_line",
                        **{f"document_{k}": v for k, v in header.items()},
                        **asdict(line),
                    },
                    default=_json_default,
                )
            )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load bank/remittance files or folders into the warehouse; exit 1 when anything was quarantined."""
    import uuid

    import duckdb

    from ingestion.bank_loader import ingest_files

    settings = load_settings()
    settings.ensure_dirs()
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        outcomes = ingest_files(
            con,
            [Path(p) for p in args.paths],
            f"cli-{uuid.uuid4().hex[:8]}",
            workers=settings.worker_processes,
        )
    except FileNotFoundError as e:
        print(f"openar ingest: {e}", file=sys.stderr)
        return 2
    finally:
        con.close()
    print(f"{'file':<60} {'format':<10} {'stmts':>5} {'txns':>6} {'dups':>5} {'remit':>6}  status")
    for o in outcomes:
        name = o.source_file if len(o.source_file) <= 60 else "…" + o.source_file[-59:]
        print(
            f"{name:<60} {o.source_format or '-':<10} {o.statements:>5} {o.transactions:>6} {o.duplicates:>5} "
            f"{o.remittance_lines:>6}  {o.status}{': ' + o.reason if o.reason and o.status == 'quarantined' else ''}"
        )
    quarantined = sum(o.status == "quarantined" for o in outcomes)
    print(
        f"{len(outcomes)} file(s): {sum(o.status == 'loaded' for o in outcomes)} loaded, "
        f"{sum(o.status == 'skipped' for o in outcomes)} already loaded, {quarantined} quarantined"
    )
    return 1 if quarantined else 0


# Subcommands implemented by a module's own `main(argv) -> int` (benchmarks and evaluations own their flags).
DELEGATED = {
    ("bench", "ingest"): "ingestion.bench",
    ("bench", "cashapp"): "ml.cashapp.bench",
    ("bench", "pipeline"): "orchestration.bench",
    ("evaluate", "payments"): "ml.evaluate_payments",
    ("evaluate", "triage"): "ml.triage.evaluate",
    ("evaluate", "forecast"): "ml.collections.evaluate_forecast",
    ("evaluate", "workload"): "ml.collections.workload",
    ("whatif", None): "ml.collections.whatif",
}


def cmd_delegated(args: argparse.Namespace) -> int:
    import importlib

    target = getattr(args, "target", None)
    module_name = DELEGATED[(args.command, target)]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            print(
                f"openar {' '.join(filter(None, (args.command, target)))}: not available in this version ({module_name})",
                file=sys.stderr,
            )
            return 2
        raise
    return module.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="openar", description="Open-source AI for accounts receivable.")
    sub = p.add_subparsers(dest="command", required=True)

    s = load_settings()
    sim = sub.add_parser("simulate", help="write a simulated AR world (ERP extracts + ground truth)")
    sim.add_argument("--customers", type=int, default=s.sim_customers)
    sim.add_argument("--years", type=int, default=s.sim_years)
    sim.add_argument("--seed", type=int, default=s.sim_seed)
    sim.add_argument(
        "--as-of", type=_date, default=DEFAULT_AS_OF_DATE, help="last simulated day (default %(default)s)"
    )
    sim.add_argument(
        "--out", help="data folder to write landing/ and ground_truth/ into (default $OPENAR_DATA_DIR)"
    )
    sim.add_argument(
        "--bank-days",
        type=int,
        help="write bank statements and remittance advices for the last N days only (default: every day)",
    )
    sim.set_defaults(func=cmd_simulate)

    run = sub.add_parser("run", help="materialize every asset (load, ledger, publish) and print a summary")
    run.add_argument("--as-of", type=_date, default=s.as_of_date, help="build the ledger as of this day")
    run.set_defaults(func=cmd_run)

    prep = sub.add_parser("prepare", help="create the data folders and parse the dbt project")
    prep.set_defaults(func=cmd_prepare)

    dbt = sub.add_parser("dbt", help="run dbt with openar's profile and paths")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=cmd_dbt)

    parse = sub.add_parser("parse", help="print a bank/remittance file's normalized records as JSON lines")
    parse.add_argument("file")
    parse.add_argument(
        "--format",
        default="auto",
        choices=[
            "auto",
            "camt",
            "camt.052",
            "camt.053",
            "camt.054",
            "mt940",
            "mt942",
            "bai2",
            "lockbox",
            "x12-820",
            "csv",
            "remittance",
        ],
    )
    parse.set_defaults(func=cmd_parse)

    ingest = sub.add_parser("ingest", help="load bank statements, lockbox files and remittance advices")
    ingest.add_argument("paths", nargs="+")
    ingest.set_defaults(func=cmd_ingest)

    for group, help_text in (
        ("bench", "benchmarks that print their figures"),
        ("evaluate", "backtests and evaluations that print model vs baselines"),
    ):
        targets = sorted(t for g, t in DELEGATED if g == group)
        grp = sub.add_parser(group, help=help_text, add_help=False)
        grp.add_argument("target", choices=targets)
        grp.add_argument(
            "rest", nargs=argparse.REMAINDER, help="options of the chosen target (see its --help)"
        )
        grp.set_defaults(func=cmd_delegated)

    whatif = sub.add_parser(
        "whatif",
        help="cash forecast what-if: the largest customers paying later, or a default",
        add_help=False,
    )
    whatif.add_argument("rest", nargs=argparse.REMAINDER, help="options (see openar whatif --help)")
    whatif.set_defaults(func=cmd_delegated)

    summ = sub.add_parser("summary", help="print the summary of the last published run")
    summ.set_defaults(func=cmd_summary)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["whatif"]:
        # argparse cannot hand a leading "--flag" to a REMAINDER positional: pass whatif's options as they are.
        return cmd_delegated(argparse.Namespace(command="whatif", rest=argv[1:]))
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
