"""Remote windowed reads over loopback HTTP: the right items and windows, range requests only,
scale factors, fill values and QA applied, seamless mosaics, compositing, UTM and Zarr/VRT
readers. Expected values come from the fixture's un-tiled arrays (numpy max + a plain warp of
the whole source) or by hand from the constants the fixture wrote."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geoeco.core.align import align_to
from geoeco.core.raster import Grid, Raster
from geoeco.inputs.cache import ProgressTotals
from geoeco.inputs.config import CatalogConfig
from geoeco.inputs.fetch import fetch_input

from .conftest import FAST
from .fixture import (
    NDVI_DATES,
    SINU,
    SOIL_CENTRE,
    Fixture,
    albers_grid,
    terraclimate_value,
)
from .rangeserver import FixtureServer

#: A 40 km "county" (1600 km²) inside MODIS tile h26v05.
COUNTY = (113.0, 38.0)
#: A county on the h26v05 / h27v05 seam (x = 10 007 554.677 m is 114.21°E at 38°N).
SEAM = (114.21, 38.0)


def _tif_hits(server: FixtureServer) -> list:
    return [h for h in server.log.snapshot() if h.path.endswith(".tif")]


def _reference_ndvi(fx: Fixture, grid: Grid) -> np.ndarray:
    """Max over the three Terra dates of QA-passed NDVI, from the un-tiled arrays."""
    layers = []
    for doy in NDVI_DATES:
        raw = fx.ndvi_full[doy].astype("float64")
        ok = np.isin(fx.ndvi_reliability[doy], (0, 1)) & (raw >= -2000) & (raw <= 10000)
        layers.append(np.where(ok, raw * 1e-4, np.nan))
    full = np.nanmax(np.stack(layers), axis=0)
    g = Grid(fx.ndvi_lattice, full.shape[1], full.shape[0], SINU)
    out = align_to(
        Raster(np.ma.masked_invalid(full.astype("float32")), g), grid, resampling="bilinear"
    )
    return np.ma.filled(out.array, np.nan)


def test_county_inside_one_tile_reads_only_its_windows(
    fx: Fixture, server: FixtureServer, static_http: CatalogConfig, cache
) -> None:
    grid = albers_grid(*COUNTY, 20000, 250)
    got = fetch_input(
        "modis-13q1.ndvi", grid, year=2021, catalog=static_http, cache=cache, options=FAST
    )
    hits = _tif_hits(server)
    assert hits and all(h.range is not None and h.status == 206 for h in hits if h.method == "GET")
    paths = {h.path.rsplit("/", 1)[1] for h in hits}
    # only NDVI and reliability of the three Terra dates of h26 (the county is inside h26)
    expected = {
        f"MOD13Q1.A{d}.h26v05.061.2021200000000_250m_16_days_{k}.tif"
        for d in NDVI_DATES
        for k in ("NDVI", "pixel_reliability")
    }
    assert paths == expected
    for name in (n for n in expected if n.endswith("NDVI.tif")):  # reliability files are
        sent = sum(h.nbytes for h in hits if h.path.endswith(name))  # 10 KB: header-sized
        # the fixture tile is 232 × 139 km, so a 40 km county is 1/20 of it; with whole
        # 128-px blocks, the header and the resampling margin it reads under 30 %
        assert sent < 0.3 * fx.tile_bytes[name], (name, sent, fx.tile_bytes[name])
    assert [i.id.split(".")[1] for i in got.record.items] == [f"A{d}" for d in NDVI_DATES]
    ref = _reference_ndvi(fx, grid)
    np.testing.assert_allclose(np.ma.filled(got.raster.array, np.nan), ref, atol=1e-5)


def test_scale_fill_and_qa_are_applied(fx: Fixture, static_http: CatalogConfig) -> None:
    grid = albers_grid(*COUNTY, 30000, 250)
    values = fetch_input("modis-13q1.ndvi", grid, year=2021, catalog=static_http, options=FAST)
    arr = values.raster.array
    # raw field ≤ 7000 + 600 (last date): a cloudy 9500 (reliability 3) or an Aqua/December
    # value (base + 2500) leaking in would exceed 0.76
    assert float(arr.max()) <= 0.7600001
    assert float(arr.min()) >= 0.15  # a −3000 fill leaking in would give −0.3
    # the constant 5000 patch: 0.5 exactly wherever a target pixel's kernel is inside it
    assert np.isclose(arr, 0.5, atol=1e-6).sum() > 50
    assert values.record.coverage == 1.0


def test_mosaic_across_the_modis_tile_seam_is_seamless(
    fx: Fixture, server: FixtureServer, static_http: CatalogConfig
) -> None:
    grid = albers_grid(*SEAM, 30000, 250)
    got = fetch_input("modis-13q1.ndvi", grid, year=2021, catalog=static_http, options=FAST)
    tiles = {h.path.split(".")[2] for h in _tif_hits(server) if "NDVI" in h.path}
    assert tiles == {"h26v05", "h27v05"}
    values = np.ma.filled(got.raster.array, np.nan)
    assert not np.isnan(values).any()
    np.testing.assert_allclose(values, _reference_ndvi(fx, grid), atol=1e-5)


def test_dem_mosaic_of_two_degree_tiles_matches_the_untiled_source(
    fx: Fixture, server: FixtureServer, static_http: CatalogConfig
) -> None:
    grid = albers_grid(114.0, 38.5, 20000, 90)  # straddles 114°E
    got = fetch_input("cop-dem.glo30", grid, year=2021, catalog=static_http, options=FAST)
    assert {h.path.rsplit("/", 1)[1] for h in _tif_hits(server)} == {
        "Copernicus_DSM_COG_10_N38_00_E113_00_DEM.tif",
        "Copernicus_DSM_COG_10_N38_00_E114_00_DEM.tif",
    }
    assert fx.dem_full is not None
    src = Raster.from_array(fx.dem_full, Grid(fx.dem_transform, 720, 360, "EPSG:4326"))
    ref = align_to(src, grid, resampling=got.record.resampling)  # type: ignore[arg-type]
    np.testing.assert_allclose(got.raster.array.filled(np.nan), ref.array.filled(np.nan), rtol=1e-6)
    assert got.record.coverage == 1.0 and got.record.units == "m"


def test_npp_scale_conversion_fill_codes_and_terra_year(
    fx: Fixture, server: FixtureServer, static_http: CatalogConfig
) -> None:
    assert fx.npp_raw is not None
    # a grid on the source lattice itself (sinusoidal, 463 m): values are raw × 0.1 exactly
    grid = Grid(fx.npp_transform, fx.npp_raw.shape[1], fx.npp_raw.shape[0], SINU)
    got = fetch_input("modis-17a3hgf.npp", grid, year=2021, catalog=static_http, options=FAST)
    raw = fx.npp_raw
    valid = raw < 32761
    np.testing.assert_allclose(got.raster.array[valid], raw[valid] * 0.1, rtol=1e-6)
    assert got.raster.array.mask[~valid].all()
    assert got.raster.units == "g C m-2 yr-1"
    assert math.isclose(got.record.coverage, valid.mean(), abs_tol=1e-6)
    assert math.isclose(got.record.missing_share, 1 - valid.mean(), abs_tol=1e-6)
    names = {h.path.rsplit("/", 1)[1] for h in _tif_hits(server)}
    assert names == {"MOD17A3HGF.A2021001.h26v05.061.2022020000000_Npp_500m.tif"}


def test_sentinel2_utm_ndvi_with_baseline_offset_scl_and_cloud_rule(
    server: FixtureServer, static_http: CatalogConfig
) -> None:
    grid = albers_grid(*COUNTY, 3000, 20)
    got = fetch_input("sentinel-2-l2a.ndvi", grid, year=2021, catalog=static_http, options=FAST)
    arr = got.raster.array
    # scene 1 (baseline 03.01): (3000-1000)/(3000+1000) = 0.5; scene 2 (04.00, DN-1000):
    # (4000-1000)/(4000+1000) = 0.6 outside its SCL cloud patch; the 80 % cloudy scene (0.8)
    # is skipped, so no pixel exceeds 0.6
    assert float(arr.max()) == pytest.approx(0.6, abs=1e-6)
    assert np.isclose(arr, 0.5, atol=1e-6).sum() > 100  # under the cloud patch
    assert np.isclose(arr, 0.6, atol=1e-6).mean() > 0.8
    requested = {h.path.split("/")[-2] for h in _tif_hits(server)}
    assert not any("20210801" in r for r in requested)
    assert {"B04.tif", "B08.tif", "SCL.tif"} == {
        h.path.rsplit("/", 1)[1] for h in _tif_hits(server)
    }


@pytest.mark.parametrize(
    ("year", "klass", "item"), [(2019, 10, "2020_v100"), (2022, 40, "2021_v200")]
)
def test_worldcover_edition_by_year(
    server: FixtureServer, static_http: CatalogConfig, year: int, klass: int, item: str
) -> None:
    grid = albers_grid(*COUNTY, 10000, 250)
    got = fetch_input("esa-worldcover.map", grid, year=year, catalog=static_http, options=FAST)
    assert set(np.unique(got.raster.array.compressed()).tolist()) == {klass}
    assert {h.path.split("/")[-2] for h in _tif_hits(server)} == {
        f"ESA_WorldCover_10m_{item}_N36E111"
    }
    edition_year = item[:4]
    assert f"({edition_year})" in got.record.attribution


def test_terraclimate_zarr_reads_one_chunk_per_variable_year(
    server: FixtureServer, static_http: CatalogConfig
) -> None:
    grid = albers_grid(*COUNTY, 30000, 1000)
    got = fetch_input("terraclimate.ppt", grid, year=2021, catalog=static_http, options=FAST)
    assert got.raster.band_names == tuple(f"2021-{m:02d}" for m in range(1, 13))
    for band, m in enumerate(range(1, 13)):
        assert np.allclose(got.raster.array[band], terraclimate_value("ppt", 2021, m))
    zarr = [
        h.path.split("terraclimate.zarr/")[1]
        for h in server.log.snapshot()
        if "terraclimate.zarr/" in h.path and h.status == 200
    ]
    data = {
        p
        for p in zarr
        if not p.startswith(".") and "/." not in p and p.split("/")[0] not in ("time", "lat", "lon")
    }
    # lat rows 41–55 and lon columns 39–56 of 96 × 120 lie in chunk (0, 0); 2021 is time chunk 1
    assert data == {"ppt/1.0.0"}
    assert ".zmetadata" in zarr and not any(p.startswith(("ws/", "tmax/")) for p in zarr)


def test_soilgrids_vrt_depth_weighted_and_unit_converted(
    server: FixtureServer, soil_http: CatalogConfig
) -> None:
    grid = albers_grid(*SOIL_CENTRE, 20000, 250)
    got = fetch_input("soilgrids.sand", grid, year=2021, catalog=soil_http, options=FAST)
    vals = got.raster.array.compressed()
    # 0–30 cm by thickness: (5·300 + 10·320 + 15·360)/30 g/kg = 336.67 → 33.667 %; where the
    # 0–5 cm layer is 0 (no data): (10·320 + 15·360)/25 = 344 → 34.4 % (blends at its edge)
    assert vals.min() == pytest.approx(100 / 3 + 1 / 3, abs=1e-4)
    assert vals.max() == pytest.approx(34.4, abs=1e-4)
    assert np.isclose(vals, 33.66667, atol=1e-4).mean() > 0.8
    assert np.isclose(vals, 34.4, atol=1e-4).sum() > 100
    assert got.raster.units == "%" and got.record.coverage == 1.0
    vrts = [h for h in server.log.snapshot() if h.path.endswith(".vrt")]
    assert {h.path.rsplit("/", 1)[1] for h in vrts} == {
        "sand_0-5cm_mean.vrt",
        "sand_5-15cm_mean.vrt",
        "sand_15-30cm_mean.vrt",
    }
    assert not any("/silt/" in h.path or "/clay/" in h.path for h in server.log.snapshot())


def test_progress_reports_items_and_bytes(static_http: CatalogConfig, cache) -> None:
    progress = ProgressTotals()
    grid = albers_grid(*SEAM, 30000, 250)
    fetch_input(
        "modis-13q1.ndvi",
        grid,
        year=2021,
        catalog=static_http,
        cache=cache,
        progress=progress,
        options=FAST,
    )
    # 3 dates × 2 tiles × (NDVI + reliability)
    assert (progress.planned, progress.done) == (12, 12)
    assert progress.remote_bytes > 0 and progress.cached_bytes == 0
