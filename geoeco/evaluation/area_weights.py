"""True (ellipsoidal) pixel areas of a grid, for sums over pixels that must be equal-area.

Cumulative share sums values, so every pixel is weighted by its true area. Where the
projection's areal scale varies by at most :data:`AREA_TOLERANCE` (0.1 %) over the grid (any
Albers grid; a Gauss–Krüger grid within ~200 km of its meridian), one constant pixel area is
used (:func:`geoeco.core.windows.equal_area_factor`); otherwise the true area of every pixel is
``cell area / areal scale`` from :meth:`pyproj.Proj.get_factors`, evaluated on a lattice at
most 16 pixels and ~5 km apart and interpolated bilinearly.

Examples
--------
>>> from affine import Affine
>>> aw = area_weights(Grid(Affine(30, 0, 400000, 0, -30, 4250000), 4, 4, "EPSG:4546"))
>>> aw.method, aw.window((0, 0, 2, 2)) is None
('constant', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyproj

from geoeco.core.raster import Grid
from geoeco.core.windows import equal_area_factor

Window = tuple[int, int, int, int]

#: Largest relative spread of the areal scale for which one constant pixel area is used.
AREA_TOLERANCE = 1e-3


@dataclass(frozen=True)
class AreaWeights:
    """True (ellipsoidal) pixel areas of a grid, in km²: one constant, or one per pixel."""

    grid: Grid
    method: Literal["constant", "per-pixel"]
    pixel_km2: float
    scale_range: tuple[float, float]
    step: int = 16

    def window(self, win: Window) -> np.ndarray | None:
        """Per-pixel areas (km², float64) of a window; ``None`` when the area is constant."""
        if self.method == "constant":
            return None
        r0, c0, h, w = win
        rows, cols = _lattice(h, self.step), _lattice(w, self.step)
        s = _areal_scale(self.grid, r0 + rows, c0 + cols)
        scale = _interp_matrix(h, rows) @ s @ _interp_matrix(w, cols).T
        areas: np.ndarray = self.grid.cell_area / 1e6 / scale
        return areas

    def tally(self, classes: np.ndarray, n: int, w: np.ndarray | None) -> np.ndarray:
        """Area (km²) of codes 0..n in ``classes`` (``w`` from :meth:`window`)."""
        ww = None if w is None else w.ravel()
        out = np.bincount(classes.ravel(), weights=ww, minlength=n + 1)[: n + 1]
        return out * self.pixel_km2 if w is None else out

    def describe(self) -> dict[str, Any]:
        """JSON-ready record of the choice."""
        return {
            "method": self.method,
            "areal_scale_range": list(self.scale_range),
            "tolerance": AREA_TOLERANCE,
            "pixel_km2": self.pixel_km2 if self.method == "constant" else None,
            "source": "pyproj Proj.get_factors areal_scale at pixel centres"
            + (f" (lattice every {self.step} px, bilinear)" if self.method == "per-pixel" else "")
            + "; constant area from geoeco.core.windows.equal_area_factor",
        }


def _lattice(n: int, step: int) -> np.ndarray:
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _interp_matrix(n: int, pts: np.ndarray) -> np.ndarray:
    if pts.size == 1:
        return np.ones((n, 1))
    eye = np.eye(pts.size)
    x = np.arange(n, dtype=float)
    return np.stack([np.interp(x, pts, eye[j]) for j in range(pts.size)], axis=1)


def _areal_scale(grid: Grid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    t = grid.transform
    xx, yy = np.meshgrid(t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e)
    proj = pyproj.Proj(grid.crs)
    lon, lat = proj(xx, yy, inverse=True)
    return np.asarray(proj.get_factors(lon, lat).areal_scale, dtype=float).reshape(xx.shape)


def area_weights(
    grid: Grid, mode: Literal["auto", "constant", "per-pixel"] = "auto"
) -> AreaWeights:
    """Choose constant or per-pixel true areas for ``grid`` (see the module docstring).

    >>> from affine import Affine
    >>> aw = area_weights(Grid(Affine(30, 0, 400000, 0, -30, 4250000), 4, 4, "EPSG:4546"))
    >>> aw.method, round(aw.pixel_km2, 6)
    ('constant', 0.0009)
    """
    n_r, n_c = min(grid.height, 21), min(grid.width, 21)
    rows = np.unique(np.round(np.linspace(0, grid.height - 1, n_r)).astype(int))
    cols = np.unique(np.round(np.linspace(0, grid.width - 1, n_c)).astype(int))
    s = _areal_scale(grid, rows, cols)
    lo, hi = float(s.min()), float(s.max())
    if mode == "auto":
        mode = "constant" if hi / lo - 1 <= AREA_TOLERANCE else "per-pixel"
    px = grid.cell_area / 1e6 * equal_area_factor(grid)
    step = int(min(16, max(1, round(5000.0 / max(grid.res)))))  # lattice at most ~5 km apart
    return AreaWeights(grid, mode, px, (lo, hi), step)


__all__ = ["AREA_TOLERANCE", "AreaWeights", "area_weights"]
