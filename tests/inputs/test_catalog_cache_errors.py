"""Catalog access (API search with paging, static catalogs on disk and over HTTP), the
allow-list, signing, the window cache, clear errors and the provenance record."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geoeco.core.errors import ManifestError, RemoteSourceError, UnsafeDataSource
from geoeco.inputs.cache import ProgressTotals, WindowCache
from geoeco.inputs.config import CatalogConfig
from geoeco.inputs.fetch import fetch_input
from geoeco.inputs.recipes import get_recipe, load_recipes, recipes_from_toml
from geoeco.inputs.signing import SasTokenSigner, fetch_json_with_retries
from geoeco.inputs.stac import StacCatalog, select_items

from .conftest import FAST
from .fixture import Fixture, albers_grid
from .rangeserver import FixtureServer, serve

BOX = (112.6, 37.7, 113.4, 38.3)


def _ids(items) -> list[str]:
    return sorted(i.id for i in items)


def test_api_search_pages_through_next_links_and_matches_the_static_catalog(
    fx: Fixture, server: FixtureServer, api_http: CatalogConfig, static_http: CatalogConfig
) -> None:
    api = StacCatalog(api_http, page_size=2)
    found = api.search("modis-13Q1-061", BOX, date(2021, 4, 1), date(2021, 10, 31))
    pages = [h for h in server.log.snapshot() if "/api/search" in h.path]
    assert len(pages) == 4  # 8 items in season (4 dates × 2 tiles), 2 per page
    assert len(found) == 8 and all(i.assets["250m_16_days_NDVI"].startswith("http") for i in found)
    static = StacCatalog(static_http).search(
        "modis-13Q1-061", BOX, date(2021, 4, 1), date(2021, 10, 31)
    )
    local = StacCatalog(CatalogConfig.local(fx.root)).search(
        "modis-13Q1-061", BOX, date(2021, 4, 1), date(2021, 10, 31)
    )
    assert _ids(found) == _ids(static) == _ids(local)


def test_season_rule_picks_terra_composites_of_the_season(static_http: CatalogConfig) -> None:
    items = StacCatalog(static_http).search("modis-13Q1-061", BOX)
    steps = select_items(get_recipe("modis-13q1.ndvi").temporal, items, 2021)
    assert [s.label for s in steps] == ["2021-04-07", "2021-04-23", "2021-05-09"]
    assert all(i.id.startswith("MOD13Q1") for s in steps for i in s.items)
    npp = StacCatalog(static_http).search("modis-17A3HGF-061", BOX)
    (step,) = select_items(get_recipe("modis-17a3hgf.npp").temporal, npp, 2021)
    assert [i.id[:18] for i in step.items] == ["MOD17A3HGF.A202100"]


def test_same_results_from_api_static_http_and_local_mirror(
    fx: Fixture, api_http: CatalogConfig, static_http: CatalogConfig
) -> None:
    grid = albers_grid(113.0, 38.0, 15000, 500)
    arrays = [
        fetch_input("modis-17a3hgf.npp", grid, year=2021, catalog=c, options=FAST).raster.array
        for c in (api_http, static_http, CatalogConfig.local(fx.root))
    ]
    for a in arrays[1:]:
        np.testing.assert_array_equal(a.filled(np.nan), arrays[0].filled(np.nan))


def test_warm_cache_reads_nothing_remote(
    server: FixtureServer, static_http: CatalogConfig, tmp_path: Path
) -> None:
    grid = albers_grid(113.0, 38.0, 20000, 250)
    cold_cache = WindowCache(tmp_path / "c")
    cold = fetch_input(
        "modis-13q1.ndvi", grid, year=2021, catalog=static_http, cache=cold_cache, options=FAST
    )
    assert len(server.log.snapshot()) > 10
    server.log.clear()
    progress = ProgressTotals()
    warm = fetch_input(
        "modis-13q1.ndvi",
        grid,
        year=2021,
        catalog=static_http,
        cache=WindowCache(tmp_path / "c"),
        progress=progress,
        options=FAST,
    )
    assert server.log.snapshot() == []
    assert progress.remote_bytes == 0 and progress.cached_bytes > 0
    np.testing.assert_array_equal(
        warm.raster.array.filled(np.nan), cold.raster.array.filled(np.nan)
    )
    assert warm.record.data_sha256 == cold.record.data_sha256


def test_warm_cache_for_zarr_and_vrt_too(
    server: FixtureServer, static_http: CatalogConfig, soil_http: CatalogConfig, cache
) -> None:
    grid = albers_grid(113.0, 38.0, 20000, 1000)
    for rid, cat in (("terraclimate.ws", static_http), ("soilgrids.clay", soil_http)):
        fetch_input(rid, grid, year=2021, catalog=cat, cache=cache, options=FAST)
    server.log.clear()
    for rid, cat in (("terraclimate.ws", static_http), ("soilgrids.clay", soil_http)):
        fetch_input(rid, grid, year=2021, catalog=cat, cache=cache, options=FAST)
    assert server.log.snapshot() == []


def _copy_catalog(fx: Fixture, dest: Path) -> Path:
    shutil.copytree(fx.root, dest, ignore=shutil.ignore_patterns("*.zarr", "soilgrids"))
    return dest


def test_missing_tile_names_catalog_collection_and_item(fx: Fixture, tmp_path: Path) -> None:
    root = _copy_catalog(fx, tmp_path / "mirror")
    item = "Copernicus_DSM_COG_10_N38_00_E114_00_DEM"
    (root / "cop-dem-glo-30" / item / f"{item}.tif").unlink()
    for srv in serve(root):
        cat = CatalogConfig.http_mirror(srv.url + "/catalog.json", name="broken-mirror")
        with pytest.raises(RemoteSourceError) as err:
            fetch_input(
                "cop-dem.glo30",
                albers_grid(114.0, 38.5, 20000, 90),
                year=2021,
                catalog=cat,
                options=FAST,
            )
    text = str(err.value)
    assert "'broken-mirror'" in text and "'cop-dem-glo-30'" in text and f"'{item}'" in text
    assert "missing" in text


def test_unreachable_asset_is_retried_then_named(fx: Fixture, tmp_path: Path) -> None:
    root = _copy_catalog(fx, tmp_path / "mirror")
    item = "MOD17A3HGF.A2021001.h26v05.061.2022020000000"
    for srv in serve(root):
        path = f"/modis-17A3HGF-061/{item}/{item}_Npp_500m.tif"
        srv.fail_paths.add(path)
        cat = CatalogConfig.http_mirror(srv.url + "/catalog.json", name="flaky")
        with pytest.raises(RemoteSourceError, match=f"'flaky'.*'modis-17A3HGF-061'.*'{item}'"):
            fetch_input(
                "modis-17a3hgf.npp",
                albers_grid(113.0, 38.0, 10000, 500),
                year=2021,
                catalog=cat,
                options=FAST,
            )
        tries = [h for h in srv.log.snapshot() if h.path == path]
        assert len(tries) >= 2 and {h.status for h in tries} == {503}


def test_no_item_for_the_year_and_unreachable_catalog(static_http: CatalogConfig) -> None:
    grid = albers_grid(113.0, 38.0, 10000, 500)
    with pytest.raises(RemoteSourceError, match="'modis-17A3HGF-061': no item for 2019"):
        fetch_input("modis-17a3hgf.npp", grid, year=2019, catalog=static_http, options=FAST)
    closed = CatalogConfig.http_mirror("http://127.0.0.1:9/catalog.json", name="down")
    with pytest.raises(RemoteSourceError, match="'down'"):
        fetch_input("modis-17a3hgf.npp", grid, year=2021, catalog=closed, options=FAST)


def test_an_item_pointing_outside_the_allow_list_is_refused(fx: Fixture, tmp_path: Path) -> None:
    root = _copy_catalog(fx, tmp_path / "mirror")
    item = "MOD17A3HGF.A2021001.h26v05.061.2022020000000"
    path = root / "modis-17A3HGF-061" / item / f"{item}.json"
    doc = json.loads(path.read_text())
    doc["assets"]["Npp_500m"]["href"] = "http://127.0.0.1:9/elsewhere/npp.tif"
    path.write_text(json.dumps(doc))
    with pytest.raises(UnsafeDataSource, match="outside the catalog's allowed locations"):
        fetch_input(
            "modis-17a3hgf.npp",
            albers_grid(113.0, 38.0, 10000, 500),
            year=2021,
            catalog=CatalogConfig.local(root),
            options=FAST,
        )


def test_signing_step_is_used_for_requests_but_not_recorded(
    server: FixtureServer, static_http: CatalogConfig
) -> None:
    class Tag:
        def sign(self, href: str) -> str:
            return href + "?sig=secret"

    got = fetch_input(
        "modis-17a3hgf.npp",
        albers_grid(113.0, 38.0, 10000, 500),
        year=2021,
        catalog=static_http,
        options=FAST,
        signer=Tag(),
    )
    tifs = [h.path for h in server.log.snapshot() if ".tif" in h.path]
    assert tifs and all(p.endswith("?sig=secret") for p in tifs)
    assert "secret" not in got.record.model_dump_json()


def test_sas_signer_against_a_loopback_token_service(tmp_path: Path) -> None:
    tokens = tmp_path / "sas" / "modiseuwest"
    tokens.mkdir(parents=True)
    (tokens / "modis-061-cogs").write_text(
        json.dumps({"token": "st=1&se=2&sig=abc", "msft:expiry": "2999-01-01T00:00:00Z"})
    )
    for srv in serve(tmp_path):
        signer = SasTokenSigner(srv.url + "/sas/", fetch_json=fetch_json_with_retries)
        href = "https://modiseuwest.blob.core.windows.net/modis-061-cogs/MOD13Q1/a.tif"
        assert signer.sign(href) == href + "?st=1&se=2&sig=abc"
        assert signer.sign(href + "?st=9&se=9&sp=r") == href + "?st=9&se=9&sp=r"  # already
        signer.sign(href.replace("a.tif", "b.tif"))
        assert len(srv.log.snapshot()) == 1  # one token per account/container
        with pytest.raises(RemoteSourceError, match="token service"):
            SasTokenSigner(
                srv.url + "/nope/",
                fetch_json=lambda u: fetch_json_with_retries(u, retries=1, backoff_s=0.01),
            ).sign(href)


def test_token_is_renewed_a_minute_before_expiry() -> None:
    now = [1_000.0]
    calls: list[str] = []

    def fake(url: str) -> dict[str, str]:
        calls.append(url)
        return {"token": f"sig={len(calls)}", "msft:expiry": "1970-01-01T00:20:00Z"}  # t=1200

    s = SasTokenSigner("https://t.example/", fetch_json=fake, clock=lambda: now[0])
    href = "https://acct.blob.core.windows.net/c/x.tif"
    assert s.sign(href).endswith("sig=1")
    now[0] = 1_130.0  # 70 s left: reused
    assert s.sign(href).endswith("sig=1")
    now[0] = 1_150.0  # 50 s left: renewed
    assert s.sign(href).endswith("sig=2")


def test_record_of_a_fetch(static_http: CatalogConfig, tmp_path: Path) -> None:
    out = tmp_path / "layers" / "npp.tif"
    got = fetch_input(
        "modis-17a3hgf.npp",
        albers_grid(113.0, 38.0, 15000, 500),
        year=2021,
        catalog=static_http,
        options=FAST,
        out=out,
    )
    rec = got.record
    assert rec.status == "real" and rec.recipe == "modis-17a3hgf.npp" and rec.recipe_version == "1"
    assert rec.items[0].id == "MOD17A3HGF.A2021001.h26v05.061.2022020000000"
    assert rec.items[0].start.startswith("2021-01-01")
    assert rec.file_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert "LP DAAC" in rec.licence and "10.5067/MODIS/MOD17A3HGF.061" in rec.citation
    assert rec.coverage + rec.missing_share == pytest.approx(1.0)
    with rasterio.open(out) as ds:
        np.testing.assert_allclose(
            ds.read(1, masked=True).filled(np.nan), got.raster.array.filled(np.nan), rtol=1e-6
        )
    assert set(rec.sources) >= {"catalog", "collection", "licence", "attribution", "resampling"}


def test_wind_days_derivation_record_and_value(static_http: CatalogConfig) -> None:
    got = fetch_input(
        "wind-days.weibull",
        albers_grid(113.0, 38.0, 20000, 1000),
        year=2021,
        catalog=static_http,
        options=FAST,
    )
    # fixture ws: Dec 2020 5.0, Jan–May 2021 2.25 … 3.25 m/s. By hand, c = u / Γ(1.5),
    # P = exp(−(6/c)²): 31·0.3227 + 31·0.00375 + 28·0.01085 + 31·0.02379 + 30·0.04321
    # + 31·0.06877 = 14.589 days
    assert np.allclose(got.raster.array, 14.589, atol=0.01)
    assert got.record.tag == "R" and got.record.derived_from == "terraclimate.ws"
    assert got.record.steps == ("2020-12", "2021-01", "2021-02", "2021-03", "2021-04", "2021-05")


def test_every_recipe_cites_its_facts_and_the_issue_sources_exist() -> None:
    recipes = load_recipes()
    need = {
        "cop-dem.glo30",
        "cop-dem.glo90",
        "modis-13q1.ndvi",
        "sentinel-2-l2a.ndvi",
        "esa-worldcover.map",
        "modis-17a3hgf.npp",
        "soilgrids.sand",
        "soilgrids.silt",
        "soilgrids.clay",
        "soilgrids.soc",
        "wind-days.weibull",
    } | {f"terraclimate.{v}" for v in ("ppt", "tmax", "tmin", "vap", "ws", "pet")}
    assert need <= set(recipes)
    for r in recipes.values():
        assert r.licence and r.attribution and r.version
        for a in r.assets.values():
            assert len(a.source) > 10
        assert len(r.temporal.source) > 10


def test_a_recipe_without_a_source_note_is_refused() -> None:
    text = """
name = "x"
title = "x"
version = "1"
reader = "stac-cog"
catalog = "planetary-computer"
collection = "c"
resampling = "continuous"
licence = "CC0"
attribution = "a"
[temporal]
kind = "static"
source = "static product"
[sources]
catalog = "somewhere"
licence = "somewhere"
attribution = "somewhere"
resampling = "somewhere"
[layers.v.assets.value]
key = "data"
dtype = "int16"
units = "m"
source = "somewhere"
"""
    cited = text.replace('catalog = "somewhere"\n', 'catalog = "somewhere"\ncollection = "here"\n')
    assert set(recipes_from_toml(cited, what="t.toml")) == {"x.v"}
    with pytest.raises(ManifestError, match="facts without a source note: collection"):
        recipes_from_toml(text, what="t.toml")


def test_allow_list_rules() -> None:
    from geoeco.inputs.config import is_allowed

    ok = ("http://127.0.0.1:8000/mirror/",)
    assert is_allowed("http://127.0.0.1:8000/mirror/a/b.tif", ok)
    assert not is_allowed("http://127.0.0.1:8000/mirror/../secret.tif", ok)
    assert not is_allowed("http://127.0.0.1:8000/mirror/%2e%2e/secret.tif", ok)
    assert not is_allowed("http://user@127.0.0.1:8000/mirror/a.tif", ok)
    assert not is_allowed("http://127.0.0.1:8000/mirrorx/a.tif", ok)
    assert not is_allowed("https://127.0.0.1:8000/mirror/a.tif", ok)
    assert not is_allowed("/vsicurl/http://127.0.0.1:8000/mirror/a.tif", ok)
    with pytest.raises(ValueError, match="ending in '/'"):
        CatalogConfig(name="x", kind="static", url="u", allowed_prefixes=("https://h.example",))
