"""Durable analysis jobs: the job model, deterministic ids and the job store.

A job is one run of a process (:mod:`geoeco.processes`) on canonical inputs. Its id is a hash
of everything that decides the result (:func:`make_job_id`), so repeating a request finds the
existing job and its cached result. Jobs live in a :class:`JobStore`: :class:`SQLiteJobStore`
(one file, WAL, the default) or :class:`PostgresJobStore` (``psycopg`` 3, install
``geoeco[postgres]``). Several processes may share one store: claiming a job is one atomic
``UPDATE ... RETURNING`` (``BEGIN IMMEDIATE`` in SQLite, ``FOR UPDATE SKIP LOCKED`` in
PostgreSQL).

States::

    accepted -> running -> successful | failed | dismissed
    accepted -> dismissed | failed
    failed | dismissed --(submitted again)--> accepted (same id, attempt + 1)
    running --(worker gone, recover())--> accepted (attempt + 1) | failed (after max attempts)

Every state-changing write is conditional on the job's ``attempt`` (and for a running job on
its ``worker``), so a late write of a killed or superseded worker changes nothing.

Timestamps are UTC, stored as fixed-width ISO-8601 text (``2024-01-02T03:04:05.000006Z``) so
both databases sort and compare them as strings.

Examples
--------
>>> store = SQLiteJobStore(":memory:")
>>> jid = make_job_id("zoning", {"demo_size": "small"}, engine_version="0.1.0")
>>> len(jid)
32
>>> job, new = store.submit(new_job(jid, "zoning", {"demo_size": "small"}))
>>> new, job.status, job.attempt
(True, 'accepted', 1)
>>> store.submit(new_job(jid, "zoning", {"demo_size": "small"}))[1]
False
>>> claimed = store.claim("host:1:abc")
>>> claimed.status, store.update_progress(jid, 1, 0.5, "half way")
('running', True)
>>> store.finish(jid, 1, files=[ResultFile(name="a.csv", media_type="text/csv", size=3)])
True
>>> store.get(jid).status
'successful'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidInput

JobStatus = Literal["accepted", "running", "successful", "failed", "dismissed"]
#: States a job leaves only by a worker's or a client's action.
ACTIVE: tuple[JobStatus, ...] = ("accepted", "running")
#: Final states; submitting the same job again starts a new attempt from failed / dismissed.
TERMINAL: tuple[JobStatus, ...] = ("successful", "failed", "dismissed")
#: Length of a job id (hex characters of the SHA-256).
JOB_ID_LENGTH = 32

_MEDIA_TYPES: dict[str, str] = {
    ".gpkg": "application/geopackage+sqlite3",
    ".tif": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".tiff": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".csv": "text/csv",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".html": "text/html",
    ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".toml": "application/toml",
    ".txt": "text/plain",
    ".zip": "application/zip",
    ".qml": "application/xml",
}


class JobProblem(BaseModel):
    """Why a job failed, as RFC 7807 problem details (``type``, ``title``, ``detail``)."""

    model_config = ConfigDict(frozen=True)

    type: str = "about:blank"
    title: str
    detail: str = ""
    status: int | None = None


class ResultFile(BaseModel):
    """One output file of a job: its name in the job folder, media type and size in bytes."""

    model_config = ConfigDict(frozen=True)

    name: str
    media_type: str
    size: int = 0


class Job(BaseModel):
    """A job as the store holds it (see the module docstring for the states)."""

    model_config = ConfigDict(frozen=True)

    id: str
    process_id: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    status: JobStatus = "accepted"
    attempt: int = 1
    progress: float = 0.0
    message: str = ""
    created: datetime
    updated: datetime
    started: datetime | None = None
    finished: datetime | None = None
    worker: str | None = None
    heartbeat: datetime | None = None
    failure: JobProblem | None = None
    files: list[ResultFile] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    owner: str | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _ts(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal inputs give equal text.

    >>> canonical_json({"b": 1, "a": [1.0, "x"]})
    '{"a":[1.0,"x"],"b":1}'
    """

    def check(o: Any) -> None:
        if isinstance(o, float) and not math.isfinite(o):
            raise InvalidInput("inputs must not contain NaN or infinity")
        if isinstance(o, Mapping):
            for v in o.values():
                check(v)
        elif isinstance(o, list | tuple):
            for v in o:
                check(v)

    check(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_job_id(
    process_id: str,
    inputs: Mapping[str, Any],
    *,
    layer_versions: Mapping[str, str] | None = None,
    rules_sha256: str | None = None,
    engine_version: str,
    api_key: str | None = None,
) -> str:
    """The deterministic id of a job: SHA-256 of everything that decides its result.

    The hashed text is the canonical JSON of the process id, the canonical inputs, the versions
    of the layers used, the rule-set hash, the engine version and (when keys are on) the SHA-256
    of the caller's API key, so two callers never share a job and the key itself is not kept.
    The id is the first :data:`JOB_ID_LENGTH` hex characters (128 bits).

    >>> a = make_job_id("zoning", {"x": 1}, engine_version="1")
    >>> a == make_job_id("zoning", {"x": 1}, engine_version="1")
    True
    >>> a == make_job_id("zoning", {"x": 1}, engine_version="2")
    False
    """
    material = {
        "process": process_id,
        "inputs": dict(inputs),
        "layers": dict(sorted((layer_versions or {}).items())),
        "rules_sha256": rules_sha256,
        "engine": engine_version,
        "key": None if api_key is None else key_digest(api_key),
    }
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()[:JOB_ID_LENGTH]


def key_digest(api_key: str) -> str:
    """Short SHA-256 digest of an API key (what the store keeps as a job's owner)."""
    return hashlib.sha256(("geoeco-key:" + api_key).encode("utf-8")).hexdigest()[:24]


def is_job_id(text: str) -> bool:
    """Whether ``text`` has the shape of a job id (lower-case hex of the right length).

    >>> is_job_id("0" * 32), is_job_id("../etc"), is_job_id("0" * 31)
    (True, False, False)
    """
    return len(text) == JOB_ID_LENGTH and all(c in "0123456789abcdef" for c in text)


def new_job(
    job_id: str, process_id: str, inputs: Mapping[str, Any], *, owner: str | None = None
) -> Job:
    """A fresh ``accepted`` job (attempt 1) to hand to :meth:`JobStore.submit`."""
    now = utcnow()
    return Job(
        id=job_id, process_id=process_id, inputs=dict(inputs), created=now, updated=now, owner=owner
    )


def media_type(name: str) -> str:
    """Media type of an output file by its suffix.

    >>> media_type("zones.gpkg"), media_type("x.bin")
    ('application/geopackage+sqlite3', 'application/octet-stream')
    """
    return _MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def result_manifest(folder: str | Path) -> list[ResultFile]:
    """The regular files directly inside ``folder`` (sorted), with media types and sizes."""
    out = []
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and not p.is_symlink() and not p.name.startswith("."):
            out.append(
                ResultFile(name=p.name, media_type=media_type(p.name), size=p.stat().st_size)
            )
    return out


def remove_results(results_dir: str | Path, job_ids: Sequence[str]) -> None:
    """Delete the result folders ``results_dir/<id>`` of ``job_ids`` (missing ones are fine)."""
    for jid in job_ids:
        if is_job_id(jid):
            shutil.rmtree(Path(results_dir) / jid, ignore_errors=True)


def local_worker_id(token: str) -> str:
    """A worker id ``host:pid:token`` for the current process."""
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


def pid_alive(worker: str | None, live_tokens: frozenset[str] = frozenset()) -> bool:
    """Whether the worker ``host:pid:token`` may still be alive, judged from this process.

    A worker on another host is assumed alive (only its heartbeat can tell). On this host a
    worker in *this* process is alive only if its token is in ``live_tokens``; otherwise the
    pid is probed with signal 0.
    """
    if not worker:
        return False
    parts = worker.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid_s, token = parts
    if host != socket.gethostname():
        return True
    pid = int(pid_s)
    if pid == os.getpid():
        return token in live_tokens
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_COLUMNS = (
    "id",
    "process_id",
    "inputs",
    "status",
    "attempt",
    "progress",
    "message",
    "created",
    "updated",
    "started",
    "finished",
    "worker",
    "heartbeat",
    "failure",
    "files",
    "result",
    "owner",
)
_COLS = ", ".join(_COLUMNS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS geoeco_jobs (
    id TEXT PRIMARY KEY,
    process_id TEXT NOT NULL,
    inputs TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    progress DOUBLE PRECISION NOT NULL,
    message TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    worker TEXT,
    heartbeat TEXT,
    failure TEXT,
    files TEXT,
    result TEXT,
    owner TEXT
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS geoeco_jobs_status ON geoeco_jobs (status, created)"
# Reset of a job to a new attempt (accepted, nothing of the old run kept).
_RESET = (
    "status='accepted', progress=0, started=NULL, finished=NULL, worker=NULL, "
    "heartbeat=NULL, failure=NULL, files=NULL, result=NULL"
)


def _row_to_job(row: Sequence[Any]) -> Job:
    d = dict(zip(_COLUMNS, row, strict=True))
    return Job(
        id=d["id"],
        process_id=d["process_id"],
        inputs=json.loads(d["inputs"]),
        status=d["status"],
        attempt=int(d["attempt"]),
        progress=float(d["progress"]),
        message=d["message"],
        created=_parse_ts(d["created"]),
        updated=_parse_ts(d["updated"]),
        started=_parse_ts(d["started"]),
        finished=_parse_ts(d["finished"]),
        worker=d["worker"],
        heartbeat=_parse_ts(d["heartbeat"]),
        failure=JobProblem.model_validate_json(d["failure"]) if d["failure"] else None,
        files=[ResultFile.model_validate(f) for f in json.loads(d["files"] or "[]")],
        result=json.loads(d["result"]) if d["result"] else None,
        owner=d["owner"],
    )


class JobStore(ABC):
    """Where jobs live. Subclasses give a connection; the SQL is shared.

    SQL is written with ``?`` placeholders; :attr:`_skip_locked` is appended to the sub-select
    that picks the next job to claim.
    """

    url: str
    _skip_locked = ""

    @abstractmethod
    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A cursor inside a write transaction (committed on exit, rolled back on error)."""

    def _sql(self, sql: str) -> str:
        return sql

    def _exec(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(sql), tuple(params))
        return cur

    # -- submit / read ---------------------------------------------------------------------
    def submit(self, job: Job) -> tuple[Job, bool]:
        """Store a new job, or return the existing one with this id.

        Returns ``(job, started)``: ``started`` is True when a new attempt was queued, i.e. the
        id was unknown (attempt 1) or the existing job had failed or been dismissed (same id,
        attempt + 1). An accepted, running or successful job is returned unchanged.
        """
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                f"INSERT INTO geoeco_jobs ({_COLS}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
                "ON CONFLICT (id) DO NOTHING",
                (
                    job.id,
                    job.process_id,
                    canonical_json(job.inputs),
                    "accepted",
                    1,
                    0.0,
                    "accepted: waiting for a worker",
                    now,
                    now,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    job.owner,
                ),
            )
            if cur.rowcount == 1:
                started = True
            else:
                self._exec(
                    cur,
                    f"UPDATE geoeco_jobs SET {_RESET}, attempt=attempt+1, created=?, updated=?, "
                    "message=? WHERE id=? AND status IN ('failed', 'dismissed')",
                    (now, now, "accepted: new attempt after a failed or dismissed one", job.id),
                )
                started = cur.rowcount == 1
            row = self._exec(
                cur, f"SELECT {_COLS} FROM geoeco_jobs WHERE id=?", (job.id,)
            ).fetchone()
        return _row_to_job(row), started

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or ``None``."""
        with self._tx() as cur:
            row = self._exec(
                cur, f"SELECT {_COLS} FROM geoeco_jobs WHERE id=?", (job_id,)
            ).fetchone()
        return None if row is None else _row_to_job(row)

    def list(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        process_id: str | None = None,
        status: Sequence[str] | None = None,
        owner: str | None | Literal["*"] = "*",
    ) -> tuple[list[Job], int]:
        """A page of jobs, newest first, and the number of jobs matching the filters.

        ``owner="*"`` lists every owner; ``None`` only jobs submitted without a key.
        """
        where, params = [], []
        if process_id is not None:
            where.append("process_id=?")
            params.append(process_id)
        if status:
            where.append(f"status IN ({', '.join('?' * len(status))})")
            params.extend(status)
        if owner != "*":
            if owner is None:
                where.append("owner IS NULL")
            else:
                where.append("owner=?")
                params.append(owner)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._tx() as cur:
            total = self._exec(cur, f"SELECT COUNT(*) FROM geoeco_jobs{clause}", params).fetchone()
            rows = self._exec(
                cur,
                f"SELECT {_COLS} FROM geoeco_jobs{clause} ORDER BY created DESC, id "
                "LIMIT ? OFFSET ?",
                [*params, int(limit), int(offset)],
            ).fetchall()
        return [_row_to_job(r) for r in rows], int(total[0])

    # -- worker side -----------------------------------------------------------------------
    def claim(self, worker: str) -> Job | None:
        """Atomically move the oldest accepted job to running for ``worker``; ``None`` if idle."""
        now = _ts(utcnow())
        with self._tx() as cur:
            row = self._exec(
                cur,
                "UPDATE geoeco_jobs SET status='running', worker=?, started=?, updated=?, "
                "heartbeat=?, message='running' WHERE id = (SELECT id FROM geoeco_jobs WHERE "
                f"status='accepted' ORDER BY created, id LIMIT 1{self._skip_locked}) "
                f"AND status='accepted' RETURNING {_COLS}",
                (worker, now, now, now),
            ).fetchall()
        return _row_to_job(row[0]) if row else None

    def update_progress(self, job_id: str, attempt: int, progress: float, message: str) -> bool:
        """Record progress (0-1) of a running attempt; False if it is no longer running."""
        p = min(1.0, max(0.0, float(progress)))
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE geoeco_jobs SET progress=?, message=?, updated=?, heartbeat=? "
                "WHERE id=? AND attempt=? AND status='running'",
                (p, message[:500], now, now, job_id, attempt),
            )
            return cur.rowcount == 1

    def heartbeat(self, worker: str) -> int:
        """Mark every running job of ``worker`` as alive now; returns how many."""
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE geoeco_jobs SET heartbeat=? WHERE worker=? AND status='running'",
                (now, worker),
            )
            return int(cur.rowcount)

    def finish(
        self,
        job_id: str,
        attempt: int,
        *,
        files: Sequence[ResultFile] = (),
        result: Mapping[str, Any] | None = None,
    ) -> bool:
        """Mark a running attempt successful with its result manifest; False if it was not."""
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE geoeco_jobs SET status='successful', progress=1, message='done', "
                "finished=?, updated=?, files=?, result=? "
                "WHERE id=? AND attempt=? AND status='running'",
                (
                    now,
                    now,
                    json.dumps([f.model_dump() for f in files]),
                    None if result is None else json.dumps(result, ensure_ascii=False),
                    job_id,
                    attempt,
                ),
            )
            return cur.rowcount == 1

    def fail(self, job_id: str, attempt: int, problem: JobProblem) -> bool:
        """Mark an accepted or running attempt failed with ``problem``; False if it was not."""
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE geoeco_jobs SET status='failed', message=?, finished=?, updated=?, "
                "failure=? WHERE id=? AND attempt=? AND status IN ('accepted', 'running')",
                (problem.title[:500], now, now, problem.model_dump_json(), job_id, attempt),
            )
            return cur.rowcount == 1

    def release(self, job_id: str, attempt: int, worker: str, message: str) -> bool:
        """Give a running attempt back to the queue unchanged (e.g. on a clean shutdown)."""
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                f"UPDATE geoeco_jobs SET {_RESET}, message=?, updated=? "
                "WHERE id=? AND attempt=? AND worker=? AND status='running'",
                (message, now, job_id, attempt, worker),
            )
            return cur.rowcount == 1

    def retry_or_fail(
        self, job: Job, *, reason: str, max_attempts: int, problem_type: str = "about:blank"
    ) -> Job | None:
        """Re-queue a running job whose worker is gone (attempt + 1), or fail it for good.

        The write is conditional on the job still being running with the same attempt and
        worker. Returns the job as it now is, or ``None`` if it had moved on.
        """
        now = _ts(utcnow())
        with self._tx() as cur:
            if job.attempt < max_attempts:
                self._exec(
                    cur,
                    f"UPDATE geoeco_jobs SET {_RESET}, attempt=attempt+1, message=?, updated=? "
                    "WHERE id=? AND attempt=? AND status='running' AND worker IS NOT DISTINCT "
                    "FROM ?",
                    (f"re-queued: {reason}", now, job.id, job.attempt, job.worker),
                )
            else:
                problem = JobProblem(
                    type=problem_type,
                    title="The job's worker stopped",
                    detail=f"{reason}; gave up after {job.attempt} attempt(s)",
                    status=500,
                )
                self._exec(
                    cur,
                    "UPDATE geoeco_jobs SET status='failed', message=?, finished=?, updated=?, "
                    "failure=? WHERE id=? AND attempt=? AND status='running' "
                    "AND worker IS NOT DISTINCT FROM ?",
                    (
                        problem.title,
                        now,
                        now,
                        problem.model_dump_json(),
                        job.id,
                        job.attempt,
                        job.worker,
                    ),
                )
            changed = cur.rowcount == 1
        return self.get(job.id) if changed else None

    def recover(
        self,
        *,
        max_attempts: int = 3,
        is_alive: Callable[[str | None], bool] = pid_alive,
        stale_after: timedelta = timedelta(seconds=60),
        now: datetime | None = None,
    ) -> list[Job]:
        """Re-queue or fail every running job whose worker is gone; never leave it running.

        A worker is gone when ``is_alive(worker)`` says so (on the same host: its process has
        ended) or its heartbeat is older than ``stale_after`` (any host). Returns the jobs
        changed, as they now are.
        """
        t = now or utcnow()
        running, _ = self.list(limit=100_000, status=["running"])
        changed = []
        for job in running:
            beat = job.heartbeat or job.updated
            if is_alive(job.worker) and t - beat <= stale_after:
                continue
            why = (
                "the worker stopped sending heartbeats"
                if is_alive(job.worker)
                else "the worker process ended while the job was running"
            )
            new = self.retry_or_fail(job, reason=why, max_attempts=max_attempts)
            if new is not None:
                changed.append(new)
        return changed

    # -- client side -----------------------------------------------------------------------
    def dismiss(self, job_id: str) -> Job | None:
        """Mark a job dismissed (a running one is stopped by its worker); ``None`` if unknown."""
        now = _ts(utcnow())
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE geoeco_jobs SET status='dismissed', message='dismissed by the client', "
                "finished=?, updated=?, files=NULL WHERE id=? AND status <> 'dismissed'",
                (now, now, job_id),
            )
        return self.get(job_id)

    def purge(self, older_than: timedelta, *, now: datetime | None = None) -> list[str]:
        """Delete finished jobs (successful, failed, dismissed) older than ``older_than``.

        Age counts from ``finished``. Returns the ids deleted; remove their folders with
        :func:`remove_results`.
        """
        cutoff = _ts((now or utcnow()) - older_than)
        with self._tx() as cur:
            rows = self._exec(
                cur,
                "DELETE FROM geoeco_jobs WHERE status IN ('successful', 'failed', 'dismissed') "
                "AND finished IS NOT NULL AND finished < ? RETURNING id",
                (cutoff,),
            ).fetchall()
        return sorted(r[0] for r in rows)


class SQLiteJobStore(JobStore):
    """Jobs in one SQLite file (WAL journal; ``:memory:`` for a private in-process store).

    Each operation opens its own connection (cheap for SQLite), so the store can be used from
    several threads and processes; writes take the database lock up front (``BEGIN
    IMMEDIATE``) and wait up to ``timeout_s`` for it.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s
        self._memory: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        if self.path == ":memory:":
            self._memory = sqlite3.connect(
                ":memory:", isolation_level=None, check_same_thread=False
            )
            self.url = "sqlite://:memory:"
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.url = "sqlite:///" + str(Path(self.path).resolve())
        with self._connect() as con:
            if self._memory is None:
                con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)
            con.execute(_INDEX)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            with self._lock:
                yield self._memory
            return
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            yield con
        finally:
            con.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._connect() as con:
            cur = con.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _sql(self, sql: str) -> str:
        return sql.replace("IS NOT DISTINCT FROM", "IS")


class PostgresJobStore(JobStore):
    """Jobs in a PostgreSQL table ``geoeco_jobs`` (``psycopg`` 3; ``pip install geoeco[postgres]``).

    Claims use ``SELECT ... FOR UPDATE SKIP LOCKED`` so any number of processes can poll the
    same table. Each operation opens its own connection.
    """

    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, connect_timeout_s: int = 10) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise InvalidInput(
                "a PostgreSQL job store needs psycopg 3: pip install 'geoeco[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        with self._tx() as cur:
            # Two processes creating the table at once would race; a lock serialises them.
            cur.execute("SELECT pg_advisory_xact_lock(762271)")
            cur.execute(_SCHEMA)
            cur.execute(_INDEX)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._psycopg.connect(self.url, connect_timeout=self.connect_timeout_s) as con:
            with con.transaction(), con.cursor() as cur:
                yield cur

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")


def open_store(url: str | Path) -> JobStore:
    """A store from a URL: ``postgresql://...`` / ``postgres://...``, ``sqlite:///path``, a path.

    >>> open_store(":memory:").url
    'sqlite://:memory:'
    """
    s = str(url)
    if s.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return PostgresJobStore(s.replace("postgresql+psycopg://", "postgresql://", 1))
    if s in (":memory:", "sqlite://:memory:"):
        return SQLiteJobStore(":memory:")
    if s.startswith("sqlite:///"):
        return SQLiteJobStore(s[len("sqlite:///") :])
    if "://" in s:
        raise InvalidInput(
            f"job store URL scheme of {s.split('://')[0]!r} is not supported; "
            "use sqlite:///path or postgresql://..."
        )
    return SQLiteJobStore(s)


__all__ = [
    "ACTIVE",
    "JOB_ID_LENGTH",
    "TERMINAL",
    "Job",
    "JobProblem",
    "JobStatus",
    "JobStore",
    "PostgresJobStore",
    "ResultFile",
    "SQLiteJobStore",
    "canonical_json",
    "is_job_id",
    "key_digest",
    "local_worker_id",
    "make_job_id",
    "media_type",
    "new_job",
    "open_store",
    "pid_alive",
    "remove_results",
    "result_manifest",
    "utcnow",
]
