"""A synthetic multi-year stack with known planted trends (for the demo and the tests).

**Synthetic**: every file is tagged ``GEOECO_SYNTHETIC=yes``; nothing here is an observation.
The series is deterministic (one seeded generator) on a small grid near Yulin (Albers China,
1 km pixels by default; ``geoeco demo`` lays it over the demo region's footprint), so the demo
shows a trend analysis whose answer is known:

* ``precipitation_<year>.tif`` (mm): a yearly value drawn once per year (uniform 250–550 mm, no
  trend) plus a fixed west–east gradient and 5 mm pixel noise;
* ``ndvi_<year>.tif``: 0.35 + 0.0004 · (rain − 400) + planted trend · (year − first year) +
  noise (σ 0.01);
* ``soil_loss_<year>.tif`` (t/(km²·a)): 3000 + planted trend · (year − first year) + noise
  (σ 100).

Planted trends (:data:`PLANTED`): an **improving block** (NDVI +0.008/a, soil loss −80/a), a
**degrading block** (NDVI −0.008/a, soil loss +150/a), no trend elsewhere; a 5 × 5 corner is
nodata in every year. Over 2001–2020 the soil loss of the improving block falls from the
moderate to the light SL 190 grade and that of the degrading block rises to intense, so the
first and last years also make a change-between-two-dates example.

>>> s = SeriesSpec()
>>> s.years[0], s.years[-1], s.shape
(2001, 2020, (60, 60))
>>> block_mask(s, "improving").sum(), block_mask(s, "degrading").sum()
(np.int64(400), np.int64(450))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.io import write_raster
from geoeco.core.raster import Grid, Raster

#: Planted trend per variable and block (units per year); "rest" has none.
PLANTED: dict[str, dict[str, float]] = {
    "ndvi": {"improving": 0.008, "degrading": -0.008, "rest": 0.0},
    "soil_loss": {"improving": -80.0, "degrading": 150.0, "rest": 0.0},
}
#: Blocks as (row0, row1, col0, col1), half-open.
BLOCKS = {"improving": (10, 30, 10, 30), "degrading": (35, 50, 30, 60)}
#: The corner that is nodata in every year.
NODATA_CORNER = (0, 5, 0, 5)
UNITS = {"ndvi": "NDVI", "soil_loss": "t/(km2*a)", "precipitation": "mm"}


@dataclass(frozen=True)
class SeriesSpec:
    """Where and when the synthetic series lies: first and last year, shape (at least
    60 × 60 for the blocks), pixel size and upper-left corner in ``crs`` units, seed.

    >>> SeriesSpec.covering((0.0, 0.0, 6000.0, 6000.0), "EPSG:4546").res
    100.0
    """

    first_year: int = 2001
    last_year: int = 2020
    rows: int = 60
    cols: int = 60
    res: float = 1000.0
    left: float = 100_000.0
    top: float = 4_250_000.0
    seed: int = 2024
    crs: str = "ALBERS_CHINA"

    @classmethod
    def covering(
        cls, bounds: tuple[float, float, float, float], crs: str, *, rows: int = 60
    ) -> SeriesSpec:
        """A square-pixel series of ``rows`` rows over ``bounds`` (e.g. the demo region's)."""
        left, bottom, right, top = bounds
        res = (top - bottom) / rows
        cols = max(60, round((right - left) / res))
        return cls(rows=rows, cols=cols, res=res, left=left, top=top, crs=crs)

    @property
    def years(self) -> tuple[int, ...]:
        """The years of the series."""
        return tuple(range(self.first_year, self.last_year + 1))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid."""
        return (self.rows, self.cols)

    @property
    def grid(self) -> Grid:
        """The series' grid."""
        crs = ALBERS_CHINA if self.crs == "ALBERS_CHINA" else self.crs
        return Grid(
            Affine(self.res, 0, self.left, 0, -self.res, self.top), self.cols, self.rows, crs
        )


def block_mask(spec: SeriesSpec, block: str) -> npt.NDArray[np.bool_]:
    """Pixels of a planted block (``improving``, ``degrading``) or of ``rest`` (neither, and
    not the nodata corner)."""
    out = np.zeros(spec.shape, dtype=bool)
    boxes = [*BLOCKS.values(), NODATA_CORNER] if block == "rest" else [BLOCKS[block]]
    for r0, r1, c0, c1 in boxes:
        out[r0:r1, c0:c1] = True
    return ~out if block == "rest" else out


def _trend_field(spec: SeriesSpec, variable: str) -> npt.NDArray[np.float64]:
    """Planted slope (per year) of every pixel."""
    out = np.zeros(spec.shape)
    for block, slope in PLANTED[variable].items():
        if block != "rest":
            out[block_mask(spec, block)] = slope
    return out


def series_arrays(spec: SeriesSpec | None = None) -> dict[str, npt.NDArray[np.float64]]:
    """The synthetic stacks by variable, each shaped (years, rows, cols), NaN = nodata."""
    s = spec or SeriesSpec()
    rng = np.random.default_rng(s.seed)
    n = len(s.years)
    yearly_rain = rng.uniform(250.0, 550.0, n)
    gradient = np.linspace(-40.0, 40.0, s.cols)[None, :]
    rain = yearly_rain[:, None, None] + gradient + rng.normal(0.0, 5.0, (n, *s.shape))
    t = np.arange(n, dtype=np.float64)[:, None, None]
    ndvi = 0.35 + 0.0004 * (rain - 400.0) + _trend_field(s, "ndvi") * t
    ndvi += rng.normal(0.0, 0.01, ndvi.shape)
    loss = 3000.0 + _trend_field(s, "soil_loss") * t + rng.normal(0.0, 100.0, ndvi.shape)
    out = {"precipitation": rain, "ndvi": ndvi, "soil_loss": np.maximum(loss, 0.0)}
    r0, r1, c0, c1 = NODATA_CORNER
    for a in out.values():
        a[:, r0:r1, c0:c1] = np.nan
    return out


def write_series(folder: Path, spec: SeriesSpec | None = None) -> dict[str, list[Path]]:
    """Write the synthetic stacks as ``<variable>_<year>.tif`` (float32, tagged synthetic)
    into ``folder``; return the paths by variable."""
    s = spec or SeriesSpec()
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for var, stack in series_arrays(s).items():
        for year, layer in zip(s.years, stack, strict=True):
            r = Raster(layer, s.grid, units=UNITS[var], name=f"{var}_{year}")
            tags = {"GEOECO_SYNTHETIC": "yes", "GEOECO_YEAR": str(year), "VARIABLE": var}
            path = write_raster(
                r, folder / f"{var}_{year}.tif", dtype="float32", cog=False, tags=tags
            )
            written.setdefault(var, []).append(path)
    return written


__all__ = [
    "BLOCKS",
    "NODATA_CORNER",
    "PLANTED",
    "UNITS",
    "SeriesSpec",
    "block_mask",
    "series_arrays",
    "write_series",
]
