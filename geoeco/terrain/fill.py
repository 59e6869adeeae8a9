"""Depression filling by priority flood (Wang & Liu 2006), with the flood's D8 pointers.

:func:`priority_flood` visits the cells from the outlets (the valid cells on the array
border or next to nodata, or the cells given) upwards in order of elevation; a cell lower
than the cell that reaches it is raised to that cell's level, and each cell records the
direction back to the cell that reached it (used to drain flats, see
:mod:`geoeco.terrain.routing`).

The visiting order is that of :func:`pyflwdir.dem.fill_depressions` (pyflwdir 0.5), which
geoeco used until issue 16: cells are taken by (elevation rounded to float32, outlet cells
after others of the same level, row, column), and a taken cell visits its 3 × 3 block row by
row (itself included). So the filled DEM and every pointer are bit for bit those of pyflwdir
(tests/test_fill.py checks it on random DEMs). What differs is the queue: one ``uint64`` key
per cell (the float32 bits made sortable, the outlet flag, the flat index) in a binary heap
of plain integers, instead of a heap of Python-style tuples, which is several times faster.

Examples
--------
>>> import numpy as np
>>> z = np.array([[5.0, 5, 5, 5], [5, 1, 2, 5], [5, 3, 5, 5], [5, 4, 5, 5]], dtype="float32")
>>> filled, dirs = priority_flood(z)
>>> filled[1:3, 1:3]
array([[4., 4.],
       [4., 5.]], dtype=float32)
>>> int(dirs[2, 1])  # (2, 1) was reached from (3, 1), to its south
4
"""

from __future__ import annotations

import numpy as np

from geoeco.core.jit import kernel

__all__ = ["MAX_FLOOD_CELLS", "priority_flood"]

#: The flat index shares a 64-bit key with 32 bits of elevation and the outlet flag.
MAX_FLOOD_CELLS = 2**31
#: D8 code pointing from the cell at offset (dr + 1, dc + 1) back to the centre.
_BACK = np.array([[2, 4, 8], [1, 0, 16], [128, 64, 32]], dtype=np.uint8)
_NODATA = np.uint8(247)
_LOW31 = np.uint64(2**31 - 1)


@kernel
def _push(heap: np.ndarray, size: int, key: np.uint64) -> int:
    """Add ``key`` to the min-heap ``heap[:size]``; return the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return size + 1


@kernel
def _replace_top(heap: np.ndarray, n: int, key: np.uint64) -> None:
    """Put ``key`` in place of the smallest key of the min-heap ``heap[:n]``."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = key


@kernel
def _pop(heap: np.ndarray, size: int) -> np.uint64:
    """Remove and return the smallest key of ``heap[:size]`` (the caller shrinks ``size``)."""
    top: np.uint64 = heap[0]
    if size > 1:
        _replace_top(heap, size - 1, heap[size - 1])
    return top


@kernel
def _key(value: float, outlet: int, idx: int, f32: np.ndarray, u32: np.ndarray) -> np.uint64:
    """Sortable key of (float32(value), outlet, idx); ``f32``/``u32`` are views of one word."""
    f32[0] = value + np.float32(0.0)  # -0.0 -> 0.0: equal floats get equal keys
    bits = np.uint64(u32[0])
    if bits >> np.uint64(31):
        bits = ~bits & np.uint64(0xFFFFFFFF)
    else:
        bits = bits | np.uint64(0x80000000)
    return (bits << np.uint64(32)) | (np.uint64(outlet) << np.uint64(31)) | np.uint64(idx)


@kernel
def _value(key: np.uint64, f32: np.ndarray, u32: np.ndarray) -> float:
    """The float32 elevation in ``key`` (inverse of :func:`_key`), as float64."""
    bits = key >> np.uint64(32)
    if bits >> np.uint64(31):
        bits = bits & np.uint64(0x7FFFFFFF)
    else:
        bits = ~bits & np.uint64(0xFFFFFFFF)
    u32[0] = np.uint32(bits)
    return float(f32[0])


@kernel
def _start(
    z: np.ndarray, seeds: np.ndarray, use_seeds: bool, queued: np.ndarray, heap: np.ndarray
) -> int:
    """Queue the outlet cells (the given seeds, or every valid cell on the border or next to
    nodata); return the heap size."""
    nr, nc = z.shape
    word = np.zeros(1, dtype=np.float32)
    u32 = word.view(np.uint32)
    size = 0
    if use_seeds:
        for idx in seeds:
            queued.flat[idx] = True
    else:
        for r in range(nr):
            for c in range(nc):
                if np.isnan(z[r, c]):
                    continue
                edge = r == 0 or r == nr - 1 or c == 0 or c == nc - 1
                if not edge:
                    for dr in range(-1, 2):
                        for dc in range(-1, 2):
                            if np.isnan(z[r + dr, c + dc]):
                                edge = True
                queued[r, c] = edge
    for i in range(z.size):
        if queued.flat[i]:
            size = _push(heap, size, _key(z.flat[i], 1, i, word, u32))
    return size


@kernel
def _flood(
    z: np.ndarray, seeds: np.ndarray, use_seeds: bool, filled: np.ndarray, dirs: np.ndarray
) -> None:
    """The priority flood: ``filled`` (float64, starts as ``z``) and ``dirs`` are written."""
    nr, nc = z.shape
    done = np.isnan(z)
    queued = np.zeros(z.shape, dtype=np.bool_)
    heap = np.empty(z.size, dtype=np.uint64)
    word = np.zeros(1, dtype=np.float32)
    u32 = word.view(np.uint32)
    size = _start(z, seeds, use_seeds, queued, heap)
    while size > 0:
        # The smallest key is taken off when the first key is queued after it, in one step
        # (it is replaced): the heap holds the same keys, so the order is the same.
        key = heap[0]
        taken = False
        z0 = _value(key, word, u32)
        i0 = int(key & _LOW31)
        r0, c0 = i0 // nc, i0 % nc
        for dr in range(-1, 2):
            for dc in range(-1, 2):
                r, c = r0 + dr, c0 + dc
                if r < 0 or r == nr or c < 0 or c == nc or done[r, c]:
                    continue
                z1 = z[r, c]
                dz = z0 - z1
                if dz > 0:
                    z1 = z1 + dz
                    filled[r, c] = z1
                if not queued[r, c]:
                    k = _key(z1, 0, r * nc + c, word, u32)
                    if taken:
                        size = _push(heap, size, k)
                    else:
                        _replace_top(heap, size, k)
                        taken = True
                    queued[r, c] = True
                done[r, c] = True
                dirs[r, c] = _BACK[dr + 1, dc + 1]
        if not taken:
            _pop(heap, size)
            size -= 1


def priority_flood(z: np.ndarray, seeds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fill the depressions of ``z`` (2-D, float32-valued, NaN = nodata) to their pour points.

    ``seeds`` (flat indices of valid cells) are the only ways out when given; otherwise every
    valid cell on the array border or next to nodata is one. Returns the filled DEM (float32,
    NaN at nodata) and the flood's D8 pointers (uint8; 0 at a way out, 247 at nodata).
    Raises ValueError for arrays of :data:`MAX_FLOOD_CELLS` cells or more.
    """
    z64 = np.ascontiguousarray(z, dtype=np.float64)
    if z64.ndim != 2 or z64.size >= MAX_FLOOD_CELLS:
        raise ValueError(f"priority_flood takes a 2-D array under 2**31 cells, got {z.shape}")
    dirs = np.where(np.isnan(z64), _NODATA, np.uint8(0))
    filled = z64.copy()
    use = seeds is not None
    idx = np.ascontiguousarray(seeds if use else np.empty(0), dtype=np.int64)
    _flood(z64, idx, use, filled, dirs)
    return filled.astype(np.float32), dirs
