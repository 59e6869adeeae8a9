"""Finished zoning runs a service answers on: the demo's cached run or a job's results, and
the runs it keeps open for queries.

A :class:`ZoningRunFolder` says where a run's files are: a ``zoning`` job's results folder
holds ``zones.gpkg`` and the rasters itself (:func:`job_zoning_run`); the demo's run (a
:func:`geoeco.workflows.demo.run_demo` folder, built once into the cache by
:func:`geoeco.workflows.demo_cache.ensure_demo_run`) holds them in ``zones/`` beside the
analyses (:func:`demo_zoning_run`). :class:`OpenedRuns` keeps the opened
:class:`~geoeco.query.context.QueryContext` of recently used runs (a thread-safe LRU, one
opener at a time per run), keyed by the run, its folder and the modification time of its
``zones.gpkg``, so a run written again (a job rerun after a dismissal) is opened again.

Examples
--------
>>> run = job_zoning_run("0" * 32, Path("/srv/jobs") / ("0" * 32))
>>> run.zones_dir == run.folder, run.zones_gpkg.name
(True, 'zones.gpkg')
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from geoeco.query.context import QueryContext

from .demo_cache import demo_run_dir, ensure_demo_run

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ZoningRunFolder:
    """A finished zoning run on disk: an id, its folder, and the folder of its zoning outputs
    (``zones.gpkg``, ``zone_class.tif`` ...)."""

    id: str
    folder: Path
    zones_dir: Path

    @property
    def zones_gpkg(self) -> Path:
        """The run's ``zones.gpkg``."""
        return self.zones_dir / "zones.gpkg"


def job_zoning_run(job_id: str, folder: Path) -> ZoningRunFolder:
    """The run in a ``zoning`` job's results ``folder``."""
    return ZoningRunFolder(job_id, folder, folder)


@lru_cache(maxsize=16)
def demo_zoning_ref(cache_dir: str | Path, size: str = "full") -> ZoningRunFolder:
    """Where the demo region's run of ``size`` is (or will be) in ``cache_dir``; no disk access.

    >>> demo_zoning_ref("/c", "small").id, demo_zoning_ref("/c", "small").zones_dir.name
    ('demo-small', 'zones')
    """
    folder = demo_run_dir(cache_dir, size)
    return ZoningRunFolder(f"demo-{size}", folder, folder / "zones")


def demo_zoning_run(
    cache_dir: str | Path, size: str = "full", *, progress: Progress | None = None
) -> ZoningRunFolder:
    """The demo region's run of ``size`` in ``cache_dir``, built there on first use."""
    ensure_demo_run(cache_dir, size, progress=progress)
    return demo_zoning_ref(cache_dir, size)


class OpenedRuns:
    """A thread-safe LRU of ``size`` opened runs; one opener at a time per run."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int], QueryContext] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str, int], threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @staticmethod
    def _key(run: ZoningRunFolder) -> tuple[str, str, int]:
        try:
            mtime = run.zones_gpkg.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return (run.id, str(run.folder), mtime)

    def peek(self, run: ZoningRunFolder) -> QueryContext | None:
        """The run if it is open (its most recently opened version), else ``None``.

        Touches no file (unlike :meth:`open`, which reads the modification time of
        ``zones.gpkg``), so an event loop may call it; it counts as a use for the LRU. For runs
        that are never written again in place (the demo's cached run); a job's run can be
        rewritten under the same id, so look those up with :meth:`open`.
        """
        with self._lock:
            for key in reversed(self._items):
                if key[0] == run.id and key[1] == str(run.folder):
                    self._items.move_to_end(key)
                    return self._items[key]
        return None

    def open(self, run: ZoningRunFolder, **options: Any) -> QueryContext:
        """The opened run (:meth:`QueryContext.open` of its folder with ``options``), from the
        LRU when it holds it."""
        key = self._key(run)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            klock = self._key_locks.setdefault(key, threading.Lock())
        with klock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = QueryContext.open(run.folder, **options)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._key_locks.pop(key, None)
            return value


__all__ = [
    "OpenedRuns",
    "ZoningRunFolder",
    "demo_zoning_ref",
    "demo_zoning_run",
    "job_zoning_run",
]
