"""CSV writing: the ERP landing files (one per extract and day) and the ground-truth tables.

Everything is written as it happens so memory stays flat: the engine hands rows for the day it is
simulating and ``flush`` writes them. Rows are tuples of text in contract column order; ``None``
becomes an empty cell (the contracts' null).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from ingestion.erp_contracts import EXTRACTS


def _writer(fh):
    # "\n" line ends: the csv module's default "\r\n" would make files differ by platform habits of
    # readers, and the contracts do not ask for CRLF.
    return csv.writer(fh, lineterminator="\n")


class ExtractFiles:
    """Buffers one day of rows per extract and writes ``<extract>/<extract>_<date>.csv`` on flush."""

    def __init__(self, erp_dir: Path):
        self.erp_dir = erp_dir
        self.pending: dict[str, list[tuple]] = {name: [] for name in EXTRACTS}
        self.row_counts: Counter[str] = Counter()
        self.file_counts: Counter[str] = Counter()
        for name in EXTRACTS:
            folder = erp_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            # A previous world's files would mix with this one's: remove what this writer owns.
            for old in folder.glob(f"{name}_*.csv"):
                old.unlink()

    def add(self, extract: str, row: tuple) -> None:
        self.pending[extract].append(row)

    def flush(self, iso_date: str) -> None:
        for name, rows in self.pending.items():
            if not rows:
                continue
            self.write_file(name, iso_date, rows)
            rows.clear()

    def write_file(self, name: str, iso_date: str, rows: list[tuple]) -> None:
        path = self.erp_dir / name / f"{name}_{iso_date}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = _writer(fh)
            w.writerow([c.name for c in EXTRACTS[name].columns])
            w.writerows(rows)
        self.row_counts[name] += len(rows)
        self.file_counts[name] += 1


class Table:
    """A streamed ground-truth CSV."""

    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path = path
        self.columns = columns
        self._fh = path.open("w", encoding="utf-8", newline="")
        self._w = _writer(self._fh)
        self._w.writerow(columns)
        self.rows = 0

    def add(self, row: tuple) -> None:
        self._w.writerow(row)
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


def write_table(path: Path, columns: tuple[str, ...], rows) -> int:
    t = Table(path, columns)
    for r in rows:
        t.add(r)
    t.close()
    return t.rows
