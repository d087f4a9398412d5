"""``python -m simulator``: write a simulated AR world (the engine behind ``openar simulate``).

Defaults come from the same settings as the rest of openar (``OPENAR_DATA_DIR``,
``OPENAR_SIM_CUSTOMERS``, ``OPENAR_SIM_YEARS``, ``OPENAR_SIM_SEED``, ``OPENAR_AS_OF_DATE``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from orchestration.settings import DEFAULT_AS_OF_DATE, load_settings
from simulator.world import simulate_world


def main(argv: list[str] | None = None) -> int:
    s = load_settings()
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__.splitlines()[0])
    p.add_argument(
        "--out", type=Path, default=s.data_dir, help="data folder (landing/ and ground_truth/ go here)"
    )
    p.add_argument("--customers", type=int, default=s.sim_customers)
    p.add_argument("--years", type=int, default=s.sim_years)
    p.add_argument("--seed", type=int, default=s.sim_seed)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=s.as_of_date or DEFAULT_AS_OF_DATE)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    summary = simulate_world(
        a.out,
        customers=a.customers,
        years=a.years,
        seed=a.seed,
        as_of=a.as_of,
        progress=None if a.quiet else (lambda m: print(m, file=sys.stderr, flush=True)),
    )
    rows = {name: v["rows"] for name, v in summary["extracts"].items()}
    print(
        json.dumps(
            {
                "out": str(a.out),
                "seconds": round(time.perf_counter() - t0, 1),
                "extract_rows": rows,
                "open_at_as_of": summary["totals"]["open_at_as_of"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
