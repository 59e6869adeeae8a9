"""Job workers: a supervisor thread per service process running jobs in child processes.

The :class:`JobRunner` polls the shared job store (:mod:`geoeco.service.jobs`) and claims accepted
jobs
atomically, so any number of API processes (and standalone workers, ``python -m
geoeco_api.jobs_worker``) can share one store. Each job runs in its own child process
(``python -m geoeco_api.jobs_worker --child``: a fresh interpreter that never re-imports the
server's main module; at most ``max_concurrent_jobs`` at once per supervisor). The supervisor

* sends heartbeats for its running jobs, so other processes can tell it is alive;
* kills a job that runs longer than the time limit and fails it with a reason;
* kills a job that was dismissed (or taken over by another process) meanwhile;
* re-queues (attempt + 1) or fails a job whose child died without reporting;
* on start and every ``stale_after / 2`` seconds calls
  :meth:`~geoeco.service.jobs.JobStore.recover`,
  so no job stays "running" after its worker is gone, then removes the folders of crashed runs
  that no job needs (:func:`geoeco.service.jobs.remove_stale_job_folders`, and dead builders' demo
  builds, :func:`geoeco.workflows.demo_cache.remove_abandoned_builds`);
* purges finished jobs older than the retention period (rows and result folders).

A child writes its results into a hidden temporary folder next to the final one and renames
it into ``<jobs dir>/<job id>/`` only when the run succeeded, then marks the job successful. A
child reads its configuration from its standard input and then keeps reading it: when the
supervisor disappears (killed) the pipe closes and the child exits, so no orphan keeps
computing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from geoeco.core import errors as ge
from geoeco.core.engine import EngineName
from geoeco.service.job_folders import remove_stale_job_folders, staging_name, staging_prefix
from geoeco.service.job_model import (
    TERMINAL,
    Job,
    JobProblem,
    is_job_id,
    key_digest,
    local_worker_id,
    new_job,
    new_job_token,
    pid_alive,
    remove_results,
    result_manifest,
)
from geoeco.service.job_store import JobStore
from geoeco.service.jobs import open_store
from geoeco.workflows.demo_cache import remove_abandoned_builds

from .errors import problem_type, scrub, status_for
from .settings import Settings

log = logging.getLogger("geoeco_api.jobs")

#: Tokens of the runners alive in this process (see :func:`geoeco.service.jobs.pid_alive`).
_LIVE_TOKENS: set[str] = set()


@dataclass(frozen=True)
class WorkerConfig:
    """What a job child process needs (picklable)."""

    store_url: str
    results_dir: Path
    cache_dir: Path | None = None
    layers_dir: Path | None = None
    input_catalogs: Path | None = None
    plugins: tuple[str, ...] = ()
    engine: EngineName = "local"
    dask_scheduler: str | None = None


# ------------------------------------------------------------------------------------------
# the child process
class _Stop(Exception):
    """The job is no longer ours (dismissed or taken over): stop quietly."""


def problem_for(exc: BaseException) -> JobProblem:
    """Problem details for an exception raised by a process (no traceback, no server paths)."""
    if isinstance(exc, ge.GeoecoError):
        cls = type(exc)
        title = ((cls.__doc__ or cls.__name__).strip().splitlines() or [cls.__name__])[0]
        return JobProblem(
            type=problem_type(cls),
            title=title.rstrip("."),
            detail=scrub(str(exc))[:2000],
            status=status_for(exc),
        )
    return JobProblem(
        type=problem_type("internal-error"),
        title="Internal error",
        detail=f"the process failed with an unexpected {type(exc).__name__}: "
        f"{scrub(str(exc))[:500]}",
        status=500,
    )


def _watch_lifeline(stream: Any) -> None:
    try:
        while stream.read(1024):
            pass
    except (OSError, ValueError):
        pass
    os._exit(70)  # the supervisor is gone: do not keep computing


def publish(tmp: Path, final: Path) -> None:
    """Move a finished result folder into place atomically (replacing an older one)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{secrets.token_hex(4)}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _child_main(job_id: str, attempt: int) -> None:
    """Run one job attempt (``--child``): config on stdin's first line, then stdin = lifeline."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when we stop
    stdin = sys.stdin.buffer
    raw = json.loads(stdin.readline())
    cfg = WorkerConfig(
        store_url=raw["store_url"],
        results_dir=Path(raw["results_dir"]),
        cache_dir=Path(raw["cache_dir"]) if raw.get("cache_dir") else None,
        layers_dir=Path(raw["layers_dir"]) if raw.get("layers_dir") else None,
        input_catalogs=Path(raw["input_catalogs"]) if raw.get("input_catalogs") else None,
        plugins=tuple(raw.get("plugins", ())),
        engine=raw.get("engine", "local"),
        dask_scheduler=raw.get("dask_scheduler"),
    )
    threading.Thread(target=_watch_lifeline, args=(stdin,), daemon=True).start()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    for mod in cfg.plugins:
        importlib.import_module(mod)
    from geoeco.catalog.layers import load_registry
    from geoeco.service.process_inputs import ExecutionContext
    from geoeco.service.processes import execute

    store = open_store(cfg.store_url)
    job = store.get(job_id)
    if job is None or job.status != "running" or job.attempt != attempt:
        return
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    tmp = cfg.results_dir / staging_name(job_id, attempt)
    tmp.mkdir()
    last_time, last_step = [0.0], [""]

    def progress(step: str, fraction: float) -> None:
        now = time.monotonic()
        if step == last_step[0] and now - last_time[0] < 0.5 and fraction < 1.0:
            return
        last_time[0], last_step[0] = now, step
        if not store.update_progress(job_id, attempt, fraction, step):
            raise _Stop

    try:
        layers = cfg.layers_dir
        registry = load_registry(layers) if layers and layers.is_dir() else load_registry()
        ctx = ExecutionContext(
            registry=registry,
            cache_dir=cfg.cache_dir,
            runs_dir=cfg.results_dir,
            engine=cfg.engine,
            scheduler=cfg.dask_scheduler,
            input_catalogs=cfg.input_catalogs,
        )
        result = execute(job.process_id, job.inputs, tmp, progress, context=ctx).summary
        files = result_manifest(tmp)
        final = cfg.results_dir / job_id
        publish(tmp, final)
        if not store.finish(job_id, attempt, files=files, result=result):
            now = store.get(job_id)
            if now is None or now.status == "dismissed":
                shutil.rmtree(final, ignore_errors=True)
    except _Stop:
        log.info("job %s attempt %s stopped: no longer running", job_id, attempt)
    except BaseException as exc:
        if not isinstance(exc, ge.GeoecoError):
            log.exception("job %s failed", job_id)
        store.fail(job_id, attempt, problem_for(exc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# the supervisor
@dataclass
class _Child:
    job: Job
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class JobRunner:
    """Supervisor thread: claims jobs, runs each in a child process, enforces the limits."""

    def __init__(
        self,
        cfg: WorkerConfig,
        *,
        max_workers: int = 2,
        time_limit_s: float = 3600.0,
        max_attempts: int = 2,
        stale_after_s: float = 60.0,
        poll_s: float = 0.5,
        retention: timedelta | None = None,
        store: JobStore | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store or open_store(cfg.store_url)
        self.max_workers = max_workers
        self.time_limit_s = time_limit_s
        self.max_attempts = max_attempts
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s
        self.retention = retention
        self.token = secrets.token_hex(6)
        self.worker_id = local_worker_id(self.token)
        self._children: dict[str, _Child] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = {"beat": 0.0, "recover": 0.0, "purge": 0.0}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> JobRunner:
        """Recover orphaned jobs, remove their leftover folders, start the supervisor thread."""
        _LIVE_TOKENS.add(self.token)
        self.cfg.results_dir.mkdir(parents=True, exist_ok=True)
        self._recover()
        self._thread = threading.Thread(
            target=self._loop, name=f"geoeco-jobs-{self.token}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, stop the running children and give their jobs back to the queue."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        _LIVE_TOKENS.discard(self.token)

    def kick(self) -> None:
        """Look for work now (after a submit)."""
        self._wake.set()

    @property
    def running(self) -> list[str]:
        """Ids of the jobs this runner is executing."""
        return list(self._children)

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # a database hiccup must not kill the supervisor
                log.exception("job supervisor tick failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()
        self._shutdown()

    def _tick(self) -> None:
        now = time.monotonic()
        self._reap()
        self._police()
        if now - self._last["beat"] >= min(5.0, self.stale_after_s / 4):
            self.store.heartbeat(self.worker_id)
            self._last["beat"] = now
        if now - self._last["recover"] >= self.stale_after_s / 2:
            self._recover()
        if self.retention is not None and now - self._last["purge"] >= 3600:
            self._last["purge"] = now
            ids = self.store.purge(self.retention)
            remove_results(self.cfg.results_dir, ids)
            if ids:
                log.info("purged %d finished jobs older than %s", len(ids), self.retention)
        while len(self._children) < self.max_workers and not self._stop.is_set():
            job = self.store.claim(self.worker_id)
            if job is None:
                break
            self._spawn(job)

    def _is_alive(self, worker: str | None) -> bool:
        return pid_alive(worker, frozenset(_LIVE_TOKENS))

    def _recover(self) -> None:
        """Re-queue or fail the jobs of dead workers, then delete the folders no job needs."""
        self._last["recover"] = time.monotonic()
        for job in self.store.recover(
            max_attempts=self.max_attempts,
            is_alive=self._is_alive,
            stale_after=timedelta(seconds=self.stale_after_s),
        ):
            log.warning("recovered job %s: now %s (attempt %d)", job.id, job.status, job.attempt)
        try:
            gone = remove_stale_job_folders(self.cfg.results_dir, self.store)
            if self.cfg.cache_dir is not None:
                gone += remove_abandoned_builds(self.cfg.cache_dir)
        except OSError as exc:  # a folder we may not list must not stop the service
            log.warning("could not remove leftover folders: %s", scrub(str(exc)))
            return
        for p in gone:
            log.warning("removed leftover folder %s", p.name)

    def _spawn(self, job: Job) -> None:
        env = dict(os.environ)
        # The child sees the modules this process sees (plugins, tests' helper modules).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.Popen(
            [sys.executable, "-m", "geoeco_api.jobs_worker", "--child", job.id, str(job.attempt)],
            stdin=subprocess.PIPE,
            env=env,
        )
        cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.cfg).items()}
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(cfg).encode() + b"\n")
            proc.stdin.flush()
        except OSError:  # died at once; _reap handles it
            pass
        self._children[job.id] = _Child(job, proc)
        log.info("job %s (%s) attempt %d started", job.id, job.process_id, job.attempt)

    def _end(self, child: _Child, *, kill: bool) -> None:
        if kill and child.proc.poll() is None:
            child.proc.terminate()
            try:
                child.proc.wait(3)
            except subprocess.TimeoutExpired:
                child.proc.kill()
        try:
            child.proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
            log.error("job process %s did not exit", child.proc.pid)
        if child.proc.stdin is not None:
            try:
                child.proc.stdin.close()
            except OSError:
                pass
        self._children.pop(child.job.id, None)
        for p in self.cfg.results_dir.glob(staging_prefix(child.job.id, child.job.attempt) + "*"):
            shutil.rmtree(p, ignore_errors=True)

    def _reap(self) -> None:
        for child in list(self._children.values()):
            code = child.proc.poll()
            if code is None:
                continue
            self._end(child, kill=False)
            now = self.store.get(child.job.id)
            if (
                now is not None
                and now.status == "running"
                and now.attempt == child.job.attempt
                and now.worker == self.worker_id
            ):
                self.store.retry_or_fail(
                    now,
                    reason=f"the job's process ended unexpectedly (exit code {code})",
                    max_attempts=self.max_attempts,
                    problem_type=problem_type("worker-lost"),
                )

    def _police(self) -> None:
        for child in list(self._children.values()):
            now = self.store.get(child.job.id)
            if (
                now is None
                or now.status != "running"
                or now.attempt != child.job.attempt
                or now.worker != self.worker_id
            ):
                self._end(child, kill=True)
                if now is not None and now.status == "dismissed":
                    remove_results(self.cfg.results_dir, [child.job.id])
                continue
            if time.monotonic() - child.started > self.time_limit_s:
                self._end(child, kill=True)
                self.store.fail(
                    child.job.id,
                    child.job.attempt,
                    JobProblem(
                        type=problem_type("job-time-limit"),
                        title="Time limit exceeded",
                        detail=f"the job ran longer than the limit of {self.time_limit_s:g} s "
                        "and was stopped (GEOECO_JOB_TIME_LIMIT_S); use a smaller area or a "
                        "coarser resolution",
                        status=500,
                    ),
                )

    def _shutdown(self) -> None:
        for child in list(self._children.values()):
            self._end(child, kill=True)
            self.store.release(
                child.job.id, child.job.attempt, self.worker_id, "re-queued: the server shut down"
            )


# ------------------------------------------------------------------------------------------
# the service object the routers use
class JobService:
    """The store, the results folder and (optionally) this process's runner, as ``settings``
    say (``start_workers`` overrides ``settings.job_run_workers``)."""

    def __init__(self, settings: Settings, *, start_workers: bool | None = None) -> None:
        self.settings = settings
        self.results_dir = settings.job_store_dir
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(settings.store_url)
        self.config = WorkerConfig(
            store_url=self.store.url,
            results_dir=self.results_dir.resolve(),
            cache_dir=settings.cache_dir,
            layers_dir=settings.user_layers_dir,
            input_catalogs=settings.input_catalogs,
            plugins=settings.plugin_modules,
            engine=settings.engine,
            dask_scheduler=settings.dask_scheduler,
        )
        self.runner: JobRunner | None = None
        if start_workers if start_workers is not None else settings.job_run_workers:
            days = settings.job_retention_days
            self.runner = JobRunner(
                self.config,
                max_workers=settings.max_concurrent_jobs,
                time_limit_s=settings.job_time_limit_s,
                max_attempts=settings.job_max_attempts,
                stale_after_s=settings.job_stale_after_s,
                poll_s=settings.job_poll_interval_s,
                retention=timedelta(days=days) if days > 0 else None,
            ).start()

    def close(self) -> None:
        """Stop this process's runner (its running jobs go back to the queue)."""
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def owner_of(self, api_key: str | None) -> str | None:
        """The owner recorded for a request (only when keys are on)."""
        return key_digest(api_key) if api_key and self.settings.keys_enabled else None

    def submit(
        self, process_id: str, job_id: str, inputs: dict[str, Any], owner: str | None
    ) -> tuple[Job, bool, str | None]:
        """Queue the job (or find it); a new attempt drops the previous attempt's files.

        Returns the job, whether a new attempt started and, when keys are off and it did, the
        token that may dismiss it (the store keeps only its digest).
        """
        token, digest = (None, None) if self.settings.keys_enabled else new_job_token()
        job, started = self.store.submit(
            new_job(job_id, process_id, inputs, owner=owner, token_hash=digest)
        )
        if started:
            if job.attempt > 1:
                remove_results(self.results_dir, [job.id])
            if self.runner is not None:
                self.runner.kick()
        return job, started, token if started else None

    async def wait(self, job_id: str, timeout_s: float) -> Job | None:
        """Poll the store until the job is finished or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            job = await asyncio.to_thread(self.store.get, job_id)
            if job is None or job.status in TERMINAL or time.monotonic() >= deadline:
                return job
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 0.5)

    def dismiss(self, job_id: str) -> Job | None:
        """Dismiss a job and delete its files (a running one is stopped by its supervisor)."""
        job = self.store.dismiss(job_id)
        if job is not None:
            remove_results(self.results_dir, [job_id])
        return job

    def file_path(self, job: Job, name: str) -> Path | None:
        """The path of a listed output file of a successful job, or ``None``.

        Only names in the job's manifest are served, and the resolved path must lie in the
        job's folder, so no name can reach another file.
        """
        if job.status != "successful" or not is_job_id(job.id):
            return None
        if name not in {f.name for f in job.files} or "/" in name or "\\" in name:
            return None
        folder = (self.results_dir / job.id).resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            return None
        return path


def main(argv: list[str] | None = None) -> int:
    """``python -m geoeco_api.jobs_worker``: a standalone worker sharing the job store."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child_main(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description="geoeco job worker (runs until SIGTERM)")
    parser.add_argument("--store", help="job store URL (default: GEOECO_JOB_STORE_URL / SQLite)")
    parser.add_argument("--jobs-dir", type=Path, help="results folder (default GEOECO_JOBS_DIR)")
    parser.add_argument("--workers", type=int, help="concurrent jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    overrides: dict[str, Any] = {}
    if args.jobs_dir is not None:
        overrides["jobs_dir"] = args.jobs_dir
    if args.workers is not None:
        overrides["max_concurrent_jobs"] = args.workers
    if args.store:
        overrides["job_store_url"] = args.store
    settings = Settings(**overrides)
    for mod in settings.plugin_modules:
        importlib.import_module(mod)
    service = JobService(settings, start_workers=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    assert service.runner is not None
    log.info("worker %s on %s", service.runner.worker_id, service.store.url.split("@")[-1])
    print(f"ready {service.runner.worker_id}", flush=True)
    stop.wait()
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "JobRunner",
    "JobService",
    "WorkerConfig",
    "main",
    "problem_for",
    "publish",
]
