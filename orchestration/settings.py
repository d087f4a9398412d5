"""Every setting openar reads, in one place, with defaults that work on a fresh clone.

Each setting is one environment variable (documented in ``.env.example``). Nothing is read at
import time: call :func:`load_settings` when you need them, so tests can point a run at a temp
folder by setting the variables first. ``dbt_env`` exports the same values to dbt's
``profiles.yml`` so Python and dbt never disagree about a path.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The run's as-of date for dbt, read by as_of_date_literal() in dbt_project/macros/dates.sql.
DBT_AS_OF_ENV = "OPENAR_AS_OF_DATE"

# The simulator's default as-of date is fixed (not "today") so the default world is the same on
# every machine and every day; pass --as-of or OPENAR_AS_OF_DATE for another.
DEFAULT_AS_OF_DATE = dt.date(2026, 11, 20)


# The Dagster instance openar creates under its data folder. The run queue admits one run tagged as a
# warehouse writer at a time: DuckDB allows one writing process per file, so the daily run, a sensor's
# run and the runs of a backfill wait for each other instead of failing on the file lock.
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    tag_concurrency_limits:
      - key: openar/warehouse
        limit: 1
"""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    dbt_target: str
    as_of_date: dt.date | None  # None: the latest extract date in the warehouse
    sim_customers: int
    sim_years: int
    sim_seed: int

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def erp_landing_dir(self) -> Path:
        return self.landing_dir / "erp"

    @property
    def ground_truth_dir(self) -> Path:
        return self.data_dir / "ground_truth"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "openar.duckdb"

    @property
    def published_path(self) -> Path:
        """Read-only copy of the marts for the dashboard and BI tools (see publishing.py)."""
        return self.data_dir / "published" / "openar_marts.duckdb"

    @property
    def writeback_path(self) -> Path:
        """Where people's actions from the app land, never the warehouse file (DuckDB single writer)."""
        return self.data_dir / "writeback"

    @property
    def exports_path(self) -> Path:
        """Files the pipeline hands to other systems (the ERP's cash-application reconciliation CSV);
        ``OPENAR_EXPORTS_DIR`` moves it, e.g. to the folder the ERP's import job watches."""
        return Path(os.environ.get("OPENAR_EXPORTS_DIR") or self.data_dir / "exports")

    @property
    def llm_base_url(self) -> str | None:
        """OpenAI-compatible endpoint (``OPENAR_LLM_BASE_URL``, e.g. http://127.0.0.1:8000/v1) for the
        optional generative reply drafts of message triage; unset = off, everything runs offline."""
        return os.environ.get("OPENAR_LLM_BASE_URL") or None

    @property
    def llm_model(self) -> str:
        """Model name sent to that endpoint (``OPENAR_LLM_MODEL``)."""
        return os.environ.get("OPENAR_LLM_MODEL") or "gpt-4o-mini"

    @property
    def mlflow_tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.data_dir / 'mlflow' / 'mlflow.db'}"

    @property
    def partitions_start(self) -> dt.date:
        """First day of the backfill job's daily partitions (``OPENAR_PARTITIONS_START``)."""
        return dt.date.fromisoformat(os.environ.get("OPENAR_PARTITIONS_START") or "2024-01-01")

    @property
    def worker_processes(self) -> int:
        """Processes that parse bank and remittance files and triage a large batch of messages
        (``OPENAR_PARSE_WORKERS``; default: one per core)."""
        return max(1, int(os.environ.get("OPENAR_PARSE_WORKERS") or os.cpu_count() or 1))

    @property
    def training_max_invoices(self) -> int:
        """Invoices the payment model trains on at most (``OPENAR_TRAINING_MAX_INVOICES``; the default
        is ``ml.pipeline.TRAINING_MAX_INVOICES``, whose comment says why)."""
        return int(os.environ.get("OPENAR_TRAINING_MAX_INVOICES") or 120_000)

    @property
    def scoring_block_invoices(self) -> int:
        """A ledger of more invoices than this is scored a block of customer families at a time
        (``OPENAR_SCORING_BLOCK_INVOICES``; the default is ``ml.pipeline.SCORING_BLOCK_INVOICES``,
        whose comment says why)."""
        return int(os.environ.get("OPENAR_SCORING_BLOCK_INVOICES") or 1_500_000)

    @property
    def triage_lookback_days(self) -> int:
        """Messages older than this many days on the run day are not triaged (``OPENAR_TRIAGE_LOOKBACK_DAYS``;
        0: every message). A team that starts with two years of ERP history has answered its old
        messages already: a quick action on them is noise in the collector's view, and reading them
        was half the CPU of a first run at a million invoices (366,229 messages)."""
        return int(os.environ.get("OPENAR_TRIAGE_LOOKBACK_DAYS") or 120)

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.data_dir / "dagster_home")

    @property
    def dbt_profiles_dir(self) -> Path:
        return DBT_PROJECT_DIR

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt process: profiles.yml reads these."""
        return {
            "OPENAR_DUCKDB_PATH": str(self.warehouse_path),
            "OPENAR_DATA_DIR": str(self.data_dir),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PROFILES_DIR": str(self.dbt_profiles_dir),
        }

    def ensure_dirs(self) -> None:
        for d in (
            self.erp_landing_dir,
            self.ground_truth_dir,
            self.warehouse_path.parent,
            self.published_path.parent,
            self.writeback_path,
            self.data_dir / "mlflow",
            self.dagster_home,
        ):
            d.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        # Written once; a team that runs its own instance config (PostgreSQL storage, ...) keeps it.
        if not dagster_yaml.exists() or dagster_yaml.read_text() == "telemetry:\n  enabled: false\n":
            dagster_yaml.write_text(DAGSTER_YAML)


def _date_or_none(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("OPENAR_DATA_DIR") or REPO_ROOT / "data").resolve()
    return Settings(
        data_dir=data_dir,
        dbt_target=os.environ.get("OPENAR_DBT_TARGET", "duckdb"),
        as_of_date=_date_or_none(os.environ.get("OPENAR_AS_OF_DATE")),
        sim_customers=int(os.environ.get("OPENAR_SIM_CUSTOMERS", "300")),
        sim_years=int(os.environ.get("OPENAR_SIM_YEARS", "2")),
        sim_seed=int(os.environ.get("OPENAR_SIM_SEED", "42")),
    )


def apply_process_env(settings: Settings) -> None:
    """Defaults for the libraries we drive (telemetry off, dbt and Dagster pointed at our folders)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    for k, v in settings.dbt_env().items():
        os.environ.setdefault(k, v)
