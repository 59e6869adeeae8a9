"""Change between two dates of a class raster: transition matrices and per-zone tables.

Class rasters hold integer codes with **0 for nodata** (geoeco's uint8 convention; NaN and
masked cells are nodata too). ``classes`` lists the codes in order from least to most severe
(as in the class tables, e.g. SL 190-2007 grades 1..6 or desertification degrees), so "improved
by at least one grade" means a move to an earlier class. Areas are in km²: a constant
``pixel_area_km2`` on an equal-area grid, or one area per pixel (true areas of a geographic
grid).

Rows of a :class:`TransitionMatrix` are the first date's classes and columns the second
date's, plus a column for pixels that are nodata at the second date, so every row sums to the
area of that class at the first date.

Examples
--------
>>> a = np.array([[1, 1, 2], [2, 3, 0]])
>>> b = np.array([[1, 2, 1], [1, 0, 3]])
>>> m = transition_matrix(a, b, classes=(1, 2, 3), pixel_area_km2=0.5)
>>> m.area_km2.tolist(), m.to_nodata_km2.tolist(), m.from_area_km2.tolist()
([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [0.0, 0.0, 0.5], [1.0, 1.0, 0.5])
>>> change_summary(m).improved_km2
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoeco.core.errors import GridMismatch, InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TransitionMatrix:
    """Area (km²) moving from each first-date class (rows) to each second-date class.

    ``to_nodata_km2[i]``: class i at the first date, nodata at the second; ``from_nodata_km2``:
    nodata at the first date, class j at the second.
    """

    classes: tuple[int, ...]
    area_km2: FloatArray
    to_nodata_km2: FloatArray
    from_nodata_km2: FloatArray

    @property
    def from_area_km2(self) -> FloatArray:
        """Area of each class at the first date (row sums, nodata column included)."""
        return np.asarray(self.area_km2.sum(axis=1) + self.to_nodata_km2, dtype=np.float64)

    @property
    def to_area_km2(self) -> FloatArray:
        """Area of each class at the second date (column sums, nodata row included)."""
        return np.asarray(self.area_km2.sum(axis=0) + self.from_nodata_km2, dtype=np.float64)

    def __add__(self, other: TransitionMatrix) -> TransitionMatrix:
        """Sum of two matrices of the same classes (e.g. of two windows of one raster)."""
        if other.classes != self.classes:
            raise InvalidInput("cannot add transition matrices of different classes")
        return TransitionMatrix(
            self.classes,
            self.area_km2 + other.area_km2,
            self.to_nodata_km2 + other.to_nodata_km2,
            self.from_nodata_km2 + other.from_nodata_km2,
        )

    def rows(self) -> list[dict[str, Any]]:
        """One dict per first-date class: ``from``, ``to_<code>`` … , ``to_nodata``, ``total``
        (km²), ready for a CSV writer.

        >>> m = transition_matrix(np.array([1, 2]), np.array([2, 0]), classes=(1, 2))
        >>> m.rows()[0]
        {'from': 1, 'to_1': 0.0, 'to_2': 1.0, 'to_nodata': 0.0, 'total': 1.0}
        """
        out = []
        for i, code in enumerate(self.classes):
            row: dict[str, Any] = {"from": code}
            row.update({f"to_{c}": float(self.area_km2[i, j]) for j, c in enumerate(self.classes)})
            row["to_nodata"] = float(self.to_nodata_km2[i])
            row["total"] = float(self.from_area_km2[i])
            out.append(row)
        return out


def _class_index(codes: Any, classes: Sequence[int], what: str) -> IntArray:
    """Position of each code in ``classes``; ``len(classes)`` for nodata (0, NaN, masked)."""
    k = len(classes)
    if isinstance(codes, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(codes)
        arr = np.asarray(codes.filled(0))
    else:
        arr = np.asarray(codes)
        mask = np.zeros(arr.shape, dtype=bool)
    if arr.dtype.kind == "f":
        mask = mask | np.isnan(arr)
        arr = np.where(mask, 0, arr)
    ints = arr.astype(np.int64)
    nodata = mask | (ints == 0)
    keys = np.array(classes, dtype=np.int64)
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys[order], ints), 0, k - 1)
    hit = keys[order][pos] == ints
    unknown = ~hit & ~nodata
    if unknown.any():
        bad = np.unique(ints[unknown])[:10].tolist()
        raise InvalidInput(f"{what}: codes {bad} are not among the classes {list(classes)}")
    return np.asarray(np.where(nodata, k, order[pos]), dtype=np.int64)


def _checked_classes(classes: Sequence[int]) -> tuple[int, ...]:
    """The class codes as a tuple: non-empty, distinct and not 0 (0 is nodata)."""
    out = tuple(int(c) for c in classes)
    if not out or len(set(out)) != len(out) or 0 in out:
        raise InvalidInput("classes must be distinct non-zero codes (0 is nodata)")
    return out


def _areas(pixel_area_km2: Any, shape: tuple[int, ...]) -> FloatArray:
    """Pixel areas (km²) broadcast to ``shape``; finite and >= 0."""
    area = np.asarray(pixel_area_km2, dtype=np.float64)
    if area.ndim and area.shape != shape:
        raise GridMismatch(f"pixel areas {area.shape} do not match the class rasters {shape}")
    if not np.all(np.isfinite(area)) or np.any(area < 0):
        raise InvalidInput("pixel areas must be finite and >= 0 km²")
    return np.asarray(np.broadcast_to(area, shape), dtype=np.float64)


def _counts(
    groups: IntArray, before: Any, after: Any, classes: tuple[int, ...], area: Any, n_groups: int
) -> FloatArray:
    """Area per (group, from index, to index), shaped (groups, K+1, K+1); index K = nodata."""
    shape = np.shape(before)
    if np.shape(after) != shape:
        raise GridMismatch(f"the two class rasters differ in shape: {shape} vs {np.shape(after)}")
    k1 = len(classes) + 1
    bi = _class_index(before, classes, "first date")
    ai = _class_index(after, classes, "second date")
    w = _areas(area, shape)
    keep = groups >= 0
    flat = (groups[keep] * k1 + bi[keep]) * k1 + ai[keep]
    sums = np.bincount(flat, weights=w[keep], minlength=n_groups * k1 * k1)
    return np.asarray(sums.reshape(n_groups, k1, k1), dtype=np.float64)


def _matrix(full: FloatArray, classes: tuple[int, ...]) -> TransitionMatrix:
    """Split a (K+1, K+1) table into a :class:`TransitionMatrix`."""
    k = len(classes)
    return TransitionMatrix(classes, full[:k, :k].copy(), full[:k, k].copy(), full[k, :k].copy())


def transition_matrix(
    before: Any, after: Any, *, classes: Sequence[int], pixel_area_km2: Any = 1.0
) -> TransitionMatrix:
    """Transition matrix (km²) between two class rasters of the same grid.

    Parameters
    ----------
    before, after : integer class rasters (0, NaN or masked = nodata)
    classes : the class codes, least to most severe; other non-zero codes raise
    pixel_area_km2 : one area for all pixels or an array of the rasters' shape (km²)

    >>> m = transition_matrix(np.array([3, 3, 2]), np.array([2, 1, 2]), classes=(1, 2, 3))
    >>> m.area_km2[2].tolist(), m.from_area_km2.tolist()
    ([1.0, 1.0, 0.0], [0.0, 1.0, 2.0])
    """
    cls = _checked_classes(classes)
    groups = np.zeros(np.shape(before), dtype=np.int64)
    return _matrix(_counts(groups, before, after, cls, pixel_area_km2, 1)[0], cls)


@dataclass(frozen=True)
class ChangeSummary:
    """Area (km²) that improved, stayed or worsened between two dates, among pixels with a
    class at both; ``improved_share`` = improved / that area (NaN if it is 0)."""

    improved_km2: float
    unchanged_km2: float
    worsened_km2: float
    improved_share: float

    @property
    def area_km2(self) -> float:
        """Area with a class at both dates."""
        return self.improved_km2 + self.unchanged_km2 + self.worsened_km2


def change_summary(m: TransitionMatrix, *, higher_is_worse: bool = True) -> ChangeSummary:
    """Improved by at least one grade / unchanged / worsened, from a transition matrix.

    With ``higher_is_worse`` (erosion grades, desertification degrees), a move to an earlier
    class of ``m.classes`` is an improvement; otherwise to a later one.

    >>> m = transition_matrix(np.array([3, 2, 1, 1]), np.array([1, 2, 2, 1]), classes=(1, 2, 3))
    >>> s = change_summary(m)
    >>> s.improved_km2, s.unchanged_km2, s.worsened_km2, s.improved_share
    (1.0, 2.0, 1.0, 0.25)
    """
    k = len(m.classes)
    rows, cols = np.indices((k, k))
    earlier = m.area_km2[cols < rows].sum()
    later = m.area_km2[cols > rows].sum()
    improved, worsened = (earlier, later) if higher_is_worse else (later, earlier)
    same = float(np.trace(m.area_km2))
    total = float(improved + worsened) + same
    share = float(improved) / total if total > 0 else float("nan")
    return ChangeSummary(float(improved), same, float(worsened), share)


@dataclass(frozen=True)
class ZoneTransitions:
    """One transition matrix per zone (control unit, county, …) of a labels raster."""

    zones: IntArray
    classes: tuple[int, ...]
    tables: FloatArray  # (zones, K+1, K+1); index K = nodata

    def matrix(self, zone: int) -> TransitionMatrix:
        """The transition matrix of one zone label."""
        hit = np.flatnonzero(self.zones == zone)
        if hit.size == 0:
            raise InvalidInput(f"zone {zone} is not in the labels raster")
        return _matrix(self.tables[int(hit[0])], self.classes)

    def summary_rows(self, *, higher_is_worse: bool = True) -> list[dict[str, Any]]:
        """Per zone: ``zone``, ``area_km2`` (class at both dates), ``improved_km2``,
        ``unchanged_km2``, ``worsened_km2``, ``improved_share``."""
        out = []
        for z in self.zones.tolist():
            s = change_summary(self.matrix(z), higher_is_worse=higher_is_worse)
            out.append(
                {
                    "zone": z,
                    "area_km2": s.area_km2,
                    "improved_km2": s.improved_km2,
                    "unchanged_km2": s.unchanged_km2,
                    "worsened_km2": s.worsened_km2,
                    "improved_share": s.improved_share,
                }
            )
        return out


def zone_transitions(
    before: Any,
    after: Any,
    zones: Any,
    *,
    classes: Sequence[int],
    pixel_area_km2: Any = 1.0,
    zone_nodata: int = 0,
) -> ZoneTransitions:
    """Transition matrices per zone of an integer labels raster (``zone_nodata`` = outside).

    >>> zt = zone_transitions(np.array([2, 2, 1, 2]), np.array([1, 2, 1, 1]),
    ...                       np.array([7, 7, 9, 0]), classes=(1, 2))
    >>> zt.zones.tolist(), [r["improved_km2"] for r in zt.summary_rows()]
    ([7, 9], [1.0, 0.0])
    """
    cls = _checked_classes(classes)
    labels = np.asarray(zones)
    if labels.shape != np.shape(before):
        raise GridMismatch(f"zones {labels.shape} do not match the class rasters")
    if labels.dtype.kind not in "iu":
        raise InvalidInput("zone labels must be integers")
    inside = labels != zone_nodata
    uniq, inverse = np.unique(labels[inside], return_inverse=True)
    groups = np.full(labels.shape, -1, dtype=np.int64)
    groups[inside] = inverse
    tables = _counts(groups, before, after, cls, pixel_area_km2, len(uniq))
    return ZoneTransitions(np.asarray(uniq, dtype=np.int64), cls, tables)


__all__ = [
    "ChangeSummary",
    "TransitionMatrix",
    "ZoneTransitions",
    "change_summary",
    "transition_matrix",
    "zone_transitions",
]
