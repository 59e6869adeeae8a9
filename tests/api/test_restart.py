"""A worker killed in the middle of a job: on restart the job is re-queued (or failed after
the last attempt), never left "running".

The job is a plugin process ``block`` that writes its pid and waits while a file exists. The
worker is the standalone ``python -m geoeco_api.jobs_worker`` sharing a SQLite store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geoeco.core.staging import host_tag
from geoeco.service.job_model import new_job
from geoeco.service.job_store_sqlite import SQLiteJobStore

PLUGIN = """
import os, time
from pathlib import Path
from pydantic import BaseModel
from geoeco.service.processes import Process, register_process

class BlockInputs(BaseModel):
    block_file: str
    pid_file: str

def run(inp, out, progress, ctx):
    Path(inp.pid_file).write_text(str(os.getpid()))
    t0 = time.time()
    while Path(inp.block_file).exists() and time.time() - t0 < 120:
        progress("blocked", 0.3)
        time.sleep(0.1)
    (out / "done.txt").write_text("ok")
    return {"ok": True}

register_process(Process(id="block", title="Block", description="test",
                         inputs_model=BlockInputs, run=run), overwrite=True)
"""
JOB = "b" * 32


def start_worker(tmp_path: Path, max_attempts: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), *sys.path]),
        "GEOECO_DATA_DIR": str(tmp_path / "data"),
        "GEOECO_JOBS_DIR": str(tmp_path / "jobs"),
        "GEOECO_CACHE_DIR": str(tmp_path / "cache"),
        "GEOECO_JOB_PLUGINS": "geoeco_block_plugin",
        "GEOECO_JOB_MAX_ATTEMPTS": str(max_attempts),
        "GEOECO_JOB_POLL_INTERVAL_S": "0.1",
        "GEOECO_JOB_STORE_URL": "",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "geoeco_api.jobs_worker"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready"), "the worker did not start"
    return proc


def wait(store: SQLiteJobStore, pred, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = store.get(JOB)
        if job is not None and pred(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"condition not reached; job is {store.get(JOB)}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("max_attempts", [2, 1])
def test_killed_worker_job_is_requeued_or_failed(tmp_path: Path, max_attempts: int) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "geoeco_block_plugin.py").write_text(PLUGIN)
    block, pid_file = tmp_path / "block", tmp_path / "pid"
    block.write_text("x")
    store = SQLiteJobStore(tmp_path / "jobs" / "jobs.sqlite3")
    store.submit(new_job(JOB, "block", {"block_file": str(block), "pid_file": str(pid_file)}))

    first = start_worker(tmp_path, max_attempts)
    try:
        job = wait(store, lambda j: j.status == "running" and j.progress > 0)
        child = int(pid_file.read_text())
        first.send_signal(signal.SIGKILL)  # the worker dies without any cleanup
        first.wait(10)
        # the store still says "running": nothing could tell it otherwise
        assert store.get(JOB).status == "running"  # type: ignore[union-attr]
        # the orphaned child notices its closed lifeline and exits
        t0 = time.time()
        while alive(child) and time.time() - t0 < 10:
            time.sleep(0.1)
        assert not alive(child), "the job's process outlived its worker"
    finally:
        if first.poll() is None:
            first.kill()

    pid_file.unlink()
    second = start_worker(tmp_path, max_attempts)
    try:
        if max_attempts == 2:
            # re-queued as attempt 2, picked up again, and finished once unblocked
            job = wait(store, lambda j: j.attempt == 2 and j.status == "running")
            block.unlink()
            job = wait(store, lambda j: j.status == "successful")
            assert job.attempt == 2
            assert (tmp_path / "jobs" / JOB / "done.txt").read_text() == "ok"
        else:
            job = wait(store, lambda j: j.status != "running")
            assert job.status == "failed" and job.attempt == 1
            assert job.failure is not None
            assert "worker process ended" in job.failure.detail
            assert "gave up after 1 attempt(s)" in job.failure.detail
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert store.list(status=["running"])[1] == 0


def test_a_starting_runner_removes_dead_workers_leftovers_only(tmp_path: Path) -> None:
    """What a crashed service leaves, and what a live worker of another process has, side by
    side in one jobs folder and cache; a new runner's start removes exactly the former."""
    import socket

    from geoeco_api.jobs_worker import JobRunner, WorkerConfig

    from geoeco.service.job_folders import staging_name
    from geoeco.service.job_model import JobProblem

    host = socket.gethostname()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(10)  # a pid that has ended: the crashed worker
    dead_pid, live_pid = done.pid, sleeper.pid
    try:
        jobs, cache = tmp_path / "jobs", tmp_path / "cache"
        store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
        ids = {name: f"{n:032x}" for n, name in enumerate(("dead", "live", "failed"), 1)}
        for jid in ids.values():
            store.submit(new_job(jid, "block", {"n": jid}))
        store.claim(f"{host}:{dead_pid}:a")
        store.claim(f"{host}:{live_pid}:b")
        store.claim(f"{host}:{live_pid}:b")
        store.fail(ids["failed"], 1, JobProblem(title="Bad", detail="bad", status=422))
        leftovers = [
            jobs / staging_name(ids["dead"], 1, dead_pid),
            jobs / ids["failed"],  # published, then failed: no results to serve
            cache / "demo-inputs" / f".small-1.build-{host_tag()}-{dead_pid}-x1",
        ]
        in_use = [
            jobs / staging_name(ids["live"], 1, live_pid),
            cache / "demo-run" / f".full-1.build-{host_tag()}-{live_pid}-x2",
            cache / "demo-run" / "full-1",
        ]
        for p in leftovers + in_use:
            p.mkdir(parents=True)
        runner = JobRunner(
            WorkerConfig(store_url=store.url, results_dir=jobs, cache_dir=cache),
            max_attempts=1,
            store=store,
        ).start()
        runner.stop()
        assert [p for p in leftovers if p.exists()] == []
        assert [p for p in in_use if not p.exists()] == []
        dead = store.get(ids["dead"])
        assert dead is not None and dead.status == "failed" and dead.failure is not None
        assert "worker process ended" in dead.failure.detail
        assert store.get(ids["live"]).status == "running"  # type: ignore[union-attr]
    finally:
        sleeper.kill()
        sleeper.wait(10)
