"""Durable analysis jobs: the job model, deterministic ids and the job store.

A job is one run of a process (:mod:`geoeco.service.processes`) on canonical inputs. Its id is a
hash
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
>>> from geoeco.service.job_model import ResultFile, make_job_id, new_job
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

from pathlib import Path

from geoeco.core.errors import InvalidInput

from .job_store import JobStore
from .job_store_postgres import PostgresJobStore
from .job_store_sqlite import SQLiteJobStore


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
    "open_store",
]
