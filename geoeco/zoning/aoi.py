"""Areas of interest, resolved once: an administrative code, a vector file or a geometry.

:func:`resolve_aoi` turns what a user gave into one :class:`AOI`: the area's polygons in the
analysis CRS (``ALBERS_CHINA``, equal-area) and in CGCS2000 lon-lat (EPSG:4490), a label, the
code it came from and its area in km². :func:`make_aoi` is the one place where an area is
reprojected, repaired and checked for emptiness; everything downstream (the grid of
:func:`analysis_grid`, the overlay's AOI mask, the counties of the control units, the
summary) reads the AOI as it is. The demo region's AOI is made from its footprint by the
workflows (:func:`geoeco.workflows.demo_inputs.demo_aoi`): zoning does not know the demo.

Codes are 6-digit GB codes (``610802`` 榆阳区, ``610800`` 榆林市, ``610000`` 陕西省) or the
9-digit ``156…`` form of the Tianditu data; a county code wins over a city of the same code
(a few county-level units sit directly under a province).

Examples
--------
>>> normalise_code("156610802"), normalise_code("610800")
('610802', '610800')
>>> a = resolve_aoi(shapely.box(109.0, 38.0, 109.1, 38.1))  # 0.1° x 0.1° at 38° N
>>> a.kind, a.geometry.geom_type, round(a.area_km2, 1)  # 8.777 km x 11.100 km on the ellipsoid
('geometry', 'Polygon', 97.4)
>>> resolve_aoi(shapely.Point(109.0, 38.0))
Traceback (most recent call last):
...
geoeco.core.errors.EmptyArea: geometry: the area of interest is empty
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import EmptyArea, InvalidInput, OversizeRequest
from geoeco.core.raster import Grid

_CODE = re.compile(r"^(156)?(\d{6})$")

AoiKind = Literal["county", "city", "province", "file", "geometry", "demo"]
#: What an area of interest may be given as: a 6- or 9-digit administrative code, a vector
#: file (path), a shapely geometry in CGCS2000 lon-lat (EPSG:4490), a GeoJSON geometry or
#: Feature (a mapping, WGS 84 lon-lat: the API's form), or an :class:`AOI` already resolved.
AoiSource: TypeAlias = str | Path | BaseGeometry | Mapping[str, Any]
#: The CRS of the analysis (grids, areas, the AOI's :attr:`AOI.geometry`): equal-area Albers.
ANALYSIS_CRS = ALBERS_CHINA
#: Largest analysis grid of :func:`analysis_grid`, in pixels.
MAX_GRID_PIXELS = 400_000_000


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
    """An area of interest resolved once (make it with :func:`make_aoi` or :func:`resolve_aoi`).

    Attributes
    ----------
    geometry : shapely geometry
        Valid, non-empty polygon(s) in :data:`ANALYSIS_CRS` (``ALBERS_CHINA``, metres).
    lonlat : shapely geometry
        The same area in CGCS2000 lon-lat (EPSG:4490), as given or read.
    label : str
        What the area is called in messages and summaries.
    kind : {"county", "city", "province", "file", "geometry", "demo"}
        Where it came from.
    code : str or None
        The 6-digit administrative code of a county, city or province.
    area_km2 : float
        Equal-area (Albers) area in km².
    """

    geometry: BaseGeometry
    lonlat: BaseGeometry
    label: str
    kind: AoiKind
    code: str | None
    area_km2: float

    def to_crs(self, crs: Any) -> BaseGeometry:
        """The area in another CRS (the analysis CRS and EPSG:4490 need no reprojection)."""
        target = CRS.from_user_input(crs)
        if target.equals(ANALYSIS_CRS):
            return self.geometry
        if target.equals(CGCS2000):
            return self.lonlat
        return _reproject(self.lonlat, CGCS2000, target)

    def summary(self) -> dict[str, Any]:
        """The ``aoi`` entry of a zoning run's ``summary.json``."""
        return {
            "label": self.label,
            "kind": self.kind,
            "code": self.code,
            "area_km2": self.area_km2,
        }


def _reproject(geometry: BaseGeometry, src: Any, dst: Any) -> BaseGeometry:
    import geopandas as gpd

    out: BaseGeometry = gpd.GeoSeries([geometry], crs=src).to_crs(dst).iloc[0]
    return out


def make_aoi(
    geometry: BaseGeometry,
    *,
    label: str,
    kind: AoiKind,
    code: str | None = None,
    crs: Any = CGCS2000,
) -> AOI:
    """The :class:`AOI` of ``geometry`` (in ``crs``): brought to lon-lat and to the analysis
    CRS, made valid there, and refused when empty (:class:`EmptyArea` naming ``label``)."""
    src = CRS.from_user_input(crs)
    lonlat = geometry if src.equals(CGCS2000) else _reproject(geometry, src, CGCS2000)
    if lonlat.is_empty:
        raise EmptyArea(f"{label}: the area of interest is empty")
    albers = shapely.make_valid(_reproject(lonlat, CGCS2000, ANALYSIS_CRS))
    if albers.is_empty or albers.area == 0:
        raise EmptyArea(f"{label}: the area of interest is empty")
    return AOI(albers, lonlat, label, kind, code, float(albers.area / 1e6))


def aoi_from_code(code: str) -> AOI:
    """The county, city or province with this code (built-in Tianditu boundaries)."""
    from geoeco.catalog.admin import AdminLevel, admin_units

    c = normalise_code(code)
    order: tuple[AdminLevel, ...] = ("county", "city", "province")
    if c.endswith("0000"):
        order = ("province", "city", "county")
    elif c.endswith("00"):
        order = ("city", "county", "province")
    for level in order:
        units = admin_units(level)
        hit = units[units["code"] == c]
        if len(hit):
            geom = shapely.union_all(hit.geometry.values)
            return make_aoi(geom, label=f"{hit['name'].iloc[0]} ({c})", kind=level, code=c)
    raise InvalidInput(f"no province, city or county has the code {c}")


def aoi_from_file(path: str | Path, *, name: str | None = None) -> AOI:
    """The union of a vector file's polygons (the file must declare a CRS)."""
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
    return make_aoi(geom, label=shown, kind="file")


def aoi_from_geojson(obj: Mapping[str, Any]) -> AOI:
    """A GeoJSON geometry or Feature in WGS 84 lon-lat (checked as every input geometry is,
    :func:`geoeco.core.geometry.parse_geometry`, with no area limit)."""
    from geoeco.core.geometry import parse_geometry

    geom = parse_geometry(obj, crs="wgs84", max_area_km2=None).geometry
    return make_aoi(geom, label="geometry", kind="geometry")


def resolve_aoi(aoi: AoiSource | AOI) -> AOI:
    """The :class:`AOI` of whatever the user gave (see :data:`AoiSource`).

    Text is an administrative code when it looks like one, else the path of a vector file;
    digits that are not a code (and no file) are refused as a bad code.
    """
    if isinstance(aoi, AOI):
        return aoi
    if isinstance(aoi, BaseGeometry):
        return make_aoi(aoi, label="geometry", kind="geometry")
    if isinstance(aoi, Mapping):
        return aoi_from_geojson(aoi)
    if not isinstance(aoi, str | Path):
        raise InvalidInput(
            "the area of interest must be an administrative code, a vector file, a geometry "
            f"or GeoJSON; got {type(aoi).__name__}"
        )
    text = str(aoi)
    if _CODE.match(text.strip()):
        return aoi_from_code(text)
    if text.strip().isdigit() and not Path(text).exists():
        raise InvalidInput(
            f"{text!r} is not an administrative code; give 6 digits (e.g. 610802) or the "
            "9-digit 156… form"
        )
    return aoi_from_file(text)


def analysis_grid(aoi: AOI, res: float, *, max_pixels: int = MAX_GRID_PIXELS) -> Grid:
    """The equal-area (``ALBERS_CHINA``) grid of ``res`` metres covering the AOI."""
    if res <= 0:
        raise InvalidInput(f"resolution must be positive, got {res}")
    grid = Grid.from_bounds(aoi.geometry.bounds, res, ANALYSIS_CRS)
    n = grid.width * grid.height
    if n > max_pixels:
        raise OversizeRequest(
            f"{aoi.label}: {n:,} pixels at {res:g} m exceed the limit of {max_pixels:,}; "
            "use a coarser resolution or a smaller area"
        )
    return grid
