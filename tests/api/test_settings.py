"""One settings class for the service: every GEOECO_* variable, the job system's included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from geoeco_api.jobs_worker import JobService  # noqa: E402
from geoeco_api.settings import Settings  # noqa: E402

JOB_VARIABLES = {
    "GEOECO_JOB_RUN_WORKERS": ("job_run_workers", "false", False),
    "GEOECO_JOB_TIME_LIMIT_S": ("job_time_limit_s", "12.5", 12.5),
    "GEOECO_JOB_MAX_ATTEMPTS": ("job_max_attempts", "5", 5),
    "GEOECO_JOB_RETENTION_DAYS": ("job_retention_days", "7", 7.0),
    "GEOECO_JOB_SYNC_MAX_CELLS": ("job_sync_max_cells", "77", 77),
    "GEOECO_JOB_SYNC_TIMEOUT_S": ("job_sync_timeout_s", "3", 3.0),
    "GEOECO_JOB_STALE_AFTER_S": ("job_stale_after_s", "9", 9.0),
    "GEOECO_JOB_POLL_INTERVAL_S": ("job_poll_interval_s", "0.25", 0.25),
    "GEOECO_JOB_PLUGINS": ("job_plugins", "json, os.path", "json, os.path"),
    "GEOECO_ENGINE": ("engine", "dask", "dask"),
    "GEOECO_DASK_SCHEDULER": ("dask_scheduler", "tcp://10.0.0.1:8786", "tcp://10.0.0.1:8786"),
    "GEOECO_MAX_CONCURRENT_JOBS": ("max_concurrent_jobs", "3", 3),
}


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var, (_, text, _) in JOB_VARIABLES.items():
        monkeypatch.setenv(var, text)
    store = tmp_path / "elsewhere" / "jobs.sqlite3"
    store.parent.mkdir()
    monkeypatch.setenv("GEOECO_JOB_STORE_URL", f"sqlite:///{store}")
    monkeypatch.setenv("GEOECO_DATA_DIR", str(tmp_path / "data"))
    return store


def test_every_job_variable_is_read_by_the_one_settings_class(job_env: Path) -> None:
    s = Settings()
    for var, (field, _, value) in JOB_VARIABLES.items():
        assert getattr(s, field) == value, var
    assert s.store_url == f"sqlite:///{job_env}"
    assert s.plugin_modules == ("json", "os.path")
    assert s.job_store_dir == s.data_dir / "jobs"


def test_the_job_service_runs_as_the_settings_say(job_env: Path) -> None:
    s = Settings()
    queued = JobService(s)  # GEOECO_JOB_RUN_WORKERS=false: it only queues
    assert queued.runner is None
    assert queued.store.url == f"sqlite:///{job_env}" and job_env.exists()
    assert (queued.config.engine, queued.config.dask_scheduler) == ("dask", "tcp://10.0.0.1:8786")
    assert queued.config.plugins == ("json", "os.path")
    svc = JobService(s, start_workers=True)
    try:
        runner = svc.runner
        assert runner is not None
        assert (runner.max_workers, runner.time_limit_s, runner.max_attempts) == (3, 12.5, 5)
        assert (runner.stale_after_s, runner.poll_s) == (9.0, 0.25)
        assert runner.retention == timedelta(days=7)
    finally:
        svc.close()


def test_no_second_settings_class() -> None:
    import geoeco_api.jobs_worker as worker

    assert not hasattr(worker, "JobSettings") and not hasattr(worker, "job_settings_for")
