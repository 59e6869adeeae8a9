"""The job store (SQLite and PostgreSQL), deterministic job ids and the process catalogue.

The PostgreSQL variant needs a server: set ``GEOECO_TEST_POSTGRES_URL`` (CI does it with
``export GEOECO_TEST_POSTGRES_URL="$(scripts/ci_postgres.sh)"``); without it those tests skip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from geoeco.core.errors import InvalidInput, InvalidProcessInputs, ProcessNotFound
from geoeco.service.job_model import (
    JobProblem,
    ResultFile,
    canonical_json,
    is_job_id,
    make_job_id,
    media_type,
    new_job,
    new_job_token,
    pid_alive,
    remove_results,
    result_manifest,
    token_digest,
    utcnow,
)
from geoeco.service.job_store import JobStore
from geoeco.service.job_store_sqlite import SQLiteJobStore
from geoeco.service.jobs import open_store
from geoeco.service.processes import canonical_inputs, estimate_cells, get_process, job_identity

PG_URL = os.environ.get("GEOECO_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> JobStore:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return SQLiteJobStore(tmp_path / "jobs.sqlite3")
    if not PG_URL:
        pytest.skip(
            "GEOECO_TEST_POSTGRES_URL is not set; start a server with scripts/ci_postgres.sh"
        )
    s = open_store(PG_URL)
    with s._tx() as cur:  # a clean table for every test
        cur.execute("DELETE FROM geoeco_jobs")
    return s


def jid(n: int) -> str:
    return f"{n:032x}"


def submit(store: JobStore, n: int, process: str = "zoning", **inputs) -> None:  # type: ignore[no-untyped-def]
    store.submit(new_job(jid(n), process, inputs or {"n": n}))


# -- ids ------------------------------------------------------------------------------------
def test_job_id_is_sha256_of_the_canonical_material() -> None:
    # Expected value: the canonical JSON written out by hand and hashed with hashlib.
    text = (
        '{"engine":"0.1.0","inputs":{"a":1,"b":[1.5,"x"]},"key":null,'
        '"layers":{"admin.county":"v1"},"process":"zoning","rules_sha256":"abc"}'
    )
    expected = hashlib.sha256(text.encode()).hexdigest()[:32]
    got = make_job_id(
        "zoning",
        {"b": [1.5, "x"], "a": 1},
        layer_versions={"admin.county": "v1"},
        rules_sha256="abc",
        engine_version="0.1.0",
    )
    assert got == expected
    assert is_job_id(got)


def test_job_id_changes_with_everything_that_decides_the_result() -> None:
    base = {"layer_versions": {"l": "1"}, "rules_sha256": "r", "engine_version": "1"}
    a = make_job_id("zoning", {"x": 1}, **base)  # type: ignore[arg-type]
    variants = [
        make_job_id("zoning", {"x": 2}, **base),  # type: ignore[arg-type]
        make_job_id("erosion", {"x": 1}, **base),  # type: ignore[arg-type]
        make_job_id("zoning", {"x": 1}, **{**base, "layer_versions": {"l": "2"}}),  # type: ignore[arg-type]
        make_job_id("zoning", {"x": 1}, **{**base, "rules_sha256": "s"}),  # type: ignore[arg-type]
        make_job_id("zoning", {"x": 1}, **{**base, "engine_version": "2"}),  # type: ignore[arg-type]
        make_job_id("zoning", {"x": 1}, **base, api_key="k1"),  # type: ignore[arg-type]
        make_job_id("zoning", {"x": 1}, **base, api_key="k2"),  # type: ignore[arg-type]
    ]
    assert len({a, *variants}) == 8


def test_canonical_json_rejects_nan() -> None:
    with pytest.raises(InvalidInput, match="NaN"):
        canonical_json({"x": [float("nan")]})


# -- the state machine ----------------------------------------------------------------------
def test_lifecycle_timestamps_progress_and_results(store: JobStore) -> None:
    job, started = store.submit(new_job(jid(1), "zoning", {"demo_size": "small"}))
    assert started and job.status == "accepted" and job.attempt == 1
    assert job.started is None and job.finished is None
    claimed = store.claim("h:1:t")
    assert claimed is not None and claimed.id == jid(1) and claimed.status == "running"
    assert claimed.worker == "h:1:t" and claimed.started is not None
    assert store.update_progress(jid(1), 1, 1.7, "clamped")  # progress is clamped to 0-1
    assert store.get(jid(1)).progress == 1.0  # type: ignore[union-attr]
    assert store.update_progress(jid(1), 1, 0.25, "quarter")
    mid = store.get(jid(1))
    assert mid is not None and (mid.progress, mid.message) == (0.25, "quarter")
    files = [ResultFile(name="zones.gpkg", media_type=media_type("zones.gpkg"), size=10)]
    assert store.finish(jid(1), 1, files=files, result={"units": 3})
    done = store.get(jid(1))
    assert done is not None and done.status == "successful" and done.progress == 1.0
    assert done.files == files and done.result == {"units": 3}
    assert done.created <= done.started <= done.finished  # type: ignore[operator]
    assert done.inputs == {"demo_size": "small"}
    assert store.claim("h:1:t") is None  # nothing left


def test_repeat_returns_the_existing_job(store: JobStore) -> None:
    submit(store, 1)
    for state in ("accepted", "running", "successful"):
        if state == "running":
            store.claim("h:1:t")
        if state == "successful":
            store.finish(jid(1), 1)
        job, started = store.submit(new_job(jid(1), "zoning", {"n": 1}))
        assert not started and job.status == state and job.attempt == 1


@pytest.mark.parametrize("end", ["failed", "dismissed"])
def test_repeat_after_failure_or_dismissal_is_a_new_attempt(store: JobStore, end: str) -> None:
    submit(store, 1)
    store.claim("h:1:t")
    if end == "failed":
        assert store.fail(jid(1), 1, JobProblem(title="Boom", detail="bad input", status=422))
        failed = store.get(jid(1))
        assert failed is not None and failed.failure is not None
        assert failed.failure.detail == "bad input" and failed.failure.status == 422
    else:
        assert store.dismiss(jid(1)).status == "dismissed"  # type: ignore[union-attr]
    job, started = store.submit(new_job(jid(1), "zoning", {"n": 1}))
    assert started and job.status == "accepted" and job.attempt == 2
    assert job.failure is None and job.worker is None and job.finished is None
    # the old attempt's late writes change nothing
    assert not store.finish(jid(1), 1)
    assert not store.update_progress(jid(1), 1, 0.5, "late")
    assert store.claim("h:2:t").attempt == 2  # type: ignore[union-attr]


def test_token_hash_is_kept_until_a_new_attempt(store: JobStore) -> None:
    token, digest = new_job_token()
    assert digest == hashlib.sha256(("geoeco-job-token:" + token).encode()).hexdigest()
    store.submit(new_job(jid(1), "zoning", {"n": 1}, token_hash=digest))
    assert store.get(jid(1)).token_hash == digest  # type: ignore[union-attr]
    # a repeat of an active job neither replaces the token nor gets one
    job, started = store.submit(new_job(jid(1), "zoning", {"n": 1}, token_hash=token_digest("x")))
    assert not started and job.token_hash == digest
    store.dismiss(jid(1))
    job, started = store.submit(new_job(jid(1), "zoning", {"n": 1}, token_hash=token_digest("y")))
    assert started and job.attempt == 2 and job.token_hash == token_digest("y")
    assert store.list()[0][0].token_hash == token_digest("y")


def test_table_of_an_older_version_gets_the_token_column(store: JobStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with store._tx() as cur:  # the table as version 0.1 made it: no token_hash column
        cur.execute("ALTER TABLE geoeco_jobs DROP COLUMN token_hash")
        cur.execute(
            "INSERT INTO geoeco_jobs (id, process_id, inputs, status, attempt, progress, "
            "message, created, updated) VALUES ('" + jid(3) + "', 'zoning', '{}', 'accepted', "
            "1, 0, 'old', '2024-01-02T03:04:05.000006Z', '2024-01-02T03:04:05.000006Z')"
        )
    reopened = (
        SQLiteJobStore(tmp_path / "jobs.sqlite3")
        if isinstance(store, SQLiteJobStore)
        else open_store(store.url)
    )
    old = reopened.get(jid(3))
    assert old is not None and old.message == "old" and old.token_hash is None
    reopened.submit(new_job(jid(4), "zoning", {}, token_hash="d" * 64))
    assert reopened.get(jid(4)).token_hash == "d" * 64  # type: ignore[union-attr]


def test_dismiss_unknown_and_idempotent(store: JobStore) -> None:
    assert store.dismiss(jid(9)) is None
    submit(store, 1)
    first = store.dismiss(jid(1))
    again = store.dismiss(jid(1))
    assert first is not None and again is not None
    assert again.status == "dismissed" and again.finished == first.finished


def test_claims_are_exclusive_under_concurrency(store: JobStore) -> None:
    for n in range(6):
        submit(store, n)
    got: list[str] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        while (job := store.claim(f"h:{w}:t")) is not None:
            with lock:
                got.append(job.id)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [jid(n) for n in range(6)]  # each job exactly once


def test_claim_order_is_oldest_first(store: JobStore) -> None:
    for n in (3, 1, 2):
        submit(store, n)
    order = [store.claim("h:1:t").id for _ in range(3)]  # type: ignore[union-attr]
    assert order == [jid(3), jid(1), jid(2)]


def test_recover_requeues_then_fails_never_stuck_running(store: JobStore) -> None:
    submit(store, 1)
    store.claim("dead-host:1:t")
    # worker reported gone: re-queued with attempt + 1
    changed = store.recover(max_attempts=2, is_alive=lambda w: False)
    assert [(j.id, j.status, j.attempt) for j in changed] == [(jid(1), "accepted", 2)]
    assert "re-queued" in changed[0].message
    store.claim("dead-host:2:t")
    # second loss with max_attempts=2: failed with a reason
    changed = store.recover(max_attempts=2, is_alive=lambda w: False)
    job = changed[0]
    assert job.status == "failed" and job.failure is not None
    assert "gave up after 2 attempt(s)" in job.failure.detail
    assert store.list(status=["running"])[1] == 0


def test_recover_uses_heartbeats(store: JobStore) -> None:
    submit(store, 1)
    store.claim("h:1:t")
    # alive and fresh: untouched
    assert store.recover(is_alive=lambda w: True, stale_after=timedelta(seconds=60)) == []
    # alive by pid, but no heartbeat for two minutes: recovered
    later = utcnow() + timedelta(minutes=2)
    changed = store.recover(is_alive=lambda w: True, stale_after=timedelta(seconds=60), now=later)
    assert changed[0].status == "accepted" and "heartbeats" in changed[0].message
    store.claim("h:2:t")
    assert store.heartbeat("h:2:t") == 1
    assert store.heartbeat("h:3:t") == 0


def test_release_gives_the_job_back_unchanged(store: JobStore) -> None:
    submit(store, 1)
    store.claim("h:1:t")
    assert not store.release(jid(1), 1, "h:other:t", "x")  # only its own worker may
    assert store.release(jid(1), 1, "h:1:t", "re-queued: shutdown")
    job = store.get(jid(1))
    assert job is not None and (job.status, job.attempt, job.worker) == ("accepted", 1, None)


def test_list_paging_filters_and_owner(store: JobStore) -> None:
    for n in range(5):
        store.submit(new_job(jid(n), "zoning" if n < 3 else "erosion", {"n": n}, owner="o1"))
    store.submit(new_job(jid(7), "zoning", {"n": 7}))
    page, total = store.list(limit=2, offset=0)
    assert total == 6 and len(page) == 2
    assert page[0].id == jid(7)  # newest first
    rest, _ = store.list(limit=10, offset=2)
    assert len(rest) == 4
    assert store.list(process_id="erosion")[1] == 2
    assert store.list(owner="o1")[1] == 5
    assert store.list(owner=None)[1] == 1
    store.claim("h:1:t")
    assert store.list(status=["running"])[1] == 1
    assert store.list(status=["accepted", "running"])[1] == 6


def test_purge_deletes_old_finished_jobs_only(store: JobStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        submit(store, n)
    store.claim("h:1:t")  # jid(0) running
    store.claim("h:1:t")  # jid(1) running
    store.finish(jid(1), 1)
    store.dismiss(jid(2))
    future = utcnow() + timedelta(days=31)
    assert store.purge(timedelta(days=30)) == []  # not old yet
    removed = store.purge(timedelta(days=30), now=future)
    assert removed == [jid(1), jid(2)]
    assert store.get(jid(0)) is not None and store.get(jid(1)) is None
    (tmp_path / jid(1)).mkdir()
    (tmp_path / jid(1) / "a.csv").write_text("x")
    remove_results(tmp_path, [*removed, "../escape"])
    assert not (tmp_path / jid(1)).exists()


def test_sqlite_store_is_one_wal_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    s = open_store(f"sqlite:///{tmp_path}/sub/j.sqlite3")
    assert isinstance(s, SQLiteJobStore)
    mode = sqlite3.connect(tmp_path / "sub" / "j.sqlite3").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"
    assert open_store(tmp_path / "k.sqlite3").url.endswith("k.sqlite3")
    with pytest.raises(InvalidInput, match="not supported"):
        open_store("mysql://x")


def test_pid_alive() -> None:
    import socket

    host = socket.gethostname()
    me = os.getpid()
    assert pid_alive(f"{host}:{me}:tok", frozenset({"tok"}))
    assert not pid_alive(f"{host}:{me}:old", frozenset({"tok"}))  # an earlier runner here
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert not pid_alive(f"{host}:{p.pid}:x")  # ended process (pid not reused this fast)
    assert pid_alive("other-host:1:x")  # only heartbeats can tell
    assert not pid_alive(None) and not pid_alive("garbage")


def test_result_manifest_and_media_types(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "zones.gpkg").write_bytes(b"12345")
    (tmp_path / "zone_class.tif").write_bytes(b"1")
    (tmp_path / ".hidden").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    files = result_manifest(tmp_path)
    assert [(f.name, f.size) for f in files] == [("zone_class.tif", 1), ("zones.gpkg", 5)]
    assert files[1].media_type == "application/geopackage+sqlite3"
    assert files[0].media_type.startswith("image/tiff; application=geotiff")


# -- the process catalogue -------------------------------------------------------------------
def test_catalogue_descriptions() -> None:
    d = get_process("zoning").describe()
    # the demo sizes, in the order of their one definition (catalog.demo_region.Size)
    assert d["inputs"]["demo_size"]["schema"]["enum"] == ["full", "small"]
    assert d["inputs"]["demo_size"]["minOccurs"] == 0
    assert set(d["outputs"]) == {"summary", "files"}
    assert get_process("screening").describe()["inputs"]["zoning_job"]["minOccurs"] == 1
    with pytest.raises(ProcessNotFound, match="known processes"):
        get_process("nope")


def test_inputs_validation_names_fields() -> None:
    with pytest.raises(InvalidProcessInputs) as e:
        canonical_inputs("zoning", {"demo_size": "huge", "bogus": 1, "aoi": "/etc/passwd"})
    fields = sorted(x["field"] for x in e.value.errors)
    assert fields == ["aoi", "bogus", "demo_size"]
    with pytest.raises(InvalidProcessInputs, match="unknown rule set"):
        canonical_inputs("zoning", {"rules": "no-such-rules"})


def test_job_identity_fills_defaults_and_counts_layer_versions() -> None:
    a, canon = job_identity("zoning", {"demo_size": "small"})
    b, _ = job_identity("zoning", {"demo_size": "small", "rules": "default", "layers": {}})
    assert a == b and canon["rules"] == "default" and canon["res"] is None
    assert job_identity("zoning", {"demo_size": "small"}, api_key="k")[0] != a
    assert job_identity("zoning", {"demo_size": "small", "rules": "strict"})[0] != a


def test_estimate_cells_of_the_demo() -> None:
    # The small demo is 10 km at 30 m: floor(10000 / 30) = 333 cells a side -> 333² = 110889.
    assert estimate_cells("zoning", {"demo_size": "small"}) == 333 * 333
    assert estimate_cells("desertification", {"demo_size": "small"}) == 333 * 333
    # An administrative code: unknown until its boundary is loaded.
    assert estimate_cells("zoning", {"aoi": "610802"}) is None


# -- paging bounds (issue 12: offset 2**63 overflowed SQLite's 64-bit integer, a 500) ---------
def test_list_bounds_are_checked_before_the_sql(store: JobStore) -> None:
    from geoeco.service.job_store import MAX_LIST_LIMIT, MAX_LIST_OFFSET

    submit(store, 1)
    for kw in (
        {"offset": 2**63},
        {"offset": MAX_LIST_OFFSET + 1},
        {"offset": -1},
        {"limit": 0},
        {"limit": MAX_LIST_LIMIT + 1},
        {"limit": 2**64},
        {"limit": True},
        {"offset": 1.5},
    ):
        name = next(iter(kw))
        with pytest.raises(InvalidInput, match=f"^{name} must be an integer from"):
            store.list(**kw)  # type: ignore[arg-type]
    jobs, total = store.list(offset=MAX_LIST_OFFSET, limit=MAX_LIST_LIMIT)
    assert jobs == [] and total == 1
    assert [j.id for j in store.list(offset=0, limit=1)[0]] == [jid(1)]


def test_job_id_of_text_with_a_lone_surrogate() -> None:
    # issue 12: UTF-8 encoding of the hashed text failed (a 500); the surrogate's own 3 bytes
    # (ED A0 80, "surrogatepass") are hashed instead; valid text hashes exactly as before
    text = (
        '{"engine":"1","inputs":{"a":"\ud800"},"key":null,"layers":{},'
        '"process":"z","rules_sha256":null}'
    )
    raw = text.encode("utf-8", "surrogatepass")
    assert b"\xed\xa0\x80" in raw
    expected = hashlib.sha256(raw).hexdigest()[:32]
    assert make_job_id("z", {"a": "\ud800"}, engine_version="1") == expected
