"""One local Spark for the tests that build the dbt project on Spark.

dbt-spark's session mode runs Spark inside the dbt process (``SparkSession.builder...getOrCreate()``
with the profile's settings). Run as a CLI, every dbt command would start its own JVM (about 10 s
measured, more on a loaded machine) and Derby would let only one of them at a time near the
metastore. So the tests run dbt in-process with ``dbtRunner``: registering the raw tables, building,
and reading the marts back all share the one session the first command starts. The JVM is
pyspark's child process; :func:`stop_spark` ends it so the rest of a test session gets its memory
(about 1.2 GB) back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.dbt.helpers import DBT_PROJECT_DIR

# JVM flags for a short build of small tables on a small, busy machine: the C1 compiler only (C2's
# background compilation of Spark's hot paths never pays off in a two-minute run) and a serial GC.
# Measured on the 2-core machine at load ~9: register + build 44 s + 135 s with them, 110 s + 190 s
# without (the SQL settings, codegen and AQE, made no difference). The JVM reads JDK_JAVA_OPTIONS by
# itself, so the profile stays as production runs it.
# C1 alone shrinks the JVM's default code cache from 240 MB to 48 MB, and the build of the whole
# project fills it (-XX:+PrintCodeCache: 47.4 of 48 MB at the end of a passing build, the JVM
# evicting compiled code to keep going; a CI run died mid-build with "Out of space in CodeCache for
# method handle intrinsic"). With the default JVM's 240 MB back, the same build peaks at 70 MB.
FAST_START_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m"


def spark_env(data_dir: Path) -> dict[str, str]:
    """Environment of a dbt process on the spark target with its data folder under ``data_dir``."""
    java_options = f"{os.environ.get('JDK_JAVA_OPTIONS', '')} {FAST_START_JAVA_OPTIONS}".strip()
    return {"OPENAR_DATA_DIR": str(data_dir), "OPENAR_DBT_TARGET": "spark", "JDK_JAVA_OPTIONS": java_options}


def java_missing_reason() -> str | None:
    """Why Spark cannot start here, or None. Spark 4 needs Java 17 or later."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return "Java not found (no JAVA_HOME, no java on PATH): Spark needs a JDK 17+ (apt-get install openjdk-17-jre-headless)"
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return f"{java} -version failed: {result.stderr.strip()[:200]}"
    return None


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set in os.environ for the block (profiles.yml reads env vars when dbt starts), then restored."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_dbt_in_process(args: list[str], env: dict[str, str], work_dir: Path):
    """``dbt <args>`` on our project inside this process (its Spark session stays up afterwards).
    target/ and logs/ go to ``work_dir``. Returns dbt's ``dbtRunnerResult``."""
    from dbt.cli.main import dbtRunner

    full_env = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env}
    with environment(full_env):
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(work_dir / "target"),
                "--log-path",
                str(work_dir / "logs"),
            ]
        )


def failure_message(result) -> str:
    """The failed nodes of a dbtRunnerResult (or its exception), for an assertion message."""
    if result.exception is not None:
        return f"dbt raised: {result.exception!r}"
    lines = []
    for node_result in getattr(result.result, "results", None) or []:
        if str(node_result.status) not in ("success", "pass"):
            lines.append(f"{node_result.node.unique_id}: {node_result.status}: {node_result.message}")
    return "\n".join(lines[:40]) or "dbt failed without a failed node (see logs/dbt.log)"


def current_spark():
    """The session dbt started in this process. Never creates one: a session built here without
    the profile's settings would put a second warehouse and metastore in the working directory."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is None:
        raise RuntimeError("no Spark session in this process: run dbt on the spark target first")
    return SparkSession.builder.getOrCreate()


def stop_spark() -> None:
    """Stop this process's Spark session and end the JVM pyspark started for it."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is not None:
        context.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        SparkContext._gateway = None
        SparkContext._jvm = None


def spark_table(spark, schema: str, table: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a table as Python values (Decimal with its scale, date, str, ...)."""
    frame = spark.table(f"{schema}.{table}")
    return list(frame.columns), [tuple(row) for row in frame.collect()]


def spark_column_types(spark, schema: str, table: str) -> dict[str, str]:
    """Column name -> Spark type as Spark spells it (``decimal(18,2)``, ``date``, ``string``, ``int``)."""
    return {
        field.name: field.dataType.simpleString() for field in spark.table(f"{schema}.{table}").schema.fields
    }
