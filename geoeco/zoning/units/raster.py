"""The zone raster of the final units: one area truth for rasters, tables and polygons.

Sliver merging (:mod:`geoeco.zoning.units.labels`) moves small key and general pieces into
their neighbours, so the overlay's zone raster no longer matches the units. :func:`units_raster`
burns the final units back onto the grid with the rule they were built from (pixel centres:
units are unions of pixel squares, so each pixel centre lies in exactly the unit that holds the
pixel; simplified edges between key and general units move a few centres at most), and
:func:`zone_areas` counts it; ``zone_class.tif``, ``statistics.csv`` and the class totals are
made from that raster, so they agree with the ``units`` layer.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> from geoeco.core.crs import ALBERS_CHINA
>>> from geoeco.core.raster import Grid
>>> g = Grid.from_bounds((0, 0, 400, 200), 100, ALBERS_CHINA)
>>> u = gpd.GeoDataFrame({"unit_class": [1, 2]},
...     geometry=[box(0, 0, 100, 200), box(100, 0, 400, 200)], crs=ALBERS_CHINA)
>>> r = units_raster(u, g)
>>> np.ma.filled(r.array, 0).tolist()
[[1, 2, 2, 2], [1, 2, 2, 2]]
>>> zone_areas(r)
{1: 2, 2: 6, 3: 0}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geoeco.core.raster import Grid, Raster


def units_raster(units: Any, grid: Grid) -> Raster:
    """The units' ``unit_class`` (1–3) on ``grid`` by pixel centre (0 = no unit, masked)."""
    from rasterio.features import rasterize

    g = units if units.crs is None or units.crs == grid.crs else units.to_crs(grid.crs)
    shapes = [
        (geom, int(c))
        for geom, c in zip(g.geometry, g["unit_class"], strict=True)
        if geom is not None and not geom.is_empty
    ]
    arr = np.zeros(grid.shape, np.uint8)
    if shapes:
        arr = rasterize(
            shapes,
            out_shape=grid.shape,
            transform=grid.transform,
            fill=0,
            all_touched=False,
            dtype="uint8",
        )
    return Raster.from_array(arr, grid, nodata=0, units="class", name="zone_class")


def zone_areas(zone: Raster) -> dict[int, int]:
    """Pixel count of each zone class 1–3 of a zone raster."""
    counts = np.bincount(np.ma.filled(zone.array, 0).ravel(), minlength=4)
    return {c: int(counts[c]) for c in (1, 2, 3)}


__all__ = ["units_raster", "zone_areas"]
