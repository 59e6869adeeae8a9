"""Zone statistics on hand-made grids; every count is worked out in the comments.

Grid: 4x4 pixels of 1 km in ALBERS_CHINA, top-left (0, 4_000_000): one pixel = 1 km².
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import EmptyArea, InvalidInput
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.zonestats import area_table, class_totals

Y0 = 4_000_000
G = Grid(Affine(1000, 0, 0, 0, -1000, Y0), 4, 4, ALBERS_CHINA)

ZONE = [
    [1, 1, 2, 3],
    [1, 2, 2, 3],
    [3, 3, 0, 3],  # (2,2) nodata: not analysed
    [3, 3, 3, 1],
]
ERO = [
    [1, 3, 3, 1],
    [1, 3, 4, 1],
    [1, 1, 1, 0],  # (2,3) erosion nodata: counted under grade 0
    [2, 2, 1, 1],
]
DES = [
    [1, 1, 1, 1],
    [1, 1, 1, 1],
    [3, 1, 1, 1],  # (2,0) moderate desertification
    [1, 1, 1, 1],
]


def R(rows):  # noqa: N802
    return Raster.from_array(np.array(rows, "uint8"), G, nodata=0)


def counties(split_x: float):
    """West county 'A' up to x = split_x, east county 'B' beyond it (whole grid)."""
    return gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[box(0, Y0 - 4000, split_x, Y0), box(split_x, Y0 - 4000, 4000, Y0)],
        crs=ALBERS_CHINA,
    )


def test_tidy_table_by_hand():
    t = area_table(R(ZONE), erosion=R(ERO), desertification=R(DES))
    got = {
        tuple(r[:4]): r[4]
        for r in t[
            ["county", "zone_class", "erosion_grade", "desertification_degree", "area_km2"]
        ].values
    }
    # counted by hand from ZONE/ERO/DES (15 zoned pixels):
    expect = {
        ("", 1, 1, 1): 3.0,  # (0,0), (1,0), (3,3)
        ("", 1, 3, 1): 1.0,  # (0,1)
        ("", 2, 3, 1): 2.0,  # (0,2), (1,1)
        ("", 2, 4, 1): 1.0,  # (1,2)
        ("", 3, 1, 1): 4.0,  # (0,3), (1,3), (2,1), (3,2)
        ("", 3, 1, 3): 1.0,  # (2,0)
        ("", 3, 0, 1): 1.0,  # (2,3) erosion nodata
        ("", 3, 2, 1): 2.0,  # (3,0), (3,1)
    }
    assert got == expect
    tot = class_totals(t)
    assert tot["area_km2"].tolist() == [4.0, 3.0, 8.0, 15.0]
    assert tot["area_km2"].iloc[-1] == t.attrs["area_analysed_km2"] == 15.0


def test_counties_centre_and_streaming():
    # split at x = 2000 m (a pixel edge): A = cols 0-1, B = cols 2-3
    t = area_table(R(ZONE), counties=counties(2000), erosion=R(ERO), block_size=3)
    by = t.groupby(["county", "zone_class"])["area_km2"].sum().to_dict()
    # A: zone 1 -> (0,0),(0,1),(1,0) = 3; zone 2 -> (1,1) = 1; zone 3 -> (2,0),(2,1),(3,0),(3,1)
    # B: zone 1 -> (3,3) = 1; zone 2 -> (0,2),(1,2) = 2; zone 3 -> (0,3),(1,3),(2,3),(3,2) = 4
    assert by == {
        ("A", 1): 3.0,
        ("A", 2): 1.0,
        ("A", 3): 4.0,
        ("B", 1): 1.0,
        ("B", 2): 2.0,
        ("B", 3): 4.0,
    }
    whole = area_table(R(ZONE), counties=counties(2000), erosion=R(ERO), block_size=1024)
    assert whole.equals(t)
    assert class_totals(t)["area_km2"].iloc[-1] == pytest.approx(15.0)


def test_exact_coverage_at_county_edges():
    # split at x = 1500 m cuts column 1 in half. Pixel centres (x = 1500 for col 1) fall on the
    # boundary; exact coverage gives each county half of every column-1 pixel.
    t = area_table(R(ZONE), counties=counties(1500), coverage="exact")
    a = t.groupby("county")["area_km2"].sum()
    # zoned pixels: col 0 -> 4, col 1 -> 4 (halved), cols 2-3 -> 7 (row 2 col 2 is nodata)
    assert a["A"] == pytest.approx(4 + 2)
    assert a["B"] == pytest.approx(2 + 7)
    # totals still equal the zoned area, 15 km²
    assert class_totals(t)["area_km2"].iloc[-1] == pytest.approx(15.0)
    assert t.attrs["area_analysed_km2"] == pytest.approx(15.0)
    # zone 1 in A: (0,0),(1,0) whole + (0,1) half = 2.5 km²
    z1 = t[(t.county == "A") & (t.zone_class == 1)]["area_km2"].sum()
    assert z1 == pytest.approx(2.5)
    # windows give the same numbers
    t2 = area_table(R(ZONE), counties=counties(1500), coverage="exact", block_size=3)
    assert np.allclose(t2["area_km2"].to_numpy(), t["area_km2"].to_numpy())


def test_pixels_outside_counties_are_left_out():
    west = counties(2000).iloc[[0]]
    t = area_table(R(ZONE), counties=west)
    assert set(t["county"]) == {"A"} and t["area_km2"].sum() == 8.0


def test_errors():
    with pytest.raises(InvalidInput, match=r"codes must be 0\.\.6"):
        area_table(R(ZONE), erosion=R(np.full((4, 4), 9)))
    far = gpd.GeoDataFrame({"code": ["X"]}, geometry=[box(1e6, 0, 1.1e6, 10)], crs=ALBERS_CHINA)
    with pytest.raises(EmptyArea):
        area_table(R(ZONE), counties=far)
    with pytest.raises(InvalidInput, match="column 'adcode'"):
        area_table(R(ZONE), counties=counties(2000), county_field="adcode")
    with pytest.raises(InvalidInput, match="give `grid`"):
        area_table(lambda w: np.zeros((w[2], w[3]), "uint8"))


def test_from_overlay_result():
    """The overlay's totals and the statistics agree (same pixels, same cell area)."""
    from test_overlay import G as G6
    from test_overlay import compute_zones, hand_layers, rules

    res = compute_zones(rules(), hand_layers(), G6)
    t = area_table(res.zone_class, grid=G6)
    tot = class_totals(t).set_index("zone_class")["area_km2"]
    a = res.summary.area_km2
    assert tot["1"] == pytest.approx(a.priority) and tot["2"] == pytest.approx(a.key)
    assert tot["total"] == pytest.approx(a.zoned) == pytest.approx(0.34)
