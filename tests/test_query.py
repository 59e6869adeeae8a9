"""Point lookup and bbox paging on a hand-built tiny run and on the small demo run.

The tiny run (``build_tiny_run``, also used by test_screening/test_report/test_zonal) is laid
out in ALBERS_CHINA metres with origin X0 = 0 (105°E), Y0 = 4 200 000 m, so every expected
number below is worked out by hand from these rectangles:

* units (1 km × 1 km, y Y0..Y0+1000): A = ZH62010210001 priority, x 0–1000;
  B = ZH62010220001 key, x 1000–2000; C = ZH62010230001 general, x 2000–3000;
* red line LXBM 13 (soil and water conservation): x 0–500 (inside A);
* national park ``test_park``: x 0–250; battle ``ji_bend``: x 2500–4000;
* rasters on a 100 m grid over x 0–3000 (30 × 10 pixels): ``zone_class`` (1 | 2 | 3 by
  column block of 10), ``redline`` (13 in columns 0–4), ``soil_loss`` = 10 × column index
  (t/(km²·a)) with NaN at row 3, column 5, and ``erosion_grade`` = column // 5 + 1 tagged
  ``SL190-2007/water``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import InvalidGeometry, InvalidInput, LayerNotFound
from geoeco.core.geometry import from_albers
from geoeco.core.io import write_geopackage, write_raster
from geoeco.core.raster import Grid, Raster
from geoeco.query.context import QueryContext
from geoeco.query.point import features_in_bbox, lookup_point
from geoeco.zoning.access import assign_access

Y0 = 4_200_000.0


def albers_box(x0: float, y0: float, x1: float, y1: float):  # type: ignore[no-untyped-def]
    """A box given in ALBERS_CHINA metres (y relative to Y0), returned in lon-lat."""
    return from_albers(shapely.box(x0, Y0 + y0, x1, Y0 + y1))


def albers_point(x: float, y: float) -> tuple[float, float]:
    """Lon-lat of an ALBERS_CHINA point (y relative to Y0)."""
    p = from_albers(shapely.Point(x, Y0 + y))
    return p.x, p.y


def build_tiny_run(root: Path) -> Path:
    """Write the tiny run folder described in the module docstring; return ``root/zones``."""
    zones = root / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    units = gpd.GeoDataFrame(
        {
            "code": ["ZH62010210001", "ZH62010220001", "ZH62010230001"],
            "name_zh": ["A单元", "B单元", "C单元"],
            "name_en": ["unit A", "unit B", "unit C"],
            "unit_class": [1, 2, 3],
            "class_zh": ["优先保护", "重点管控", "一般管控"],
            "class_en": ["priority protection", "key control", "general control"],
            "county_code": ["620102"] * 3,
            "county_name": ["城关区"] * 3,
            "area_km2": [1.0, 1.0, 1.0],
            "redline_share": [0.5, 0.0, 0.0],
            "park_share": [0.25, 0.0, 0.0],
        },
        geometry=[shapely.box(x, Y0, x + 1000, Y0 + 1000) for x in (0, 1000, 2000)],
        crs=ALBERS_CHINA,
    )
    units = assign_access(units).to_crs(CGCS2000)
    red = gpd.GeoDataFrame(
        {"LXBM": [13], "type_zh": ["水土保持"], "type_en": ["soil and water conservation"]},
        geometry=[shapely.box(0, Y0, 500, Y0 + 1000)],
        crs=ALBERS_CHINA,
    ).to_crs(CGCS2000)
    red["area_km2"] = 0.5
    write_geopackage({"units": units, "redline": red}, zones / "zones.gpkg")
    grid = Grid(Affine(100, 0, 0, 0, -100, Y0 + 1000), 30, 10, ALBERS_CHINA)
    col = np.broadcast_to(np.arange(30), (10, 30))
    zc = (col // 10 + 1).astype("uint8")
    rl = np.where(col < 5, 13, 0).astype("uint8")
    sl = (col * 10.0).astype("float32")
    sl[3, 5] = np.nan
    eg = (col // 5 + 1).astype("uint8")
    write_raster(Raster.from_array(zc, grid, nodata=0), zones / "zone_class.tif", nodata=0)
    write_raster(Raster.from_array(rl, grid), zones / "redline.tif", nodata=0)
    write_raster(Raster.from_array(sl, grid, units="t/(km²·a)"), root / "erosion" / "soil_loss.tif")
    write_raster(
        Raster.from_array(eg, grid, nodata=0),
        root / "erosion" / "erosion_grade.tif",
        nodata=0,
        tags={"class_table": "SL190-2007/water (2007)"},
    )
    return zones


def tiny_layers():  # type: ignore[no-untyped-def]
    """The tiny run's national park and battle area (lon-lat GeoDataFrames)."""
    parks = gpd.GeoDataFrame(
        {"park_id": ["test_park"], "name_zh": ["测试国家公园"], "name_en": ["Test NP"]},
        geometry=[shapely.box(0, Y0, 250, Y0 + 1000)],
        crs=ALBERS_CHINA,
    ).to_crs(CGCS2000)
    battles = gpd.GeoDataFrame(
        {"battle_id": ["ji_bend"], "name_zh": ["几字弯"], "name_en": ["Ji bend"]},
        geometry=[shapely.box(2500, Y0, 4000, Y0 + 1000)],
        crs=ALBERS_CHINA,
    ).to_crs(CGCS2000)
    return parks, battles


def open_tiny(root: Path) -> QueryContext:
    """Build and open the tiny run with its park and battle layers."""
    zones = build_tiny_run(root)
    parks, battles = tiny_layers()
    return QueryContext.open(zones, parks=parks, battles=battles)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> QueryContext:
    return open_tiny(tmp_path_factory.mktemp("tiny"))


def test_point_in_priority_unit_redline_and_park(tiny: QueryContext) -> None:
    """x=150 m (centre of pixel column 1) lies in unit A, the red line (x < 500) and the
    park (x < 250)."""
    r = lookup_point(tiny, *albers_point(150, 450))
    assert r.inside_analysed_area and r.message is None and r.coverage_share == 1.0
    assert r.unit is not None and r.unit.code == "ZH62010210001" and r.unit.unit_class == 1
    assert r.unit.county_name == "城关区"
    assert [a.field for a in r.unit.access] == ["KJBJYS", "PWWPFGK", "HJFXFK", "ZYKFXLYQ"]
    assert "redline" in r.unit.access_addons  # assign_access: redline_share 0.5 > 0
    assert r.redline is not None and r.redline.inside and r.redline.lxbm == 13
    assert r.redline.reason_en == (
        "extremely important ecological function: soil and water conservation (LXBM 13)"
    )
    assert r.national_park is not None and r.national_park.id == "test_park"
    assert r.nearest_national_park.distance_km == 0.0  # type: ignore[union-attr]
    assert r.battle is None
    vals = {v.layer: v for v in r.layers}
    # column 1 (x 100–200): soil loss 10, erosion grade 1 (微度/slight), zone class 1
    assert vals["soil_loss"].value == pytest.approx(10.0)
    assert vals["soil_loss"].units == "t/(km²·a)"
    assert (vals["erosion_grade"].class_code, vals["erosion_grade"].class_en) == (1, "slight")
    assert vals["erosion_grade"].class_zh == "微度"
    assert vals["erosion_grade"].class_table == "SL190-2007/water"
    assert (vals["zone_class"].class_code, vals["zone_class"].class_en) == (
        1,
        "priority protection",
    )
    assert vals["redline"].class_code == 13


def test_point_in_general_unit_battle_and_park_distance(tiny: QueryContext) -> None:
    """x=2750 (centre of column 27): unit C, battle area (x ≥ 2500); park edge at x=250,
    so 2.5 km away."""
    r = lookup_point(tiny, *albers_point(2750, 500))
    assert r.unit.code == "ZH62010230001"  # type: ignore[union-attr]
    assert r.redline is not None and not r.redline.inside
    assert r.battle is not None and r.battle.id == "ji_bend"
    assert r.national_park is None
    assert r.nearest_national_park.distance_km == pytest.approx(2.5, rel=1e-6)  # type: ignore[union-attr]
    vals = {v.layer: v for v in r.layers}
    assert vals["soil_loss"].value == pytest.approx(270.0)  # column 27
    assert vals["erosion_grade"].class_code == 6 and vals["erosion_grade"].class_en == "severe"


def test_nodata_pixel_gives_none(tiny: QueryContext) -> None:
    """Row 3, column 5 of soil_loss is NaN: centre (550, 650) relative to Y0."""
    r = lookup_point(tiny, *albers_point(550, 650))
    assert {v.layer: v.value for v in r.layers}["soil_loss"] is None


def test_outside_point_is_a_result_not_an_error(tiny: QueryContext) -> None:
    """x=5000 m is beyond unit C (ends at 3000): no unit, a message, park 4.75 km away."""
    r = lookup_point(tiny, *albers_point(5000, 500))
    assert not r.inside_analysed_area and r.unit is None and r.coverage_share == 0.0
    assert r.message == "outside the analysed area"
    assert r.layers == []  # every raster is outside its grid there
    assert r.nearest_national_park.distance_km == pytest.approx(4.75, rel=1e-6)  # type: ignore[union-attr]


def test_swapped_coordinates_auto_and_error(tiny: QueryContext) -> None:
    lon, lat = albers_point(1550, 550)
    r = lookup_point(tiny, lat, lon)  # (lat, lon) given as (lon, lat)
    assert r.unit.code == "ZH62010220001"  # type: ignore[union-attr]
    assert any("swapped back" in n for n in r.notes)
    with pytest.raises(InvalidGeometry, match="longitude first"):
        lookup_point(tiny, lat, lon, swap="error")


def test_gcj02_point_same_answer(tiny: QueryContext) -> None:
    """The GCJ-02 coordinates of a WGS 84 point give the same unit and values."""
    from geoeco.core.crs import wgs84_to_gcj02

    lon, lat = albers_point(1550, 550)
    glon, glat = wgs84_to_gcj02(lon, lat)
    a = lookup_point(tiny, lon, lat)
    b = lookup_point(tiny, float(glon), float(glat), crs="gcj02")
    assert b.lon == pytest.approx(a.lon, abs=1e-9) and b.lat == pytest.approx(a.lat, abs=1e-9)
    assert b.unit == a.unit and b.layers == a.layers


def test_bbox_paging(tiny: QueryContext) -> None:
    """A bbox over x 500–2500 meets all three units; pages of 2 are stable and complete."""
    b = albers_box(500, 100, 2500, 900).bounds
    p1 = features_in_bbox("units", b, ctx=tiny, limit=2)
    p2 = features_in_bbox("units", b, ctx=tiny, limit=2, offset=2)
    assert (p1.number_matched, p1.number_returned, p2.number_returned) == (3, 2, 1)
    ids = [f["id"] for f in p1.features + p2.features]
    assert ids == ["ZH62010210001", "ZH62010220001", "ZH62010230001"]
    assert p1.features[0]["properties"]["unit_class"] == 1
    only = features_in_bbox("units", b, ctx=tiny, properties=["code"], limit=1)
    assert only.features[0]["properties"] == {"code": "ZH62010210001"}
    assert (
        features_in_bbox("units", albers_box(1200, 0, 1300, 100).bounds, ctx=tiny).number_matched
        == 1
    )
    red = features_in_bbox("redline", b, ctx=tiny)
    assert red.features[0]["properties"]["LXBM"] == 13


def test_bbox_errors(tiny: QueryContext) -> None:
    with pytest.raises(InvalidInput, match="bbox"):
        features_in_bbox("units", (106, 38, 105, 39), ctx=tiny)
    with pytest.raises(LayerNotFound):
        features_in_bbox("no.such_layer", (105, 38, 106, 39), ctx=tiny)


def test_bbox_builtin_layer() -> None:
    """Built-in counties around Yulin (109.7°E 38.3°N) include 榆阳区 (610802)."""
    page = features_in_bbox("admin.county", (109.6, 38.2, 109.8, 38.4), limit=50)
    assert page.number_matched >= 1
    assert "610802" in [f["properties"]["code"] for f in page.features]


# --------------------------------------------------------------------------- demo run


def build_demo_run(out: Path) -> Path:
    """The small demo with zoning (importance_biodiversity copied from water conservation
    while the biodiversity service is missing, as the brief allows); returns the zones dir."""
    from geoeco.workflows.demo import run_demo
    from geoeco.workflows.demo_inputs import demo_zoning_inputs
    from geoeco.workflows.zoning import run_zoning

    run_demo(out, size="small", zoning=False)
    ev = out / "evaluation"
    if not (ev / "importance_biodiversity.tif").exists():
        shutil.copyfile(
            ev / "importance_water_conservation.tif", ev / "importance_biodiversity.tif"
        )
    inputs = demo_zoning_inputs(out)
    run_zoning(
        out / "zones",
        demo_size="small",
        inputs=inputs,
        statuses=dict.fromkeys(inputs, "synthetic"),
        res=30.0,
    )
    return out / "zones"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_run(tmp_path_factory.mktemp("qdemo"))


def test_demo_point_in_known_unit(demo_run: Path) -> None:
    """Each unit's representative point (read with geopandas) returns that unit; the layer
    values equal rasterio's own sample at the same place (independent read)."""
    import rasterio
    from pyproj import Transformer

    units = gpd.read_file(demo_run / "zones.gpkg", layer="units")
    ctx = QueryContext.open(demo_run.parent)  # a demo folder holding zones/ also opens
    tr = Transformer.from_crs(CGCS2000, ALBERS_CHINA, always_xy=True)
    for code, pt in zip(units["code"], units.geometry.representative_point(), strict=True):
        r = lookup_point(ctx, pt.x, pt.y)
        assert r.unit is not None and r.unit.code == code
        zc = {v.layer: v for v in r.layers}["zone_class"]
        with rasterio.open(demo_run / "zone_class.tif") as ds:
            expect = next(ds.sample([tr.transform(pt.x, pt.y)]))[0]
        assert zc.value == float(expect)
    names = {v.layer for v in r.layers}
    assert {"soil_loss", "erosion_grade", "fvc", "desertification_degree"} <= names
    assert {"sensitivity_sanding", "sensitivity_soil_erosion", "importance_max"} <= names
    assert r.nearest_national_park is not None and r.nearest_national_park.distance_km > 0


def test_nearest_by_facets_equals_distance_to_the_polygons() -> None:
    """The boundary-segment index gives, for points outside every polygon, the polygon and
    distance that shapely measures on the whole polygons (holes and multipolygons included),
    exactly."""
    from geoeco.query.context import Facets

    ring = shapely.box(0, 0, 10, 10).difference(shapely.box(3, 3, 7, 7))  # a hole
    multi = shapely.MultiPolygon([shapely.box(20, 0, 22, 3), shapely.box(25, 5, 27, 9)])
    disc = shapely.Point(-15, 12).buffer(4, quad_segs=40)
    polys = np.array([ring, multi, disc], dtype=object)
    facets = Facets.of(polys)
    assert facets is not None
    rng = np.random.default_rng(5)
    checked = 0
    for x, y in rng.uniform(-30, 40, size=(800, 2)):
        p = shapely.Point(x, y)
        d = shapely.distance(polys, p)
        if (d == 0).any():  # inside a polygon: not the facets' case
            continue
        i, dist = facets.nearest(p)
        assert dist == d.min() and d[i] == d.min()
        checked += 1
    assert checked > 500
    inside_hole = facets.nearest(shapely.Point(5, 5))
    assert inside_hole == (0, 2.0)  # 2 units from the hole's edge
    assert Facets.of(np.array([shapely.Point(0, 0)], dtype=object)) is None


def test_point_answers_are_shared_and_equal_fresh_ones() -> None:
    """A raster's answers are built once per value and keep the value exactly (-0.0 too);
    class rasters answer 0 as no class."""
    from geoeco.query.context import PointRaster
    from geoeco.query.models import LayerValue
    from geoeco.query.zonal import RasterLayer

    g = Grid(Affine(1, 0, 0, 0, -1, 1), 3, 1, ALBERS_CHINA)
    cont = RasterLayer.from_raster(
        "c", Raster.from_array(np.array([[2.5, -0.0, 0.0]]), g, units="t/ha")
    )
    pc = PointRaster.of(3, cont)
    a, b = pc.value(0.5, 0.5), pc.value(0.7, 0.2)
    assert a is b and a == LayerValue(layer="c", value=2.5, units="t/ha")
    neg = pc.value(1.5, 0.5)
    assert neg.value == 0.0 and str(neg.value) == "-0.0"
    assert str(pc.value(2.5, 0.5).value) == "0.0"
    assert pc.value(9.5, 0.5) == LayerValue(layer="c", units="t/ha")  # outside: None
    names = {4: ("重度", "severe")}
    cls = RasterLayer.from_raster(
        "k", Raster.from_array(np.array([[4, 0, 4]]), g), names=names, table_name="grades"
    )
    pk = PointRaster.of(0, cls)
    assert pk.value(0.5, 0.5) == LayerValue(
        layer="k", value=4.0, class_code=4, class_zh="重度", class_en="severe", class_table="grades"
    )
    assert pk.value(0.5, 0.5) is pk.value(2.5, 0.5)
    assert pk.value(1.5, 0.5) == LayerValue(layer="k", class_table="grades")
