"""Load ERP extract files from the landing folder into DuckDB ``raw`` tables, losing nothing.

Rules (each has a test):
- **Idempotent.** A file whose exact bytes were already seen (same SHA-256, any name) is skipped.
- **Corrections replace.** A file for an extract and day that was loaded before, with other
  content, is a corrected re-export: the day's earlier rows are deleted and the new rows loaded, in
  one transaction. (ERPs re-export a whole day when they correct it.)
- **Bad input is quarantined, the rest loads.** A file that cannot be read at all (encoding, CSV
  structure, missing columns, bad name) goes to ``raw.quarantine`` as a whole; a row that breaks a
  rule goes there alone, with a reason naming the file, the row, the column, the value and the rule.
- **Nothing half-loaded.** Each extract's new files are loaded in chunks of whole files (about
  ``LOAD_CHUNK_ROWS`` rows), each chunk in one transaction with its ``load_log`` rows: a crash leaves
  every file either loaded and logged or untouched, and the next run picks the untouched ones up.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingestion.ddl import RAW_SCHEMA, create_raw_tables
from ingestion.erp_contracts import EXTRACTS, LOAD_ORDER, Column, Extract
from ingestion.expectations import validate_frame

FILE_NAME = re.compile(r"^(?P<extract>[a-z_]+?)_(?P<date>\d{4}-\d{2}-\d{2})(?:_[A-Za-z0-9.-]+)?\.csv$")
MAX_FILE_BYTES = 2 * 1024**3  # an ERP day file beyond 2 GB is a mistake, not an extract
# A first load of two years of day files is validated and inserted this many rows at a time (whole
# files): the rows are held as Python strings, a pandas frame and a typed frame for the suite. At a
# million invoices (issue 7) one batch per extract peaked at 3.1 GB, and at ten million it would not
# fit; chunks of 250,000 rows peak at 1.8 GB with the same CPU (55 s), 100,000 at 1.4 GB for 5 s more
# CPU (the suite's fixed cost per chunk). Identical tables either way.
LOAD_CHUNK_ROWS = 250_000

# How each logical type is recognised in the text before it is cast. The cast is DuckDB's own, the
# same one the insert uses, so a value that passes here cannot fail later.
_TYPE_PATTERNS = {
    "int": r"-?\d{1,9}",
    "date": r"\d{4}-\d{2}-\d{2}",
    "timestamp": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?",
    "amount": r"-?\d{1,16}(\.\d{1,2})?",  # more than two decimals would be rounded by the cast: reject
    "rate": r"\d{1,10}(\.\d{1,8})?",
    "pct": r"-?\d{1,3}(\.\d{1,4})?",
}
_TYPE_TEXT = {
    "int": "a whole number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "an ISO 8601 timestamp",
    "amount": "an amount with at most two decimals and a dot separator",
    "rate": "a rate with at most eight decimals",
    "pct": "a percentage with at most four decimals",
}


@dataclass
class LandingFile:
    path: Path
    rel_path: str
    extract: str | None
    extract_date: dt.date | None
    problem: str | None = None


@dataclass
class FileOutcome:
    source_file: str
    extract: str | None
    extract_date: dt.date | None
    content_hash: str
    status: str  # loaded | replaced_day | quarantined | skipped
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None


@dataclass
class ExtractOutcome:
    extract: str
    files: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    files_quarantined: int = 0
    suite_success: bool = True
    suite_summary: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # first reasons, for people

    @property
    def rows_seen(self) -> int:
        return self.rows_loaded + self.rows_quarantined


@dataclass
class LoadReport:
    run_id: str
    files: list[FileOutcome] = field(default_factory=list)
    extracts: dict[str, ExtractOutcome] = field(default_factory=dict)

    @property
    def quarantined_anything(self) -> bool:
        return any(f.status == "quarantined" or f.rows_quarantined for f in self.files)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def discover_files(erp_dir: Path) -> list[LandingFile]:
    """Every file under ``<landing>/erp/``, with its extract and day read from the name."""
    found: list[LandingFile] = []
    if not erp_dir.exists():
        return found
    for path in sorted(p for p in erp_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(erp_dir.parent).as_posix()
        m = FILE_NAME.match(path.name)
        if not m:
            found.append(
                LandingFile(path, rel, None, None, f"{rel}: file name is not <extract>_<YYYY-MM-DD>.csv")
            )
            continue
        name = m["extract"]
        if name not in EXTRACTS:
            found.append(
                LandingFile(
                    path, rel, None, None, f"{rel}: unknown extract '{name}' (known: {', '.join(LOAD_ORDER)})"
                )
            )
            continue
        if path.parent.name != name:
            found.append(
                LandingFile(
                    path, rel, name, None, f"{rel}: a {name} extract must be in the folder erp/{name}/"
                )
            )
            continue
        try:
            day = dt.date.fromisoformat(m["date"])
        except ValueError:
            found.append(
                LandingFile(path, rel, name, None, f"{rel}: '{m['date']}' in the file name is not a date")
            )
            continue
        found.append(LandingFile(path, rel, name, day))
    return found


def _read_csv(extract: Extract, data: bytes, rel: str) -> list[list[str]]:
    """Decode and split one file; raise ValueError with a reason a person understands."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{rel}: file is {len(data):,} bytes, over the {MAX_FILE_BYTES:,}-byte limit")
    try:
        text = data.decode("utf-8-sig")  # ERPs on Windows prepend a BOM
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{rel}: not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); re-export as UTF-8"
        ) from None
    if not text.strip():
        raise ValueError(f"{rel}: file is empty (not even a header row)")
    # The csv module, not pandas: an ERP day file is small, pandas' per-call overhead dominates,
    # and a ragged row is reported here with its row number.
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise ValueError(f"{rel}: not a well-formed CSV: {e}") from None
    header = [c.strip() for c in rows[0]]
    body = [r for r in rows[1:] if r]  # a trailing empty line is not a row
    for i, r in enumerate(body, start=1):
        if len(r) != len(header):
            raise ValueError(
                f"{rel}: row {i} has {len(r)} fields, the header has {len(header)}: not a well-formed CSV"
            )
    expected = [c.name for c in extract.columns]
    missing = [c for c in expected if c not in header]
    if missing:
        raise ValueError(f"{rel}: missing column(s) {', '.join(missing)}; header is {', '.join(header)}")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise ValueError(f"{rel}: column(s) {', '.join(dupes)} appear more than once in the header")
    # Rows in contract column order; the caller builds one frame per extract, not one per file
    # (pandas' per-frame overhead over ~250 day files per extract was a third of the load time).
    order = [header.index(c) for c in expected]
    return [[r[i] for i in order] for r in body]


def _text_expr(col: Column) -> str:
    """SQL for the column's text, empty as null."""
    return f"nullif(\"{col.name}\", '')"


def _typed_expr(col: Column) -> str:
    """SQL for the typed value: null when the text is absent or is not of the column's type (a value
    is a type error where the text is present and the typed value null)."""
    text = _text_expr(col)
    if col.kind == "text":
        return text
    pattern = _TYPE_PATTERNS[col.kind]
    return f"case when regexp_full_match({text}, '{pattern}') then try_cast({text} as {col.sql_type}) end"


def _unknown_references(con, extract: Extract, batch: pd.DataFrame) -> dict[str, list[str]]:
    """The batch's reference values that point nowhere: not in what is already loaded, nor in the
    batch's own rows when an extract references itself (a parent customer in the same snapshot)."""
    unknown: dict[str, list[str]] = {}
    for col in extract.columns:
        if not col.references:
            continue
        target_extract, target_col = col.references.split(".")
        values = pd.DataFrame({"v": batch[col.name].dropna().unique()}, dtype=str)
        values = values[values.v != ""]
        con.register("_ref_values", values)
        targets = f"select {target_col} as k from {RAW_SCHEMA}.{EXTRACTS[target_extract].table}"
        if target_extract == extract.name:
            con.register("_ref_batch", batch[[target_col]])
            targets += f" union all select {target_col} from _ref_batch"
        rows = con.execute(f"select v from _ref_values anti join ({targets}) on v = k order by v").fetchall()
        con.unregister("_ref_values")
        if target_extract == extract.name:
            con.unregister("_ref_batch")
        unknown[col.references] = [r[0] for r in rows]
    return unknown


@dataclass
class _Chunk:
    """Whole files of one extract waiting to be validated and loaded together."""

    rows: list[list[str]] = field(default_factory=list)
    meta: list[tuple[str, str, int, dt.date | None]] = field(default_factory=list)
    files: list[tuple[LandingFile, str, int]] = field(default_factory=list)

    def add(self, lf: LandingFile, digest: str, rows: list[list[str]]) -> None:
        self.rows.extend(rows)
        self.meta.extend((lf.rel_path, digest, n, lf.extract_date) for n in range(1, len(rows) + 1))
        self.files.append((lf, digest, len(rows)))

    def load(self, con, extract: Extract, outcome, report, run_id: str, say) -> None:
        """Validate and insert the chunk in one transaction, then start an empty one."""
        if not self.files:
            return
        say(f"{extract.name}: validating {len(self.rows):,} rows from {len(self.files)} file(s)")
        batch = pd.DataFrame(self.rows, columns=[c.name for c in extract.columns], dtype=object)
        meta = pd.DataFrame(
            self.meta, columns=["_source_file", "_content_hash", "_row_number", "_extract_date"]
        )
        files = self.files
        self.rows, self.meta, self.files = [], [], []
        _load_batch(con, extract, pd.concat([batch, meta], axis=1), files, outcome, report, run_id)


def load_erp_extracts(
    con,
    erp_dir: Path,
    run_id: str,
    *,
    extracts: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load every new file under ``erp_dir`` into the raw tables. ``con`` is a read-write DuckDB connection."""
    create_raw_tables(con)
    say = progress or (lambda _msg: None)
    report = LoadReport(run_id=run_id)
    wanted = list(extracts) if extracts is not None else list(LOAD_ORDER)
    files = discover_files(erp_dir)
    seen_hashes = {
        r[0] for r in con.execute(f"select distinct content_hash from {RAW_SCHEMA}.load_log").fetchall()
    }

    for bad in (f for f in files if f.problem):
        data = bad.path.read_bytes()
        digest = file_sha256(data)
        if digest in seen_hashes:
            continue
        _record_file_rejection(
            con, report, bad.rel_path, bad.extract or "unknown", None, digest, bad.problem, run_id
        )
        seen_hashes.add(digest)

    for name in LOAD_ORDER:
        if name not in wanted:
            continue
        extract = EXTRACTS[name]
        outcome = report.extracts.setdefault(name, ExtractOutcome(name))
        chunk = _Chunk()

        # An extract that references itself (a parent customer) is checked against its whole batch:
        # a parent may arrive in a later file than its child. Only the customer snapshots do, and
        # they are small.
        chunk_rows = (
            None
            if any(c.references and c.references.startswith(f"{name}.") for c in extract.columns)
            else LOAD_CHUNK_ROWS
        )
        for lf in (f for f in files if f.extract == name and not f.problem):
            data = lf.path.read_bytes()
            digest = file_sha256(data)
            if digest in seen_hashes:
                continue  # exact bytes already loaded (or quarantined): nothing changes
            seen_hashes.add(digest)
            outcome.files += 1
            try:
                rows = _read_csv(extract, data, lf.rel_path)
            except ValueError as e:
                _record_file_rejection(
                    con, report, lf.rel_path, name, lf.extract_date, digest, str(e), run_id
                )
                outcome.files_quarantined += 1
                outcome.reasons.append(str(e))
                continue
            del data
            chunk.add(lf, digest, rows)
            if chunk_rows is not None and len(chunk.rows) >= chunk_rows:
                chunk.load(con, extract, outcome, report, run_id, say)
        chunk.load(con, extract, outcome, report, run_id, say)
        if outcome.files:
            say(f"{name}: loaded {outcome.rows_loaded:,} rows, quarantined {outcome.rows_quarantined:,}")
    return report


def _load_batch(
    con,
    extract: Extract,
    batch: pd.DataFrame,
    batch_files,
    outcome: ExtractOutcome,
    report: LoadReport,
    run_id: str,
) -> None:
    table = f"{RAW_SCHEMA}.{extract.table}"
    con.register("_staged", batch)
    # The typed values computed once into a table, with the text of the values that have a type: as a
    # view, the patterns and casts ran three times over the batch (the type errors, the frame the suite
    # checks, the insert), 25 s of a first load of a million invoices' extracts.
    typed_cols, texts, type_errors = [], [], []
    for col in extract.columns:
        typed_cols.append(f"{_typed_expr(col)} as {col.name}")
        if col.kind == "text":
            continue
        texts.append(f'{_text_expr(col)} as "_text_{col.name}"')
        type_errors.append(
            f"select _source_file, _row_number, '{col.name}' as col, \"_text_{col.name}\" as value, "
            f"'{col.kind}' as kind from _typed_and_text "
            f'where "_text_{col.name}" is not null and "{col.name}" is null'
        )
    meta = "_source_file, _content_hash, _row_number, _extract_date"
    con.execute(
        f"create or replace temp table _typed_and_text as select {', '.join(typed_cols + texts)}, {meta} "
        "from _staged"
    )
    names = ", ".join(c.name for c in extract.columns)
    con.execute(f"create or replace temp view _typed as select {names}, {meta} from _typed_and_text")

    bad_rows: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for src, row, col, value, kind in (
        con.execute(" union all ".join(type_errors)).fetchall() if type_errors else []
    ):
        bad_rows.setdefault((src, row), []).append(
            ("type", f"column {col} value '{value}' is not {_TYPE_TEXT[kind]}")
        )

    typed = con.execute("select * from _typed").df()
    unknown = _unknown_references(con, extract, batch)
    success, violations, summary = validate_frame(
        extract, typed.drop(columns=["_content_hash", "_extract_date"]), unknown
    )
    outcome.suite_success = outcome.suite_success and success
    outcome.suite_summary = _merged_summary(outcome.suite_summary, summary)
    for v in violations:
        src, row = typed.at[v.row_index, "_source_file"], int(typed.at[v.row_index, "_row_number"])
        if (src, row) in bad_rows and v.rule == "expect_column_values_to_not_be_null":
            continue  # a value that failed its type check is null after the cast: one reason is enough
        bad_rows.setdefault((src, row), []).append((v.rule, v.message))

    now = dt.datetime.now(dt.UTC)
    quarantine_rows = []
    raw_lookup = batch.set_index(["_source_file", "_row_number"])
    data_cols = [c.name for c in extract.columns]
    for (src, row), problems in sorted(bad_rows.items()):
        record = raw_lookup.loc[(src, row), data_cols]
        raw_record = ",".join(str(x) for x in record.tolist())
        digest = batch.loc[(batch._source_file == src) & (batch._row_number == row), "_content_hash"].iat[0]
        for rule, message in problems:
            quarantine_rows.append(
                (
                    src,
                    extract.name,
                    digest,
                    row,
                    rule,
                    f"{src} row {row}: {message} [rule: {rule}]",
                    raw_record,
                    run_id,
                    now,
                )
            )
    bad_keys = pd.DataFrame(list(bad_rows.keys()) or [("", -1)], columns=["_source_file", "_row_number"])
    con.register("_bad_keys", bad_keys)

    bad_per_file = Counter(src for src, _row in bad_rows)
    files_frame = pd.DataFrame(
        [
            (
                lf.rel_path,
                lf.extract_date,
                digest,
                n_rows - bad_per_file[lf.rel_path],
                bad_per_file[lf.rel_path],
            )
            for lf, digest, n_rows in batch_files
        ],
        columns=["source_file", "extract_date", "content_hash", "rows_loaded", "rows_quarantined"],
    )
    con.register("_batch_files", files_frame)
    # Set-based, one statement per step for the whole batch: a year of day files is ~250 files per
    # extract, and three statements per file were most of the load time.
    day_loaded_before = f"""
        exists (select 1 from {RAW_SCHEMA}.load_log l
                where l.extract_name = '{extract.name}' and l.extract_date = f.extract_date
                  and l.status in ('loaded', 'replaced_day') and l.content_hash <> f.content_hash)"""

    con.execute("begin transaction")
    try:
        # A new file for a day already loaded is a corrected re-export: it replaces the day.
        replaced = {
            r[0]
            for r in con.execute(
                f"select source_file from _batch_files f where {day_loaded_before}"
            ).fetchall()
        }
        if replaced:
            con.execute(
                f"""delete from {table} t using _batch_files f
                    where t._extract_date = f.extract_date and t._content_hash <> f.content_hash
                      and {day_loaded_before}"""
            )
            con.execute(
                f"""update {RAW_SCHEMA}.load_log l set status = 'superseded' from _batch_files f
                    where l.extract_name = ? and l.extract_date = f.extract_date
                      and l.status in ('loaded', 'replaced_day') and l.content_hash <> f.content_hash""",
                [extract.name],
            )
        con.execute(
            f"""insert into {RAW_SCHEMA}.load_log
                select source_file, ?, extract_date, content_hash,
                       case when source_file in (select unnest(?::varchar[])) then 'replaced_day' else 'loaded' end,
                       rows_loaded, rows_quarantined,
                       case when rows_quarantined > 0 then rows_quarantined || ' row(s) quarantined' end,
                       ?, ?
                from _batch_files""",
            [extract.name, sorted(replaced), run_id, now],
        )
        for lf, digest, n_rows in batch_files:
            n_bad = bad_per_file[lf.rel_path]
            status = "replaced_day" if lf.rel_path in replaced else "loaded"
            report.files.append(
                FileOutcome(lf.rel_path, extract.name, lf.extract_date, digest, status, n_rows - n_bad, n_bad)
            )
        con.execute(
            f"insert into {table} select t.*, ? from _typed t anti join _bad_keys b using (_source_file, _row_number)",
            [now],
        )
        if quarantine_rows:
            con.executemany(
                f"insert into {RAW_SCHEMA}.quarantine values (?, ?, ?, ?, ?, ?, ?, ?, ?)", quarantine_rows
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_staged")
        con.unregister("_bad_keys")
        con.unregister("_batch_files")
        con.execute("drop view if exists _typed")
        con.execute("drop table if exists _typed_and_text")
    outcome.rows_quarantined += len(bad_rows)
    outcome.rows_loaded += len(batch) - len(bad_rows)
    outcome.reasons.extend(r[5] for r in quarantine_rows[: max(0, 20 - len(outcome.reasons))])


def _merged_summary(before: dict, chunk: dict) -> dict:
    """The suite's summary over every chunk of an extract's files, as if they were one batch."""
    if not before:
        return chunk
    failed = dict(before.get("failed_rules", {}))
    for rule, n in chunk.get("failed_rules", {}).items():
        failed[rule] = failed.get(rule, 0) + n
    return {
        "rows": before.get("rows", 0) + chunk.get("rows", 0),
        "evaluated_expectations": max(
            before.get("evaluated_expectations", 0), chunk.get("evaluated_expectations", 0)
        ),
        "unsuccessful_expectations": len(failed),
        "failed_rules": failed,
    }


def _record_file_rejection(
    con, report: LoadReport, rel: str, extract: str, day, digest: str, reason: str, run_id: str
):
    now = dt.datetime.now(dt.UTC)
    con.execute("begin transaction")
    try:
        con.execute(
            f"insert into {RAW_SCHEMA}.quarantine values (?, ?, ?, null, 'file', ?, null, ?, ?)",
            [rel, extract, digest, reason, run_id, now],
        )
        con.execute(
            f"insert into {RAW_SCHEMA}.load_log values (?, ?, ?, ?, 'quarantined', 0, 0, ?, ?, ?)",
            [rel, extract, day, digest, reason, run_id, now],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    report.files.append(FileOutcome(rel, extract, day, digest, "quarantined", message=reason))
