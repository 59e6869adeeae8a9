"""The SQLite job store (one file, WAL journal; the default store of :mod:`geoeco.service.jobs`).

>>> SQLiteJobStore(":memory:").url
'sqlite://:memory:'
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .job_store import _INDEX, _SCHEMA, JobStore


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
        with self._tx() as cur:  # a table of an older version gets the new columns
            self._add_missing_columns(cur)

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
