"""Sensor on the landing folder: a new or changed file starts the daily job."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg


def landing_fingerprint(landing_dir: Path) -> str:
    """Names, sizes and modification times of every landing file: changes when a file arrives or is re-exported."""
    h = hashlib.sha256()
    if landing_dir.exists():
        for p in sorted(landing_dir.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(landing_dir)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def build_landing_sensor(job: dg.JobDefinition, landing_dir: Path, name: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{name}_landing_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Runs {job.name} when files arrive in {landing_dir}.",
    )
    def landing_folder_sensor(context: dg.SensorEvaluationContext):
        fingerprint = landing_fingerprint(landing_dir)
        if fingerprint == context.cursor:
            return dg.SkipReason("no new or changed landing files")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=fingerprint)

    return landing_folder_sensor
