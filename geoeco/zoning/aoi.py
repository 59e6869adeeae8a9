"""Areas of interest: an administrative code, a vector file, a geometry, or the demo region.

:func:`resolve_aoi` turns what a user typed into one polygon in CGCS2000 (EPSG:4490) with a
label, and :func:`analysis_grid` lays the equal-area grid (``ALBERS_CHINA``) over it.

Codes are 6-digit GB codes (``610802`` 榆阳区, ``610800`` 榆林市, ``610000`` 陕西省) or the
9-digit ``156…`` form of the Tianditu data; a county code wins over a city of the same code
(a few county-level units sit directly under a province).

Examples
--------
>>> normalise_code("156610802"), normalise_code("610800")
('610802', '610800')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import EmptyArea, InvalidInput, OversizeRequest
from geoeco.core.raster import Grid

_CODE = re.compile(r"^(156)?(\d{6})$")


def normalise_code(code: str) -> str:
    """The 6-digit GB code of a 6- or 9-digit (``156…``) administrative code."""
    m = _CODE.match(str(code).strip())
    if not m:
        raise InvalidInput(
            f"{code!r} is not an administrative code; give 6 digits (e.g. 610802) or the "
            "9-digit 156… form"
        )
    return m.group(2)


@dataclass(frozen=True)
class AOI:
    """An area of interest: one polygon in EPSG:4490, a label, and where it came from."""

    geometry: BaseGeometry
    label: str
    kind: str  # "county" | "city" | "province" | "file" | "geometry" | "demo"
    code: str | None = None

    def to_crs(self, crs: Any) -> BaseGeometry:
        """The geometry in another CRS."""
        import geopandas as gpd

        return gpd.GeoSeries([self.geometry], crs=CGCS2000).to_crs(crs).iloc[0]

    def area_km2(self) -> float:
        """Equal-area (Albers) area in km²."""
        return float(self.to_crs(ALBERS_CHINA).area / 1e6)


def aoi_from_code(code: str) -> AOI:
    """The county, city or province with this code (built-in Tianditu boundaries)."""
    from geoeco.catalog.admin import admin_units

    c = normalise_code(code)
    order = ["county", "city", "province"]
    if c.endswith("0000"):
        order = ["province", "city", "county"]
    elif c.endswith("00"):
        order = ["city", "county", "province"]
    for level in order:
        units = admin_units(level)  # type: ignore[arg-type]
        hit = units[units["code"] == c]
        if len(hit):
            geom = shapely.union_all(hit.geometry.values)
            return AOI(geom, f"{hit['name'].iloc[0]} ({c})", level, c)
    raise InvalidInput(f"no province, city or county has the code {c}")


def aoi_from_file(path: str | Path, *, name: str | None = None) -> AOI:
    """The union of a vector file's polygons, in EPSG:4490 (the file must declare a CRS)."""
    from geoeco.core.inspect import inspect_layer_file
    from geoeco.core.io import read_vector

    p = Path(path)
    shown = name or p.name
    inspect_layer_file(p, name=shown)
    gdf = read_vector(p, name=shown).to_crs(CGCS2000)
    polys = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        raise EmptyArea(f"{shown}: no polygon to use as the area of interest")
    geom = shapely.make_valid(shapely.union_all(polys.geometry.values))
    return AOI(geom, shown, "file")


def demo_aoi(size: str = "full") -> AOI:
    """The demo region's footprint."""
    import geopandas as gpd

    from geoeco.catalog.demo_region import demo_grid

    g = demo_grid(size)  # type: ignore[arg-type]
    box = shapely.box(*g.bounds)
    geom = gpd.GeoSeries([box], crs=g.crs).to_crs(CGCS2000).iloc[0]
    return AOI(geom, f"demo region ({size}, synthetic)", "demo")


def resolve_aoi(aoi: str | Path | BaseGeometry | AOI | None, *, demo_size: str = "full") -> AOI:
    """Whatever the user gave (code, file, geometry in EPSG:4490, or None for the demo)."""
    if aoi is None:
        return demo_aoi(demo_size)
    if isinstance(aoi, AOI):
        return aoi
    if isinstance(aoi, BaseGeometry):
        if aoi.is_empty:
            raise EmptyArea("the area of interest is empty")
        return AOI(aoi, "geometry", "geometry")
    text = str(aoi)
    if _CODE.match(text.strip()):
        return aoi_from_code(text)
    if text.strip().isdigit() and not Path(text).exists():
        raise InvalidInput(
            f"{text!r} is not an administrative code; give 6 digits (e.g. 610802) or the "
            "9-digit 156… form"
        )
    return aoi_from_file(text)


def analysis_grid(aoi: AOI, res: float, *, max_pixels: int = 400_000_000) -> Grid:
    """The equal-area (ALBERS_CHINA) grid of ``res`` metres covering the AOI."""
    if res <= 0:
        raise InvalidInput(f"resolution must be positive, got {res}")
    geom = aoi.to_crs(ALBERS_CHINA)
    if geom.is_empty or geom.area == 0:
        raise EmptyArea(f"{aoi.label}: the area of interest is empty")
    grid = Grid.from_bounds(geom.bounds, res, ALBERS_CHINA)
    n = grid.width * grid.height
    if n > max_pixels:
        raise OversizeRequest(
            f"{aoi.label}: {n:,} pixels at {res:g} m exceed the limit of {max_pixels:,}; "
            "use a coarser resolution or a smaller area"
        )
    return grid
