"""The first five national parks (established 2021-10-12), approximated from host counties.

Official park boundaries are not available (methodology.md §6.1), so each park (or each
documented part of it) is approximated as the intersection of its documented host counties
with a geodesic disc around a reference point, the disc radius being found by bisection so that
the equal-area (:data:`geoeco.core.crs.ALBERS_CHINA`) area matches the official figure (or the
part's
documented share of it) to :data:`AREA_RTOL`. Host counties, reference points, official areas
and their sources are in ``data/national_parks.toml``.

The result is coarse: it has the right area, lies inside the right counties and is centred on
the right massif, but its outline is a circle clipped by county lines, not the park boundary.

Examples
--------
>>> from shapely import box
>>> host = box(-50_000, -50_000, 50_000, 50_000)          # a 100 km square, in metres
>>> disc, r = fit_disc(host, (0.0, 0.0), target_m2=2.0e9, project=None)
>>> round(disc.area / 1e9, 2), round(r / 1000, 1)   # wholly inside: pi r^2 = 2000 km^2
(2.0, 25.2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import DataSourceError, InvalidInput

from .admin import check_county_entries, counties_equal_area
from .programmes import load_rule, to_4490
from .sources import vector_generator

if TYPE_CHECKING:
    from geopandas import GeoDataFrame
    from shapely.geometry.base import BaseGeometry

#: Relative tolerance on the area of each fitted part (the layer requirement is 10 %).
AREA_RTOL = 0.002
#: Vertices of the disc polygon before clipping.
DISC_VERTICES = 256

Project = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def aeqd_to_albers(lon: float, lat: float) -> Project:
    """Function mapping azimuthal-equidistant (centred on lon/lat) x/y metres to ALBERS_CHINA.

    >>> f = aeqd_to_albers(105.0, 30.0)
    >>> x, y = f(np.array([0.0]), np.array([0.0]))
    >>> round(float(x[0]), 3)
    0.0
    """
    from pyproj import CRS, Transformer

    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=GRS80 +units=m")
    tr = Transformer.from_crs(aeqd, ALBERS_CHINA, always_xy=True)

    def project(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tr.transform(x, y)

    return project


def disc(
    center: tuple[float, float],
    radius: float,
    *,
    project: Project | None = None,
    n: int = DISC_VERTICES,
) -> BaseGeometry:
    """A ``n``-gon disc of ``radius`` around ``center`` (x, y), optionally projected.

    With ``project`` (e.g. :func:`aeqd_to_albers`), ``center`` is ignored: the disc is built
    around the origin of the azimuthal equidistant plane and then projected.

    >>> round(disc((0.0, 0.0), 1.0).area, 3)      # close to pi
    3.141
    """
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    if project is None:
        x, y = center[0] + radius * np.cos(t), center[1] + radius * np.sin(t)
    else:
        x, y = project(radius * np.cos(t), radius * np.sin(t))
    ring = np.column_stack([x, y])
    return shapely.Polygon(np.vstack([ring, ring[:1]]))


def fit_disc(
    host: BaseGeometry,
    center: tuple[float, float],
    *,
    target_m2: float,
    project: Project | None,
    rtol: float = AREA_RTOL,
    max_iter: int = 60,
) -> tuple[BaseGeometry, float]:
    """``(host ∩ disc, radius)`` with the disc radius bisected so the area is ``target_m2``.

    ``host`` and the result are in the plane of ``project``'s output (or of ``center`` when
    ``project`` is None); the area grows monotonically with the radius, so bisection between
    0 and the distance to the farthest host vertex converges. Raises :class:`InvalidInput`
    when the host is smaller than the target.

    >>> from shapely import box
    >>> fit_disc(box(0, 0, 1, 1), (0.5, 0.5), target_m2=2.0, project=None)
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: host area 1 m² is smaller than the target 2 m²
    """
    if host.area < target_m2 * (1.0 - rtol):
        raise InvalidInput(
            f"host area {host.area:.0f} m² is smaller than the target {target_m2:.0f} m²"
        )
    shapely.prepare(host)
    if project is None:
        cx, cy = center
        pts = shapely.get_coordinates(host)
        hi = float(np.hypot(pts[:, 0] - cx, pts[:, 1] - cy).max())
    else:
        hi = _max_aeqd_distance(host, project)
    lo = 0.0
    best = (shapely.Polygon(), 0.0)
    for _ in range(max_iter):
        r = 0.5 * (lo + hi)
        clip = shapely.intersection(host, disc(center, r, project=project))
        area = clip.area
        best = (clip, r)
        if abs(area - target_m2) <= rtol * target_m2:
            break
        if area < target_m2:
            lo = r
        else:
            hi = r
    return best


def _max_aeqd_distance(host: BaseGeometry, project: Project) -> float:
    """Upper bound of the ground distance from the disc centre to the host (bisection bracket)."""
    for r in 1e3 * 2.0 ** np.arange(0, 13):  # 1 km .. 4096 km
        if shapely.covers(disc((0, 0), float(r), project=project).buffer(1.0), host):
            return float(r)
    raise InvalidInput("host counties lie more than 4,000 km from the reference point")


def _host_geometry(entries: list[Mapping[str, Any]], *, what: str) -> BaseGeometry:
    codes = check_county_entries(entries, what=what)
    geo = counties_equal_area()["geometry"]
    pieces = []
    for code, e in zip(codes, entries, strict=True):
        g = geo.loc[code]
        if "south_of_lat" in e:
            parts = shapely.get_parts(g)
            lat = shapely.get_y(to_4490(shapely.point_on_surface(parts)))
            g = shapely.union_all(parts[lat < float(e["south_of_lat"])])
            if g.is_empty:
                raise DataSourceError(
                    f"{what}: no part of {e['name']} lies south of {e['south_of_lat']}°N"
                )
        pieces.append(g)
    return shapely.union_all(np.asarray(pieces, dtype=object))


@lru_cache(maxsize=1)
def _parks_cached() -> tuple[pd.DataFrame, pd.DataFrame]:
    rule = load_rule("national_parks")
    rows, geoms, hosts = [], [], []
    for p in rule["park"]:
        shares = np.array([q["share"] for q in p["part"]], dtype=float)
        if abs(shares.sum() - 1.0) > 1e-3:
            raise DataSourceError(
                f"national_parks rule, {p['park_id']}: part shares sum to {shares.sum():.4f}, not 1"
            )
        clips, methods, area = [], [], 0.0
        for q, share in zip(p["part"], shares / shares.sum(), strict=True):
            what = f"national_parks rule, {p['park_id']}"
            host = _host_geometry(q["counties"], what=what)
            target = share * float(p["official_area_km2"]) * 1e6
            clip, r = fit_disc(
                host,
                (q["ref_lon"], q["ref_lat"]),
                target_m2=target,
                project=aeqd_to_albers(q["ref_lon"], q["ref_lat"]),
            )
            clips.append(clip)
            area += clip.area / 1e6
            methods.append(
                f"{q['name']}: host counties ∩ disc r={r / 1000:.1f} km "
                f"around ({q['ref_lon']}, {q['ref_lat']})"
            )
            hosts += [(p["park_id"], c["code"], c["name"], q["name"]) for c in q["counties"]]
        first = p["part"][0]
        rows.append(
            {
                "park_id": p["park_id"],
                "name_zh": p["name_zh"],
                "name_en": p["name_en"],
                "provinces": "、".join(p["provinces"]),
                "established": p["established"],
                "status": "approximation",
                "official_area_km2": float(p["official_area_km2"]),
                "approx_area_km2": round(area, 2),
                "ref_lon": float(first["ref_lon"]),
                "ref_lat": float(first["ref_lat"]),
                "method": "; ".join(methods),
            }
        )
        geoms.append(to_4490(shapely.union_all(np.asarray(clips, dtype=object))))
    parks = pd.DataFrame(rows)
    parks["geometry"] = geoms
    host_df = pd.DataFrame(hosts, columns=["park_id", "code", "name", "part"])
    return parks, host_df


def park_host_counties() -> pd.DataFrame:
    """Host counties of each park part: ``park_id``, ``code``, ``name``, ``part``.

    >>> h = park_host_counties()
    >>> sorted(h.loc[h["park_id"] == "ne_tiger_leopard", "name"])
    ['东宁市', '图们市', '宁安市', '汪清县', '珲春市', '穆棱市']
    """
    return _parks_cached()[1].copy()


@vector_generator("national_parks")
def national_parks(params: Mapping[str, Any]) -> GeoDataFrame:
    """Generator ``national_parks``: the first five parks, one feature each, EPSG:4490.

    Attributes ``park_id``, ``name_zh``, ``name_en``, ``provinces``, ``established``,
    ``status``, ``official_area_km2``, ``approx_area_km2`` (equal-area), ``ref_lon``,
    ``ref_lat`` (reference point of the first part) and ``method`` (radius of each disc).
    ``params`` is unused.
    """
    import geopandas as gpd

    parks = _parks_cached()[0]
    return gpd.GeoDataFrame(
        parks.drop(columns="geometry"), geometry=list(parks["geometry"]), crs=CGCS2000
    )
