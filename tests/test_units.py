"""Control units from zone rasters (geoeco.zoning.units.build).

Every expected number here is worked out by hand from the tiny grids drawn in the comments:
pixels are 100 m × 100 m = 0.01 km² on the equal-area Albers grid, so a unit's area is its
pixel count / 100 km². The Gauss–Krüger check uses the textbook transverse-Mercator point
scale k ≈ 1 + (Δλ·cos φ)²/2 (area factor k²).
"""

from __future__ import annotations

import math
import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.features import shapes
from shapely import box
from shapely.geometry import shape

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import CRSError, EmptyArea, GeoecoWarning, GridMismatch, InvalidInput
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.units.attributes import unit_code, unit_id_pairs
from geoeco.zoning.units.batches import county_batches
from geoeco.zoning.units.build import UNIT_CODE_RE, build_units, build_units_batched

RES = 100.0
CELL_KM2 = RES * RES / 1e6


def _grid(shape: tuple[int, int], lon: float = 107.0, lat: float = 40.3, crs=ALBERS_CHINA) -> Grid:  # type: ignore[no-untyped-def]
    """A grid whose top-left corner is (lon, lat) rounded to whole pixels (Albers default)."""
    x, y = Transformer.from_crs(4490, crs, always_xy=True).transform(lon, lat)
    x0, y0 = round(x / RES) * RES, round(y / RES) * RES
    return Grid(Affine(RES, 0, x0, 0, -RES, y0), shape[1], shape[0], crs)


def _counties(grid: Grid, spans: list[tuple[str, str, int, int]]) -> gpd.GeoDataFrame:
    """County boxes over column spans [c0, c1) of ``grid`` (outer sides padded), in EPSG:4490."""
    t = grid.transform
    top, bottom = t.f + 50, t.f - grid.height * RES - 50
    geoms = []
    for _, _, c0, c1 in spans:
        left = t.c + c0 * RES - (50 if c0 == 0 else 0)
        right = t.c + c1 * RES + (50 if c1 == grid.width else 0)
        geoms.append(shapely.segmentize(box(left, bottom, right, top), 50))
    df = gpd.GeoDataFrame(
        {"code": [s[0] for s in spans], "name": [s[1] for s in spans]},
        geometry=geoms,
        crs=grid.crs,
    )
    return df.to_crs(4490)


# The hand grid: 8 x 8 pixels, county 磴口县 150822 on columns 0-3, 五原县 150821 on 4-7.
#       cols 0 1 2 3 | 4 5 6 7
ZONES = np.array(
    [
        [1, 1, 1, 1, 2, 2, 1, 1],  # red line 13 on rows 0-1 of columns 0-3
        [1, 1, 1, 1, 2, 2, 1, 1],
        [1, 1, 1, 1, 2, 3, 1, 1],  # (2,5) general sliver: 3 key edges, 1 priority edge
        [1, 1, 1, 1, 2, 2, 1, 1],
        [3, 3, 3, 3, 3, 3, 1, 2],  # (4,7) key sliver: 2 priority edges, 1 general edge
        [3, 2, 3, 3, 3, 3, 3, 3],  # (5,1) key sliver: only general neighbours
        [3, 3, 3, 1, 3, 3, 0, 0],  # (6,3) priority sliver, no priority neighbour; 2 nodata
        [3, 3, 3, 3, 3, 3, 3, 3],
    ],
    dtype="uint8",
)
REDLINE = np.zeros((8, 8), "uint8")
REDLINE[0:2, 0:4] = 13
MIN_AREA = 0.025  # 2.5 pixels: every 1-pixel component is a sliver


@pytest.fixture(scope="module")
def hand():  # type: ignore[no-untyped-def]
    grid = _grid((8, 8))
    zc = Raster.from_array(ZONES, grid, nodata=0)
    rl = Raster.from_array(REDLINE, grid)
    counties = _counties(grid, [("150822", "磴口县", 0, 4), ("150821", "五原县", 4, 8)])
    units = build_units(zc, rl, counties, min_area_km2=MIN_AREA)
    return grid, zc, rl, counties, units


def test_hand_grid_units_codes_and_areas(hand) -> None:  # type: ignore[no-untyped-def]
    """Every unit of the hand grid, counted pixel by pixel from ZONES.

    五原县 150821 (sorted first): priority = rows 0-3 × cols 6-7 (8) + (4,6) + the key sliver
    (4,7) it shares 2 of 3 edges with = 10 px; key = rows 0-3 × cols 4-5 (8) with the general
    sliver (2,5) merged back in = 8 px; general = 16 - (4,6) - (4,7) - 2 nodata = 12 px.
    磴口县 150822: priority rows 0-3 = 16 px; priority sliver (6,3) stays (1 px); general =
    16 - (5,1) - (6,3) + the merged key sliver (5,1) = 15 px.
    """
    _, _, _, _, u = hand
    got = u[["code", "unit_class", "county_name", "pixels"]].values.tolist()
    assert got == [
        ["ZH15082110001", 1, "五原县", 10],
        ["ZH15082120001", 2, "五原县", 8],
        ["ZH15082130001", 3, "五原县", 12],
        ["ZH15082210001", 1, "磴口县", 16],
        ["ZH15082210002", 1, "磴口县", 1],
        ["ZH15082230001", 3, "磴口县", 15],
    ]
    np.testing.assert_allclose(u["area_km2"], u["pixels"] * CELL_KM2, rtol=1e-9)
    assert u["class_zh"].tolist()[:3] == ["优先保护", "重点管控", "一般管控"]
    assert u["class_en"].tolist()[2] == "general control"
    assert u.crs == ALBERS_CHINA
    assert all(UNIT_CODE_RE.fullmatch(c) for c in u["code"])
    assert u["code"].is_unique
    assert u.loc[4, "name_zh"] == "磴口县优先保护单元2"
    assert u["province_code"].unique().tolist() == ["150000"]
    assert u["city_code"].unique().tolist() == ["150800"]


def test_hand_grid_redline_shares(hand) -> None:  # type: ignore[no-untyped-def]
    """Red line = 8 px of 磴口县's 16-px priority unit (share 0.5, reason 13 水土保持)."""
    _, _, _, _, u = hand
    assert u["redline_share"].tolist() == [0.0, 0.0, 0.0, 0.5, 0.0, 0.0]
    assert u.loc[3, "redline_13_share"] == 0.5
    assert u.loc[3, "redline_main"] == 13
    assert u.loc[3, "redline_main_zh"] == "水土保持"
    assert u.loc[3, "redline_11_share"] == 0.0


def test_units_form_a_valid_coverage_of_the_analysed_pixels(hand) -> None:  # type: ignore[no-untyped-def]
    """No gaps or overlaps (shapely coverage check), union = the 62 analysed pixels."""
    grid, zc, _, _, u = hand
    geoms = u.geometry.values
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)
    assert shapely.is_empty(shapely.coverage_invalid_edges(geoms)).all()
    analysed = (ZONES > 0).astype("uint8")  # both counties cover the whole grid
    pix = shapely.union_all(
        [
            shape(g)
            for g, v in shapes(analysed, mask=analysed > 0, transform=grid.transform)
            if v == 1
        ]
    )
    union = shapely.coverage_union_all(geoms)
    assert union.symmetric_difference(pix).area == pytest.approx(0.0, abs=1e-6)
    assert u["area_km2"].sum() == pytest.approx(62 * CELL_KM2, rel=1e-12)
    # no overlap: the areas add up to the area of the union
    assert union.area / 1e6 == pytest.approx(u["area_km2"].sum(), rel=1e-12)


def test_units_never_cross_county_lines(hand) -> None:  # type: ignore[no-untyped-def]
    """Every unit lies on its own side of the county line x = x0 + 400 m."""
    grid, _, _, _, u = hand
    xline = grid.transform.c + 4 * RES
    minx, _, maxx, _ = shapely.bounds(u.geometry.values).T
    wuyuan = (u["county_code"] == "150821").to_numpy()
    assert (minx[wuyuan] >= xline).all() and (maxx[~wuyuan] <= xline).all()


def test_redline_never_shrinks(hand) -> None:  # type: ignore[no-untyped-def]
    """All 8 red-line pixels stay in a priority unit and inside its polygon."""
    grid, _, _, _, u = hand
    prio = u[u["unit_class"] == 1]
    assert (prio["redline_share"] * prio["pixels"]).sum() == 8
    t = grid.transform
    rl_poly = box(t.c, t.f - 2 * RES, t.c + 4 * RES, t.f)
    covered = shapely.union_all(prio.geometry.values).intersection(rl_poly).area
    assert covered == pytest.approx(rl_poly.area, rel=1e-12)


def test_sliver_without_merge_into_priority() -> None:
    """With merge_into_priority=False the key sliver (4,7) joins the general unit instead.

    五原县 then has priority 9 px, key 8 px, general 12 + 1 = 13 px.
    """
    grid = _grid((8, 8))
    counties = _counties(grid, [("150822", "磴口县", 0, 4), ("150821", "五原县", 4, 8)])
    u = build_units(
        Raster.from_array(ZONES, grid, nodata=0),
        Raster.from_array(REDLINE, grid),
        counties,
        min_area_km2=MIN_AREA,
        merge_into_priority=False,
    )
    w = u[u["county_code"] == "150821"]
    assert w[["unit_class", "pixels"]].values.tolist() == [[1, 9], [2, 8], [3, 13]]


def test_chain_merge_and_stuck_slivers() -> None:
    """One row P P P P P K P (1 county, min 2.5 px).

    The key sliver (1 px) ties on border with both priority parts (1 edge each) and joins the
    larger one; the priority sliver then touches priority and joins it: one 7-px unit. Without
    merging into priority, both slivers are stuck and stay: 5 + 1 + 1 px.
    """
    grid = _grid((1, 7))
    zc = Raster.from_array(np.array([[1, 1, 1, 1, 1, 2, 1]], "uint8"), grid)
    rl = Raster.from_array(np.zeros((1, 7), "uint8"), grid)
    cty = _counties(grid, [("150822", "磴口县", 0, 7)])
    u = build_units(zc, rl, cty, min_area_km2=MIN_AREA)
    assert u[["code", "pixels"]].values.tolist() == [["ZH15082210001", 7]]
    u2 = build_units(zc, rl, cty, min_area_km2=MIN_AREA, merge_into_priority=False)
    assert u2[["code", "unit_class", "pixels"]].values.tolist() == [
        ["ZH15082210001", 1, 5],
        ["ZH15082210002", 1, 1],
        ["ZH15082220001", 2, 1],
    ]


def test_longest_border_wins() -> None:
    """A 2-px general sliver (col 2, rows 1-2) between key (3 edges) and priority (1 edge).

    grid (4 x 4):   2 2 2 1
                    2 2 3 1      sliver edges: key (1,1),(0,2),(2,1)... counted below
                    2 2 3 1
                    2 2 2 1
    sliver pixels (1,2),(2,2): left (1,1),(2,1) key, up (0,2) key, down (3,2) key → 4 key
    edges; right (1,3),(2,3) priority → 2 edges. It joins key: key 10 + 2 = 12 px.
    """
    z = np.array([[2, 2, 2, 1], [2, 2, 3, 1], [2, 2, 3, 1], [2, 2, 2, 1]], "uint8")
    grid = _grid((4, 4))
    u = build_units(
        Raster.from_array(z, grid),
        Raster.from_array(np.zeros((4, 4), "uint8"), grid),
        _counties(grid, [("150822", "磴口县", 0, 4)]),
        min_area_km2=0.025,
    )
    assert u[["unit_class", "pixels"]].values.tolist() == [[1, 4], [2, 12]]


def test_deterministic_and_independent_of_county_order(hand) -> None:  # type: ignore[no-untyped-def]
    """Same inputs twice, and the county rows reversed: identical codes and geometries."""
    grid, zc, rl, counties, u = hand
    again = build_units(zc, rl, counties, min_area_km2=MIN_AREA)
    shuffled = build_units(
        zc, rl, counties.iloc[::-1].reset_index(drop=True), min_area_km2=MIN_AREA
    )
    for other in (again, shuffled):
        assert other["code"].tolist() == u["code"].tolist()
        assert shapely.equals_exact(other.geometry.values, u.geometry.values, 0).all()


def test_every_unit_has_the_four_access_dimensions(hand) -> None:  # type: ignore[no-untyped-def]
    """8 non-empty texts per unit; the red-line add-on only on the red-line unit."""
    _, _, _, _, u = hand
    for dim in ("spatial_layout", "pollutant_discharge", "environmental_risk"):
        for lang in ("zh", "en"):
            assert u[f"{dim}_{lang}"].str.len().gt(10).all()
    assert u["resource_efficiency_zh"].str.len().gt(10).all()
    assert u["access_addons"].tolist() == ["", "", "", "redline", "", ""]
    assert "生态保护红线" in u.loc[3, "spatial_layout_zh"]
    assert "生态保护红线" not in u.loc[4, "spatial_layout_zh"]


def test_drivers_shares_means_and_ids() -> None:
    """8 x 8 grid, all general, one county: one 64-px unit.

    erosion grade 4 on rows 0-2 (24 px) and 2 elsewhere (40 px) → g4 0.375, g2 0.625, main 2;
    soil loss = 100 × row → mean 350; park id 7 on column 0 (8 px) → share 0.125, ids "7";
    desertification masked everywhere → all shares 0, main 0.
    """
    grid = _grid((8, 8))
    z = np.full((8, 8), 3, "uint8")
    ero = np.where(np.arange(8)[:, None] < 3, 4, 2) * np.ones((1, 8))
    park = np.zeros((8, 8), "uint16")
    park[:, 0] = 7
    drivers = {
        "erosion_grade": Raster.from_array(ero.astype("uint8"), grid, nodata=0),
        "soil_loss": Raster.from_array(
            (np.arange(8)[:, None] * 100.0 * np.ones((1, 8))).astype("float32"), grid
        ),
        "park": Raster.from_array(park, grid),
        "desertification": Raster.from_array(np.zeros((8, 8), "uint8"), grid, nodata=0),
    }
    u = build_units(
        Raster.from_array(z, grid),
        Raster.from_array(np.zeros((8, 8), "uint8"), grid),
        _counties(grid, [("150822", "磴口县", 0, 8)]),
        drivers=drivers,
    )
    r = u.iloc[0]
    assert (r["erosion_g4_share"], r["erosion_g2_share"], r["erosion_grade_main"]) == (
        0.375,
        0.625,
        2,
    )
    assert r["soil_loss_mean"] == pytest.approx(350.0)
    assert (r["park_share"], r["park_ids"]) == (0.125, "7")
    assert (r["desert_d5_share"], r["desert_degree_main"]) == (0.0, 0)
    # add-ons: erosion (g4-g6 share 0.375 > 0.1) and park (share > 0)
    assert r["access_addons"] == "park,erosion"


@pytest.mark.parametrize(("lon", "lat"), [(117.0, 40.0), (118.4, 40.0)])
def test_gk_area_matches_transverse_mercator_distortion(lon: float, lat: float) -> None:
    """A 1 km² unit in zone EPSG:4548 (central meridian 117°E) at 40°N.

    Albers is equal-area, so area_km2 = 1 exactly; the GK planar area is k² times larger with
    k ≈ 1 + (Δλ·cos φ)²/2: ≈ 1 on the meridian, ≈ 1 + 3.50e-4 at Δλ = 1.4°.
    """
    grid = _grid((10, 10), lon=lon, lat=lat)
    u = build_units(
        Raster.from_array(np.full((10, 10), 3, "uint8"), grid),
        Raster.from_array(np.zeros((10, 10), "uint8"), grid),
        _counties(grid, [("130000", "test", 0, 10)]),
    )
    r = u.iloc[0]
    assert r["gk_epsg"] == 4548
    assert r["area_km2"] == pytest.approx(1.0, rel=1e-12)
    dl = math.radians(lon + 0.0055 - 117.0)  # the unit's centre is ~0.5 km east of lon
    expected = (1 + (dl * math.cos(math.radians(lat))) ** 2 / 2) ** 2 - 1
    got = r["area_gk_km2"] / r["area_km2"] - 1
    assert got == pytest.approx(expected, rel=0.02, abs=2e-6)


def test_grid_in_gauss_kruger_gets_equal_area_by_projection() -> None:
    """A 1 km² unit on a grid in EPSG:4545 (GK, central meridian 108°E) at 107°E, 40.3°N.

    The official GK area is the grid area itself (1 km²); the equal-area figure comes from
    projecting to Albers and is smaller by k² ≈ (1 + (Δλ·cos φ)²/2)², Δλ ≈ 1°.
    """
    grid = _grid((10, 10), crs="EPSG:4545")
    u = build_units(
        Raster.from_array(np.full((10, 10), 3, "uint8"), grid),
        Raster.from_array(np.zeros((10, 10), "uint8"), grid),
        _counties(grid, [("150822", "磴口县", 0, 10)]),
    )
    r = u.iloc[0]
    assert (r["gk_epsg"], r["area_gk_km2"]) == (4545, pytest.approx(1.0, rel=1e-9))
    lon = Transformer.from_crs("EPSG:4545", 4490, always_xy=True).transform(
        *shapely.get_coordinates(u.geometry.centroid.values)[0]
    )[0]
    k = 1 + (math.radians(lon - 108.0) * math.cos(math.radians(40.3))) ** 2 / 2
    assert 1 / r["area_km2"] - 1 == pytest.approx(k**2 - 1, rel=0.02)


def test_simplification_smooths_only_key_general_edges() -> None:
    """20 x 20 grid, one county: priority above a staircase, key/general split by another.

    With simplify_m = 1 pixel the key/general staircase loses vertices, the priority unit and
    the outline stay exactly as the pixels draw them, and the coverage stays valid with the
    same total area (400 px = 4 km²).
    """
    n = 20
    r, c = np.mgrid[0:n, 0:n]
    z = np.where(r < c // 2, 1, np.where(r > c, 3, 2)).astype("uint8")
    grid = _grid((n, n))
    args = (
        Raster.from_array(z, grid),
        Raster.from_array(np.zeros((n, n), "uint8"), grid),
        _counties(grid, [("150822", "磴口县", 0, n)]),
    )
    raw = build_units(*args, min_area_km2=0, simplify_m=0)
    smooth = build_units(*args, min_area_km2=0, simplify_m=RES)
    assert raw["code"].tolist() == smooth["code"].tolist()
    g0, g1 = raw.geometry.values, smooth.geometry.values
    assert shapely.coverage_is_valid(g1)
    assert smooth["area_km2"].sum() == pytest.approx(4.0, rel=1e-12)
    prio = (raw["unit_class"] == 1).to_numpy()
    assert shapely.equals_exact(g0[prio], g1[prio], 0).all()
    assert shapely.coverage_union_all(g1).equals(shapely.coverage_union_all(g0))
    # the key/general edge: the diagonal staircase r = c (19 steps, 39 vertices when drawn
    # on pixels) becomes a near-straight line
    key, gen = (raw["unit_class"] == 2).to_numpy(), (raw["unit_class"] == 3).to_numpy()
    n0 = shapely.get_num_coordinates(shapely.line_merge(g0[key][0].intersection(g0[gen][0])))
    n1 = shapely.get_num_coordinates(shapely.line_merge(g1[key][0].intersection(g1[gen][0])))
    assert n0 == 39
    assert n1 <= 5


def test_unit_code_format() -> None:
    """Prefix + county + class + serial, configurable; invalid parts raise."""
    assert unit_code("440606", 2, 1) == "ZH44060620001"
    assert unit_code("440606", 3, 12, prefix="HZ", serial_digits=3) == "HZ4406063012"
    assert re.fullmatch(UNIT_CODE_RE, unit_code("150822", 1, 9999))
    with pytest.raises(InvalidInput):
        unit_code("15082", 1, 1)
    with pytest.raises(InvalidInput):
        unit_code("150822", 1, 10000)


def test_redline_outside_priority_is_promoted_with_warning() -> None:
    """A red-line pixel zoned general becomes priority (red line is always priority)."""
    grid = _grid((2, 2))
    z = np.array([[3, 3], [3, 3]], "uint8")
    rl = np.array([[14, 0], [0, 0]], "uint8")
    with pytest.warns(GeoecoWarning, match="1 red-line pixels"):
        u = build_units(
            Raster.from_array(z, grid),
            Raster.from_array(rl, grid),
            _counties(grid, [("150822", "磴口县", 0, 2)]),
            min_area_km2=0,
        )
    assert u[["unit_class", "pixels", "redline_main"]].values.tolist() == [[1, 1, 14], [3, 3, 0]]


def test_input_errors() -> None:
    """Bad class values, geographic grids, misaligned rasters and empty areas are refused."""
    grid = _grid((2, 2))
    zero = Raster.from_array(np.zeros((2, 2), "uint8"), grid)
    cty = _counties(grid, [("150822", "磴口县", 0, 2)])
    with pytest.raises(InvalidInput, match="zone_class holds"):
        build_units(Raster.from_array(np.full((2, 2), 5, "uint8"), grid), zero, cty)
    with pytest.raises(InvalidInput, match="LXBM"):
        build_units(zero, Raster.from_array(np.full((2, 2), 16, "uint8"), grid), cty)
    with pytest.raises(EmptyArea):
        build_units(zero, zero, cty)
    geo = Grid(Affine(0.001, 0, 107, 0, -0.001, 40), 2, 2, "EPSG:4490")
    with pytest.raises(CRSError):
        build_units(Raster.from_array(np.ones((2, 2), "uint8"), geo), zero, cty)
    with pytest.raises(GridMismatch):
        build_units(Raster.from_array(np.ones((3, 3), "uint8"), _grid((3, 3))), zero, cty)
    with pytest.raises(InvalidInput, match="6 digits"):
        build_units(Raster.from_array(np.ones((2, 2), "uint8"), grid), zero, cty.assign(code="1"))


def test_pixels_outside_counties_are_left_out_with_warning() -> None:
    """County covers columns 0-1 of a 2 x 3 grid: the 2 pixels of column 2 are dropped."""
    grid = _grid((2, 3))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        u = build_units(
            Raster.from_array(np.full((2, 3), 3, "uint8"), grid),
            Raster.from_array(np.zeros((2, 3), "uint8"), grid),
            _counties(grid, [("150822", "磴口县", 0, 2)]),
            min_area_km2=0,
        )
    assert any("2 zoned pixels lie outside" in str(w.message) for w in rec)
    assert u["pixels"].tolist() == [4]


# --------------------------------------------------------------------------- county batches


class _SpyReader:
    """A window reader (like geoeco.core.align.AlignedSource) recording the size of every read."""

    def __init__(self, raster: Raster) -> None:
        self.grid = raster.grid
        self._a = raster.array
        self.reads: list[int] = []

    def read(self, window: tuple[int, int, int, int]) -> np.ma.MaskedArray:
        r0, c0, h, w = window
        self.reads.append(h * w)
        return self._a[r0 : r0 + h, c0 : c0 + w].copy()


def _assert_same_units(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    """Same rows, columns, dtypes and values; geometries equal vertex for vertex."""
    pd.testing.assert_frame_equal(
        a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True
    )
    assert a.crs == b.crs
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0).all()


@pytest.mark.parametrize("batch_pixels", [1, 8, 32, 64, 10**6])
def test_batches_equal_whole_grid_on_the_hand_grid(hand, batch_pixels: int) -> None:  # type: ignore[no-untyped-def]
    """County batches (one county each up to both in one window) give the same units.

    Expected values are the whole-grid result of the hand grid (checked pixel by pixel in
    test_hand_grid_units_codes_and_areas), so the batches reproduce those numbers too.
    """
    _, zc, rl, counties, u = hand
    b = build_units_batched(zc, rl, counties, min_area_km2=MIN_AREA, batch_pixels=batch_pixels)
    _assert_same_units(u, b)
    via_kw = build_units(zc, rl, counties, min_area_km2=MIN_AREA, batch_pixels=batch_pixels)
    _assert_same_units(u, via_kw)


def test_county_batches_respect_the_budget() -> None:
    """Hand-made windows: 4 counties of 10 x 10 px in a 2 x 2 block and one 30 x 30 county.

    Budget 200 px: the two top counties (10 x 20 = 200 px) share a batch, so do the bottom
    two; the 900-px county is alone. Budget 400: the 2 x 2 block is one 20 x 20 batch.
    """
    w = np.array(
        [
            [0, 0, 10, 10],
            [0, 10, 10, 20],
            [10, 0, 20, 10],
            [10, 10, 20, 20],
            [100, 100, 130, 130],
        ]
    )
    got = [(ids.tolist(), win) for ids, win in county_batches(w, 200)]
    assert got == [
        ([0, 1], (0, 0, 10, 20)),
        ([2, 3], (10, 0, 10, 20)),
        ([4], (100, 100, 30, 30)),
    ]
    got = [(ids.tolist(), win) for ids, win in county_batches(w, 400)]
    assert got == [([0, 1, 2, 3], (0, 0, 20, 20)), ([4], (100, 100, 30, 30))]
    with pytest.raises(InvalidInput):
        county_batches(w, 0)


def _voronoi_case(seed: int, shape: tuple[int, int], n_counties: int):  # type: ignore[no-untyped-def]
    """Random blocky zones with 1-px noise (slivers), red line, drivers, Voronoi counties."""
    rng = np.random.default_rng(seed)
    h, w = shape
    grid = _grid(shape)
    blocks = rng.choice([0, 1, 2, 3, 3], size=(h // 6 + 1, w // 6 + 1))
    z = np.kron(blocks, np.ones((6, 6), "uint8"))[:h, :w].astype("uint8")
    noise = rng.random(shape) < 0.08
    z[noise] = rng.integers(0, 4, size=int(noise.sum()))
    rl = np.where((z == 1) & (rng.random(shape) < 0.5), rng.choice([11, 13, 22], size=shape), 0)
    ero = rng.integers(0, 7, size=shape).astype("uint8")
    loss = rng.gamma(2.0, 300.0, size=shape).astype("float32")
    loss[rng.random(shape) < 0.05] = np.nan
    park = np.kron(rng.choice([0, 0, 0, 5, 9], size=(h // 20 + 1, w // 20 + 1)), np.ones((20, 20)))
    t = grid.transform
    x0, y1, x1, y0 = t.c, t.f, t.c + w * RES, t.f - h * RES
    pts = shapely.points(rng.uniform(x0, x1, n_counties), rng.uniform(y0, y1, n_counties))
    frame = box(x0 - 500, y0 - 500, x1 + 500, y1 + 500)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    counties = gpd.GeoDataFrame(
        {
            "code": [f"15{i:04d}" for i in range(len(cells))],
            "name": [f"县{i}" for i in range(len(cells))],
        },
        geometry=cells,
        crs=grid.crs,
    ).to_crs(4490)
    drivers = {
        "erosion_grade": Raster.from_array(ero, grid, nodata=0),
        "soil_loss": Raster.from_array(loss, grid),
        "park": Raster.from_array(park[:h, :w].astype("uint16"), grid),
    }
    return (
        Raster.from_array(z, grid, nodata=0),
        Raster.from_array(rl.astype("uint8"), grid),
        counties,
        drivers,
    )


@pytest.fixture(scope="module")
def voronoi():  # type: ignore[no-untyped-def]
    zc, rl, counties, drivers = _voronoi_case(7, (180, 260), 45)
    whole = build_units(zc, rl, counties, drivers=drivers, min_area_km2=0.05)
    return zc, rl, counties, drivers, whole


@pytest.mark.parametrize("batch_pixels", [500, 3_000, 12_000, 10**9])
def test_batches_equal_whole_grid_on_many_random_counties(voronoi, batch_pixels: int) -> None:  # type: ignore[no-untyped-def]
    """45 Voronoi counties over a 180 x 260 grid of noisy blocky zones, with drivers.

    The whole-grid run is the reference; every batch size must reproduce it exactly (codes,
    geometries vertex for vertex, shares, means, ids). Reads through window readers never
    exceed the budget unless one county's window alone is larger.
    """
    zc, rl, counties, drivers, whole = voronoi
    assert len(whole) > 300 and whole["county_code"].nunique() == 45
    spies = {"zc": _SpyReader(zc), "rl": _SpyReader(rl)}
    spies |= {k: _SpyReader(v) for k, v in drivers.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the inputs are clean: no warning in either mode
        b = build_units_batched(
            spies["zc"],
            spies["rl"],
            counties,
            drivers={k: spies[k] for k in drivers},
            min_area_km2=0.05,
            batch_pixels=batch_pixels,
        )
    _assert_same_units(whole, b)
    n_batches = len(spies["erosion_grade"].reads)  # drivers are read once per batch
    grid = zc.grid
    if batch_pixels >= grid.width * grid.height:
        assert n_batches == 1
    else:
        assert n_batches > 1
        largest_county = max(spies["erosion_grade"].reads)
        assert max(spies["zc"].reads) <= max(batch_pixels, grid.width, largest_county)
        # every read of a multi-county batch or a row strip stays inside the budget
        assert sorted(spies["zc"].reads)[len(spies["zc"].reads) // 2] <= max(
            batch_pixels, grid.width
        )


def test_numbering_is_per_county_so_batch_independent(voronoi) -> None:  # type: ignore[no-untyped-def]
    """Units of one county alone get exactly the codes and geometries of the full run.

    The Voronoi counties do not overlap, so county 150017 rasterises to the same pixels alone;
    its serials run 1, 2, ... per class whatever the other counties hold.
    """
    zc, rl, counties, _, whole = voronoi
    code = "150017"
    with pytest.warns(GeoecoWarning, match="outside every county"):
        one = build_units(zc, rl, counties[counties["code"] == code], min_area_km2=0.05)
    ref = whole[whole["county_code"] == code].reset_index(drop=True)
    assert len(one) > 3
    assert one["code"].tolist() == ref["code"].tolist()
    n_per_class = one["unit_class"].value_counts().sort_index().tolist()
    assert one["serial"].tolist() == [s for n in n_per_class for s in range(1, n + 1)]
    assert shapely.equals_exact(one.geometry.values, ref.geometry.values, 0).all()


def test_batches_resolve_overlapping_counties_like_the_whole_grid() -> None:
    """Two county boxes overlap on columns 3-4 of a 4 x 8 grid: the larger code wins there.

    150822 covers columns 0-4, 150823 columns 3-7: 150823 gets columns 3-7 (20 px), 150822
    columns 0-2 (12 px), in both modes and with a budget that puts each county alone.
    """
    grid = _grid((4, 8))
    t = grid.transform
    geoms = [
        box(t.c - 50, t.f - 450, t.c + 5 * RES, t.f + 50),
        box(t.c + 3 * RES, t.f - 450, t.c + 8 * RES + 50, t.f + 50),
    ]
    cty = gpd.GeoDataFrame(
        {"code": ["150823", "150822"], "name": ["b", "a"]}, geometry=geoms[::-1], crs=grid.crs
    ).to_crs(4490)
    args = (
        Raster.from_array(np.full((4, 8), 3, "uint8"), grid),
        Raster.from_array(np.zeros((4, 8), "uint8"), grid),
        cty,
    )
    whole = build_units(*args, min_area_km2=0)
    assert whole[["county_code", "pixels"]].values.tolist() == [["150822", 12], ["150823", 20]]
    for bp in (1, 10**6):
        _assert_same_units(whole, build_units_batched(*args, min_area_km2=0, batch_pixels=bp))


def test_batched_reads_an_aligned_source_from_a_file(tmp_path, voronoi) -> None:  # type: ignore[no-untyped-def]
    """GeoTIFFs read window by window through geoeco.core.align.aligned_source: same units."""
    from geoeco.core.align import aligned_source
    from geoeco.core.io import write_raster

    zc, rl, counties, _, _ = voronoi
    whole = build_units(zc, rl, counties, min_area_km2=0.05)
    write_raster(zc, tmp_path / "zc.tif")
    write_raster(rl, tmp_path / "rl.tif", nodata=255)
    with (
        aligned_source(tmp_path / "zc.tif", zc.grid) as z_src,
        aligned_source(tmp_path / "rl.tif", zc.grid) as r_src,
    ):
        b = build_units_batched(z_src, r_src, counties, min_area_km2=0.05, batch_pixels=4_000)
    _assert_same_units(whole, b)


def test_batched_warnings_and_errors_match_the_whole_grid() -> None:
    """Outside-county and red-line promotion warnings count the same pixels; errors match.

    2 x 3 grid, county on columns 0-1, red line 14 on general pixel (0,0): 1 promoted pixel,
    2 zoned pixels outside (column 2).
    """
    grid = _grid((2, 3))
    cty = _counties(grid, [("150822", "磴口县", 0, 2)])
    z = Raster.from_array(np.full((2, 3), 3, "uint8"), grid)
    rl = Raster.from_array(np.array([[14, 0, 0], [0, 0, 0]], "uint8"), grid)
    for bp in (1, 2, 10**6):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            u = build_units_batched(z, rl, cty, min_area_km2=0, batch_pixels=bp)
        msgs = [str(w.message) for w in rec]
        assert any("1 red-line pixels" in m for m in msgs), msgs
        assert any("2 zoned pixels lie outside" in m for m in msgs), msgs
        assert u["pixels"].tolist() == [1, 3]
    zero = Raster.from_array(np.zeros((2, 3), "uint8"), grid)
    with pytest.raises(InvalidInput, match=r"zone_class holds \[5\]"):
        build_units_batched(Raster.from_array(np.full((2, 3), 5, "uint8"), grid), zero, cty)
    with pytest.raises(InvalidInput, match="LXBM"):
        build_units_batched(zero, Raster.from_array(np.full((2, 3), 16, "uint8"), grid), cty)
    with pytest.raises(EmptyArea):
        build_units_batched(zero, zero, cty, batch_pixels=1)
    with pytest.raises(GridMismatch):
        build_units_batched(z, Raster.from_array(np.zeros((3, 3), "uint8"), _grid((3, 3))), cty)
    with pytest.raises(InvalidInput, match="window reader"):
        build_units_batched(np.zeros((2, 3)), zero, cty)


def test_unit_id_pairs_equal_the_row_wise_unique() -> None:
    """The integer-key pairs equal ``np.unique(..., axis=0)`` on random pixels, including ids
    large enough that the key would overflow int64 (the row-wise path)."""
    rng = np.random.default_rng(7)
    for hi_id in (1, 5, 70_000, 2**62):
        units = rng.integers(1, 400, 20_000)
        ids = rng.integers(1, hi_id + 1, 20_000) if hi_id > 1 else np.ones(20_000, np.int64)
        ref = np.unique(np.column_stack([units, ids]), axis=0)
        got = unit_id_pairs(units, ids)
        assert got == (ref[:, 0].tolist(), ref[:, 1].tolist())
    assert unit_id_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64)) == ([], [])
    # by hand: unit 3 holds ids 2 and 10, unit 1 holds id 10 twice
    assert unit_id_pairs(np.array([3, 1, 3, 1]), np.array([10, 10, 2, 10])) == (
        [1, 3, 3],
        [10, 2, 10],
    )
