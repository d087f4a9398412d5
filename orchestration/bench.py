"""`openar bench pipeline`: the daily pipeline at growing sizes — wall time, peak memory, rows/s per stage.

Each size runs in a fresh subprocess (clean peak-RSS figures, no warm caches shared between sizes):
simulate a world of about N invoices, then run the daily job in-process and read each step's duration
from Dagster's events. Prints a table, the growth exponent of time against size (slope of log time on
log invoices), writes the figures as JSON and a plot under the data folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INVOICES_PER_CUSTOMER_YEAR = 33  # the simulator's default world: 19,876 invoices / 300 customers / 2 years


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # dbt runs as a child process
    return max(own, children) / 1024


def run_one(invoices: int, years: int, seed: int, workdir: Path) -> dict:
    """Simulate and run the daily job once; return per-stage figures."""
    from dataclasses import replace

    import dagster as dg

    from orchestration.settings import load_settings

    customers = max(10, round(invoices / (INVOICES_PER_CUSTOMER_YEAR * years)))
    data_dir = workdir / "data"
    os.environ["OPENAR_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
    settings = replace(load_settings(), data_dir=data_dir)
    settings.ensure_dirs()

    from orchestration.definitions import DAILY_JOB, build_definitions
    from orchestration.resources import ensure_dbt_manifest
    from simulator.world import simulate_world

    stages: dict[str, float] = {}
    started = time.perf_counter()
    summary = simulate_world(data_dir, customers=customers, years=years, seed=seed)
    stages["simulate"] = time.perf_counter() - started
    ensure_dbt_manifest(settings)
    job = build_definitions(settings).resolve_job_def(DAILY_JOB)
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        total_run = time.perf_counter() - started
        step_start: dict[str, float] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                step_start[event.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                stages[event.step_key] = entry.timestamp - step_start.get(event.step_key, entry.timestamp)
    n_invoices = summary["extracts"]["invoices"]["rows"]
    return {
        "invoices_target": invoices,
        "customers": customers,
        "invoices": n_invoices,
        "rows_total": sum(e["rows"] for e in summary["extracts"].values()),
        "success": result.success,
        "stages_seconds": {k: round(v, 2) for k, v in stages.items()},
        "pipeline_seconds": round(total_run, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "invoices_per_second": round(n_invoices / total_run, 1) if total_run else None,
    }


def growth_exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(time) on log(size): 1.0 is linear."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    stages = sorted({s for r in rows for s in r["stages_seconds"]})
    for stage in stages:
        ax.plot(
            [r["invoices"] for r in rows],
            [r["stages_seconds"].get(stage, 0) for r in rows],
            marker="o",
            label=stage,
        )
    ax.plot(
        [r["invoices"] for r in rows],
        [r["pipeline_seconds"] for r in rows],
        marker="s",
        color="black",
        label="daily job total",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("invoices in the world")
    ax.set_ylabel("seconds")
    ax.set_title("openar daily pipeline: time by stage and size")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="openar bench pipeline", description=__doc__.splitlines()[0])
    p.add_argument(
        "--invoices",
        type=int,
        nargs="+",
        default=[20_000, 100_000],
        help="world sizes in invoices (issue targets: 100000 1000000 10000000)",
    )
    p.add_argument("--years", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true", help="print the figures as JSON only")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size in this process
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.one:
        print(json.dumps(run_one(args.one, args.years, args.seed, Path(args.workdir))))
        return 0

    from orchestration.settings import load_settings

    rows = []
    for n in args.invoices:
        with tempfile.TemporaryDirectory(prefix=f"openar-bench-{n}-") as tmp:
            if not args.json:
                print(f"… {n:,} invoices", flush=True)
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "orchestration.bench",
                    "--one",
                    str(n),
                    "--years",
                    str(args.years),
                    "--seed",
                    str(args.seed),
                    "--workdir",
                    tmp,
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    exponent = growth_exponent([(r["invoices"], r["pipeline_seconds"]) for r in rows])
    out_dir = load_settings().data_dir / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"sizes": rows, "growth_exponent_pipeline": round(exponent, 3) if exponent else None}
    (out_dir / "pipeline.json").write_text(json.dumps(report, indent=2))
    _plot(rows, out_dir / "pipeline.png")
    if args.json:
        print(json.dumps(report))
        return 0
    stages = sorted({s for r in rows for s in r["stages_seconds"]})
    print(
        f"\n{'invoices':>10} {'customers':>9} "
        + " ".join(f"{s[:18]:>18}" for s in stages)
        + f" {'job total':>10} {'peak MB':>8} {'inv/s':>8}"
    )
    for r in rows:
        print(
            f"{r['invoices']:>10,} {r['customers']:>9,} "
            + " ".join(f"{r['stages_seconds'].get(s, 0):>17.1f}s" for s in stages)
            + f" {r['pipeline_seconds']:>9.1f}s {r['peak_rss_mb']:>8.0f} {r['invoices_per_second']:>8.0f}"
        )
    if exponent:
        print(f"growth exponent of the daily job's time against invoices: {exponent:.2f} (1.0 = linear)")
    print(f"written: {out_dir / 'pipeline.json'}, {out_dir / 'pipeline.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
