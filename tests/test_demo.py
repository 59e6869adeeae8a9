"""The synthetic demo region: grid, determinism, plausible values, manifests, idempotency.

Expected numbers come from the issue and the design notes of ``geoeco/demo.py`` (rainfall
≈250 mm NW to ≈450 mm SE, temperature ≈ −9 °C in January to 23 °C in July, slopes mostly
below 35°), from the soil-science definitions (USDA sand/silt/clay fractions sum to 100 %;
"sand" texture means sand ≥ 70 %), and from pyproj for the coordinates, an independent tool.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from geoeco.catalog.demo_region import (
    DEMO_CRS,
    DEMO_VARIABLES,
    LANDCOVER_CLASSES,
    TEXTURE_CLASSES,
    build_demo_region,
    demo_grid,
    generate_demo_layer,
)
from geoeco.catalog.layers import builtin_layers_dir, load_manifest
from geoeco.catalog.sources import layer_raster_path
from geoeco.core.errors import InvalidInput, OversizeRequest
from geoeco.core.io import raster_info

CROP, FOREST, GRASS, WATER, BUILT, SAND, BARE = range(1, 8)
MANIFESTS = sorted(builtin_layers_dir().glob("demo_*.toml"))


def read(folder: Path, var: str) -> np.ndarray:
    with rasterio.open(folder / f"{var}.tif") as ds:
        a = ds.read()
    return a[0] if a.shape[0] == 1 else a


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    return a[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def slope_deg(z: np.ndarray, res: float) -> np.ndarray:
    gy, gx = np.gradient(z.astype("float64"), res)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


# --------------------------------------------------------------------------- grid


def test_full_grid_is_100_km_at_90_m_centred_on_yulin():
    g = demo_grid("full")
    # 100 km // 90 m = 1111 pixels (99.99 km); EPSG:4546 = CGCS2000 / 3-degree GK CM 111E
    assert g.shape == (1111, 1111) and g.res == (90.0, 90.0)
    assert g.crs.to_epsg() == 4546 and DEMO_CRS == "EPSG:4546"
    assert g.transform.c == round(g.transform.c) and g.transform.f == round(g.transform.f)
    # pyproj puts Yulin (109.73 E, 38.28 N) at about (388876, 4239341) in EPSG:4546
    x, y = Transformer.from_crs(4490, 4546, always_xy=True).transform(109.73, 38.28)
    left, bottom, right, top = g.bounds
    assert abs((left + 50_000) - x) <= 1 and abs((top - 50_000) - y) <= 1
    assert demo_grid("full", 30).shape == (3333, 3333)


def test_small_grid_is_10_km_at_30_m_six_km_south_west_of_yulin(demo_small_dir):
    g = demo_grid("small")
    assert g.shape == (333, 333) and g.res == (30.0, 30.0)  # 10 km // 30 m = 333
    x, y = Transformer.from_crs(4490, 4546, always_xy=True).transform(109.73, 38.28)
    left, _, _, top = g.bounds
    cx, cy = left + 5000, top - 5000
    # 6 km towards the SW (225°): dx = dy = -6000/sqrt(2) = -4243 m (origin rounded to 1 m)
    assert math.hypot(cx - x, cy - y) == pytest.approx(6000, abs=2)
    assert cx - x == pytest.approx(-4243, abs=2) and cy - y == pytest.approx(-4243, abs=2)
    info = raster_info(demo_small_dir / "dem.tif")
    assert info.grid is not None and info.grid.aligned_with(g)


def test_climate_grids_share_the_origin_and_cover_the_extent(demo_small_dir):
    fine = demo_grid("small")
    for var, res, bands in [
        ("precip_monthly", 1000, 12),
        ("wind_days", 1000, 1),
        ("rain_daily", 1000, 1096),
    ]:
        info = raster_info(demo_small_dir / f"{var}.tif")
        assert info.grid is not None and info.grid.res == (res, res) and info.count == bands
        assert info.grid.transform.c == fine.transform.c
        assert info.grid.transform.f == fine.transform.f
        # ceil(9990 m / 1000 m) = 10 cells: the coarse grid covers the fine one
        assert info.grid.shape == (10, 10)


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_arrays_and_another_seed_differs(demo_small_dir, tmp_path):
    again = build_demo_region(tmp_path / "again", size="small")
    for var in DEMO_VARIABLES:
        assert np.array_equal(read(demo_small_dir, var), read(again[var].parent, var)), var
    meta1 = json.loads((demo_small_dir / "demo_region.json").read_text(encoding="utf-8"))
    meta2 = json.loads((tmp_path / "again" / "demo_region.json").read_text(encoding="utf-8"))
    assert meta1["files"] == meta2["files"]  # same data checksums
    other = build_demo_region(tmp_path / "other", size="small", seed=7)
    assert not np.array_equal(read(demo_small_dir, "dem"), read(other["dem"].parent, "dem"))
    assert not np.array_equal(
        read(demo_small_dir, "rain_daily"), read(other["dem"].parent, "rain_daily")
    )


def test_values_depend_on_the_place_not_on_the_grid_block(demo_small_dir):
    """Every field is a function of world coordinates: computing a larger window around the
    small one gives the same values on the shared pixels (so the small window is the same
    landscape as the middle of the full one, and strip-wise building changes nothing)."""
    from geoeco.catalog.demo_region import _centres, _fine_block, _world

    xs, ys = _centres(demo_grid("small"), halo=11)  # 10 extra pixels each side, plus halo
    block = _fine_block(_world(20240305), xs, ys, 30.0)
    inner = (slice(10, -10), slice(10, -10))
    np.testing.assert_allclose(block["dem"][inner], read(demo_small_dir, "dem"), atol=1e-3)
    assert np.array_equal(block["landcover"][inner], read(demo_small_dir, "landcover"))


# --------------------------------------------------------------------------- plausibility


def test_precipitation_rises_from_north_west_to_south_east(demo_small_dir):
    annual = read(demo_small_dir, "precip_monthly").sum(axis=0)
    h, w = annual.shape
    nw, se = annual[: h // 2, : w // 2].mean(), annual[h // 2 :, w // 2 :].mean()
    # 100 mm per 70.7 km along the NW-SE diagonal: the SE quadrant is ~7 mm wetter here
    assert nw < se
    assert 230 < annual.min() and annual.max() < 480
    monthly = read(demo_small_dir, "precip_monthly").mean(axis=(1, 2))
    assert monthly.argmax() in (6, 7)  # July or August peak
    assert monthly[6] + monthly[7] > 0.4 * monthly.sum()  # summer-concentrated


def test_temperature_humidity_wind_and_aridity_ranges(demo_small_dir):
    t = read(demo_small_dir, "temp_monthly").mean(axis=(1, 2))
    assert -10 < t[0] < -7 and 21 < t[6] < 25  # ≈ −9 °C January, ≈ 23 °C July
    rh = read(demo_small_dir, "rh_monthly")
    assert 0 < rh.min() and rh.max() < 1  # a fraction, not percent
    u2 = read(demo_small_dir, "wind2m_monthly").mean(axis=(1, 2))
    assert u2.argmax() in (2, 3, 4)  # spring is windiest
    assert 1.0 < u2.min() and u2.max() < 4.0
    wd = read(demo_small_dir, "wind_days")
    assert 5 < wd.min() and wd.max() < 60  # days in Dec–May (182 days at most)
    ar = read(demo_small_dir, "aridity")
    # 0.16·ΣT·d/ΣP for T ≥ 10 °C: ≈ 0.16·2970/(0.84·350) ≈ 1.6 at Yulin
    assert 1.2 < ar.min() and ar.max() < 2.6


def test_terrain_is_a_plateau_with_moderate_slopes(demo_small_dir):
    z = read(demo_small_dir, "dem")
    assert 950 < z.min() and z.max() < 1450  # Ordos plateau / loess hills, metres
    s = slope_deg(z, 30.0)
    assert np.percentile(s, 99) < 35  # "slopes mostly below ~35°"
    assert s.max() < 60


def test_land_cover_vegetation_and_soil_agree(demo_small_dir):
    lc = read(demo_small_dir, "landcover")
    ndvi = read(demo_small_dir, "ndvi")
    sand = read(demo_small_dir, "sand")
    present = set(np.unique(lc).tolist())
    assert present <= {c for c, *_ in LANDCOVER_CLASSES}
    assert {SAND, GRASS, CROP, FOREST, WATER} <= present  # the window straddles sand/loess
    assert ndvi[lc == SAND].mean() < ndvi[(lc == FOREST) | (lc == CROP)].mean()
    assert ndvi[lc == SAND].mean() < 0.2 and ndvi.min() >= -1 and ndvi.max() <= 1
    assert sand[lc == SAND].mean() > 70 > sand[(lc == CROP) | (lc == FOREST)].mean()
    npp = read(demo_small_dir, "npp")
    assert npp[lc == WATER].max() == 0 and npp[lc == FOREST].mean() > npp[lc == SAND].mean()


def test_steep_loess_slopes_are_vegetated_and_bare_land_is_rare(demo_small_dir):
    """Since Grain for Green (1999) steep loess slopes are mostly grass and shrub; bare loess
    is confined to gully walls (demo_region docstring). Slopes here by numpy's gradient, not
    the generator's Horn stencil."""
    lc = read(demo_small_dir, "landcover")
    steep = (slope_deg(read(demo_small_dir, "dem"), 30.0) > 24) & ~np.isin(lc, (SAND, WATER))
    assert steep.sum() > 200  # the loess hills are there (about 0.4 % of the pixels)
    assert np.isin(lc[steep], (GRASS, FOREST)).mean() > 0.9
    assert (lc == BARE).mean() < 0.001


def test_default_soil_loss_tail_is_plausible(demo_run_small):
    """Issue 14 item 6: with the default LS settings (slope length capped at 300 m, channels
    from 0.9 km²) at most 0.1 % of the demo's pixels lose more than 50,000 t/(km²·a) (SL 190's
    highest grade starts at 15,000). The share is counted here with numpy on the soil-loss
    raster read by rasterio, not taken from the run's summary; the small demo (30 m) spans
    the sand/loess line with loess hills, where the old bare steep slopes put 1.1 % of its
    pixels above 50,000."""
    summary = json.loads((demo_run_small / "erosion" / "summary.json").read_text("utf-8"))
    assert summary["ls"]["max_slope_length_m"] == 300.0
    assert summary["ls"]["channel_threshold_km2"] == pytest.approx(0.9)
    with rasterio.open(demo_run_small / "erosion" / "soil_loss.tif") as ds:
        loss = ds.read(1, masked=True)
    valid = loss.compressed()
    assert valid.size > 0.99 * loss.size  # the share is not made small by dropping pixels
    assert (valid > 50_000).mean() <= 0.001
    assert (valid > 15_000).mean() > 0.001  # steep loess still erodes severely


def test_texture_fractions_sum_to_100_and_classes_follow_them(demo_small_dir):
    sand, silt, clay = (read(demo_small_dir, v).astype("float64") for v in ("sand", "silt", "clay"))
    np.testing.assert_allclose(sand + silt + clay, 100.0, atol=0.01)
    assert min(sand.min(), silt.min(), clay.min()) >= 0
    tex = read(demo_small_dir, "texture_class")
    assert set(np.unique(tex).tolist()) <= {c for c, *_ in TEXTURE_CLASSES}
    assert (sand[tex == 5] >= 70).all()  # class 5 "sand" means sand ≥ 70 %
    soc = read(demo_small_dir, "soc")
    assert 0 < soc.min() and soc.max() < 3  # organic carbon %, semi-arid soils
    inf = read(demo_small_dir, "infiltration")
    # Cosby et al. (1984), in/h → mm/h, on grassland (no land-cover multiplier) off bedrock
    plain = (read(demo_small_dir, "landcover") == GRASS) & (tex != 1)
    cosby = 25.4 * 10 ** (-0.6 + 0.0126 * sand - 0.0064 * clay)
    np.testing.assert_allclose(inf[plain], cosby[plain], rtol=1e-4)
    # sand 70 %, clay 6 % gives 44 mm/h; loess (sand 28 %, clay 15 %) 11.5 mm/h
    assert inf[tex == 5].mean() > 2 * inf[tex == 4].mean()


def test_daily_rain_matches_monthly_climatology(demo_small_dir):
    rain = read(demo_small_dir, "rain_daily")
    with rasterio.open(demo_small_dir / "rain_daily.tif") as ds:
        names = ds.descriptions
    assert rain.shape[0] == 1096 == len(names)  # 365 + 365 + 366 (2020 is a leap year)
    assert names[0] == "2018-01-01" and names[-1] == "2020-12-31" and "2020-02-29" in names
    annual_rain = rain.sum(axis=0) / 3
    annual_clim = read(demo_small_dir, "precip_monthly").sum(axis=0)  # same 1 km grid here
    np.testing.assert_allclose(annual_rain, annual_clim, rtol=0.10)
    assert rain.min() >= 0
    erosive = (rain >= 12).sum(axis=0) / 3  # Zhang Wenbo's erosive-rain threshold
    assert erosive.min() >= 1 and erosive.mean() < 30
    wet_days = (rain > 0).sum(axis=0) / 3
    assert 40 < wet_days.mean() < 110  # a few tens of rain days a year in this climate


# --------------------------------------------------------------------------- manifests


def test_there_is_one_manifest_per_variable():
    assert sorted(p.stem.removeprefix("demo_") for p in MANIFESTS) == sorted(DEMO_VARIABLES)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.stem)
def test_manifest_matches_its_file(manifest, demo_small_dir):
    spec = load_manifest(manifest)
    assert spec.status == "synthetic" and spec.kind == "raster"
    assert spec.id == f"demo.{spec.variable}"
    assert spec.source.params == {"variable": spec.variable, "size": "full"}
    small = spec.source.model_copy(update={"params": {**spec.source.params, "size": "small"}})
    path = layer_raster_path(
        spec.model_copy(update={"source": small}), cache_dir=demo_small_dir.parent
    )
    assert path == demo_small_dir / f"{spec.variable}.tif"  # reused, not rebuilt elsewhere
    info = raster_info(path)
    assert info.grid is not None and info.grid.crs.to_epsg() == 4546
    assert spec.crs == "EPSG:4546"
    assert info.dtype == spec.expect.dtype and info.count == spec.expect.bands
    assert info.nodata == spec.nodata
    assert set(info.units) == {spec.units}
    if spec.band_names:
        assert tuple(info.band_names) == spec.band_names
    expected_resampling = "nearest" if spec.expect.dtype == "uint8" else "bilinear"
    assert spec.resampling == expected_resampling
    if spec.classes:
        values = set(np.unique(read(demo_small_dir, spec.variable)).tolist())
        assert values <= {c.code for c in spec.classes}


# --------------------------------------------------------------------------- caching, errors


def test_second_build_reuses_the_files(demo_small_dir):
    before = {p.name: p.stat().st_mtime_ns for p in demo_small_dir.iterdir()}
    calls = []
    paths = build_demo_region(demo_small_dir, size="small", progress=lambda n, f: calls.append(f))
    after = {p.name: p.stat().st_mtime_ns for p in demo_small_dir.iterdir()}
    assert after == before and calls == [1.0]
    assert set(paths) == set(DEMO_VARIABLES)
    meta = json.loads((demo_small_dir / "demo_region.json").read_text(encoding="utf-8"))
    assert meta["params"]["seed"] == 20240305 and meta["params"]["size"] == "small"
    assert len(meta["files"]["dem"]["data_sha256"]) == 64  # a sha256 of the array bytes


def test_other_parameters_rebuild_and_progress_is_reported(tmp_path):
    calls: list[tuple[str, float]] = []
    build_demo_region(tmp_path, size="small", res=250, progress=lambda n, f: calls.append((n, f)))
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) > 3
    first = (tmp_path / "dem.tif").stat().st_mtime_ns
    build_demo_region(tmp_path, size="small", res=500)  # other resolution: rebuilt
    assert (tmp_path / "dem.tif").stat().st_mtime_ns != first
    assert raster_info(tmp_path / "dem.tif").grid.shape == (20, 20)  # 10 km / 500 m


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="full' or 'small"):
        build_demo_region(tmp_path, size="huge")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="positive"):
        demo_grid("small", -30)
    with pytest.raises(OversizeRequest):
        demo_grid("full", 1)  # 1e10 pixels
    with pytest.raises(InvalidInput, match="unknown demo variable"):
        generate_demo_layer({"variable": "lai", "size": "small"}, tmp_path)
    with pytest.raises(InvalidInput, match="full' or 'small', got 'huge'"):
        generate_demo_layer({"variable": "dem", "size": "huge"}, tmp_path)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- full size


@pytest.mark.slow
def test_full_build_has_every_class(tmp_path):
    t0 = time.perf_counter()
    paths = build_demo_region(tmp_path, size="full")
    print(f"full demo build: {time.perf_counter() - t0:.1f} s")
    lc = read(tmp_path, "landcover")
    assert lc.shape == (1111, 1111)
    assert set(np.unique(lc).tolist()) == {c for c, *_ in LANDCOVER_CLASSES}
    assert set(np.unique(read(tmp_path, "texture_class")).tolist()) == {
        c for c, *_ in TEXTURE_CLASSES
    }
    annual = read(tmp_path, "precip_monthly").sum(axis=0)
    nw, se = annual[:50, :50].mean(), annual[50:, 50:].mean()
    # 350 ± 100·(s/70.7 km): quadrant means ≈ 300 (NW) and ≈ 400 (SE)
    assert 230 < nw < 330 and 370 < se < 480
    assert 230 < annual.min() and annual.max() < 480
    ar = read(tmp_path, "aridity")
    assert ar[:50, :50].mean() > ar[50:, 50:].mean()  # drier NW
    z = read(tmp_path, "dem")
    s = slope_deg(z, 90.0)
    assert np.median(s[:555, :555]) < np.median(s[556:, 556:])  # dunes vs dissected loess
    assert np.percentile(s, 99) < 35
    rain = read(tmp_path, "rain_daily")  # 10 km cells = 10 x 10 blocks of the 1 km grid
    np.testing.assert_allclose(rain.sum(axis=0) / 3, block_mean(annual, 10), rtol=0.10)
    assert paths["dem"] == tmp_path / "dem.tif"
