"""Connected-component labelling and sliver merging of control units (helpers of
:mod:`geoeco.zoning.units.build`).

:func:`_label4` labels the 4-connected components of equal non-zero keys (county * 4 + class)
in first-pixel (row-major) order, :func:`_shared_edges` measures the border each pair of
adjacent components shares, and :func:`_merge_slivers` merges components below the minimum
area into the neighbour with the longest shared border (rules in :mod:`geoeco.zoning.units.build`).

Examples
--------
>>> key = np.array([[1, 1, 2], [3, 1, 2]], dtype=np.int32)
>>> lab, n, first = _label4(key)
>>> lab.tolist(), n, first.tolist()
([[1, 1, 2], [3, 1, 2]], 3, [0, 0, 2, 3])
>>> i, j, w = _shared_edges(lab, 100.0, 100.0)
>>> i.tolist(), j.tolist(), w.tolist()
([1, 1], [2, 3], [200.0, 200.0])
>>> area, cls = np.array([0.0, 3.0, 2.0, 1.0]), np.array([0, 2, 3, 2])
>>> _merge_slivers(area, cls, first, (i, j, w), 1.5, True).tolist()
[0, 1, 2, 1]
"""

from __future__ import annotations

import heapq

import numba
import numpy as np


@numba.njit(cache=True)
def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def _label4(key: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:  # pragma: no cover - numba
    """4-connected components of equal non-zero ``key``; labels 1..n in first-pixel order."""
    h, w = key.shape
    lab = np.zeros((h, w), np.int32)
    cap = 1024
    parent = np.empty(cap, np.int64)
    parent[0] = 0
    nxt = 1
    for r in range(h):
        for c in range(w):
            k = key[r, c]
            if k == 0:
                continue
            up = lab[r - 1, c] if r > 0 and key[r - 1, c] == k else 0
            lf = lab[r, c - 1] if c > 0 and key[r, c - 1] == k else 0
            if up == 0 and lf == 0:
                if nxt >= cap:
                    grown = np.empty(cap * 2, np.int64)
                    grown[:cap] = parent
                    parent = grown
                    cap *= 2
                parent[nxt] = nxt
                lab[r, c] = nxt
                nxt += 1
            elif up == 0:
                lab[r, c] = lf
            elif lf == 0 or up == lf:
                lab[r, c] = up
            else:
                a = _find(parent, up)
                b = _find(parent, lf)
                if a < b:
                    parent[b] = a
                else:
                    parent[a] = b
                lab[r, c] = min(a, b)
    remap = np.zeros(nxt, np.int32)
    first = np.zeros(nxt, np.int64)
    n = 0
    for r in range(h):
        for c in range(w):
            lbl = lab[r, c]
            if lbl:
                root = _find(parent, lbl)
                if remap[root] == 0:
                    n += 1
                    remap[root] = n
                    first[n] = r * w + c
                lab[r, c] = remap[root]
    return lab, n, first[: n + 1]


def _shared_edges(
    labels: np.ndarray, res_x: float, res_y: float, strip_pixels: int = 1 << 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of 4-adjacent labels and their shared border length.

    Works in row strips of about ``strip_pixels`` and counts edges as integers, so the
    lengths do not depend on the strips (nor on the window).
    """
    base = np.int64(int(labels.max()) + 1)
    keys: list[np.ndarray] = []
    counts: list[np.ndarray] = []  # column 0: vertical edges (left/right), 1: horizontal

    def add(a: np.ndarray, b: np.ndarray, vertical: bool) -> None:
        m = (a != b) & (a > 0) & (b > 0)
        if not m.any():
            return
        a, b = a[m].astype(np.int64), b[m].astype(np.int64)
        k, cnt = np.unique(np.minimum(a, b) * base + np.maximum(a, b), return_counts=True)
        keys.append(k)
        counts.append(np.column_stack([cnt, np.zeros_like(cnt)][:: 1 if vertical else -1]))

    h, w = labels.shape
    strip = max(1, strip_pixels // max(w, 1))
    for r0 in range(0, h, strip):
        blk = labels[r0 : min(h, r0 + strip + 1)]
        core = blk[: min(strip, h - r0)]
        add(core[:, :-1], core[:, 1:], True)  # left/right neighbours share a vertical edge
        add(blk[:-1], blk[1:], False)  # up/down neighbours share a horizontal edge
    if not keys:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    uk, inv = np.unique(np.concatenate(keys), return_inverse=True)
    cnt = np.concatenate(counts)
    nv = np.bincount(inv, weights=cnt[:, 0], minlength=len(uk))
    nh = np.bincount(inv, weights=cnt[:, 1], minlength=len(uk))
    return uk // base, uk % base, nv * res_y + nh * res_x


def _merge_slivers(
    area: np.ndarray,
    cls: np.ndarray,
    first: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    min_area: float,
    into_priority: bool,
) -> np.ndarray:
    """Root component of every component after merging slivers (see module docstring)."""
    area = area.astype("float64").copy()
    first = first.copy()
    n = len(area) - 1
    parent = np.arange(n + 1)
    small = area < min_area
    small[0] = False
    ei, ej, ew = edges
    keep = small[ei] | small[ej]
    adj: dict[int, dict[int, float]] = {}
    for i, j, w in zip(ei[keep].tolist(), ej[keep].tolist(), ew[keep].tolist(), strict=True):
        adj.setdefault(i, {})[j] = w
        adj.setdefault(j, {})[i] = w
    ver = np.zeros(n + 1, np.int64)
    heap = [(float(area[i]), int(first[i]), int(i), 0) for i in np.flatnonzero(small)]
    heapq.heapify(heap)
    alive = np.ones(n + 1, bool)
    while heap:
        _, _, i, v = heapq.heappop(heap)
        if not alive[i] or v != ver[i] or area[i] >= min_area:
            continue
        ci = cls[i]
        best, best_key = -1, (0.0, 0.0, 0)
        for j, w in adj.get(i, {}).items():
            cj = cls[j]
            if (ci == 1 and cj != 1) or (ci != 1 and cj == 1 and not into_priority):
                continue
            k = (w, float(area[j]), -int(first[j]))
            if best < 0 or k > best_key:
                best, best_key = j, k
        if best < 0:
            continue  # stays a unit (e.g. a priority sliver without a priority neighbour)
        t = best
        parent[i], alive[i] = t, False
        area[t] += area[i]
        first[t] = min(first[t], first[i])
        ai = adj.pop(i, {})
        at = adj.setdefault(t, {})
        at.pop(i, None)
        for j, w in ai.items():
            if j == t:
                continue
            at[j] = at.get(j, 0.0) + w
            aj = adj.setdefault(j, {})
            aj.pop(i, None)
            aj[t] = aj.get(t, 0.0) + w
        for j in [t, *ai]:  # units whose candidate neighbours changed
            if alive[j] and area[j] < min_area:
                ver[j] += 1
                heapq.heappush(heap, (float(area[j]), int(first[j]), int(j), int(ver[j])))
    root = parent
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


__all__: list[str] = []
