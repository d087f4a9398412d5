"""Memory and time stay modest: the engine keeps open state only and streams its files."""

from __future__ import annotations

import json
import subprocess
import sys

# Peak RSS from /proc/self/status (VmHWM): getrusage's ru_maxrss survives execve, so a probe started
# from a big pytest process would report the parent's peak, not its own.
_PROBE = """
import json, re, sys, time
from pathlib import Path
from simulator.world import simulate_world
t = time.perf_counter()
s = simulate_world(Path(sys.argv[1]), customers=int(sys.argv[2]), years=1, seed=3)
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024,
                  "invoices": s["extracts"]["invoices"]["rows"]}))
"""


def _probe(tmp_path, customers: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / str(customers)), str(customers)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_modest_world_is_fast_and_small(tmp_path):
    small, large = _probe(tmp_path, 30), _probe(tmp_path, 240)
    assert large["invoices"] > 6 * small["invoices"]
    # Generous bounds for a shared 2-core machine; measured ~3 s and ~70 MB for 240 customers.
    assert large["seconds"] < 60
    assert large["rss_mb"] < 300
    # Memory grows far slower than the history: 8x the customers costs well under 2x the peak RSS.
    assert large["rss_mb"] < 2 * small["rss_mb"]


def test_command_line_writes_a_world(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "--out",
            str(tmp_path),
            "--customers",
            "3",
            "--years",
            "1",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(out.stdout)
    assert report["extract_rows"]["customers"] == 3
    assert (tmp_path / "landing" / "erp" / "customers" / "customers_2026-11-20.csv").exists()
    assert (tmp_path / "ground_truth" / "summary.json").exists()
