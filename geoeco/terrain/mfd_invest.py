"""InVEST's multiple flow directions: pygeoprocessing 2.4.11's ``flow_dir_mfd``, re-implemented.

What follows was read from pygeoprocessing's source (``routing/routing.pyx``; facts only, no
code taken) and is reproduced here:

* **Shares.** A cell with lower neighbours splits its flow among them in proportion to the
  drop divided by the distance in cells (1, or √2 diagonally): exponent 1, whatever the
  cell size. Each share is stored as the 4-bit integer ``int(0.5 + 15 · w / Σw)``, and flow
  accumulation passes ``share / Σ shares`` of a cell's flow to each neighbour. Nodata
  neighbours and neighbours off the grid take no flow.
* **Plateaus** (a connected set of cells of one height, found from a cell without a lower
  neighbour): cells of the plateau with a lower neighbour are its drains and keep the rule
  above; if it has none, the cells next to nodata or the grid edge drain there (weights 1,
  or 1/√2 diagonally, per such neighbour). Every other plateau cell gets its distance to
  the nearest drain across the plateau (1 or √2 per step) and sends its flow to the plateau
  neighbours nearer a drain, weights 1 or 1/√2, rounded to 1/15 the same way.

Shares are packed as pygeoprocessing packs them, 4 bits per neighbour, but in this package's
neighbour order (E, SE, S, SW, W, NW, N, NE, :data:`geoeco.terrain.routing.D8_CODES`).

>>> import numpy as np
>>> s = mfd_invest_shares(np.array([[3.0, 2.0], [2.0, 1.0]]))
>>> [int(s[0, 0]) >> (4 * k) & 0xF for k in range(3)]  # E, SE, S: weights 1, 2/√2, 1
[4, 6, 4]
"""

from __future__ import annotations

import heapq

import numpy as np

from geoeco.core.jit import kernel

__all__ = ["mfd_invest_shares"]

_DR = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)
_DC = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)
_SQRT2 = 1.4142135623730951
_SQRT2_INV = 1.0 / 1.4142135623730951


@kernel
def _pack(w: np.ndarray) -> int:
    """4-bit shares ``int(0.5 + 15 w / Σw)`` packed in one int32 (0 if Σw = 0).

    The top share's high bit lands on the sign bit: the value is returned wrapped to int32
    (two's complement), the bits numba's store into the int32 grid keeps anyway.
    """
    total = 0.0
    for k in range(8):
        total += w[k]
    if total <= 0.0:
        return 0
    packed = 0
    for k in range(8):
        packed |= int(0.5 + w[k] / total * 15.0) << (4 * k)
    return packed - (1 << 32) if packed >= (1 << 31) else packed


@kernel
def _downhill(z: np.ndarray, r: int, c: int, w: np.ndarray, nodata_w: np.ndarray) -> float:
    """Downhill weights (drop, /√2 diagonally) of cell (r, c) into ``w``; weights towards
    nodata or off-grid neighbours (1, 1/√2) into ``nodata_w``; return Σ ``w``."""
    nr, nc = z.shape
    total = 0.0
    for k in range(8):
        w[k] = 0.0
        nodata_w[k] = 0.0
        r1, c1 = r + _DR[k], c + _DC[k]
        diag = _DR[k] != 0 and _DC[k] != 0
        if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc or np.isnan(z[r1, c1]):
            nodata_w[k] = _SQRT2_INV if diag else 1.0
            continue
        drop = z[r, c] - z[r1, c1]
        if drop > 0.0:
            w[k] = drop * _SQRT2_INV if diag else drop
            total += w[k]
    return total


@kernel
def _plateau(
    z: np.ndarray, r0: int, c0: int, shares: np.ndarray, seen: np.ndarray, cells: np.ndarray
) -> None:
    """Shares of every cell of the plateau holding (r0, c0) (module docstring)."""
    nr, nc = z.shape
    h = z[r0, c0]
    w, nw = np.zeros(8), np.zeros(8)
    n = 1
    cells[0] = r0 * nc + c0
    seen[r0, c0] = True
    heap = [(0.0, np.int64(0))]
    heap.pop()
    nodata_drains = []
    head = 0
    while head < n:  # breadth-first over the plateau; drains get their downhill shares
        i = cells[head]
        head += 1
        r, c = i // nc, i % nc
        if _downhill(z, r, c, w, nw) > 0.0:
            shares[r, c] = _pack(w)
            heap.append((0.0, i))
        elif _pack(nw) != 0:
            nodata_drains.append((i, _pack(nw)))
        for k in range(8):
            r1, c1 = r + _DR[k], c + _DC[k]
            if 0 <= r1 < nr and 0 <= c1 < nc and z[r1, c1] == h and not seen[r1, c1]:
                seen[r1, c1] = True
                cells[n] = r1 * nc + c1
                n += 1
    if len(heap) == 0:  # no way down: the cells next to nodata or the edge drain there
        for i, packed in nodata_drains:
            shares[i // nc, i % nc] = packed
            heap.append((0.0, i))
    _drain_distances(z, h, heap, shares, cells[:n], nc)


@kernel
def _drain_distances(
    z: np.ndarray,
    h: float,
    heap: list[tuple[float, np.int64]],
    shares: np.ndarray,
    cells: np.ndarray,
    nc: int,
) -> None:
    """Distances to the nearest drain across the plateau (Dijkstra from the drains in
    ``heap``), then each other cell's shares towards its neighbours nearer a drain."""
    nr = z.shape[0]
    dist = {}
    for d, i in heap:
        dist[i] = d
    heapq.heapify(heap)
    while len(heap) > 0:
        d, i = heapq.heappop(heap)
        if d > dist[i]:
            continue
        r, c = i // nc, i % nc
        for k in range(8):
            r1, c1 = r + _DR[k], c + _DC[k]
            if 0 <= r1 < nr and 0 <= c1 < nc and z[r1, c1] == h:
                j = r1 * nc + c1
                nd = d + (_SQRT2 if _DR[k] != 0 and _DC[k] != 0 else 1.0)
                if j not in dist or nd < dist[j]:
                    dist[j] = nd
                    heapq.heappush(heap, (nd, j))
    w = np.zeros(8)
    for i in cells:
        d = dist.get(i, -1.0)
        if d <= 0.0:
            continue
        r, c = i // nc, i % nc
        for k in range(8):
            w[k] = 0.0
            j = (r + _DR[k]) * nc + c + _DC[k]
            r1, c1 = r + _DR[k], c + _DC[k]
            if 0 <= r1 < nr and 0 <= c1 < nc and j in dist and dist[j] < d:
                w[k] = _SQRT2_INV if _DR[k] != 0 and _DC[k] != 0 else 1.0
        shares[r, c] = _pack(w)


@kernel
def _shares_kernel(z: np.ndarray, shares: np.ndarray) -> None:
    nr, nc = z.shape
    w, nw = np.zeros(8), np.zeros(8)
    seen = np.zeros((nr, nc), dtype=np.bool_)
    cells = np.empty(nr * nc, dtype=np.int64)
    for r in range(nr):
        for c in range(nc):
            if np.isnan(z[r, c]) or seen[r, c]:
                continue
            if _downhill(z, r, c, w, nw) > 0.0:
                shares[r, c] = _pack(w)
            else:
                _plateau(z, r, c, shares, seen, cells)


def mfd_invest_shares(filled: np.ndarray) -> np.ndarray:
    """pygeoprocessing's MFD shares of a depression-filled DEM (NaN = nodata), packed in
    int32 (4 bits per neighbour, module docstring); 0 where a cell passes no flow."""
    z = np.asarray(filled, dtype=np.float64)
    shares = np.zeros(z.shape, dtype=np.int32)
    _shares_kernel(z, shares)
    return shares
