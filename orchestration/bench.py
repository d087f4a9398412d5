"""`openar bench pipeline`: the daily pipeline at growing sizes: wall time, CPU, peak memory, throughput by stage.

Each size runs in a fresh subprocess (clean peak-RSS figures, no warm caches shared between sizes):

1. simulate a world of about N invoices (two years of ERP history; bank statements and remittance
   advices for the last ``--bank-days`` days, as a team starts: the cash-application engine's first
   run looks back 30 days, so older bank files would be parsed for nothing);
2. **full run**: hold back the files dated on the last day, run the whole daily job as of the day
   before on an empty warehouse (ingestion, dbt, training, scoring, cash application, worklists,
   forecasts, publishing);
3. **incremental run**: put the last day's files back and run the daily job as of that day on the
   warehouse the full run left (what a team's nightly run does).

A sampler thread reads the process tree's memory (dbt runs as a child process) and CPU four times a
second; each step's figures come from the samples between its start and end events. Prints a table,
the growth exponent of time against size (slope of log time on log invoices), writes the figures as
JSON and a plot under the data folder.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

INVOICES_PER_CUSTOMER_YEAR = 33  # the simulator's default world: 19,876 invoices / 300 customers / 2 years
BANK_DAYS = 45  # the engine's 30-day first run + remittance advices that arrive before their payment
# Snapshots the simulator writes once, dated on the last day (see hold_back_day).
SNAPSHOT_EXTRACTS = ("customers", "collectors")


class ResourceSampler:
    """Peak RSS (this process + children) and cumulative CPU seconds, sampled in a thread."""

    def __init__(self, interval: float = 0.25):
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (time, rss MB, cpu s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        import psutil

        rss, live_children = self._proc.memory_info().rss, 0.0
        for child in self._proc.children(recursive=True):
            # A child (dbt, a parse worker) may end between listing and reading it.
            with contextlib.suppress(psutil.Error):
                rss += child.memory_info().rss
                c = child.cpu_times()
                live_children += c.user + c.system
        t = os.times()
        cpu = t.user + t.system + t.children_user + t.children_system + live_children
        self.samples.append((time.time(), rss / 2**20, cpu))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def window(self, start: float, end: float) -> tuple[float, float]:
        """(peak RSS MB, CPU seconds) between two wall-clock times."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        before = [s for s in self.samples if s[0] <= start]
        after = [s for s in self.samples if s[0] >= end]
        peak = max((s[1] for s in inside), default=0.0)
        if before:
            peak = max(peak, before[-1][1])
        cpu0 = before[-1][2] if before else (inside[0][2] if inside else 0.0)
        cpu1 = after[0][2] if after else (inside[-1][2] if inside else cpu0)
        return peak, max(0.0, cpu1 - cpu0)

    def peak(self) -> float:
        return max((s[1] for s in self.samples), default=0.0)


_DATED = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_LOCKBOX = re.compile(r"^LBX\d+_(\d{2})(\d{2})(\d{2})\.txt$")


def file_day(path: Path) -> dt.date | None:
    """The day a landing file belongs to, from the date in its name (every simulated file has one)."""
    m = _LOCKBOX.match(path.name)
    if m:
        return dt.date(2000 + int(m[1]), int(m[2]), int(m[3]))
    for m in _DATED.finditer(path.name):
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            continue
    return None


def hold_back_day(landing: Path, day: dt.date, holding: Path) -> list[Path]:
    """Move the files dated ``day`` out of ``landing``; return their paths.

    The simulator writes the master-data snapshots (customers, collectors) once, dated on its last
    day; the run of the day before needs one of its own, as an ERP exporting them daily would give:
    a copy dated the day before stays (the day's own snapshot arrives with the incremental run).
    """
    moved = []
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        rel = path.relative_to(landing)
        if file_day(path) != day:
            continue
        if rel.parts[0] == "erp" and rel.parts[1] in SNAPSHOT_EXTRACTS:
            before = (day - dt.timedelta(days=1)).isoformat()
            shutil.copyfile(path, path.with_name(path.name.replace(day.isoformat(), before)))
        target = holding / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append(rel)
    return moved


def restore(moved: list[Path], landing: Path, holding: Path) -> None:
    for rel in moved:
        shutil.move(holding / rel, landing / rel)


def _step_short_name(step_key: str) -> str:
    return step_key.replace("openar_dbt_", "dbt_").replace("_models", "")


def step_breakdown(metadata: dict) -> dict[str, float]:
    """The parts of a step's time an asset reports itself (metadata ``timing_<part>_s``: the payment
    predictions' history read, features, drivers ...)."""
    out = {}
    for key, value in metadata.items():
        if key.startswith("timing_") and key.endswith("_s"):
            raw = getattr(value, "value", value)
            if isinstance(raw, int | float):
                out[key.removeprefix("timing_").removesuffix("_s")] = round(float(raw), 2)
    return out


def run_job(job, as_of: dt.date, invoices: int) -> dict:
    """Run the daily job as of a day; per-step and total wall, CPU, peak RSS."""
    import dagster as dg

    from assets.config import as_of_run_config

    run_config = {
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        "ops": as_of_run_config(job, as_of.isoformat()),
    }
    with ResourceSampler() as sampler, dg.DagsterInstance.ephemeral() as instance:
        started = time.time()
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)
        ended = time.time()
        windows: dict[str, list[float]] = {}
        breakdowns: dict[str, dict[str, float]] = {}
        failed = []
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "ASSET_MATERIALIZATION":
                breakdowns.setdefault(event.step_key, {}).update(
                    step_breakdown(event.event_specific_data.materialization.metadata)
                )
            if event.event_type_value == "STEP_START":
                windows[event.step_key] = [entry.timestamp, entry.timestamp]
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                windows.setdefault(event.step_key, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
                if event.event_type_value == "STEP_FAILURE":
                    failed.append(event.step_key)
    stages = {}
    for step, (start, end) in sorted(windows.items(), key=lambda kv: kv[1][0]):
        peak, cpu = sampler.window(start, end)
        seconds = end - start
        stages[_step_short_name(step)] = {
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
            "peak_rss_mb": round(peak),
            "invoices_per_second": round(invoices / seconds) if seconds > 0 else None,
        }
        if breakdowns.get(step):
            stages[_step_short_name(step)]["breakdown_seconds"] = breakdowns[step]
    total_peak, total_cpu = sampler.window(started, ended)
    return {
        "as_of": as_of.isoformat(),
        "success": result.success,
        "failed_steps": failed,
        "seconds": round(ended - started, 2),
        "cpu_seconds": round(total_cpu, 2),
        "peak_rss_mb": round(max(total_peak, sampler.peak())),
        "invoices_per_second": round(invoices / (ended - started)),
        "stages": stages,
    }


def _reusable_world(data_dir: Path, customers: int, years: int, seed: int, bank_days: int) -> dict | None:
    """The summary of a world simulated earlier with the same arguments (``--keep``), else None."""
    path = data_dir / "ground_truth" / "summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    args = summary.get("arguments") or {}
    wanted = {"customers": customers, "years": years, "seed": seed, "bank_days": bank_days}
    return summary if all(args.get(k) == v for k, v in wanted.items()) else None


def _empty_warehouse(data_dir: Path) -> None:
    """Remove what a previous run wrote (warehouse, models, Dagster home), keeping the world's files."""
    for sub in ("warehouse", "published", "mlflow", "dagster_home", "exports", "writeback", "bench"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)


def run_one(
    invoices: int, years: int, seed: int, workdir: Path, bank_days: int, simulate_only: bool = False
) -> dict:
    """Simulate (or reuse the world a kept folder holds), then the full and the incremental run."""
    from dataclasses import replace

    from orchestration.settings import DEFAULT_AS_OF_DATE, apply_process_env, load_settings

    customers = max(10, round(invoices / (INVOICES_PER_CUSTOMER_YEAR * years)))
    data_dir = workdir / "data"
    os.environ["OPENAR_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
    settings = replace(load_settings(), data_dir=data_dir, as_of_date=None)
    settings.ensure_dirs()
    apply_process_env(settings)

    from orchestration.definitions import DAILY_JOB, build_definitions
    from orchestration.resources import ensure_dbt_manifest
    from simulator.world import simulate_world

    def progress(msg: str) -> None:
        print(f"    {msg}", file=sys.stderr, flush=True)

    last_day = DEFAULT_AS_OF_DATE
    held = workdir / "held_back"
    if held.exists():  # a run stopped between holding back the last day and putting it back
        restore([p.relative_to(held) for p in held.rglob("*") if p.is_file()], data_dir / "landing", held)
        shutil.rmtree(held)
    summary = _reusable_world(data_dir, customers, years, seed, bank_days)
    if summary is not None:
        _empty_warehouse(data_dir)
        simulate = summary["arguments"]["simulate"]
        progress("reusing the world simulated earlier in this folder")
    else:
        started = time.perf_counter()
        cpu0 = time.process_time()
        summary = simulate_world(
            data_dir, customers=customers, years=years, seed=seed, as_of=last_day, bank_days=bank_days
        )
        simulate = {
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu0, 2),
        }
        summary["arguments"] = {
            "customers": customers,
            "years": years,
            "seed": seed,
            "bank_days": bank_days,
            "simulate": simulate,
        }
        (data_dir / "ground_truth" / "summary.json").write_text(json.dumps(summary, indent=2))
    if simulate_only:
        return {"invoices": summary["extracts"]["invoices"]["rows"], "simulate": simulate}
    settings.ensure_dirs()  # again: reusing a world emptied the warehouse folder
    n_invoices = summary["extracts"]["invoices"]["rows"]
    landing = data_dir / "landing"
    landing_files = sum(1 for p in landing.rglob("*") if p.is_file())
    landing_mb = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 2**20
    progress(
        f"simulated {n_invoices:,} invoices, {landing_files:,} files ({landing_mb:,.0f} MB) in {simulate['seconds']}s"
    )

    ensure_dbt_manifest(settings)
    job = build_definitions(settings).resolve_job_def(DAILY_JOB)
    moved = hold_back_day(landing, last_day, workdir / "held_back")
    progress(f"full run as of {last_day - dt.timedelta(days=1)} ({len(moved)} files of {last_day} held back)")
    full = run_job(job, last_day - dt.timedelta(days=1), n_invoices)
    progress(f"full run: {full['seconds']}s, success={full['success']}")
    restore(moved, landing, workdir / "held_back")
    progress(f"incremental run as of {last_day} ({len(moved)} new files)")
    incremental = run_job(job, last_day, n_invoices)
    progress(f"incremental run: {incremental['seconds']}s, success={incremental['success']}")
    warehouse_mb = settings.warehouse_path.stat().st_size / 2**20 if settings.warehouse_path.exists() else 0
    return {
        "invoices_target": invoices,
        "customers": customers,
        "invoices": n_invoices,
        "rows_total": sum(e["rows"] for e in summary["extracts"].values()),
        "landing_files": landing_files,
        "landing_mb": round(landing_mb, 1),
        "bank_days": bank_days,
        "new_files_incremental": len(moved),
        "warehouse_mb": round(warehouse_mb, 1),
        "simulate": simulate,
        "full": full,
        "incremental": incremental,
        "success": full["success"] and incremental["success"],
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

    fig, (ax, ax_mem) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = [r["invoices"] for r in rows]
    stages = sorted({s for r in rows for s in r["full"]["stages"]})
    for stage in stages:
        ax.plot(
            x,
            [r["full"]["stages"].get(stage, {}).get("seconds", 0) or None for r in rows],
            marker="o",
            lw=1,
            label=stage,
        )
    ax.plot(x, [r["full"]["seconds"] for r in rows], marker="s", color="black", lw=2, label="full run")
    ax.plot(
        x,
        [r["incremental"]["seconds"] for r in rows],
        marker="D",
        color="grey",
        lw=2,
        ls="--",
        label="incremental run",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("invoices in the world")
    ax.set_ylabel("seconds (wall)")
    ax.set_title("daily pipeline: time by step and size")
    ax.legend(fontsize=6, ncol=2)
    ax_mem.plot(x, [r["full"]["peak_rss_mb"] for r in rows], marker="s", color="black", label="full run")
    ax_mem.plot(
        x,
        [r["incremental"]["peak_rss_mb"] for r in rows],
        marker="D",
        color="grey",
        ls="--",
        label="incremental run",
    )
    ax_mem.set_xscale("log")
    ax_mem.set_xlabel("invoices in the world")
    ax_mem.set_ylabel("peak RSS of the process tree (MB)")
    ax_mem.set_title("memory")
    ax_mem.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_table(rows: list[dict]) -> None:
    for r in rows:
        print(
            f"\n{r['invoices']:,} invoices, {r['customers']:,} customers, {r['landing_files']:,} landing files "
            f"({r['landing_mb']:,.0f} MB; bank files of the last {r['bank_days']} days); simulated in "
            f"{r['simulate']['seconds']:.0f}s; warehouse {r['warehouse_mb']:,.0f} MB"
        )
        print(
            f"  {'step':<26} {'full s':>8} {'CPU s':>8} {'peak MB':>8} {'inv/s':>9}   {'incr. s':>8} {'CPU s':>8} {'peak MB':>8}"
        )
        steps = list(dict.fromkeys([*r["full"]["stages"], *r["incremental"]["stages"]]))
        for step in [*steps, "TOTAL"]:
            f = r["full"] if step == "TOTAL" else r["full"]["stages"].get(step, {})
            i = r["incremental"] if step == "TOTAL" else r["incremental"]["stages"].get(step, {})
            ips = f.get("invoices_per_second")
            print(
                f"  {step[:26]:<26} {f.get('seconds', 0):>8.1f} {f.get('cpu_seconds', 0):>8.1f} {f.get('peak_rss_mb', 0):>8,} "
                f"{(f'{ips:,}' if ips else '-'):>9}   {i.get('seconds', 0):>8.1f} {i.get('cpu_seconds', 0):>8.1f} {i.get('peak_rss_mb', 0):>8,}"
            )
            parts = f.get("breakdown_seconds", {})
            incr_parts = i.get("breakdown_seconds", {})
            for part in dict.fromkeys([*parts, *incr_parts]):
                print(
                    f"    {part[:24]:<24} {parts.get(part, 0):>8.1f} {'':>8} {'':>8} {'':>9}   {incr_parts.get(part, 0):>8.1f}"
                )
        if not r["success"]:
            print(
                f"  FAILED steps: full {r['full']['failed_steps']}, incremental {r['incremental']['failed_steps']}"
            )


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
    p.add_argument(
        "--bank-days", type=int, default=BANK_DAYS, help="days of bank files simulated (default %(default)s)"
    )
    p.add_argument(
        "--keep",
        help="keep each size's world and warehouse under this folder; a world kept there with the same "
        "arguments is reused (its simulation time is the one measured when it was made)",
    )
    p.add_argument(
        "--simulate-only",
        action="store_true",
        help="with --keep: only simulate the worlds (to run the pipeline on them later)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON only")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size in this process
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.one:
        figures = run_one(
            args.one, args.years, args.seed, Path(args.workdir), args.bank_days, args.simulate_only
        )
        print(json.dumps(figures))
        return 0

    if args.simulate_only and not args.keep:
        p.error("--simulate-only needs --keep (the folder the worlds are kept in)")
    from orchestration.settings import load_settings

    out_dir = load_settings().data_dir / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.invoices:
        if args.keep:
            workdir = Path(args.keep) / f"pipeline-{n}"
            workdir.mkdir(parents=True, exist_ok=True)
            tmp = None
        else:
            tmp = tempfile.TemporaryDirectory(prefix=f"openar-bench-{n}-")
            workdir = Path(tmp.name)
        if not args.json:
            print(f"… {n:,} invoices (world and warehouse in {workdir})", flush=True)
        cmd = [sys.executable, "-m", "orchestration.bench", "--one", str(n), "--years", str(args.years),
               "--seed", str(args.seed), "--bank-days", str(args.bank_days), "--workdir", str(workdir),
               *(["--simulate-only"] if args.simulate_only else [])]  # fmt: skip
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=None if not args.json else subprocess.DEVNULL, text=True
        )
        if tmp is not None:
            tmp.cleanup()
        if proc.returncode != 0:
            print(
                f"openar bench pipeline: the {n:,}-invoice run failed (exit {proc.returncode})",
                file=sys.stderr,
            )
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        if args.simulate_only:
            print(f"  simulated {rows[-1]['invoices']:,} invoices in {rows[-1]['simulate']['seconds']:.0f}s")
            continue
        # Written after every size: a long run stopped midway keeps what it measured.
        (out_dir / "pipeline.json").write_text(json.dumps({"sizes": rows}, indent=2))
    if args.simulate_only:
        return 0
    exponent_full = growth_exponent([(r["invoices"], r["full"]["seconds"]) for r in rows])
    exponent_incr = growth_exponent([(r["invoices"], r["incremental"]["seconds"]) for r in rows])
    report = {
        "sizes": rows,
        "growth_exponent_full_run": round(exponent_full, 3) if exponent_full else None,
        "growth_exponent_incremental_run": round(exponent_incr, 3) if exponent_incr else None,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": [round(x, 1) for x in os.getloadavg()]},
    }
    (out_dir / "pipeline.json").write_text(json.dumps(report, indent=2))
    _plot(rows, out_dir / "pipeline.png")
    if args.json:
        print(json.dumps(report))
        return 0 if all(r["success"] for r in rows) else 1
    print_table(rows)
    if exponent_full:
        print(
            f"\ngrowth exponent of time against invoices: full run {exponent_full:.2f}, incremental run {exponent_incr:.2f} (1.0 = linear)"
        )
    print(f"load average at the end: {report['machine']['load_average_at_end']} on {os.cpu_count()} cores")
    print(f"written: {out_dir / 'pipeline.json'}, {out_dir / 'pipeline.png'}")
    return 0 if all(r["success"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
