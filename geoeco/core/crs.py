"""Coordinate systems used in China: CGCS2000, WGS 84, GCJ-02, equal-area Albers, Gauss–Krüger.

* **CGCS2000** (EPSG:4490) is the official geographic system; it differs from WGS 84 by a few
  centimetres, far below any mapping scale geoeco works at, so the two are interchanged without
  a datum shift (as PROJ does).
* **GCJ-02** is the obfuscated "Mars" system of Amap, Tencent and other Chinese web maps: a
  non-linear offset of about 100–700 m applied to WGS 84 inside China. It has no EPSG code; it
  is converted here with the published forward formula, and inverted iteratively to better
  than a millimetre.
* **ALBERS_CHINA**: Albers equal-area conic, standard parallels 25°N and 47°N, central meridian
  105°E, on the CGCS2000 datum. Every area geoeco reports as "equal-area" is computed in it.
* **Gauss–Krüger 3-degree zones** (EPSG:4534–4554, CGCS2000, no zone prefix): planar areas in
  the zone of a feature's centroid are the "official" figures that 三线一单 updates ask for.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(116.397, 39.909)      # Tiananmen
>>> round(float(lon), 5), round(float(lat), 5)
(116.40324, 39.9104)
>>> back = gcj02_to_wgs84(lon, lat)
>>> bool(abs(back[0] - 116.397) < 1e-8 and abs(back[1] - 39.909) < 1e-8)
True
>>> gk_zone_epsg(109.7)
4546
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import AlbersEqualAreaConversion

if TYPE_CHECKING:
    import pandas as pd
    from geopandas import GeoDataFrame

CGCS2000 = CRS.from_epsg(4490)
WGS84 = CRS.from_epsg(4326)
ALBERS_CHINA = ProjectedCRS(
    conversion=AlbersEqualAreaConversion(
        latitude_first_parallel=25,
        latitude_second_parallel=47,
        latitude_false_origin=0,
        longitude_false_origin=105,
    ),
    geodetic_crs=CGCS2000,
    name="CGCS2000 / Albers China (25N, 47N, 105E)",
)
"""Equal-area CRS for every area figure (``+proj=aea +lat_1=25 +lat_2=47 +lon_0=105``)."""

#: Rough envelope of China (lon/lat) used to decide where GCJ-02 applies and what is "in China".
CHINA_BOUNDS = (73.0, 3.0, 135.5, 54.0)

_A = 6378245.0  # Krasovsky semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared


def gk_zone_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss–Krüger zone (no zone prefix) containing ``lon``.

    Central meridians run 75°E … 135°E (EPSG:4534 … 4554).

    >>> gk_zone_epsg(117.0), gk_zone_epsg(118.49), gk_zone_epsg(118.51)
    (4548, 4548, 4549)
    """
    cm = int(3 * round(float(lon) / 3.0))
    cm = min(max(cm, 75), 135)
    return 4534 + (cm - 75) // 3


def _offsets(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS 84 in degrees at WGS 84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * pi)
    inside = in_china_envelope(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def in_china_envelope(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """True where (lon, lat) lies in :data:`CHINA_BOUNDS` (GCJ-02 leaves other places alone)."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    w, s, e, n = CHINA_BOUNDS
    return (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)


def wgs84_to_gcj02(
    lon: np.ndarray | float, lat: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Forward GCJ-02 offset (vectorised): WGS 84 / CGCS2000 lon-lat to GCJ-02 lon-lat."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    dlon, dlat = _offsets(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: np.ndarray | float, lat: np.ndarray | float, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse GCJ-02 by fixed-point iteration: GCJ-02 lon-lat to WGS 84 lon-lat.

    The offset field is smooth (its Jacobian is within about 1e-4 of identity), so
    ``w ← w − (f(w) − g)`` converges to ``tol_deg`` (1e-10° ≈ 0.01 mm) in a few steps.
    """
    glon = np.asarray(lon, dtype="float64")
    glat = np.asarray(lat, dtype="float64")
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return wlon, wlat


def _transform_geoms(geoms: object, func: Callable[..., tuple[np.ndarray, np.ndarray]]) -> object:
    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _xy)


def geoms_gcj02_to_wgs84(geoms: object) -> object:
    """Convert shapely geometries (scalar or array) from GCJ-02 to WGS 84 lon-lat."""
    return _transform_geoms(geoms, gcj02_to_wgs84)


def geoms_wgs84_to_gcj02(geoms: object) -> object:
    """Convert shapely geometries (scalar or array) from WGS 84 to GCJ-02 lon-lat."""
    return _transform_geoms(geoms, wgs84_to_gcj02)


def to_gcj02_frame(gdf: GeoDataFrame, *, inverse: bool = False) -> GeoDataFrame:
    """GeoDataFrame converted from WGS 84/CGCS2000 to GCJ-02 (or back with ``inverse=True``).

    The input must be geographic (it is first transformed to EPSG:4326 if it is not); the
    output is labelled EPSG:4326 when converted to WGS 84, and carries no CRS when it holds
    GCJ-02 coordinates (GCJ-02 has no EPSG code, and labelling it WGS 84 is the mistake that
    makes such data dangerous).
    """
    if inverse:
        out = gdf.copy()
        out = out.set_geometry(geoms_gcj02_to_wgs84(out.geometry.values), crs=None)
        return out.set_crs(WGS84, allow_override=True)
    src = gdf if gdf.crs is None or gdf.crs.is_geographic else gdf.to_crs(WGS84)
    out = src.copy()
    out = out.set_geometry(geoms_wgs84_to_gcj02(out.geometry.values), crs=None)
    return out.set_crs(None, allow_override=True)


@dataclass(frozen=True)
class Gcj02Check:
    """Result of :func:`detect_gcj02`: how far the data sit from a trusted reference."""

    likely_gcj02: bool
    n_matched: int
    median_offset_m: float
    median_offset_converted_m: float
    reason: str


def detect_gcj02(
    data: GeoDataFrame, reference: GeoDataFrame, *, key: str | None = None, min_matches: int = 5
) -> Gcj02Check:
    """Flag data that look like GCJ-02 by comparing them with a trusted WGS 84/CGCS2000 reference.

    Coordinates alone cannot reveal GCJ-02 (it is a plausible lon-lat everywhere), so the test
    needs features that also exist in ``reference`` (for example county polygons against the
    built-in Tianditu counties). Features are matched on the ``key`` column when given,
    otherwise each reference feature is matched to the data feature containing its
    representative point. The data are "likely GCJ-02" when converting them from GCJ-02 to
    WGS 84 at least halves the median centroid distance to the matched reference features.
    """
    import geopandas as gpd  # local: keeps this module importable without geopandas

    ref = reference.to_crs(WGS84)
    dat = data.set_crs(WGS84, allow_override=True) if data.crs is None else data.to_crs(WGS84)
    if key is not None:
        pairs = dat[[key, "geometry"]].merge(
            pd_frame(ref[[key, "geometry"]]), on=key, suffixes=("", "_ref")
        )
        g_dat = gpd.GeoSeries(pairs["geometry"], crs=WGS84)
        g_ref = gpd.GeoSeries(pairs["geometry_ref"], crs=WGS84)
    else:
        pts = gpd.GeoDataFrame(geometry=ref.geometry.representative_point(), crs=WGS84)
        pts["ref_idx"] = range(len(ref))
        joined = gpd.sjoin(pts, dat[["geometry"]], predicate="within", how="inner")
        joined = joined[~joined["ref_idx"].duplicated(keep=False)]
        g_ref = gpd.GeoSeries(ref.geometry.iloc[joined["ref_idx"].to_numpy()].values, crs=WGS84)
        g_dat = gpd.GeoSeries(dat.geometry.loc[joined["index_right"]].values, crs=WGS84)
    n = len(g_ref)
    if n < min_matches:
        return Gcj02Check(
            False,
            n,
            float("nan"),
            float("nan"),
            f"only {n} features matched the reference; inconclusive",
        )
    c_ref = g_ref.to_crs(ALBERS_CHINA).centroid
    c_raw = g_dat.to_crs(ALBERS_CHINA).centroid
    conv = gpd.GeoSeries(geoms_gcj02_to_wgs84(g_dat.values), crs=WGS84)
    c_conv = conv.to_crs(ALBERS_CHINA).centroid
    raw = float(np.median(c_raw.distance(c_ref, align=False)))
    converted = float(np.median(c_conv.distance(c_ref, align=False)))
    likely = converted <= 0.5 * raw
    reason = (
        f"median centroid distance to the reference {raw:.0f} m as given, {converted:.0f} m "
        f"after GCJ-02→WGS 84 conversion ({n} matched features)"
    )
    return Gcj02Check(likely, n, raw, converted, reason)


def pd_frame(gdf: GeoDataFrame) -> pd.DataFrame:
    """A plain pandas frame of a GeoDataFrame (geometry kept as an ordinary column)."""
    import pandas as pd

    return pd.DataFrame(gdf)
