"""Connected components of one tile, in numba without the GIL (what the tiled patch stage uses
instead of ``scipy.ndimage.label``, which holds the GIL, so that tiles label side by side in
threads).

Two passes: the first gives each foreground pixel the provisional label of a neighbour already
seen (left and up; with 8-connectivity also up-left and up-right) and records in a union-find
forest that the labels of neighbours meeting there belong together; the second numbers the
roots ``1..n`` and rewrites every pixel. Labels are numbered in the order their first pixel
comes in row-major order, as ``scipy.ndimage.label`` numbers them, and the components are
the same (tests compare both on random masks).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .relabel import _find


@njit(cache=True, nogil=True)
def _join(parent: np.ndarray, a: int, b: int) -> int:  # pragma: no cover - numba
    """Union of the sets of ``a`` and ``b``; returns the root (the smaller one)."""
    ra, rb = _find(parent, a), _find(parent, b)
    if ra < rb:
        parent[rb] = ra
        return int(ra)
    parent[ra] = rb
    return int(rb)


@njit(cache=True, nogil=True)
def _label_kernel(fg: np.ndarray, eight: bool, out: np.ndarray) -> int:  # pragma: no cover
    h, w = fg.shape
    # new labels start only at pixels without a seen foreground neighbour, which never touch
    # each other by a side: at most half the pixels, rounded up
    parent = np.zeros((h * w + 1) // 2 + 2, np.int64)
    nxt = 1
    for y in range(h):
        for x in range(w):
            if not fg[y, x]:
                out[y, x] = 0
                continue
            up = out[y - 1, x] if y > 0 else 0
            left = out[y, x - 1] if x > 0 else 0
            lab = 0
            if eight:
                if up:  # up touches left (via up-left or as diagonal) and up-right already
                    lab = up
                else:
                    a = left
                    if a == 0 and y > 0 and x > 0:
                        a = out[y - 1, x - 1]
                    b = out[y - 1, x + 1] if y > 0 and x + 1 < w else 0
                    if a and b:
                        lab = _join(parent, a, b) if a != b else a
                    else:
                        lab = a if a else b
            elif up and left:
                lab = _join(parent, up, left) if up != left else up
            else:
                lab = up if up else left
            if lab == 0:
                lab = nxt
                parent[nxt] = nxt
                nxt += 1
            out[y, x] = lab
    lut = np.zeros(nxt, np.int64)
    n = 0
    for i in range(1, nxt):  # parent[i] <= i: one ascending pass resolves every root
        r = parent[parent[i]]
        parent[i] = r
        if r == i:
            n += 1
            lut[i] = n
        else:
            lut[i] = lut[r]
    for y in range(h):
        for x in range(w):
            out[y, x] = lut[out[y, x]]
    return n


def label_tile(fg: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """int32 labels ``1..n`` of the ``connectivity``-connected (4 or 8) components of a
    boolean tile, and ``n``.

    >>> m = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0]], bool)
    >>> lab, n = label_tile(m, 8)
    >>> lab.tolist(), n
    ([[1, 0, 1], [0, 1, 0], [1, 0, 0]], 1)
    >>> lab, n = label_tile(m, 4)
    >>> lab.tolist(), n
    ([[1, 0, 2], [0, 3, 0], [4, 0, 0]], 4)
    """
    fg = np.ascontiguousarray(fg, bool)
    out = np.empty(fg.shape, np.int32)
    n = _label_kernel(fg, connectivity == 8, out)
    return out, int(n)


__all__ = ["label_tile"]
