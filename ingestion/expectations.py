"""great-expectations suites for the ERP extracts, built from the contracts.

One suite per extract. The loader runs it on every incoming batch (typed rows) to decide which rows
are quarantined, and the Dagster asset checks report the same results, so the rule a person reads in
the quarantine table is the rule the check evaluated.

Type rules (is it a date, an amount with at most two decimals…) are applied before the suite, in
DuckDB, with the same casts the insert uses (see erp_loader.py); the suite checks the typed values:
required values, allowed values, lower bounds, references to other extracts, date order and key
uniqueness within a file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import pandas as pd

from ingestion.erp_contracts import Extract

# great-expectations logs every metric computation at INFO and draws progress bars; neither helps
# a person reading a pipeline log.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Violation:
    row_index: int  # position in the validated frame
    rule: str
    column: str
    value: str | None
    message: str


@cache
def _gx():
    import great_expectations as gx  # slow import (~5-10 s): only when a suite runs
    from great_expectations.execution_engine import pandas_execution_engine

    # great-expectations fingerprints every pandas batch under 1 GB by hashing all its values, only to
    # label the batch: 7.7 s of a 60-s first load of a million invoices' extracts (two hashes per
    # chunk). The label is never read here; a threshold of 0 skips it. Validation is unchanged.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


@cache
def _context():
    gx = _gx()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    return ctx


def build_suite(extract: Extract, unknown_references: dict[str, list[str]]):
    """The suite for one extract.

    ``unknown_references`` maps "<extract>.<column>" to the batch's values that point nowhere: the
    loader finds them with an anti-join in DuckDB. The reference rule is stated as "not in the
    unknown values" rather than "in the known values" because the known set grows with the ledger
    (every customer, every invoice ever loaded) and great-expectations copies an expectation's
    value set many times per validation: with 20k invoices that copying was half the load time.
    """
    gx = _gx()
    gxe = gx.expectations
    suite = gx.ExpectationSuite(name=f"erp_{extract.name}")
    for col in extract.columns:
        if col.required:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.allowed:
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.allowed))
            )
        if col.min_value is not None:
            # Bounds compare the typed values; the stored amount itself stays an exact decimal.
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=float(col.min_value))
            )
        if col.references:
            unknown = unknown_references.get(col.references, [])
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeInSet(column=col.name, value_set=unknown))
    for order in extract.date_orders:
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=order.later,
                column_B=order.earlier,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=[*extract.key, "_source_file"]))
    return suite


_RULE_TEXT = {
    "expect_column_values_to_not_be_null": "is required but empty",
    "expect_column_values_to_be_in_set": "is not an allowed value",
    "expect_column_values_to_not_be_in_set": "is unknown",
    "expect_column_values_to_be_between": "is below the minimum",
    "expect_column_pair_values_a_to_be_greater_than_b": "comes before",
    "expect_compound_columns_to_be_unique": "duplicates the key of another row in the same file",
}


def validate_frame(
    extract: Extract, frame: pd.DataFrame, unknown_references: dict[str, list[str]]
) -> tuple[bool, list[Violation], dict]:
    """Run the extract's suite on ``frame`` (typed values + ``_source_file``).

    Returns (success, violations per row, summary for metadata).
    """
    if frame.empty:
        return True, [], {"evaluated_expectations": 0, "rows": 0}
    frame = frame.reset_index(drop=True)
    ctx = _context()
    name = f"erp_{extract.name}"
    try:
        datasource = ctx.data_sources.get("openar_erp")
    except Exception:  # noqa: BLE001 - gx raises its own KeyError subclass
        datasource = ctx.data_sources.add_pandas("openar_erp")
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name)
    batch_definition = next(
        iter(asset.batch_definitions), None
    ) or asset.add_batch_definition_whole_dataframe("all")
    suite = build_suite(extract, unknown_references)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})

    violations: list[Violation] = []
    failed_rules: dict[str, int] = {}
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = cfg.kwargs
        rule = cfg.type
        indices = r.result.get("unexpected_index_list") or []
        failed_rules[
            f"{rule}({kwargs.get('column') or kwargs.get('column_A') or ','.join(kwargs.get('column_list', []))})"
        ] = len(indices)
        for idx in indices:
            idx = int(idx["index"] if isinstance(idx, dict) else idx)
            violations.append(_violation(extract, frame, idx, rule, kwargs))
    summary = {
        "rows": len(frame),
        "evaluated_expectations": result.statistics["evaluated_expectations"],
        "unsuccessful_expectations": result.statistics["unsuccessful_expectations"],
        "failed_rules": failed_rules,
    }
    return bool(result.success), violations, summary


def _violation(extract: Extract, frame: pd.DataFrame, idx: int, rule: str, kwargs: dict) -> Violation:
    if rule == "expect_column_pair_values_a_to_be_greater_than_b":
        later, earlier = kwargs["column_A"], kwargs["column_B"]
        value = f"{later}={_fmt(frame.at[idx, later])}, {earlier}={_fmt(frame.at[idx, earlier])}"
        return Violation(
            idx, rule, later, value, f"{later} {value.split(', ')[0].split('=')[1]} comes before {earlier}"
        )
    if rule == "expect_compound_columns_to_be_unique":
        key = ",".join(extract.key)
        value = ",".join(_fmt(frame.at[idx, k]) for k in extract.key)
        return Violation(idx, rule, key, value, f"key {key}={value} appears more than once in the file")
    column = kwargs["column"]
    value = _fmt(frame.at[idx, column])
    col = extract.column(column)
    if rule == "expect_column_values_to_not_be_in_set" and col.references:
        target = col.references.split(".")[0]
        text = f"{column} '{value}' is unknown: no such {target.rstrip('s')} in the loaded {target}"
    elif rule == "expect_column_values_to_be_in_set":
        text = f"{column} '{value}' is not one of {', '.join(col.allowed or ())}"
    elif rule == "expect_column_values_to_be_between":
        text = f"{column} {value} is below the minimum {col.min_value}"
    else:
        text = f"{column} {_RULE_TEXT.get(rule, 'fails ' + rule)}"
    return Violation(idx, rule, column, value, text)


def _fmt(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)
