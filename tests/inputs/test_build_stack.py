"""``geoeco.build_inputs`` on the loopback fixture: the raw inputs folder of a county.

Checked: only the county's items and windows are read (range requests, under 30 % of each
MODIS tile), every file is on one Albers grid, the derived inputs equal values worked out by
hand from the fixture's constants (TerraClimate and SoilGrids are spatially constant there),
the manifest (status, checksums recomputed here, items, sources, coverage), a warm rerun reads
nothing remote, a missing item fails naming catalog, collection and item and leaves nothing,
and partial coverage follows the project's 99 % rule."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS
from rasterio.features import geometry_mask

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import PartialCoverage, RemoteSourceError
from geoeco.core.raster import Grid
from geoeco.inputs.cache import ProgressTotals
from geoeco.zoning.aoi import resolve_aoi

from .fixture import COUNTY_BOX, SOIL, Fixture, build_fixture_inputs, terraclimate_value
from .rangeserver import FixtureServer, serve

YEAR = 2021
MONTHS = range(1, 13)
DAYS_2021 = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _read(folder: Path, name: str) -> np.ndarray:
    with rasterio.open(folder / f"{name}.tif") as ds:
        return ds.read(masked=True).astype("float64").filled(np.nan)


def _weighted(prop: str) -> float:
    """0–30 cm thickness-weighted mean of the fixture's raw SoilGrids value."""
    a, b, c = SOIL[prop]
    return (5 * a + 10 * b + 15 * c) / 30.0


def test_files_share_one_albers_grid_and_the_manifest_says_so(inputs_folder: Path) -> None:
    man = json.loads((inputs_folder / "inputs.json").read_text())
    assert man["kind"] == "geoeco-inputs" and man["version"] == 1 and man["year"] == YEAR
    expected = {
        "dem", "ndvi", "npp", "worldcover", "landcover", "sand", "silt", "clay", "soc",
        "texture_class", "infiltration", "aridity", "wind_days", "precip_monthly",
        "temp_monthly", "wind2m_monthly", "rh_monthly",
    }  # fmt: skip
    assert set(man["files"]) == expected
    assert not (inputs_folder / "rain_daily.tif").exists()
    for name, entry in man["files"].items():
        path = inputs_folder / entry["file"]
        with rasterio.open(path) as ds:
            assert list(ds.transform)[:6] == man["transform"], name
            assert (ds.width, ds.height) == (man["width"], man["height"]), name
            assert CRS.from_wkt(ds.crs.to_wkt()).equals(ALBERS_CHINA), name
            assert ds.count == (12 if name.endswith("_monthly") else 1), name
            assert ds.tags()["GEOECO_STATUS"] == entry["status"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), name
        assert entry["coverage_share"] == 1.0 and entry["missing_share"] == 0.0, name
    assert man["res_m"] == 250.0
    # texture classes bedrock and gravel cannot come from SoilGrids: the folder says so
    assert man["files"]["texture_class"]["status"] == "approximation"
    assert man["status"] == "approximation"
    assert {f["status"] for k, f in man["files"].items() if k != "texture_class"} == {"real"}


def test_the_grid_covers_the_aoi_plus_a_margin(inputs_folder: Path) -> None:
    man = json.loads((inputs_folder / "inputs.json").read_text())
    a, b, c, d, e, f = man["transform"]
    left, top = c, f
    right, bottom = c + a * man["width"], f + e * man["height"]
    aoi = resolve_aoi(shapely.box(*COUNTY_BOX)).geometry
    x0, y0, x1, y1 = aoi.bounds
    for gap in (x0 - left, right - x1, top - y1, y0 - bottom):
        assert 2000.0 <= gap < 2000.0 + 250.0  # 2 km margin, snapped outward to 250 m
    assert left % 250 == 0 and top % 250 == 0


def test_climate_inputs_equal_hand_values(inputs_folder: Path) -> None:
    precip = _read(inputs_folder, "precip_monthly")
    temp = _read(inputs_folder, "temp_monthly")
    wind2m = _read(inputs_folder, "wind2m_monthly")
    rh = _read(inputs_folder, "rh_monthly")
    u2_per_u10 = 4.87 / math.log(67.8 * 10 - 5.42)  # FAO-56 eq. 47 at 10 m: 0.74795
    assert u2_per_u10 == pytest.approx(0.74795, abs=1e-5)
    for i, m in enumerate(MONTHS):
        t = (terraclimate_value("tmax", YEAR, m) + terraclimate_value("tmin", YEAR, m)) / 2
        es = 0.6108 * math.exp(17.27 * t / (t + 237.3))  # Tetens, FAO-56 eq. 11
        want = {
            "precip": terraclimate_value("ppt", YEAR, m),
            "temp": t,
            "wind2m": terraclimate_value("ws", YEAR, m) * u2_per_u10,
            "rh": terraclimate_value("vap", YEAR, m) / es,
        }
        for name, arr in (("precip", precip), ("temp", temp), ("wind2m", wind2m), ("rh", rh)):
            np.testing.assert_allclose(arr[i], want[name], rtol=1e-5, err_msg=f"{name} {m}")
    # January: T = 1 °C, e° = 0.6108·exp(17.27/238.3) = 0.65671 kPa, vap 0.1 -> RH 0.15228
    assert float(rh[0, 0, 0]) == pytest.approx(0.15228, abs=1e-5)
    # aridity: warm months Oct-Dec (10, 11, 12 °C; 31, 30, 31 d; 200, 210, 220 mm)
    # 0.16 · (310 + 330 + 372) / 630 = 0.257016
    np.testing.assert_allclose(_read(inputs_folder, "aridity"), 0.16 * 1012 / 630, rtol=1e-5)


def test_wind_days_are_the_weibull_sum_over_december_to_may(inputs_folder: Path) -> None:
    gamma = math.gamma(1.5)  # k = 2: c = mean / Γ(1.5)
    months = [(YEAR - 1, 12, 31)] + [(YEAR, m, DAYS_2021[m - 1]) for m in range(1, 6)]
    want = sum(
        days * math.exp(-((6.0 * gamma / terraclimate_value("ws", y, m)) ** 2))
        for y, m, days in months
    )
    np.testing.assert_allclose(_read(inputs_folder, "wind_days"), want, rtol=1e-5)


def test_soil_inputs_equal_hand_values(inputs_folder: Path) -> None:
    sand, silt, clay = (_weighted(p) / 10.0 for p in ("sand", "silt", "clay"))
    assert sand + silt + clay == pytest.approx(100.0)  # 33.667 + 39.0 + 27.333
    for name, want in (("sand", sand), ("silt", silt), ("clay", clay)):
        np.testing.assert_allclose(_read(inputs_folder, name), want, rtol=1e-5)
    np.testing.assert_allclose(_read(inputs_folder, "soc"), _weighted("soc") / 100.0, rtol=1e-5)
    # Cosby et al. 1984: 25.4 · 10^(−0.60 + 0.4242 − 0.1749) = 25.4 · 0.44592 = 11.33 mm/h
    ks = 25.4 * 10 ** (-0.60 + 0.0126 * sand - 0.0064 * clay)
    assert ks == pytest.approx(11.33, abs=0.01)
    np.testing.assert_allclose(_read(inputs_folder, "infiltration"), ks, rtol=1e-5)
    assert np.all(_read(inputs_folder, "texture_class") == 4)  # loam: sand < 70, clay < 30


def test_landcover_npp_ndvi_and_dem(inputs_folder: Path, fx: Fixture) -> None:
    # WorldCover 2021 v200 north of 37.5° N is cropland (40) -> geoeco 1
    assert np.all(_read(inputs_folder, "worldcover") == 40)
    assert np.all(_read(inputs_folder, "landcover") == 1)
    npp = _read(inputs_folder, "npp")  # raw 2000..8000 × 0.0001 kg C × 1000 -> 200..800 g C
    assert 200.0 <= np.nanmin(npp) and np.nanmax(npp) <= 800.0
    ndvi = _read(inputs_folder, "ndvi")  # raw ≤ 7600 in season, cloud/fill masked
    assert 0.15 <= np.nanmin(ndvi) and np.nanmax(ndvi) <= 0.7600001
    assert fx.dem_full is not None
    dem = _read(inputs_folder, "dem")
    assert fx.dem_full.min() - 1 <= np.nanmin(dem) and np.nanmax(dem) <= fx.dem_full.max() + 1


def test_manifest_items_sources_and_erosion_settings(inputs_folder: Path) -> None:
    man = json.loads((inputs_folder / "inputs.json").read_text())
    ndvi = man["files"]["ndvi"]
    assert ndvi["recipe"] == "modis-13q1.ndvi" and ndvi["recipe_version"] == "1"
    assert [i["id"].split(".")[1] for i in ndvi["items"]] == ["A2021097", "A2021113", "A2021129"]
    assert ndvi["items"][0]["datetime"].startswith("2021-04-07")
    assert man["files"]["landcover"]["items"][0]["id"] == "ESA_WorldCover_10m_2021_v200_N36E111"
    assert man["files"]["aridity"]["derived_from"] == ["ppt", "tmax", "tmin"]
    assert "Selyaninov" in man["files"]["aridity"]["method"]
    assert "FAO-56" in man["files"]["wind2m_monthly"]["method"]
    assert "Cosby" in man["files"]["infiltration"]["method"]
    recipes = {s["recipe"]: s for s in man["sources"]}
    assert {"cop-dem.glo30", "modis-13q1.ndvi", "soilgrids.sand", "wind-days.weibull"} <= set(
        recipes
    )
    assert recipes["soilgrids.sand"]["licence"] == "CC-BY-4.0"
    assert "2021" in recipes["esa-worldcover.map"]["attribution"]
    assert all(s["licence"] and s["attribution"] for s in man["sources"])
    settings = tomllib.loads((inputs_folder / "erosion.toml").read_text())
    assert settings["r_monthly"] == "precip_monthly.tif" and "r_daily" not in settings
    assert settings["texture"] == {
        "sand": "sand.tif", "silt": "silt.tif", "clay": "clay.tif", "soc": "soc.tif"
    }  # fmt: skip
    table = inputs_folder / settings["landcover_table"]["path"]
    assert table.read_text().splitlines()[0] == "lucode,name_en,usle_c,usle_p"


def test_county_reads_only_its_windows_and_a_warm_rerun_reads_nothing(
    fx: Fixture, server: FixtureServer, base: str, tmp_path: Path
) -> None:
    cold = ProgressTotals()
    build_fixture_inputs(
        base + "catalog.json", tmp_path / "a", cache=tmp_path / "cache", fetch_progress=cold
    )
    hits = server.log.snapshot()
    tifs = [h for h in hits if h.path.endswith(".tif")]
    assert tifs and all(h.range is not None and h.status == 206 for h in tifs if h.method == "GET")
    names = {h.path.rsplit("/", 1)[1] for h in tifs}
    assert not any(".h27v05." in n or "MYD" in n or "A2021337" in n for n in names)
    assert not any("E114" in n or "2020_v100" in n for n in names)
    for name in (n for n in names if n.endswith("_NDVI.tif")):
        sent = sum(h.nbytes for h in tifs if h.path.endswith(name))
        assert sent < 0.3 * fx.tile_bytes[name], (name, sent)
    assert cold.remote_bytes > 0
    server.log.clear()
    warm = ProgressTotals()
    build_fixture_inputs(
        base + "catalog.json", tmp_path / "b", cache=tmp_path / "cache", fetch_progress=warm
    )
    assert server.log.snapshot() == []
    assert warm.remote_bytes == 0 and warm.cached_bytes > 0
    for name in ("ndvi", "precip_monthly", "sand", "landcover"):
        a, b = (json.loads((tmp_path / x / "inputs.json").read_text()) for x in ("a", "b"))
        assert a["files"][name]["sha256"] == b["files"][name]["sha256"], name


def test_missing_item_is_named_and_nothing_is_left(fx: Fixture, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    shutil.copytree(fx.root, root)
    item = "MOD13Q1.A2021113.h26v05.061.2021200000000"
    (root / "modis-13Q1-061" / item / f"{item}_250m_16_days_NDVI.tif").unlink()
    out = tmp_path / "out"
    for srv in serve(root):
        with pytest.raises(RemoteSourceError) as err:
            build_fixture_inputs(srv.url + "/catalog.json", out)
    text = str(err.value)
    assert "'modis-13Q1-061'" in text and f"'{item}'" in text and "mirror" in text
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mirror"]


def test_partial_coverage_follows_the_99_percent_rule(
    fx: Fixture, server: FixtureServer, base: str, tmp_path: Path
) -> None:
    # 0.3° further west: the fixture's NPP has a "barren" (32765) patch there on cropland
    box = (112.85, 38.05, 113.15, 38.35)
    kw = {"cache": tmp_path / "cache"}
    with pytest.raises(PartialCoverage, match=r"npp misses \d+\.\d %"):
        build_fixture_inputs(base + "catalog.json", tmp_path / "strict", box=box, **kw)
    assert not (tmp_path / "strict").exists()
    stack = build_fixture_inputs(
        base + "catalog.json", tmp_path / "partial", box=box, allow_partial=True, **kw
    )
    entry = stack.manifest["files"]["npp"]
    # the missing share, recounted here from the written file and the AOI
    with rasterio.open(tmp_path / "partial" / "npp.tif") as ds:
        npp = ds.read(1, masked=True)
        grid = Grid(ds.transform, ds.width, ds.height, ds.crs)
    aoi = resolve_aoi(shapely.box(*box)).geometry
    inside = ~geometry_mask([aoi], grid.shape, grid.transform)
    missing = float(np.ma.getmaskarray(npp)[inside].mean())
    assert 0.01 < missing < 0.5
    assert entry["missing_share"] == pytest.approx(missing, abs=1e-6)


def test_the_folder_feeds_erosion_desertification_and_evaluation(
    inputs_folder: Path, tmp_path: Path
) -> None:
    """The folder as the analyses read it: erosion from its ``erosion.toml`` (R by Fournier
    from the monthly rain, checked by hand), desertification from its NDVI, and the
    evaluation with every input taken from the folder (units as the science checks them)."""
    from geoeco.erosion.config import load_config
    from geoeco.erosion.desertification import run_desertification
    from geoeco.erosion.run import run_erosion
    from geoeco.evaluation.config import demo_evaluation_config
    from geoeco.evaluation.run import run_evaluation

    run_erosion(
        inputs_folder / "dem.tif",
        load_config(inputs_folder / "erosion.toml", factors=True),
        tmp_path / "erosion",
    )
    # monthly rain 110..220 mm: F = Σp²/Σp = 341000 / 1980; R = 0.1833·F^1.9957 (Loess Plateau)
    r_hand = 0.1833 * (341000 / 1980) ** 1.9957
    np.testing.assert_allclose(_read(tmp_path, "erosion/r"), r_hand, rtol=1e-4)
    run_desertification(inputs_folder / "ndvi.tif", tmp_path / "desertification")
    cfg = demo_evaluation_config(tmp_path, layers=inputs_folder)
    result = run_evaluation(
        tmp_path / "evaluation", grid_from=inputs_folder / "dem.tif", inputs=cfg
    )
    services = result.summary()["services"]
    assert set(services["computed"]) == {
        "soil_conservation", "sand_fixation", "water_conservation", "biodiversity"
    } and not services["skipped"]  # fmt: skip
    for name in ("sensitivity_sanding", "sensitivity_soil_erosion", "importance_max", "fq"):
        values = _read(tmp_path, f"evaluation/{name}")
        assert np.isfinite(values).mean() > 0.99, name


def test_sentinel2_ndvi_for_a_small_area(base: str, tmp_path: Path) -> None:
    """``ndvi="sentinel-2"``: the 10 m L2A scenes give the NDVI (the fixture's scenes: NDVI
    (3000-1000)/(3000+1000) = 0.5 for the baseline-03.01 scene, (4000-1000)/(4000+1000) = 0.6
    after the 04.00 offset, the 80 % cloudy scene skipped; growing-season maximum 0.6), and the
    manifest names the Sentinel-2 recipe and its items."""
    box = (113.005, 38.003, 113.045, 38.044)  # inside the UTM 49N scenes and the DEM tile
    out = tmp_path / "s2"
    build_fixture_inputs(base + "catalog.json", out, res=30.0, box=box, ndvi="sentinel-2")
    man = json.loads((out / "inputs.json").read_text())
    assert man["files"]["ndvi"]["recipe"] == "sentinel-2-l2a.ndvi"
    assert "sentinel-2-l2a.ndvi" in {s["recipe"] for s in man["sources"]}
    with rasterio.open(out / "ndvi.tif") as ds:
        ndvi = ds.read(1, masked=True)
    aoi = resolve_aoi(shapely.box(*box))
    inside = ~geometry_mask([aoi.geometry], ndvi.shape, ds.transform, invert=False)
    values = ndvi[inside & ~np.ma.getmaskarray(ndvi)]
    assert values.size > 100
    assert float(values.max()) == pytest.approx(0.6, abs=1e-3)
    assert float(values.min()) >= 0.5 - 1e-3  # never the skipped cloudy scene's 0.8


def test_sentinel2_ndvi_is_refused_for_a_large_area(tmp_path: Path) -> None:
    from geoeco.core.errors import InvalidInput
    from geoeco.workflows.build_inputs import build_inputs

    with pytest.raises(InvalidInput, match="Sentinel-2 NDVI is for areas up to 1,000 km²"):
        build_inputs("610802", year=2021, out=tmp_path / "o", ndvi="sentinel-2")
    assert not (tmp_path / "o").exists()
