"""Trend runs on folders of yearly rasters (issue 18 items 2, 5): planted trends recovered,
windowing, sign conventions, RESTREND, class areas, file discovery and hostile folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from scipy.stats import theilslopes

from geoeco.catalog.demo_series import (
    BLOCKS,
    NODATA_CORNER,
    PLANTED,
    SeriesSpec,
    block_mask,
    series_arrays,
    write_series,
)
from geoeco.cli import main
from geoeco.core.errors import GridMismatch, InvalidInput
from geoeco.core.raster import Grid
from geoeco.workflows.stack import discover_stacks, row_areas_km2
from geoeco.workflows.trends import TrendOptions, run_trend

SPEC = SeriesSpec()


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("series") / "stack"
    write_series(folder)
    return folder


@pytest.fixture(scope="module")
def trend_run(series: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trend") / "out"
    run_trend(series, out, options=TrendOptions(precipitation="precipitation"))
    return out


def _rain_trend() -> float:
    """Theil–Sen slope (scipy) of the region's mean yearly rain, mm/a."""
    rain = series_arrays()["precipitation"]
    return float(theilslopes(np.nanmean(rain, axis=(1, 2)), SPEC.years).slope)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1, masked=True)


def test_planted_trends_are_recovered_with_sign_and_significance(trend_run: Path) -> None:
    imp, deg, rest = (block_mask(SPEC, b) for b in ("improving", "degrading", "rest"))
    for var in ("ndvi", "soil_loss"):
        cls = _read(trend_run / f"{var}_trend_class.tif").filled(0)
        slope = _read(trend_run / f"{var}_slope.tif")
        p = _read(trend_run / f"{var}_p.tif")
        # NDVI rising and soil loss falling are both improvements (class 1)
        assert (cls[imp] == 1).all() and (cls[deg] == 3).all(), var
        assert (p[imp] < 0.05).all() and (p[deg] < 0.05).all()
        for block, m in (("improving", imp), ("degrading", deg)):
            # NDVI also follows rain (0.0004/mm): its trend adds to the planted one
            expect = PLANTED[var][block] + (0.0004 * _rain_trend() if var == "ndvi" else 0.0)
            got = np.median(slope[m].compressed())
            assert got == pytest.approx(expect, rel=0.1), (var, block)
        # no trend planted: at most ~alpha of the rest is called significant
        assert (cls[rest] != 2).mean() < 0.10, var
        r0, r1, c0, c1 = NODATA_CORNER
        assert (cls[r0:r1, c0:c1] == 0).all() and slope.mask[r0:r1, c0:c1].all()


def test_restrend_recovers_the_planted_trend_without_the_rain_signal(trend_run: Path) -> None:
    imp, deg, rest = (block_mask(SPEC, b) for b in ("improving", "degrading", "rest"))
    status = _read(trend_run / "ndvi_restrend_status.tif")
    assert (status[imp | deg | rest] == 1).all()  # NDVI follows rain (0.0004/mm) everywhere
    slope = _read(trend_run / "ndvi_restrend_slope.tif")
    cls = _read(trend_run / "ndvi_restrend_class.tif").filled(0)
    assert np.median(slope[imp].compressed()) == pytest.approx(0.008, rel=0.1)
    assert np.median(slope[deg].compressed()) == pytest.approx(-0.008, rel=0.1)
    assert abs(np.median(slope[rest].compressed())) < 0.0005
    assert (cls[imp] == 1).all() and (cls[deg] == 3).all()
    assert (cls[rest] != 2).mean() < 0.10


def test_summary_areas_are_equal_area_km2_of_the_classes(trend_run: Path) -> None:
    s = json.loads((trend_run / "summary.json").read_text())
    assert s["kind"] == "trend" and s["method"]["alpha"] == 0.05
    ndvi = s["variables"]["ndvi"]
    assert ndvi["years"] == list(range(2001, 2021)) and ndvi["increase_is"] == "improvement"
    assert s["variables"]["soil_loss"]["increase_is"] == "degradation"
    assert "precipitation" not in s["variables"]  # the rain stack drives RESTREND only
    cls = _read(trend_run / "ndvi_trend_class.tif").filled(0)
    # 1 km pixels on Albers China: 1 km² each; 25 nodata pixels of 3600
    areas = ndvi["class_area_km2"]
    assert areas["improvement"] == pytest.approx(float((cls == 1).sum()))
    assert sum(areas.values()) == pytest.approx(60 * 60 - 25)
    assert ndvi["restrend"]["status_area_km2"]["nodata"] == pytest.approx(25.0)
    files = {i["file"] for i in s["inputs"]}
    assert "precipitation_2001.tif" in files and len(files) == 60
    assert all(len(i["sha256"]) == 64 for i in s["inputs"])
    with rasterio.open(trend_run / "ndvi_trend_class.tif") as ds:
        tags = ds.tags()
        assert ds.colormap(1)[1][:3] == (26, 150, 65)
    assert tags["CLASS_1"] == "improvement" and tags["CLASS_3"] == "degradation"


def test_small_windows_give_the_same_rasters(series: Path, trend_run: Path, tmp_path) -> None:
    out = tmp_path / "small"
    opts = TrendOptions(variables=("soil_loss",), window_mib=0.05)  # 0.05 MiB: 16-row strips
    run_trend(series, out, options=opts)
    for f in ("soil_loss_trend_class.tif", "soil_loss_slope.tif", "soil_loss_p.tif"):
        a, b = _read(out / f), _read(trend_run / f)
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_allclose(a.compressed(), b.compressed(), rtol=1e-6)


def test_sign_convention_is_configurable(series: Path, tmp_path) -> None:
    opts = TrendOptions(variables=("soil_loss",), increase_is={"soil_loss": "improvement"})
    run_trend(series, tmp_path / "o", options=opts)
    cls = _read(tmp_path / "o" / "soil_loss_trend_class.tif").filled(0)
    assert (cls[block_mask(SPEC, "improving")] == 3).all()  # falling loss now "degradation"
    assert (cls[block_mask(SPEC, "degrading")] == 1).all()


def test_year_from_tags_and_one_variable_per_prefix(tmp_path) -> None:
    grid = SeriesSpec(rows=4, cols=5).grid
    t = grid.transform
    prof = {
        "driver": "GTiff",
        "width": 5,
        "height": 4,
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs,
        "transform": t,
    }
    for i, year in enumerate((2010, 2011, 2012)):
        with rasterio.open(tmp_path / f"npp_{chr(97 + i)}.tif", "w", **prof) as ds:
            ds.write(np.full((1, 4, 5), i, "float32"))
            if year == 2011:
                ds.update_tags(TIFFTAG_DATETIME="2011:07:01 00:00:00")
            else:
                ds.update_tags(GEOECO_YEAR=str(year))
        with rasterio.open(tmp_path / f"fvc-{year}.tif", "w", **prof) as ds:
            ds.write(np.zeros((1, 4, 5), "float32"))
    stacks = discover_stacks(tmp_path)
    assert sorted(stacks) == ["fvc", "npp_a", "npp_b", "npp_c"]
    assert stacks["fvc"].years == (2010, 2011, 2012)
    assert stacks["npp_b"].years == (2011,)


@pytest.mark.parametrize(
    ("case", "error", "text"),
    [
        ("empty", InvalidInput, "holds no GeoTIFF"),
        ("duplicate", InvalidInput, "more than one file for year(s) [2002]"),
        ("grid", GridMismatch, "ndvi_2003.tif is not on the grid"),
        ("short", InvalidInput, "needs at least min_years = 10"),
        ("noyear", InvalidInput, "ndvi.tif: no year in the file name"),
    ],
)
def test_hostile_folders_raise_clear_errors(tmp_path, make_raster, case, error, text) -> None:
    folder = tmp_path / "stack"
    folder.mkdir()
    if case != "empty":
        for y in (2001, 2002, 2003):
            shutil.move(make_raster(np.ones((3, 3), "float32"), f"ndvi_{y}.tif"), folder)
    if case == "duplicate":
        shutil.move(make_raster(np.ones((3, 3), "float32"), "ndvi-2002.tif"), folder)
    if case == "grid":
        (folder / "ndvi_2003.tif").unlink()
        shutil.move(make_raster(np.ones((4, 3), "float32"), "ndvi_2003.tif"), folder)
    if case == "noyear":
        shutil.move(make_raster(np.ones((3, 3), "float32"), "ndvi.tif"), folder)
    with pytest.raises(error) as info:
        run_trend(folder, tmp_path / "out", options=TrendOptions())
    assert text in str(info.value) and str(tmp_path) not in str(info.value)


def test_geographic_row_areas_match_the_authalic_sphere() -> None:
    # 0.5° cells at 38-40°N; independent: R_q² Δλ (sin φ1 − sin φ2), R_q authalic radius
    g = Grid(Affine(0.5, 0, 109.0, 0, -0.5, 40.0), 2, 4, "EPSG:4490")
    rq = 6371007.2
    lat = 40.0 - 0.5 * np.arange(5)
    expect = rq**2 * np.radians(0.5) * -np.diff(np.sin(np.radians(lat))) / 1e6
    np.testing.assert_allclose(row_areas_km2(g), expect, rtol=3e-3)


def test_trend_command_writes_the_rasters(series: Path, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "trend",
            "--stack",
            str(series),
            "--out",
            str(out),
            "--variable",
            "ndvi",
            "--alpha",
            "0.01",
            "--variance",
            "hamed_rao",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["method"]["variance"] == "hamed_rao" and printed["method"]["alpha"] == 0.01
    cls = _read(out / "ndvi_trend_class.tif").filled(0)
    assert (cls[block_mask(SPEC, "improving")] == 1).all()
    assert (
        main(
            ["trend", "--stack", str(series), "--out", str(tmp_path / "x"), "--increase-is", "ndvi"]
        )
        == 2
    )
    assert not (tmp_path / "x").exists()


def test_series_is_deterministic_and_planted() -> None:
    a, b = series_arrays(), series_arrays()
    np.testing.assert_array_equal(a["ndvi"], b["ndvi"])
    r0, r1, c0, c1 = BLOCKS["improving"]
    first, last = a["soil_loss"][0, r0:r1, c0:c1], a["soil_loss"][-1, r0:r1, c0:c1]
    # 19 years × −80 t/(km²·a): moderate (2500-5000) to light (200-2500), noise σ 100
    assert np.mean(last - first) == pytest.approx(-80 * 19, abs=60)
