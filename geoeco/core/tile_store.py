"""Where tile-by-tile stages keep per-tile arrays between sweeps.

Three stores, one interface (:class:`TileStore`): :class:`MemoryTileStore` (tests, small grids),
:class:`SpoolTileStore` (one anonymous temporary file; one process) and :class:`DirTileStore`
(one ``.npy`` file per array in a folder; it pickles as its folder, so worker processes of a
cluster that see the same folder read and write the same tiles).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np


class TileStore(Protocol):
    """Where the tiled patch stage keeps per-tile arrays between sweeps."""

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Keep ``array`` as ``(key, index)`` (replacing nothing: each pair is written once)."""

    def get(self, key: str, index: int) -> np.ndarray | None:
        """The array stored as ``(key, index)``, or ``None``."""


class MemoryTileStore:
    """A :class:`TileStore` in memory (tests, small grids).

    >>> s = MemoryTileStore(); s.put("bits", 0, np.ones((2, 2), np.uint16))
    >>> s.get("bits", 0).sum(), s.get("final", 0)
    (np.uint64(4), None)
    """

    def __init__(self) -> None:
        self._d: dict[tuple[str, int], np.ndarray] = {}

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Keep a copy of ``array``."""
        self._d[key, index] = np.array(array, copy=True)

    def get(self, key: str, index: int) -> np.ndarray | None:
        """The stored array or ``None``."""
        return self._d.get((key, index))


class SpoolTileStore:
    """A :class:`TileStore` spooled to one anonymous temporary file (deleted on :meth:`close`).

    Arrays are appended as raw bytes (booleans bit-packed) and read back with plain file reads,
    not a memory map, so they never count towards the process's resident memory; only an
    index of offsets (a few numbers per tile) stays in memory.

    >>> with SpoolTileStore() as s:
    ...     s.put("m", 3, np.array([[True, False, True]]))
    ...     s.get("m", 3).tolist()
    [[True, False, True]]
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._f = tempfile.TemporaryFile(prefix="geoeco-patches-", dir=directory)
        self._index: dict[tuple[str, int], tuple[int, np.dtype, tuple[int, ...]]] = {}
        self._end = 0

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Append ``array`` to the file."""
        a = np.asarray(array)
        raw = np.packbits(a, axis=None) if a.dtype.kind == "b" else np.ascontiguousarray(a)
        self._f.seek(self._end)
        self._f.write(raw.data.cast("B"))
        self._index[key, index] = (self._end, a.dtype, a.shape)
        self._end += raw.nbytes

    def get(self, key: str, index: int) -> np.ndarray | None:
        """Read an array back (``None`` if never stored)."""
        if (key, index) not in self._index:
            return None
        off, dtype, shape = self._index[key, index]
        count = int(np.prod(shape))
        packed = dtype.kind == "b"
        buf = np.empty((count + 7) // 8 if packed else count, np.uint8 if packed else dtype)
        self._f.seek(off)
        self._f.readinto(buf.data.cast("B"))
        if packed:
            return np.unpackbits(buf, count=count).view(bool).reshape(shape)
        return buf.reshape(shape)

    @property
    def nbytes(self) -> int:
        """Bytes written to the spool file so far."""
        return self._end

    def close(self) -> None:
        """Close and delete the spool file."""
        self._f.close()

    def __enter__(self) -> SpoolTileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_KEY = re.compile(r"^[A-Za-z0-9_:.-]+$")


class DirTileStore:
    """A :class:`TileStore` of ``.npy`` files in ``directory`` (made if missing).

    It pickles as its folder, so every process that sees the folder (one machine, or a shared
    file system mounted at the same path) shares the tiles: a task can write its tile on one
    worker and the next sweep read it on another. Each file is written under a temporary name
    and renamed, so a reader sees a whole array or none, and a retried task overwrites its own
    file. The caller deletes the folder.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s = DirTileStore(d)
    ...     s.put("patches:lab", 7, np.arange(4, dtype=np.uint16).reshape(2, 2))
    ...     import pickle; s2 = pickle.loads(pickle.dumps(s))
    ...     s2.get("patches:lab", 7).tolist(), s2.get("patches:lab", 8)
    ([[0, 1], [2, 3]], None)
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str, index: int) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"tile store keys are letters, digits and _:.-, got {key!r}")
        return self.directory / f"{key.replace(':', '~')}.{int(index)}.npy"

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Write ``array`` to its file (atomically: temporary name, then rename)."""
        path = self._path(key, index)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)
        os.replace(tmp, path)

    def get(self, key: str, index: int) -> np.ndarray | None:
        """Read an array back (``None`` if never stored)."""
        path = self._path(key, index)
        try:
            with open(path, "rb") as f:
                array: np.ndarray = np.load(f, allow_pickle=False)
                return array
        except FileNotFoundError:
            return None

    def __getstate__(self) -> dict[str, str]:
        return {"directory": str(self.directory)}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.directory = Path(state["directory"])


__all__ = ["DirTileStore", "MemoryTileStore", "SpoolTileStore", "TileStore"]
