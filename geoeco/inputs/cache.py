"""The on-disk cache of fetched windows, and progress hooks.

Every remote read goes through a :class:`WindowCache`: raw pixel windows (``.npy``) keyed by
item id, unsigned asset href, window and recipe version, plus small JSON answers (asset
headers, search results). A second run for the same area and year therefore reads nothing
remote. Entries are written to a temporary file in the same folder and renamed into place, so
a crash or a concurrent run never leaves half an entry; a corrupt entry is treated as absent.

Progress is reported through a :class:`Progress` (items planned, each item done with its
bytes and whether it came from the cache) so that the CLI can draw bars; :class:`ProgressTotals`
adds them up (thread-safe).

Examples
--------
>>> import tempfile, numpy as np
>>> c = WindowCache(tempfile.mkdtemp())
>>> k = cache_key("item", "http://x/a.tif", "0,0,2,2", "v1")
>>> c.get_array(k) is None
True
>>> c.put_array(k, np.arange(4, dtype="int16").reshape(2, 2))
>>> c.get_array(k).tolist(), c.hits, c.misses
([[0, 1], [2, 3]], 1, 1)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np


def cache_key(*parts: str) -> str:
    """A stable hex key for the parts (order matters).

    >>> cache_key("a", "b") == cache_key("a", "b") != cache_key("ab")
    True
    """
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class WindowCache:
    """Arrays and JSON under ``root`` (``None``: a cache that keeps nothing)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = None if root is None else Path(root)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _path(self, key: str, suffix: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / key[:2] / f"{key}{suffix}"

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _write(self, dest: Path, write: Any) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def get_array(self, key: str) -> np.ndarray | None:
        """The cached array, or None (missing or unreadable)."""
        p = self._path(key, ".npy")
        arr: np.ndarray | None = None
        if p is not None and p.is_file():
            with contextlib.suppress(OSError, ValueError):
                arr = np.load(p, allow_pickle=False)
        self._count(arr is not None)
        return arr

    def put_array(self, key: str, array: np.ndarray) -> None:
        """Store ``array`` atomically."""
        p = self._path(key, ".npy")
        if p is not None:
            self._write(p, lambda fh: np.save(fh, np.ascontiguousarray(array), allow_pickle=False))

    def get_json(self, key: str) -> Any | None:
        """The cached JSON value, or None."""
        p = self._path(key, ".json")
        value: Any | None = None
        if p is not None and p.is_file():
            with contextlib.suppress(OSError, ValueError):
                value = json.loads(p.read_text(encoding="utf-8"))
        self._count(value is not None)
        return value

    def put_json(self, key: str, value: Any) -> None:
        """Store a JSON value atomically."""
        p = self._path(key, ".json")
        if p is not None:
            data = json.dumps(value, sort_keys=True).encode("utf-8")
            self._write(p, lambda fh: fh.write(data))


class Progress(Protocol):
    """Receives progress of a fetch (the CLI draws bars from it)."""

    def items_planned(self, n: int) -> None:
        """``n`` more item reads are planned."""
        ...

    def item_done(self, item_id: str, nbytes: int, *, cached: bool) -> None:
        """One item read finished: ``nbytes`` of pixels, from the cache or not."""
        ...


class NullProgress:
    """Ignores progress."""

    def items_planned(self, n: int) -> None:
        """Ignore."""

    def item_done(self, item_id: str, nbytes: int, *, cached: bool) -> None:
        """Ignore."""


class ProgressTotals:
    """Adds progress up: items planned and done, bytes fetched and bytes from the cache.

    >>> p = ProgressTotals()
    >>> p.items_planned(2); p.item_done("a", 10, cached=False); p.item_done("b", 5, cached=True)
    >>> p.planned, p.done, p.remote_bytes, p.cached_bytes
    (2, 2, 10, 5)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.planned = 0
        self.done = 0
        self.remote_bytes = 0
        self.cached_bytes = 0

    def items_planned(self, n: int) -> None:
        """Count planned items."""
        with self._lock:
            self.planned += n

    def item_done(self, item_id: str, nbytes: int, *, cached: bool) -> None:
        """Count a finished item and its bytes."""
        with self._lock:
            self.done += 1
            if cached:
                self.cached_bytes += nbytes
            else:
                self.remote_bytes += nbytes


__all__ = ["NullProgress", "Progress", "ProgressTotals", "WindowCache", "cache_key"]
