"""The folders of a jobs directory after a crash: which ones the job store says no job needs.

Runs on SQLite, and on PostgreSQL when ``GEOECO_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from geoeco.service.job_folders import (
    parse_staging_name,
    remove_stale_job_folders,
    staging_name,
    stale_job_folders,
)
from geoeco.service.job_model import JobProblem, new_job
from geoeco.service.job_store import JobStore
from geoeco.service.job_store_sqlite import SQLiteJobStore
from geoeco.service.jobs import open_store

PG_URL = os.environ.get("GEOECO_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    if request.param == "sqlite":
        return SQLiteJobStore(tmp_path / "jobs.sqlite3")
    if not PG_URL:
        pytest.skip("GEOECO_TEST_POSTGRES_URL is not set")
    s = open_store(PG_URL)
    with s._tx() as cur:
        cur.execute("DELETE FROM geoeco_jobs")
    return s


def jid(n: int) -> str:
    return f"{n:032x}"


def test_staging_names_round_trip() -> None:
    assert staging_name(jid(7), 3, 99) == f".tmp-{jid(7)}-3-99"
    assert parse_staging_name(f".tmp-{jid(7)}-3-99") == (jid(7), 3)
    for bad in (f".tmp-{jid(7)}-3", f".tmp-{jid(7)}-x-1", ".tmp-notanid-1-1", f".old-{jid(7)}"):
        assert parse_staging_name(bad) is None, bad


def test_states_of_many_jobs_in_one_call(store: JobStore) -> None:
    for n in range(1, 22):
        store.submit(new_job(jid(n), "zoning", {"n": n}))
    store.claim("h:1:t")  # job 1 (the oldest) runs
    # 0 and 22 do not exist; 23 ids in chunks of 5 (five queries)
    got = store.states([jid(n) for n in range(0, 23)], chunk=5)
    assert len(got) == 21 and jid(0) not in got and jid(22) not in got
    assert got[jid(1)] == ("running", 1)
    assert all(got[jid(n)] == ("accepted", 1) for n in range(2, 22))
    assert store.states([]) == {}


def test_folders_no_job_needs_after_a_crash(store: JobStore, tmp_path: Path) -> None:
    """Jobs: 1 running attempt 1 (a live worker elsewhere), 2 re-queued after its worker died
    (now attempt 2, accepted), 3 successful, 4 failed, 5 unknown (purged)."""
    for n in (1, 2, 3, 4):
        store.submit(new_job(jid(n), "zoning", {"n": n}))
    running = store.claim("otherhost:1:a")  # 1
    dead = store.claim("thishost:2:b")  # 2
    store.claim("thishost:2:b")  # 3
    store.claim("thishost:2:b")  # 4
    assert running is not None and dead is not None
    store.retry_or_fail(dead, reason="worker died", max_attempts=2)
    store.finish(jid(3), 1)
    store.fail(jid(4), 1, JobProblem(title="Bad", detail="bad input", status=422))
    assert store.states([jid(n) for n in (1, 2, 3, 4)]) == {
        jid(1): ("running", 1),
        jid(2): ("accepted", 2),
        jid(3): ("successful", 1),
        jid(4): ("failed", 1),
    }
    results = tmp_path / "results"
    keep = [
        staging_name(jid(1), 1, 111),  # the live attempt's staging folder
        jid(1),  # ... and its result folder, being published
        jid(3),  # a successful job's results
        "uploads",  # not a job's folder
        ".tmp-notajob",  # not a staging name either
    ]
    stale = [
        staging_name(jid(1), 0, 5),  # an older attempt of a running job
        staging_name(jid(2), 1, 222),  # the dead worker's attempt
        f".old-{jid(3)}-a1b2c3d4",  # a replaced result folder
        jid(4),  # results of a failed job (published, then the finish failed)
        staging_name(jid(4), 1, 7),
        jid(5),  # a job the store no longer has
        staging_name(jid(5), 1, 8),
    ]
    for name in keep + stale:
        (results / name).mkdir(parents=True)
        (results / name / "f.tif").write_bytes(b"x")
    (results / "jobs.sqlite3").write_bytes(b"")
    expected = sorted(results / n for n in stale)
    assert stale_job_folders(results, store) == expected
    assert remove_stale_job_folders(results, store) == expected
    assert sorted(p.name for p in results.iterdir()) == sorted([*keep, "jobs.sqlite3"])
    assert stale_job_folders(tmp_path / "missing", store) == []


def test_recover_then_clean_frees_a_dead_workers_attempt(store: JobStore, tmp_path: Path) -> None:
    store.submit(new_job(jid(9), "zoning", {"n": 9}))
    store.claim("host:999999999:gone")
    folder = tmp_path / staging_name(jid(9), 1, 4242)
    folder.mkdir()
    assert stale_job_folders(tmp_path, store) == []  # the store still says it runs
    changed = store.recover(is_alive=lambda w: False, stale_after=timedelta(seconds=60))
    assert [(j.id, j.status, j.attempt) for j in changed] == [(jid(9), "accepted", 2)]
    assert remove_stale_job_folders(tmp_path, store) == [folder] and not folder.exists()
