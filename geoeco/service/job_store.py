"""The job store's shared SQL: :class:`JobStore`, the base of the SQLite and PostgreSQL stores.

The table ``geoeco_jobs`` holds one row per job; every state-changing write is conditional on
the job's ``attempt`` (and for a running job on its ``worker``), see :mod:`geoeco.service.jobs`.

>>> from .job_store_sqlite import SQLiteJobStore
>>> isinstance(SQLiteJobStore(":memory:"), JobStore)
True
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from numbers import Integral
from typing import Any, Literal

from geoeco.core.errors import InvalidInput

from .job_model import (
    Job,
    JobProblem,
    ResultFile,
    _parse_ts,
    _ts,
    canonical_json,
    pid_alive,
    utcnow,
)

#: Largest ``offset`` and ``limit`` of :meth:`JobStore.list` (SQLite and PostgreSQL take 64-bit
#: integers; these bounds keep every accepted value far inside that range).
MAX_LIST_OFFSET = 1_000_000_000
MAX_LIST_LIMIT = 1_000_000_000

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
    "token_hash",
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
    owner TEXT,
    token_hash TEXT
)
"""
#: Columns added after the first release, with their type: tables made earlier get them on
#: open (:meth:`JobStore._add_missing_columns`).
_ADDED_COLUMNS = {"token_hash": "TEXT"}
_INDEX = "CREATE INDEX IF NOT EXISTS geoeco_jobs_status ON geoeco_jobs (status, created)"
# Reset of a job to a new attempt (accepted, nothing of the old run kept).
_RESET = (
    "status='accepted', progress=0, started=NULL, finished=NULL, worker=NULL, "
    "heartbeat=NULL, failure=NULL, files=NULL, result=NULL"
)


def _stamp(text: str) -> datetime:
    """A timestamp of a column that is never NULL (``created``, ``updated``)."""
    t = _parse_ts(text)
    if t is None:
        raise ValueError("a job row lacks its created or updated time")
    return t


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
        created=_stamp(d["created"]),
        updated=_stamp(d["updated"]),
        started=_parse_ts(d["started"]),
        finished=_parse_ts(d["finished"]),
        worker=d["worker"],
        heartbeat=_parse_ts(d["heartbeat"]),
        failure=JobProblem.model_validate_json(d["failure"]) if d["failure"] else None,
        files=[ResultFile.model_validate(f) for f in json.loads(d["files"] or "[]")],
        result=json.loads(d["result"]) if d["result"] else None,
        owner=d["owner"],
        token_hash=d["token_hash"],
    )


def _page_bounds(limit: int, offset: int) -> tuple[int, int]:
    """``(limit, offset)`` as ints inside the documented bounds, else InvalidInput.

    >>> _page_bounds(10, 0)
    (10, 0)
    >>> _page_bounds(10, 2**63)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: offset must be an integer from 0 to 1000000000, got 92233720...
    """
    for name, value, lo, hi in (
        ("limit", limit, 1, MAX_LIST_LIMIT),
        ("offset", offset, 0, MAX_LIST_OFFSET),
    ):
        if isinstance(value, bool) or not isinstance(value, Integral) or not lo <= value <= hi:
            raise InvalidInput(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return int(limit), int(offset)


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

    @staticmethod
    def _add_missing_columns(cur: Any) -> list[str]:
        """Add the :data:`_ADDED_COLUMNS` a table made by an older version lacks; their names.

        ``cur`` runs inside the caller's schema transaction (which serialises concurrent
        openers); the column list comes from an empty ``SELECT *``.
        """
        cur.execute("SELECT * FROM geoeco_jobs LIMIT 0")
        have = {d[0] for d in cur.description}
        added = [name for name in _ADDED_COLUMNS if name not in have]
        for name in added:
            cur.execute(f"ALTER TABLE geoeco_jobs ADD COLUMN {name} {_ADDED_COLUMNS[name]}")
        return added

    # -- submit / read ---------------------------------------------------------------------
    def submit(self, job: Job) -> tuple[Job, bool]:
        """Store a new job, or return the existing one with this id.

        Returns ``(job, started)``: ``started`` is True when a new attempt was queued, i.e. the
        id was unknown (attempt 1) or the existing job had failed or been dismissed (same id,
        attempt + 1); the new attempt keeps ``job.token_hash`` (the old token stops working).
        An accepted, running or successful job is returned unchanged.
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
                    job.token_hash,
                ),
            )
            if cur.rowcount == 1:
                started = True
            else:
                self._exec(
                    cur,
                    f"UPDATE geoeco_jobs SET {_RESET}, attempt=attempt+1, created=?, updated=?, "
                    "message=?, token_hash=? WHERE id=? AND status IN ('failed', 'dismissed')",
                    (
                        now,
                        now,
                        "accepted: new attempt after a failed or dismissed one",
                        job.token_hash,
                        job.id,
                    ),
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

    def states(self, job_ids: Iterable[str], *, chunk: int = 500) -> dict[str, tuple[str, int]]:
        """``{id: (status, attempt)}`` of the given jobs that exist (one query per ``chunk``)."""
        ids = sorted(set(job_ids))
        found: dict[str, tuple[str, int]] = {}
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            with self._tx() as cur:
                rows = self._exec(
                    cur,
                    "SELECT id, status, attempt FROM geoeco_jobs "
                    f"WHERE id IN ({', '.join('?' * len(part))})",
                    part,
                ).fetchall()
            found.update({r[0]: (r[1], int(r[2])) for r in rows})
        return found

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

        ``owner="*"`` lists every owner; ``None`` only jobs submitted without a key. ``limit``
        (1 to :data:`MAX_LIST_LIMIT`) or ``offset`` (0 to :data:`MAX_LIST_OFFSET`) out of range
        raise :class:`~geoeco.core.errors.InvalidInput`.
        """
        limit, offset = _page_bounds(limit, offset)
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
                [*params, limit, offset],
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
            return bool(cur.rowcount == 1)

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
            return bool(cur.rowcount == 1)

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
            return bool(cur.rowcount == 1)

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
            return bool(cur.rowcount == 1)

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
    ) -> builtins.list[Job]:  # (``list`` here is the method above)
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

    def purge(self, older_than: timedelta, *, now: datetime | None = None) -> builtins.list[str]:
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
