"""A real crash: the service is killed with SIGKILL while real zoning and erosion jobs run.

What it models: the kernel's OOM killer (or an operator's ``kill -9``) ending the server
process alone. The job processes it started are not killed by anyone; they must notice their
lifeline (standard input) closing and exit by themselves. Nothing of the dying processes
cleans up: their staging folders, the half-built demo inputs and the store's "running" rows
stay. The service is then started again on the same folders and must bring every job to an
end and remove every leftover.

Checks, in order:

* at the crash: the store still says zoning and erosion are running and desertification
  (queued behind them, ``GEOECO_MAX_CONCURRENT_JOBS=2``) accepted; each running job's child
  process exits within seconds of the server's death (no orphan keeps computing); the crash
  did leave two ``.tmp-*`` staging folders and an abandoned demo-inputs build;
* after the restart: every job ends ``successful`` — the two killed ones as attempt 2 (re-queued
  by the restarted service, no job stays running/accepted) — or ``failed`` with problem
  details; each successful job's results list exactly the files in its folder, and each file
  is served;
* no leftovers: the jobs folder holds the store and one folder per successful job, nothing
  hidden; the cache holds complete builds and their lock files only; the system temporary
  folder given to the service (``TMPDIR``) is empty; no process of either server's process
  group is alive after the second server stopped.

The jobs run on the small demo (about 10 km at 30 m), so the test takes about a minute.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from geoeco.service.job_store_sqlite import SQLiteJobStore
from geoeco.workflows.demo_cache import demo_inputs_dir

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads process groups from /proc (Linux)"
)
TERMINAL = ("successful", "failed", "dismissed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, process group)`` of a process from /proc, or ``None`` if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None and st[1] == pgid and st[0] != "Z":
                pids.append(int(entry.name))
    return sorted(pids)


def alive(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def wait_for(pred, timeout: float, what: str) -> Any:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


class Server:
    """``geoeco serve`` in its own process group (so its children can be found and checked)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "geoeco.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}"
            try:
                return httpx.get(self.base + "/processes", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout, "the server to answer")

    def job(self, job_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/jobs/{job_id}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in group_members(self.pgid):  # never leave a stray process behind
            os.kill(pid, signal.SIGKILL)
        self._log.close()


def submit(server: Server, process: str) -> str:
    r = httpx.post(
        f"{server.base}/processes/{process}/execution",
        json={"inputs": {"demo_size": "small"}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["jobID"])


def hidden(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


@pytest.mark.slow
def test_sigkill_while_zoning_and_erosion_run(tmp_path: Path) -> None:
    t_start = time.monotonic()
    jobs, cache, systmp = tmp_path / "jobs", tmp_path / "cache", tmp_path / "systmp"
    systmp.mkdir()
    env = {
        **os.environ,
        "GEOECO_DATA_DIR": str(tmp_path / "data"),
        "GEOECO_JOBS_DIR": str(jobs),
        "GEOECO_CACHE_DIR": str(cache),
        "GEOECO_JOB_STORE_URL": "",
        "GEOECO_API_KEYS": "",
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_MAX_CONCURRENT_JOBS": "2",
        "GEOECO_JOB_MAX_ATTEMPTS": "2",
        "GEOECO_JOB_POLL_INTERVAL_S": "0.2",
        "GEOECO_JOB_TIME_LIMIT_S": "300",
        "TMPDIR": str(systmp),
    }
    log = tmp_path / "server.log"
    first = Server(env, log)
    second: Server | None = None
    try:
        first.wait_ready()
        ids = {p: submit(first, p) for p in ("zoning", "erosion", "desertification")}

        def computing() -> bool:
            return all(
                (s := first.job(ids[p]))["status"] == "running" and s["progress"] > 0
                for p in ("zoning", "erosion")
            )

        wait_for(computing, 40, "zoning and erosion to compute")
        children = [p for p in group_members(first.pgid) if p != first.proc.pid]
        assert len(children) >= 2, "each running job has its own process"

        # -- the crash -------------------------------------------------------------------
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        store = SQLiteJobStore(jobs / "jobs.sqlite3")
        at_crash = {p: store.get(i) for p, i in ids.items()}
        assert {p: (j.status, j.attempt) for p, j in at_crash.items() if j} == {
            "zoning": ("running", 1),
            "erosion": ("running", 1),
            "desertification": ("accepted", 1),
        }
        wait_for(lambda: not any(alive(p) for p in children), 15, "the orphaned jobs to exit")
        staging = sorted(p.name for p in jobs.glob(".tmp-*"))
        assert len(staging) == 2, staging
        abandoned = [p.name for p in (cache / "demo-inputs").glob(".*") if p.is_dir()]
        assert len(abandoned) == 1, "zoning was killed while building its demo inputs"

        # -- the restart -----------------------------------------------------------------
        second = Server(env, log)
        second.wait_ready()
        s2 = second

        def all_ended() -> dict[str, dict[str, Any]] | None:
            now = {p: s2.job(i) for p, i in ids.items()}
            return now if all(s["status"] in TERMINAL for s in now.values()) else None

        final = wait_for(all_ended, 75, "every job to end after the restart")
        for p, s in final.items():
            assert s["status"] in ("successful", "failed"), (p, s)
            if s["status"] == "failed":  # a reason, as problem details
                r = httpx.get(f"{second.base}/jobs/{ids[p]}/results", timeout=10)
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["detail"] and s["exception"]["title"]
        assert {p: (s["status"], s["attempt"]) for p, s in final.items()} == {
            "zoning": ("successful", 2),
            "erosion": ("successful", 2),
            "desertification": ("successful", 1),
        }
        successful = {ids[p] for p, s in final.items() if s["status"] == "successful"}
        for jid in successful:
            res = httpx.get(f"{second.base}/jobs/{jid}/results", timeout=10).json()
            listed = {f["title"] for f in res["files"]}
            assert listed == {f.name for f in (jobs / jid).iterdir()}, jid
            for f in res["files"]:
                assert httpx.get(f["href"], timeout=30).status_code == 200, f["title"]
    finally:
        first.close()
        if second is not None:
            second.close()

    # -- no leftovers ----------------------------------------------------------------------
    assert group_members(first.pgid) == [] and group_members(second.pgid) == []
    assert {p.name for p in jobs.iterdir() if p.is_dir()} == successful
    assert hidden(jobs) == [], "staging, .old-* or scratch folders remain"
    assert not [p for p in jobs.iterdir() if p.is_file() and not p.name.startswith("jobs.sqlite3")]
    small = demo_inputs_dir(cache, "small").name  # small-<version>-g<generator version>
    assert sorted(p.name for p in (cache / "demo-inputs").iterdir()) == [small, f"{small}.lock"]
    assert [h for h in hidden(cache) if not h.endswith("/.complete")] == []
    assert list(systmp.iterdir()) == []
    print(f"SIGKILL test: {time.monotonic() - t_start:.1f} s")
