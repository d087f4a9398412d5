"""The write-back folder: what people decide in the app, as files the next pipeline run reads.

The app never opens the warehouse (DuckDB allows one writing process, the pipeline), so each action
(a cash-application decision, a logged call or promise) is one JSON-lines file in a folder under
``settings.writeback_path``. A file is written under a temporary name and renamed, so a run reading
the folder sees an action whole or not at all. Amounts are written as text, exact.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path


def _jsonable(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def write_records(folder: Path, stamp: str, record_id: str, records: Iterable[dict]) -> Path:
    """Write ``records`` as one file ``<stamp>-<record_id>.jsonl`` in ``folder``, atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = re.sub(r"[^0-9A-Za-z]", "", stamp)[:20]
    path = folder / f"{stamp}-{re.sub(r'[^0-9A-Za-z_-]', '_', record_id)}.jsonl"
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps({k: _jsonable(v) for k, v in record.items()}) + "\n")
    os.replace(tmp, path)
    return path


def read_records(folder: Path | None) -> Iterator[tuple[str, dict]]:
    """Every record in ``folder``, oldest file first, with "<file> line <n>" for error messages; a line
    that is not JSON raises naming its file and line."""
    files = sorted(folder.glob("*.jsonl")) if folder is not None and folder.is_dir() else []
    for f in files:
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{f} line {n}: not JSON ({e.msg})") from e
            yield f"{f} line {n}", record
