"""Desertification degree end to end: NDVI → vegetation cover (percent) → degree.

:func:`run_desertification` takes the NDVI end points (5 % and 95 % cumulative frequency)
over a **reference extent** (default: the whole NDVI raster, read block by block with a
streaming histogram), so that a pixel's cover and degree do not change with the area of
interest; then it walks the grid window by window.

Schemes: ``WangTao-2003`` (cover only; the default) and ``Chen2019-cover-baresand`` (cover
plus bare-sand share; where they disagree the more severe class wins, where bare sand is
missing the cover class is used — see :func:`geoeco.erosion.vegetation.desertification_chen2019`).

Outputs: ``fvc.tif`` (percent), ``desertification_degree.tif`` (codes 1..5, 0 = nodata, with
the class colours) and ``summary.json`` (area in km² per degree, equal-area; tables,
parameters, inputs, engine version).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from geoeco.catalog.classes import ClassTable, Provenance, get_table
from geoeco.core.inspect import inspect_layer_file
from geoeco.core.io import open_raster_writer, raster_info
from geoeco.core.raster import Grid
from geoeco.core.windows import WindowReader, equal_area_factor, open_factor, write_json
from geoeco.erosion import vegetation as vegetation

from .results import DesertificationResult
from .run import _ndvi_endpoints_of

Scheme = Literal["WangTao-2003", "Chen2019-cover-baresand"]


def run_desertification(
    ndvi: str | Path,
    out_dir: str | Path,
    *,
    bare_sand: str | Path | None = None,
    scheme: Scheme | None = None,
    endpoints: tuple[float, float] | None = None,
    allow_outside_china: bool = False,
    block_size: int = 1024,
    progress: Callable[[str, float], None] | None = None,
) -> DesertificationResult:
    """Write ``fvc.tif``, ``desertification_degree.tif`` and ``summary.json``.

    ``scheme`` defaults to Wang Tao (2003), or to Chen (2019) when ``bare_sand`` is given.
    Returns the areas and records as a :class:`~geoeco.erosion.results.DesertificationResult`,
    whose :meth:`~geoeco.erosion.results.DesertificationResult.summary` is ``summary.json``.
    """
    step = progress or (lambda s, f: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ndvi = Path(ndvi)
    chosen: Scheme = scheme or ("Chen2019-cover-baresand" if bare_sand else "WangTao-2003")
    used = Provenance()
    info = raster_info(ndvi, name=ndvi.name)
    stated = float("nan") if info.nodata is None and info.dtype.startswith("float") else None
    inspect_layer_file(ndvi, allow_outside_china=allow_outside_china, nodata=stated)
    grid = info.grid
    assert grid is not None  # inspect_layer_file refuses a raster without CRS
    step("NDVI end points over the reference extent", 0.05)
    ends = _endpoints(ndvi, endpoints, used)
    table = get_table(
        "WangTao-2003" if chosen == "WangTao-2003" else "Chen2019-cover-baresand/cover"
    )
    inputs: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(
            open_factor(
                str(ndvi), grid, name="ndvi", inputs=inputs, allow_outside_china=allow_outside_china
            )
        )
        sand = (
            None
            if bare_sand is None
            else stack.enter_context(
                open_factor(
                    str(bare_sand),
                    grid,
                    name="bare_sand",
                    inputs=inputs,
                    allow_outside_china=allow_outside_china,
                )
            )
        )
        counts = _DegreePass(grid, table, chosen, ends, used).run(out, src, sand, block_size, step)
    px_km2 = grid.cell_area / 1e6 * equal_area_factor(grid)
    result = DesertificationResult(
        out_dir=out,
        scheme=chosen,
        grid=grid,
        ndvi_endpoints=ends,
        endpoints_given=endpoints is not None,
        area_km2_by_degree={
            f"{c.code} {c.name_zh} {c.name_en}": float(counts[c.code]) * px_km2
            for c in table.classes
        },
        area_km2_total=float(counts[1:].sum()) * px_km2,
        nodata_pixels=int(counts[0]),
        inputs=inputs,
        provenance={**used.to_dict(), "class_tables": {table.name: table.describe()}},
    )
    write_json(result.summary(), out / "summary.json")
    step("done", 1.0)
    return result


def _endpoints(
    ndvi: Path, given: tuple[float, float] | None, used: Provenance
) -> tuple[float, float]:
    """The NDVI end points, given or found over the reference extent (the whole NDVI
    raster), recorded in ``used``."""
    if given is None:
        ends = _ndvi_endpoints_of(ndvi, used)
        source = "5 % / 95 % cumulative NDVI over the reference extent (whole NDVI raster)"
    else:
        ends, source = given, "given"
    used.add_param("fvc.ndvi_soil", ends[0], source=source)
    used.add_param("fvc.ndvi_veg", ends[1], source=source)
    return ends


@dataclass(frozen=True)
class _DegreePass:
    """The walk over the grid: cover and degree of each window, written and counted."""

    grid: Grid
    table: ClassTable
    scheme: Scheme
    endpoints: tuple[float, float]
    used: Provenance

    def run(
        self,
        out: Path,
        src: WindowReader,
        sand: WindowReader | None,
        block_size: int,
        step: Callable[[str, float], None],
    ) -> np.ndarray:
        """Write ``fvc.tif`` and ``desertification_degree.tif``; return the pixel count per
        degree code (index 0 = nodata)."""
        table, grid = self.table, self.grid
        counts = np.zeros(max(c.code for c in table.classes) + 1, dtype=np.int64)
        n_blocks = sum(1 for _ in grid.blocks(block_size))
        with (
            open_raster_writer(out / "fvc.tif", grid, units="%") as fvc_w,
            open_raster_writer(
                out / "desertification_degree.tif",
                grid,
                dtype="uint8",
                nodata=0,
                colormap=table.colormap(),
                tags={"class_table": f"{table.name} ({table.version})"},
            ) as deg_w,
        ):
            for i, win in enumerate(grid.blocks(block_size)):
                fvc, deg = self.window(src, sand, win)
                fvc_w.write(win, np.ma.masked_invalid(fvc))
                deg_w.write(win, deg)
                counts += np.bincount(deg.ravel(), minlength=counts.size)[: counts.size]
                step("cover and degree by window", 0.1 + 0.85 * (i + 1) / n_blocks)
        return counts

    def window(
        self, src: WindowReader, sand: WindowReader | None, win: tuple[int, int, int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vegetation cover (percent) and desertification degree of one window."""
        fvc = vegetation.fvc_dimidiate(np.ma.filled(src.read(win), np.nan), *self.endpoints)
        if self.scheme == "WangTao-2003":
            return fvc, vegetation.desertification_wangtao(fvc, used=self.used)
        bs = None if sand is None else np.ma.filled(sand.read(win), np.nan)
        return fvc, vegetation.desertification_chen2019(fvc, bs, used=self.used)
