"""MLflow tracking and the model registry: train, backtest, register, promote by alias, load.

- Tracking store: ``orchestration.settings.load_settings().mlflow_tracking_uri`` (a sqlite file under
  the data folder unless ``MLFLOW_TRACKING_URI`` says otherwise); artifacts next to it.
- Every training run logs its parameters, the rolling backtest (metrics, the table, per-fold rows)
  and its plots, and registers the fitted model as a new version of ``MODEL_NAME``.
- Promotion: the new version becomes ``@champion`` only if it beats the current champion *on the
  same rolling backtest* — same history, same origins — (``challenger_wins``); otherwise it is
  tagged ``@challenger``. The champion's recipe is its stored configuration, so its backtest can
  be rerun on today's history; when the history is unchanged since the champion was measured
  (same fingerprint), its stored metrics are reused.
- The model is logged as an MLflow pyfunc whose loader is this module (``_load_pyfunc``): the
  LightGBM boosters are plain text files and a JSON spec, nothing is pickled. Scoring loads
  ``models:/<name>@champion`` and every prediction row records the name and version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ml.backtest import BacktestResult, backtest_plots, rolling_backtest
from ml.history import InvoiceHistory
from ml.payment_model import ModelConfig, PaymentModel, fit_payment_model

MODEL_NAME = "openar_payment_days"
EXPERIMENT = "openar-payment-prediction"
CHAMPION, CHALLENGER = "champion", "challenger"
# How a challenger must compare with the champion on the same backtest (issue-date rows): a lower
# MAE, an interval still roughly honest (70-90%, or no further off than the champion's), and no
# worse ranking of the 30+ days late.
COVERAGE_TARGET, COVERAGE_TOLERANCE = 0.80, 0.10
AUC_TOLERANCE = 0.01


def tracking_uri() -> str:
    from orchestration.settings import load_settings

    return load_settings().mlflow_tracking_uri


def _mlflow(uri: str | None):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = uri or tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow, uri


def _experiment_id(mlflow, uri: str) -> str:
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        # Without an explicit location artifacts land in ./mlruns of whatever folder the process runs in.
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return mlflow.create_experiment(EXPERIMENT, artifact_location=location)


def history_fingerprint(h: InvoiceHistory, origins: list[dt.date]) -> str:
    """Identity of a backtest's inputs: the history's facts and the origins."""
    inv = h.invoices
    digest = hashlib.sha256()
    digest.update(
        pd.util.hash_pandas_object(
            inv[
                [
                    "invoice_id",
                    "customer_id",
                    "invoice_date",
                    "due_date",
                    "amount_minor",
                    "paid_date",
                    "paid_known_date",
                    "closed_known_date",
                ]
            ],
            index=False,
        )
        .to_numpy()
        .tobytes()
    )
    digest.update(",".join(o.isoformat() for o in origins).encode())
    return digest.hexdigest()[:16]


def challenger_wins(challenger: dict, champion: dict) -> tuple[bool, str]:
    """A lower MAE than the champion's, without a worse-calibrated interval or a worse ranking."""
    c_mae, k_mae = challenger["mae"], champion["mae"]
    if not c_mae < k_mae:
        return False, f"MAE {c_mae:.3f} is not below the champion's {k_mae:.3f}"
    c_cov_err = abs(challenger["p10_p90_coverage"] - COVERAGE_TARGET)
    k_cov_err = abs(champion["p10_p90_coverage"] - COVERAGE_TARGET)
    if c_cov_err > max(COVERAGE_TOLERANCE, k_cov_err):
        return False, (
            f"P10-P90 coverage {challenger['p10_p90_coverage']:.3f} is off the 0.80 target by more "
            f"than {max(COVERAGE_TOLERANCE, k_cov_err):.3f}"
        )
    if challenger["auc_30_late"] < champion["auc_30_late"] - AUC_TOLERANCE:
        return (
            False,
            f"AUC {challenger['auc_30_late']:.3f} is below the champion's {champion['auc_30_late']:.3f}",
        )
    return True, f"MAE {c_mae:.3f} beats the champion's {k_mae:.3f} on the same backtest"


@dataclass
class TrainingOutcome:
    model_name: str
    model_version: str
    run_id: str
    promoted: bool
    reason: str
    metrics: dict
    champion_metrics: dict | None
    backtest: BacktestResult
    timings: dict = field(default_factory=dict)


def train_and_register(
    h: InvoiceHistory,
    as_of: dt.date,
    *,
    config: ModelConfig | None = None,
    uri: str | None = None,
    model_name: str = MODEL_NAME,
    outcomes: pd.DataFrame | None = None,
    backtest_kwargs: dict | None = None,
    progress=None,
) -> TrainingOutcome:
    """Backtest the recipe, fit it on everything known at ``as_of``, log and register it, and
    promote it to ``@champion`` if it beats the current champion on the same backtest."""
    mlflow, uri = _mlflow(uri)
    from mlflow import MlflowClient

    say = progress or (lambda _m: None)
    config = config or ModelConfig()
    client = MlflowClient(uri, uri)
    exp_id = _experiment_id(mlflow, uri)
    timings = {}
    kwargs = dict(backtest_kwargs or {})

    t = time.perf_counter()
    result = rolling_backtest(h, config, outcomes=outcomes, progress=say, **kwargs)
    timings["backtest_s"] = round(time.perf_counter() - t, 1)
    fingerprint = history_fingerprint(h, result.origins)
    metrics = result.metrics.loc["model"].to_dict()

    champion = _champion_version(client, model_name)
    champion_metrics = None
    if champion is not None:
        stored = champion.tags.get("backtest_fingerprint")
        if stored == fingerprint and "backtest_metrics" in champion.tags:
            champion_metrics = json.loads(champion.tags["backtest_metrics"])
        else:
            say(f"re-running the champion (version {champion.version}) on the same backtest")
            champ_model = load_model(model_name, CHAMPION, uri=uri)[0]
            kwargs_same = {**kwargs, "origins": result.origins}
            t = time.perf_counter()
            champ_result = rolling_backtest(
                h, champ_model.config, outcomes=outcomes, progress=say, **kwargs_same
            )
            timings["champion_backtest_s"] = round(time.perf_counter() - t, 1)
            champion_metrics = champ_result.metrics.loc["model"].to_dict()

    t = time.perf_counter()
    model = fit_payment_model(h, as_of, config)
    timings["fit_s"] = round(time.perf_counter() - t, 1)

    with (
        mlflow.start_run(experiment_id=exp_id, run_name=f"payment-model-{as_of.isoformat()}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        tmp = Path(tmp)
        mlflow.log_params(
            {
                f"config.{k}": (json.dumps(v) if isinstance(v, (list, tuple)) else v)
                for k, v in config.to_dict().items()
            }
        )
        mlflow.log_params(
            {
                "as_of": as_of.isoformat(),
                "history_source": h.source or "frame",
                "invoices": len(h.invoices),
                "backtest_origins": ",".join(o.isoformat() for o in result.origins),
                "backtest_fingerprint": fingerprint,
                "outcomes": result.info.get("outcomes"),
            }
        )
        for method, row in result.metrics.iterrows():
            prefix = "" if method == "model" else f"{method}."
            mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in row.items() if pd.notna(v)})
        if result.open_metrics is not None:
            mlflow.log_metrics(
                {
                    f"rescoring.{k}": float(v)
                    for k, v in result.open_metrics.loc["model"].items()
                    if pd.notna(v)
                }
            )
        result.metrics.to_csv(tmp / "backtest_metrics.csv", index_label="method")
        result.folds.to_csv(tmp / "backtest_folds.csv", index=False)
        if result.open_metrics is not None:
            result.open_metrics.to_csv(tmp / "backtest_rescoring_metrics.csv", index_label="method")
        (tmp / "backtest_table.txt").write_text(result.table() + "\n")
        result.importance.to_csv(tmp / "feature_importance.csv", index=False)
        for name in (
            "backtest_metrics.csv",
            "backtest_folds.csv",
            "backtest_table.txt",
            "feature_importance.csv",
        ):
            mlflow.log_artifact(str(tmp / name), artifact_path="backtest")
        if result.open_metrics is not None:
            mlflow.log_artifact(str(tmp / "backtest_rescoring_metrics.csv"), artifact_path="backtest")
        for png in backtest_plots(result, tmp / "plots"):
            mlflow.log_artifact(str(png), artifact_path="plots")

        model_dir = model.save(tmp / "payment_model")
        t = time.perf_counter()
        info = mlflow.pyfunc.log_model(
            name="payment_model",
            loader_module="ml.registry",
            data_path=str(model_dir),
            pip_requirements=_pip_requirements(),
            registered_model_name=model_name,
        )
        timings["log_model_s"] = round(time.perf_counter() - t, 1)
        version = str(info.registered_model_version)
        run_id = run.info.run_id

    client.set_model_version_tag(model_name, version, "backtest_fingerprint", fingerprint)
    client.set_model_version_tag(model_name, version, "backtest_metrics", json.dumps(metrics))
    if champion_metrics is None:
        promoted, reason = True, "no champion yet"
    else:
        promoted, reason = challenger_wins(metrics, champion_metrics)
    client.set_model_version_tag(
        model_name, version, "promotion", ("promoted: " if promoted else "kept out: ") + reason
    )
    client.set_registered_model_alias(model_name, CHAMPION if promoted else CHALLENGER, version)
    say(
        f"{model_name} version {version}: {'promoted to @champion' if promoted else 'not promoted'} ({reason})"
    )
    return TrainingOutcome(
        model_name, version, run_id, promoted, reason, metrics, champion_metrics, result, timings
    )


def _champion_version(client, model_name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def champion_info(model_name: str = MODEL_NAME, *, uri: str | None = None) -> dict | None:
    """The current champion's version and the as-of date it was trained at, or None without one."""
    _mlflow_mod, uri = _mlflow(uri)
    from mlflow import MlflowClient

    client = MlflowClient(uri, uri)
    version = _champion_version(client, model_name)
    if version is None:
        return None
    params = client.get_run(version.run_id).data.params if version.run_id else {}
    as_of = params.get("as_of")
    return {
        "model_name": model_name,
        "model_version": str(version.version),
        "trained_as_of": dt.date.fromisoformat(as_of) if as_of else None,
        "promotion": version.tags.get("promotion"),
    }


def load_model(
    model_name: str = MODEL_NAME, alias: str = CHAMPION, *, uri: str | None = None
) -> tuple[PaymentModel, str, str]:
    """The model behind ``models:/<name>@<alias>``, with its name and version."""
    mlflow, uri = _mlflow(uri)
    from mlflow import MlflowClient

    version = MlflowClient(uri, uri).get_model_version_by_alias(model_name, alias)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{model_name}@{alias}"))
    data = _pyfunc_data_dir(local)
    return PaymentModel.load(data), model_name, str(version.version)


def _pyfunc_data_dir(model_root: Path) -> Path:
    from mlflow.models import Model

    return model_root / Model.load(str(model_root / "MLmodel")).flavors["python_function"]["data"]


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "scikit-learn", "holidays", "mlflow")
    ]


class _PyfuncModel:
    """What ``mlflow.pyfunc.load_model`` returns for our models: predictions without drivers."""

    def __init__(self, model: PaymentModel):
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return self.model.predict(model_input, drivers=False)


def _load_pyfunc(data_path: str) -> _PyfuncModel:
    return _PyfuncModel(PaymentModel.load(Path(data_path)))
