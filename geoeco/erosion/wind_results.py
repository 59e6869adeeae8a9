"""What a wind-erosion run returns: :class:`WindErosionResult` (typed, frozen), and the sums
its windows add up (:class:`WindTotals`).

:meth:`WindErosionResult.summary` is the content of the run's ``summary.json``: areas per
SL 190-2007 wind grade in equal-area km², mean and total actual and potential erosion and sand
fixation, the pixels where potential may fall below actual, the RWEQ parameters with the [R]
ones listed as unverified, and every input with its provenance and status.

Examples
--------
>>> t = WindTotals.zero(6).plus(WindTotals(np.array([1, 2, 0, 0, 0, 0, 0]), 300.0, 900.0,
...                                        600.0, 0, 0))
>>> t.counts.tolist(), t.actual_sum
([1, 2, 0, 0, 0, 0, 0], 300.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.classes import Provenance, get_table
from geoeco.core.raster import Grid
from geoeco.core.windows import engine_info
from geoeco.erosion.wind import RweqParameters

__all__ = ["WindErosionResult", "WindTotals"]

_AREA = "km² (Albers equal-area, CGCS2000)"
_TABLE = "SL190-2007/wind-modulus"


@dataclass(frozen=True)
class WindTotals:
    """Sums over windows: grade histogram (index = code, 0 = nodata), sums of the actual,
    potential and fixation moduli over valid pixels (t/(km²·a)), and pixel counts beyond the
    SL(z) peak and with fixation clipped at 0."""

    counts: np.ndarray
    actual_sum: float
    potential_sum: float
    fixation_sum: float
    beyond_peak: int
    clipped: int

    @classmethod
    def zero(cls, n_classes: int) -> WindTotals:
        """Nothing counted yet."""
        return cls(np.zeros(n_classes + 1, dtype=np.int64), 0.0, 0.0, 0.0, 0, 0)

    def plus(self, other: WindTotals) -> WindTotals:
        """The sums of both."""
        return WindTotals(
            self.counts + other.counts,
            self.actual_sum + other.actual_sum,
            self.potential_sum + other.potential_sum,
            self.fixation_sum + other.fixation_sum,
            self.beyond_peak + other.beyond_peak,
            self.clipped + other.clipped,
        )


@dataclass(frozen=True)
class WindErosionResult:
    """A wind-erosion run's figures and records (:func:`geoeco.erosion.wind_run.run_wind_erosion`).

    Attributes
    ----------
    out_dir : Path
        The folder holding the outputs and ``summary.json``.
    grid : Grid
        The land cover's grid, on which every output lies.
    area_km2_by_grade : dict
        Equal-area km² per SL 190-2007 wind grade (``"<code> <name_zh> <name_en>"``).
    area_km2_total, nodata_pixels
        Area of the graded pixels (km²) and the number of nodata pixels.
    mean_actual_t_km2_a, mean_potential_t_km2_a, mean_sand_fixation_t_km2_a : float or None
        Means over the valid pixels, t/(km²·a); None without valid pixels.
    total_actual_t_a, total_potential_t_a, total_sand_fixation_t_a : float
        Totals over the grid, t/a (equal-area).
    pixels_beyond_peak, pixels_fixation_clipped : int
        Pixels where a month's factor product passed the SL(z) peak (potential may be below
        actual there), and pixels whose sand fixation was clipped at 0.
    parameters : dict
        Every RWEQ parameter with its value, tag and source.
    unverified : list of str
        The [R] parameters (from the literature, not checked at the source).
    inputs, provenance : dict
        Every input (file, CRS, checksum or constant, status); the tables and parameters used.
    windows : int
        Number of windows the grid was walked in.
    """

    out_dir: Path
    grid: Grid
    area_km2_by_grade: Mapping[str, float]
    area_km2_total: float
    nodata_pixels: int
    mean_actual_t_km2_a: float | None
    mean_potential_t_km2_a: float | None
    mean_sand_fixation_t_km2_a: float | None
    total_actual_t_a: float
    total_potential_t_a: float
    total_sand_fixation_t_a: float
    pixels_beyond_peak: int
    pixels_fixation_clipped: int
    unverified: tuple[str, ...]
    inputs: Mapping[str, Any]
    provenance: Mapping[str, Any]
    windows: int
    outputs: tuple[str, ...] = (
        "wind_erosion_actual.tif",
        "wind_erosion_potential.tif",
        "sand_fixation.tif",
        "wind_erosion_grade.tif",
    )

    @classmethod
    def build(
        cls,
        out: Path,
        grid: Grid,
        totals: WindTotals,
        area_factor: float,
        inputs: Mapping[str, Any],
        used: Provenance,
        params: RweqParameters,
        windows: int,
    ) -> WindErosionResult:
        """The result from the window sums (``area_factor``: equal-area / planar area)."""
        table = get_table(_TABLE)
        px_km2 = grid.cell_area / 1e6 * area_factor
        n = int(totals.counts[1:].sum())

        def mean(s: float) -> float | None:
            return s / n if n else None

        return cls(
            out_dir=out,
            grid=grid,
            area_km2_by_grade={
                f"{c.code} {c.name_zh} {c.name_en}": float(totals.counts[c.code]) * px_km2
                for c in table.classes
            },
            area_km2_total=n * px_km2,
            nodata_pixels=int(totals.counts[0]),
            mean_actual_t_km2_a=mean(totals.actual_sum),
            mean_potential_t_km2_a=mean(totals.potential_sum),
            mean_sand_fixation_t_km2_a=mean(totals.fixation_sum),
            total_actual_t_a=totals.actual_sum * px_km2,
            total_potential_t_a=totals.potential_sum * px_km2,
            total_sand_fixation_t_a=totals.fixation_sum * px_km2,
            pixels_beyond_peak=totals.beyond_peak,
            pixels_fixation_clipped=totals.clipped,
            unverified=tuple(params.unverified()),
            inputs=dict(inputs),
            provenance={**used.to_dict(), "class_tables": {table.name: table.describe()}},
            windows=windows,
        )

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``: figures, grid, units and records."""
        return {
            "kind": "wind_erosion",
            "model": "RWEQ (Fryrear et al. 1998/2000), monthly weather factor",
            "engine": engine_info(),
            "units": {"erosion": "t/(km²·a)", "totals": "t/a", "area": _AREA},
            "grid": {
                "crs": self.grid.crs.to_string(),
                "res_m": self.grid.res[0],
                "shape": list(self.grid.shape),
                "bounds": list(self.grid.bounds),
            },
            "compute": {"windows": self.windows},
            "area_km2_by_grade": dict(self.area_km2_by_grade),
            "area_km2_total": self.area_km2_total,
            "nodata_pixels": self.nodata_pixels,
            "mean_actual_t_km2_a": self.mean_actual_t_km2_a,
            "mean_potential_t_km2_a": self.mean_potential_t_km2_a,
            "mean_sand_fixation_t_km2_a": self.mean_sand_fixation_t_km2_a,
            "total_actual_t_a": self.total_actual_t_a,
            "total_potential_t_a": self.total_potential_t_a,
            "total_sand_fixation_t_a": self.total_sand_fixation_t_a,
            "potential_below_actual": {
                "pixels_beyond_peak": self.pixels_beyond_peak,
                "pixels_fixation_clipped": self.pixels_fixation_clipped,
                "note": "where a month's factor product passes the SL(z) peak, potential may "
                "fall below actual; sand fixation is clipped at 0 there (methodology §8)",
            },
            "unverified": list(self.unverified),
            "inputs": dict(self.inputs),
            "provenance": dict(self.provenance),
            "outputs": list(self.outputs),
        }
