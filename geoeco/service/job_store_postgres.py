"""The PostgreSQL job store (``psycopg`` 3; ``pip install geoeco[postgres]``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from geoeco.core.errors import InvalidInput

from .job_store import _INDEX, _SCHEMA, JobStore


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
            self._add_missing_columns(cur)  # a table of an older version gets the new columns

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._psycopg.connect(self.url, connect_timeout=self.connect_timeout_s) as con:
            with con.transaction(), con.cursor() as cur:
                yield cur

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")
