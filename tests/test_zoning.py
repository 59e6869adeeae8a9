"""End-to-end zoning on a hand-made area: every class area is known before the run.

The AOI is a 0.02° box in 榆阳区 (Yulin); the analysis grid is ALBERS_CHINA at 100 m. Inputs are
made on that grid in the test: water-conservation importance "extremely important" (3) in the
left 6 columns, SL 190 erosion grade 4 in the bottom 8 rows of the other columns, everything
else class 1. With red-line clean-up off (min patch and holes 0), the expected zones are:
left columns → priority (red line code 11), bottom-right → key, the rest → general, each
counted over the pixels whose centre lies in the AOI (rasterised independently here with
rasterio.features.geometry_mask). Each pixel is 0.01 km² (Albers is equal-area).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from rasterio.features import geometry_mask
from shapely.geometry import box

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import EmptyArea, InvalidInput
from geoeco.core.raster import Raster
from geoeco.workflows.zoning import run_zoning
from geoeco.zoning.aoi import analysis_grid, resolve_aoi
from geoeco.zoning.rules import load_rule_set, parse_rule_set
from geoeco.zoning.units.build import UNIT_CODE_RE

AOI_BOX = box(109.70, 38.28, 109.72, 38.30)
CLASS_INPUTS = [
    "importance_water_conservation",
    "importance_biodiversity",
    "importance_soil_conservation",
    "importance_windbreak",
    "sensitivity_soil_erosion",
    "sensitivity_sanding",
    "erosion_grade",
    "desertification_degree",
]


def _rules_without_cleanup():
    data = load_rule_set("default").model_dump(mode="json")
    data["name"] = "test_nocleanup"
    data["redline"]["min_patch_km2"] = 0.0
    data["redline"]["max_hole_km2"] = 0.0
    return parse_rule_set(data)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    area = resolve_aoi(AOI_BOX)
    grid = analysis_grid(area, 100.0)
    h, w = grid.shape
    inputs = {n: np.ones(grid.shape, np.uint8) for n in CLASS_INPUTS}
    inputs["importance_water_conservation"][:, :6] = 3
    inputs["erosion_grade"][h - 8 :, 6:] = 4
    rasters = {n: Raster.from_array(a, grid, nodata=0) for n, a in inputs.items()}
    inside = ~geometry_mask([area.to_crs(ALBERS_CHINA)], grid.shape, grid.transform)
    out = tmp_path_factory.mktemp("zoning")
    summary = run_zoning(
        out, aoi=AOI_BOX, rules=_rules_without_cleanup(), inputs=rasters, res=100.0, budget_km2=0.05
    )
    return out, summary, inputs, inside, grid


def test_class_areas_match_the_hand_layout(case):
    out, s, inputs, inside, _ = case
    pri = inside & (inputs["importance_water_conservation"] == 3)
    key = inside & ~pri & (inputs["erosion_grade"] >= 3)
    gen = inside & ~pri & ~key
    totals = s.class_totals_km2
    assert totals["1"] == pytest.approx(pri.sum() * 0.01, abs=1e-9)
    assert totals["2"] == pytest.approx(key.sum() * 0.01, abs=1e-9)
    assert totals["3"] == pytest.approx(gen.sum() * 0.01, abs=1e-9)
    assert totals["total"] == pytest.approx(inside.sum() * 0.01, abs=1e-9)
    assert {str(k): v for k, v in s.zones["redline_km2"].items()} == {
        "11": pytest.approx(pri.sum() * 0.01)
    }


def test_units_are_coded_measured_and_carry_access_lists(case):
    out, s, inputs, inside, _ = case
    units = gpd.read_file(out / "zones.gpkg", layer="units")
    assert units.crs.to_epsg() == 4490
    assert all(UNIT_CODE_RE.match(c) for c in units["code"]) and units["code"].is_unique
    assert set(units["code"].str[2:8]) == {"610802"}  # 榆阳区
    assert set(units["code"].str[8]) == {"1", "2", "3"}
    eq = units.to_crs(ALBERS_CHINA)
    assert eq.area.sum() / 1e6 == pytest.approx(inside.sum() * 0.01, rel=1e-6)
    assert eq.union_all().area / 1e6 == pytest.approx(inside.sum() * 0.01, rel=1e-6)  # no overlap
    for col in ("KJBJYS", "PWWPFGK", "HJFXFK", "ZYKFXLYQ"):
        assert (
            any(col in c for c in units.columns)
            or col in pyogrio.read_info(out / "units_sxyd.gpkg")["fields"]
        )
    assert units["in_three_north"].all()  # Yulin lies in the Three-North programme area
    assert s.approximation_layers  # the built-in programme/park layers are approximations


def test_outputs_exist_and_tables_add_up(case):
    out, s, *_ = case
    layers = set(pyogrio.list_layers(out / "zones.gpkg")[:, 0])
    assert {"units", "redline", "restoration", "statistics", "class_totals"} <= layers
    for f in s.outputs:
        assert (out / f).exists(), f
    stats = gpd.pd.read_csv(out / "statistics.csv")
    assert stats["area_km2"].sum() == pytest.approx(s.class_totals_km2["total"], rel=1e-9)
    sx = gpd.read_file(out / "units_sxyd.gpkg")
    assert {"HJZHGKDYBM", "ZHGKDYFL", "KJBJYS", "PWWPFGK", "HJFXFK", "ZYKFXLYQ"} <= set(sx.columns)
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["rule_set"]["sha256"] == s.rule_set["sha256"]
    # the typed result is what summary.json holds
    assert saved == json.loads(json.dumps(s.summary(), default=str))


def test_restoration_selects_only_key_cells_within_budget(case):
    out, s, inputs, inside, grid = case
    import rasterio

    with rasterio.open(out / "restoration_selection.tif") as ds:
        sel = ds.read(1)
    with rasterio.open(out / "zone_class.tif") as ds:
        zc = ds.read(1)
    assert ((sel == 2) <= (zc == 2)).all()
    assert (sel == 2).sum() * 0.01 <= 0.05 + 1e-9 and (sel == 2).sum() == 5


def test_missing_inputs_and_empty_area_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInput, match="importance_biodiversity"):
        run_zoning(tmp_path / "a", aoi=AOI_BOX, inputs={}, res=100.0)
    with pytest.raises(EmptyArea):
        run_zoning(tmp_path / "b", aoi=box(109.7, 38.28, 109.7, 38.28), res=100.0)
    with pytest.raises(InvalidInput, match="administrative code|no province"):
        run_zoning(tmp_path / "c", aoi="999999", res=100.0)


def test_geopackage_carries_qgis_styles_from_the_class_tables(case):
    """QGIS reads default styles from the layer_styles table: one per styled layer, with the
    ZHGKDYFL colours (#1b7837 = 27,120,55) for the units."""
    import sqlite3

    out, *_ = case
    con = sqlite3.connect(out / "zones.gpkg")
    rows = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"))
    con.close()
    assert set(rows) == {"units", "redline"}
    assert 'attr="unit_class"' in rows["units"] and "27,120,55" in rows["units"]
    assert "防风固沙" in rows["redline"]


def test_scenario_comparison_gives_a_transition_table_and_raster(tmp_path):
    """Rule set B counts erosion as key only from grade 5; the hand layout has grade 4, so every
    key pixel of A becomes general in B (transition 2→3) and the rest is unchanged."""
    import rasterio

    area = resolve_aoi(AOI_BOX)
    grid = analysis_grid(area, 100.0)
    h, w = grid.shape
    arrays = {n: np.ones(grid.shape, np.uint8) for n in CLASS_INPUTS}
    arrays["importance_water_conservation"][:, :6] = 3
    arrays["erosion_grade"][h - 8 :, 6:] = 4
    rasters = {n: Raster.from_array(a, grid, nodata=0) for n, a in arrays.items()}
    inside = ~geometry_mask([area.to_crs(ALBERS_CHINA)], grid.shape, grid.transform)
    a_rules = _rules_without_cleanup()
    data = a_rules.model_dump(mode="json")
    data["name"] = "test_b"
    for c in data["key"]["criteria"]:
        if c["input"] == "erosion_grade":
            c["min_class"] = 5
    s = run_zoning(
        tmp_path,
        aoi=AOI_BOX,
        rules=a_rules,
        compare=parse_rule_set(data),
        inputs=rasters,
        res=100.0,
    )
    key = inside & (arrays["importance_water_conservation"] != 3) & (arrays["erosion_grade"] >= 3)
    trans = {(t["class_a"], t["class_b"]): t["area_km2"] for t in s.comparison.transitions_km2}
    assert trans[(2, 3)] == pytest.approx(key.sum() * 0.01)
    assert trans[(2, 2)] == 0
    assert sum(trans.values()) == pytest.approx(inside.sum() * 0.01)
    with rasterio.open(tmp_path / "zone_change.tif") as ds:
        change = ds.read(1)
    assert int((change == 23).sum()) == int(key.sum())


def test_sxyd_export_as_shapefile_in_gauss_kruger(tmp_path):
    """The 三线一单 export as a Shapefile with a UTF-8 .cpg in the 3° Gauss–Krüger zone of
    榆阳区 (109.7°E → CM 111°E, EPSG:4546); field names fit dBASE's 10 characters."""
    area = resolve_aoi(AOI_BOX)
    grid = analysis_grid(area, 100.0)
    rasters = {
        n: Raster.from_array(np.ones(grid.shape, np.uint8), grid, nodata=0) for n in CLASS_INPUTS
    }
    s = run_zoning(
        tmp_path,
        aoi=AOI_BOX,
        rules=_rules_without_cleanup(),
        inputs=rasters,
        res=100.0,
        sxyd_crs="gk",
        sxyd_format="shp",
        write_map=False,
    )
    assert "units_sxyd.shp" in s.outputs
    assert (tmp_path / "units_sxyd.cpg").read_text().strip().upper().startswith("UTF")
    sx = gpd.read_file(tmp_path / "units_sxyd.shp")
    assert sx.crs.to_epsg() == 4546
    assert all(len(c) <= 10 for c in sx.columns)
    assert sx["HJZHGKDYBM"].str.match(r"^ZH610802[123]\d{4}$").all()


def _class_rasters(area):  # type: ignore[no-untyped-def]
    grid = analysis_grid(area, 100.0)
    return {n: Raster.from_array(np.ones(grid.shape, np.uint8), grid) for n in CLASS_INPUTS}


def test_run_zoning_reprojects_the_area_once(tmp_path, monkeypatch):
    """The AOI is made once (one reprojection, lon-lat to the analysis CRS) and read as it is
    by the grid, the overlay, the counties and the summary."""
    import geoeco.zoning.aoi as aoi_mod

    rasters = _class_rasters(resolve_aoi(AOI_BOX))
    calls = []
    real = aoi_mod._reproject
    monkeypatch.setattr(
        aoi_mod, "_reproject", lambda g, s, d: calls.append((s, d)) or real(g, s, d)
    )
    result = run_zoning(tmp_path / "o", aoi=AOI_BOX, inputs=rasters, res=100.0, write_map=False)
    assert len(calls) == 1
    assert (
        result.area.summary()
        == json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))["aoi"]
    )


def test_bad_options_fail_before_any_output(tmp_path):
    rasters = _class_rasters(resolve_aoi(AOI_BOX))
    for bad in ({"sxyd_format": "kml"}, {"sxyd_crs": "utm"}):
        with pytest.raises(InvalidInput, match="三线一单 export"):
            run_zoning(tmp_path / "o", aoi=AOI_BOX, inputs=rasters, res=100.0, **bad)
    assert not (tmp_path / "o").exists()
