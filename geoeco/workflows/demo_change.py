"""The demo's change over time: a synthetic yearly series, its trends and a two-date change.

:func:`run_demo_series` writes the synthetic series of :mod:`geoeco.catalog.demo_series`
over the demo region's footprint into ``DIR/series/stack/`` (labelled synthetic), runs
:func:`~.trends.run_trend` on it into ``DIR/trends/`` (with RESTREND of NDVI on the
precipitation stack), grades the first and last year's soil loss by SL 190-2007
(``DIR/series/grades/soil_loss_grade_<year>.tif``, tolerable loss 1000 t/(km²·a)) and runs
:func:`~.changes.run_change` between them into ``DIR/change/``, per control unit and county
when the demo's zoning run is given, and then the restoration effectiveness of NDVI's trend
per control unit (:mod:`.effectiveness`, matched on county, land cover and start value) into
``DIR/change/ndvi_effectiveness.csv``/``.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE, demo_grid
from geoeco.catalog.demo_series import SeriesSpec, series_arrays, write_series
from geoeco.core.io import write_raster
from geoeco.core.raster import Raster
from geoeco.erosion.grades import water_erosion_grade

from .changes import ChangeOptions, ChangeRunResult, run_change
from .demo_inputs import check_demo_size
from .effectiveness import EffectivenessResult, run_effectiveness
from .progress import Progress, stage
from .trends import TrendOptions, TrendRunResult, run_trend

#: Tolerable soil loss of the demo's grades (t/(km²·a); the loess hills, SL 190-2007).
DEMO_TOLERABLE = 1000.0


@dataclass(frozen=True)
class DemoSeriesResult:
    """The demo's trend and change runs."""

    out: Path
    trends: TrendRunResult
    change: ChangeRunResult
    effectiveness: EffectivenessResult | None = None

    def as_dict(self) -> dict[str, Any]:
        """Files and headline figures, relative to :attr:`out`."""
        t = self.trends.summary()
        c = self.change.summary()
        return {
            "status": "synthetic",
            "stack": "series/stack",
            "trends": {
                "files": [f"trends/{f}" for f in self.trends.outputs],
                "class_area_km2": {v: d["class_area_km2"] for v, d in t["variables"].items()},
            },
            "change": {
                "files": [f"change/{f}" for f in self.change.outputs]
                + (
                    []
                    if self.effectiveness is None
                    else [f"change/ndvi_effectiveness.{x}" for x in ("csv", "json")]
                ),
                "improved_km2": c["improved_km2"],
                "worsened_km2": c["worsened_km2"],
            },
        }


def demo_series_spec(size: str = DEFAULT_DEMO_SIZE) -> SeriesSpec:
    """The synthetic series over the demo region's footprint (60 rows, in its CRS)."""
    g = demo_grid(check_demo_size(size))
    return SeriesSpec.covering(g.bounds, g.crs.to_string())


def write_grades(spec: SeriesSpec, folder: Path) -> tuple[Path, Path]:
    """SL 190 grades of the first and last year's soil loss."""
    loss = series_arrays(spec)["soil_loss"]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, year in ((0, spec.years[0]), (-1, spec.years[-1])):
        with np.errstate(invalid="ignore"):
            grade = water_erosion_grade(loss[i], tolerable=DEMO_TOLERABLE)
        r = Raster(np.ma.masked_equal(grade, 0), spec.grid, units="class")
        tags = {"GEOECO_SYNTHETIC": "yes", "GEOECO_YEAR": str(year)}
        p = folder / f"soil_loss_grade_{year}.tif"
        paths.append(write_raster(r, p, dtype="uint8", nodata=0, cog=False, tags=tags))
    return paths[0], paths[1]


def run_demo_series(
    folder: str | Path,
    *,
    size: str = DEFAULT_DEMO_SIZE,
    units: Path | None = None,
    progress: Progress | None = None,
) -> DemoSeriesResult:
    """Series, trends and change of the demo (see the module docstring); ``units`` is the
    demo's zoning run folder (or ``None``: no per-unit tables)."""
    out = Path(folder)
    spec = demo_series_spec(size)
    stack = out / "series" / "stack"
    write_series(stack, spec)
    opts = TrendOptions(precipitation="precipitation")
    trends = run_trend(stack, out / "trends", options=opts, progress=stage(progress, 0.0, 0.7))
    first, last = write_grades(spec, out / "series" / "grades")
    has_units = units is not None and (units / "units.parquet").is_file()
    change = run_change(
        first,
        last,
        out / "change",
        options=ChangeOptions(table="SL190-2007/water", variable="soil_loss_grade"),
        units=units if has_units else None,
        progress=stage(progress, 0.7, 1.0),
    )
    effect = None
    if has_units and units is not None:
        lc = out / "layers" / "landcover.tif"
        effect = run_effectiveness(
            stack,
            out / "trends",
            units,
            out / "change",
            variable="ndvi",
            landcover=lc if lc.is_file() else None,
        )
    return DemoSeriesResult(out, trends, change, effect)


__all__ = [
    "DEMO_TOLERABLE",
    "DemoSeriesResult",
    "demo_series_spec",
    "run_demo_series",
    "write_grades",
]
