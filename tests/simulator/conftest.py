"""Tiny simulated worlds shared by the simulator tests (built once per session, in temp folders)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from simulator.world import simulate_world

TINY = {"customers": 20, "years": 1, "seed": 7, "as_of": dt.date(2026, 11, 20)}


class World:
    """A simulated world read back from disk: ERP rows with their file dates, and the ground truth."""

    def __init__(self, root: Path, summary: dict):
        self.root = root
        self.summary = summary
        self.erp = root / "landing" / "erp"
        self.gt = root / "ground_truth"
        self._extracts: dict[str, list[tuple[str, dict]]] = {}

    def files(self, extract: str) -> list[Path]:
        return sorted((self.erp / extract).glob(f"{extract}_*.csv"))

    def rows(self, extract: str) -> list[tuple[str, dict]]:
        """(file date, row) for every row of every file of the extract, in file order."""
        if extract not in self._extracts:
            out = []
            for path in self.files(extract):
                file_date = path.stem.rsplit("_", 1)[1]
                with path.open(encoding="utf-8", newline="") as fh:
                    out.extend((file_date, r) for r in csv.DictReader(fh))
            self._extracts[extract] = out
        return self._extracts[extract]

    def truth(self, name: str) -> list[dict]:
        with (self.gt / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("world_a")
    return World(root, simulate_world(root, **TINY))


@pytest.fixture(scope="session")
def tiny_world_again(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("world_b")
    return World(root, simulate_world(root, **TINY))


@pytest.fixture(scope="session")
def build_world():
    """Simulate into a folder and read it back: ``build_world(root, customers=..., ...)``."""

    def build(root: Path, **kwargs) -> World:
        return World(root, simulate_world(root, **kwargs))

    return build
