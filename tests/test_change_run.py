"""Change between two dates (issue 18 item 3): transition CSV, change map, per-unit and
per-county tables counted by hand, the ``change`` command, and the demo's series."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from shapely.geometry import box

from geoeco.catalog.demo_series import block_mask
from geoeco.cli import main
from geoeco.core.errors import GridMismatch, InvalidInput
from geoeco.workflows.changes import ChangeOptions, run_change
from geoeco.workflows.demo_change import demo_series_spec, run_demo_series
from geoeco.workflows.stack import row_areas_km2

BEFORE = np.array([[1, 1, 2, 2], [3, 3, 2, 0], [1, 2, 3, 3]], dtype="uint8")
AFTER = np.array([[1, 2, 1, 2], [2, 3, 3, 1], [0, 2, 1, 3]], dtype="uint8")
# by hand: 1 improved, 2 unchanged, 3 worsened, 0 nodata at either date
CHANGE = [[2, 3, 1, 2], [1, 2, 3, 0], [0, 2, 1, 2]]


@pytest.fixture
def pair(make_raster) -> tuple[Path, Path]:
    return (
        make_raster(BEFORE, "grade_2005.tif", nodata=0),
        make_raster(AFTER, "grade_2020.tif", nodata=0),
    )


@pytest.fixture
def units(tmp_path) -> Path:
    # pixel (r, c) spans x 500000+10c..+10, y 4000040-10(r+1)..-10r (conftest's grid)
    geoms = [
        box(500000, 4000020, 500020, 4000040),  # U1: rows 0-1, cols 0-1
        box(500020, 4000010, 500040, 4000040),  # U2: rows 0-2, cols 2-3
        box(500000, 4000010, 500020, 4000020),  # U3: row 2, cols 0-1
    ]
    gdf = gpd.GeoDataFrame(
        {"code": ["U1", "U2", "U3"], "county_code": ["610802", "610802", "610803"]},
        geometry=geoms,
        crs="EPSG:32631",
    )
    path = tmp_path / "units.parquet"
    gdf.to_parquet(path)
    return path


def _px(path: Path) -> float:
    with rasterio.open(path) as ds:
        from geoeco.core.raster import Grid

        g = Grid(ds.transform, ds.width, ds.height, ds.crs)
    return float(row_areas_km2(g)[0])


def test_transition_csv_and_change_map_counted_by_hand(pair, units, tmp_path) -> None:
    out = tmp_path / "out"
    res = run_change(*pair, out, options=ChangeOptions(classes=(1, 2, 3)), units=units)
    a = _px(pair[0])
    assert res.variable == "grade"
    csv = pd.read_csv(out / "grade_transition.csv", encoding="utf-8-sig")
    assert csv["from"].tolist() == [1, 2, 3]
    counts = csv[["to_1", "to_2", "to_3", "to_nodata"]].to_numpy() / a
    np.testing.assert_allclose(counts, [[1, 1, 0, 1], [1, 2, 1, 0], [1, 1, 2, 0]])
    # rows sum to the first date's class areas (3, 4 and 4 pixels)
    np.testing.assert_allclose(csv["total"] / a, [3, 4, 4])
    with rasterio.open(out / "grade_change.tif") as ds:
        assert ds.read(1).tolist() == CHANGE
        assert ds.tags()["CLASS_1"] == "improved"
    s = json.loads((out / "summary.json").read_text())
    assert s["improved_km2"] / a == pytest.approx(3) and s["worsened_km2"] / a == pytest.approx(2)
    assert s["improved_share"] == pytest.approx(3 / 10)


def test_unit_and_county_tables_counted_by_hand(pair, units, tmp_path) -> None:
    out = tmp_path / "out"
    run_change(*pair, out, options=ChangeOptions(classes=(1, 2, 3)), units=units)
    a = _px(pair[0])
    u = pd.read_csv(out / "grade_units.csv", encoding="utf-8-sig").set_index("code")
    cols = ["area_km2", "improved_km2", "unchanged_km2", "worsened_km2"]
    np.testing.assert_allclose(u.loc["U1", cols] / a, [4, 1, 2, 1])
    np.testing.assert_allclose(u.loc["U2", cols] / a, [5, 2, 2, 1])
    np.testing.assert_allclose(u.loc["U3", cols] / a, [1, 0, 1, 0])
    c = pd.read_csv(out / "grade_counties.csv", encoding="utf-8-sig", dtype={"county_code": str})
    c = c.set_index("county_code")
    np.testing.assert_allclose(c.loc["610802", cols] / a, [9, 3, 4, 2])
    assert c.loc["610802", "improved_share"] == pytest.approx(3 / 9)


def test_higher_is_better_reverses_the_map_and_classes_come_from_the_rasters(
    pair, tmp_path
) -> None:
    res = run_change(*pair, tmp_path / "o", options=ChangeOptions(higher_is_worse=False))
    assert [c for c, _ in res.classes] == [1, 2, 3]  # found in the rasters
    with rasterio.open(tmp_path / "o" / "grade_change.tif") as ds:
        flipped = {1: 3, 2: 2, 3: 1, 0: 0}
        assert ds.read(1).tolist() == [[flipped[v] for v in row] for row in CHANGE]


def test_bad_inputs_raise_clear_errors(pair, make_raster, tmp_path) -> None:
    other = make_raster(np.ones((2, 4), "uint8"), "other.tif", nodata=0)
    with pytest.raises(GridMismatch):
        run_change(pair[0], other, tmp_path / "o")
    with pytest.raises(InvalidInput, match=r"codes \[3\] are not among the classes \[1, 2\]"):
        run_change(*pair, tmp_path / "o", options=ChangeOptions(classes=(1, 2)))
    with pytest.raises(InvalidInput, match="variable name"):
        run_change(*pair, tmp_path / "o", options=ChangeOptions(variable="../x"))


def test_change_command(pair, units, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "change",
            "--from",
            str(pair[0]),
            "--to",
            str(pair[1]),
            "--out",
            str(out),
            "--table",
            "SL190-2007/water",
            "--units",
            str(units),
            "--variable",
            "soil",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["classes"][1] == {"code": 2, "name": "light"} and printed["units"] == 3
    assert (out / "soil_transition.csv").is_file() and (out / "soil_counties.csv").is_file()


def test_demo_series_recovers_the_planted_trends_and_grade_changes(
    tmp_path, demo_run_small
) -> None:
    res = run_demo_series(tmp_path, size="small", units=demo_run_small / "zones")
    spec = demo_series_spec("small")
    imp, deg = block_mask(spec, "improving"), block_mask(spec, "degrading")
    with rasterio.open(tmp_path / "trends" / "soil_loss_trend_class.tif") as ds:
        cls = ds.read(1)
        assert ds.tags()["INCREASE_IS"] == "degradation"
    assert (cls[imp] == 1).all() and (cls[deg] == 3).all()
    # improving block: moderate (3) → light (2); degrading: moderate → intense (4)
    with rasterio.open(tmp_path / "change" / "soil_loss_grade_change.tif") as ds:
        ch = ds.read(1)
    assert (ch[imp] == 1).all() and (ch[deg] == 3).all()
    a = float(row_areas_km2(spec.grid)[0])
    s = res.change.summary()
    assert s["improved_km2"] == pytest.approx(imp.sum() * a)
    assert s["worsened_km2"] == pytest.approx(deg.sum() * a)
    assert res.as_dict()["status"] == "synthetic"
    # per unit: the small demo's units, each with a change row and an effectiveness row
    n_units = len(pd.read_parquet(demo_run_small / "zones" / "units.parquet"))
    assert s["units"] == n_units and res.effectiveness is not None
    # effectiveness: one row per unit and per restoration patch (the small demo window is
    # almost all priority protection since demo version 2, so it has no key-control cells
    # and no patches: patch rows are not exercised here any more)
    n_patches = len(gpd.read_file(demo_run_small / "zones" / "zones.gpkg", layer="restoration"))
    kinds = [r["kind"] for r in res.effectiveness.rows]
    assert kinds.count("unit") == n_units and kinds.count("patch") == n_patches
    assert "change/ndvi_effectiveness.csv" in res.as_dict()["change"]["files"]
    with rasterio.open(tmp_path / "series" / "stack" / "ndvi_2001.tif") as ds:
        assert ds.tags()["GEOECO_SYNTHETIC"] == "yes"
