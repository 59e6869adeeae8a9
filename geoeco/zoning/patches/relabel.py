"""Sweep 3 of the tiled patch stage without labelling again: the final patches of a tile from
the labels sweeps 1 and 2 already made.

After sweep 1 (patches of the red-line mask, 8-connected) and sweep 2 (holes: 4-connected
components of the background that remains), a tile's final mask is the union of the *kept*
sweep-1 patches and the *filled* sweep-2 holes. With 8-connected patches every final patch is
a union of such pieces, and two pieces belong to the same final patch exactly when a chain of
pieces joins them in which each filled hole shares a pixel side (4-adjacency) with a kept
patch. Why 4-adjacency suffices (``p``, ``q`` diagonal neighbours; ``r`` either of the two
pixels 4-adjacent to both):

* two kept patches are never 8-adjacent (they would be one sweep-1 patch);
* a hole pixel ``p`` diagonal to a kept pixel ``q``: ``r`` is kept (then it belongs to
  ``q``'s patch, being 8-adjacent to it, and touches ``p`` by a side), or background (then it
  is in ``p``'s hole, 4-connected, and touches ``q`` by a side), never a barrier (a hole
  touching a barrier by a side is open, not filled);
* two hole pixels diagonal to each other: ``r`` is kept (both holes touch its patch by a
  side) or background (then both holes are the same 4-connected hole).

So :func:`final_labels` joins the pieces with a union-find over the tile's 4-adjacent pixel
pairs and numbers the final patches, in one pass plus one relabelling pass, instead of a
third ``scipy.ndimage.label``. The numbering differs from ``ndimage.label``'s but the patches
are the same, which is all the join and the votes use. With 4-connected patches (8-connected
holes) a filled hole need not be 4-connected, so that case labels the final mask again.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _find(parent: np.ndarray, a: int) -> int:  # pragma: no cover - numba
    root = a
    while parent[root] != root:
        root = parent[root]
    while parent[a] != root:  # path compression
        nxt = parent[a]
        parent[a] = root
        a = nxt
    return root


@njit(cache=True, nogil=True)
def _final_labels(
    lab1: np.ndarray, keep: np.ndarray, lab2: np.ndarray, fill: np.ndarray, out: np.ndarray
) -> tuple[int, int, int]:  # pragma: no cover - numba
    h, w = lab1.shape
    n1 = len(keep) - 1
    removed = filled = 0
    for y in range(h):  # the piece of each pixel: kept patch a -> a, filled hole b -> n1 + b
        for x in range(w):  # (without branches: a kept pixel is in no hole, keep[0] = 0)
            a = np.int64(lab1[y, x])
            b = np.int64(lab2[y, x])
            ka = np.int64(keep[a])
            fb = np.int64(fill[b])
            out[y, x] = ka * a + fb * (n1 + b)
            removed += int((a > 0) - ka)
            filled += int(fb)
    parent = np.arange(n1 + len(fill), dtype=np.int64)
    for y in range(h):  # join pieces touching by a side
        for x in range(w):
            a = out[y, x]
            if a == 0:
                continue
            if x + 1 < w:
                b = out[y, x + 1]
                if b != 0 and b != a:
                    ra, rb = _find(parent, a), _find(parent, b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
            if y + 1 < h:
                b = out[y + 1, x]
                if b != 0 and b != a:
                    ra, rb = _find(parent, a), _find(parent, b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    lut = np.zeros(len(parent), np.int64)
    n = 0
    for i in range(1, len(parent)):  # parent[i] <= i: one ascending pass finds every root
        r = parent[parent[i]]
        parent[i] = r
        if r == i and (keep[i] if i <= n1 else fill[i - n1]):
            n += 1
            lut[i] = n  # pieces that are roots: the final patches, numbered 1..n
        lut[i] = lut[r]
    for y in range(h):
        for x in range(w):
            out[y, x] = lut[out[y, x]]
    return n, removed, filled


def final_labels(
    lab1: np.ndarray, keep: np.ndarray, lab2: np.ndarray | None, fill: np.ndarray | None
) -> tuple[np.ndarray, int, int, int]:
    """The final patches of a tile from its sweep-1 and sweep-2 labels (see the module
    docstring; 8-connected patches only).

    ``lab1``: sweep-1 labels (patches of the mask), ``keep[label]`` their decisions; ``lab2``
    and ``fill`` the same for the holes (``None`` without hole filling). Returns int32 labels
    ``1..n`` of the final patches (0 elsewhere), ``n``, the pixels removed (in a patch not
    kept) and the pixels filled.

    >>> lab1 = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 2]])
    >>> lab2 = np.array([[0, 0, 0, 1], [0, 2, 0, 1], [0, 0, 0, 1], [1, 1, 1, 1]])
    >>> lab, n, removed, filled = final_labels(
    ...     lab1, np.array([False, True, False]), lab2, np.array([False, False, True]))
    >>> lab.tolist(), n, removed, filled
    ([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], 1, 1, 1)
    """
    if lab2 is None or fill is None:
        lab2, fill = lab1, np.zeros(len(keep), bool)  # no piece ever comes from a hole
    keep = np.ascontiguousarray(keep, bool)
    fill = np.ascontiguousarray(fill, bool)
    out = np.empty(lab1.shape, np.int32)
    n, removed, filled = _final_labels(lab1, keep, lab2, fill, out)
    return out, int(n), int(removed), int(filled)


__all__ = ["final_labels"]
