"""A zoning job's units, red line and restoration as Features collections under the job.

A successful job is made by hand as in ``test_ownership.py`` (the small demo run's ``zones``
folder copied in as results; no worker runs). Expected counts, ids and properties come from
``zones.gpkg`` read with geopandas, independently of the service's index. Who may read these
routes is checked with the other job reads in ``test_ownership.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings

from geoeco.service.job_model import new_job, result_manifest
from geoeco.workflows.demo_cache import ensure_demo_run

from .conftest import assert_problem

JOB, RUNNING = "d4" * 16, "e5" * 16
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    return ensure_demo_run(cache, "small") / "zones"


@pytest.fixture(scope="module")
def units(zones: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(zones / "zones.gpkg", layer="units")


def _finish(app: Any, job_id: str, zones: Path) -> None:
    svc = app.state.job_service
    svc.store.submit(new_job(job_id, "zoning", {"demo_size": "small", "n": job_id}))
    assert svc.store.claim("test-worker").id == job_id
    folder = svc.results_dir / job_id
    shutil.copytree(zones, folder)
    assert svc.store.finish(job_id, 1, files=result_manifest(folder), result={"units": {}})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, zones: Path) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("jobfeat")
    settings = Settings(
        data_dir=tmp / "data",
        layers_dir=tmp / "layers",
        cache_dir=tmp / "cache",
        rate_limit_per_minute=0,
        log_json=False,
        job_run_workers=False,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as c:
        _finish(app, JOB, zones)
        app.state.job_service.store.submit(new_job(RUNNING, "zoning", {"demo_size": "small"}))
        yield c


def test_results_link_the_collections(client: TestClient) -> None:
    links = client.get(f"/jobs/{JOB}/results").json()["links"]
    data = next(lk for lk in links if lk["rel"] == "data")
    assert data["href"].endswith(f"/jobs/{JOB}/collections")
    body = client.get(data["href"]).json()
    assert [c["id"] for c in body["collections"]] == ["units", "redline", "restoration"]
    assert all(c["itemType"] == "feature" for c in body["collections"])
    tiles = next(lk for lk in body["links"] if lk["rel"] == "tiles")
    assert tiles["href"].endswith(f"/jobs/{JOB}/tiles/{{output}}/{{z}}/{{x}}/{{y}}.png")


def test_units_items_match_the_geopackage(client: TestClient, units: gpd.GeoDataFrame) -> None:
    r = client.get(f"/jobs/{JOB}/collections/units/items")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["numberMatched"] == len(units) > 0
    assert [f["id"] for f in body["features"]] == list(units["code"].astype(str))
    first = body["features"][0]
    assert first["properties"]["unit_class"] == int(units["unit_class"].iloc[0])
    got = shapely.geometry.shape(first["geometry"])
    assert (
        got.symmetric_difference(units.geometry.iloc[0]).area < 1e-9 * units.geometry.iloc[0].area
    )


def test_paging_bbox_and_filters(client: TestClient, units: gpd.GeoDataFrame) -> None:
    url = f"/jobs/{JOB}/collections/units/items"
    page = client.get(url, params={"limit": 2, "offset": 2}).json()
    assert [f["id"] for f in page["features"]] == list(units["code"].astype(str)[2:4])
    c = units.geometry.iloc[0].representative_point()
    box = (c.x - 1e-4, c.y - 1e-4, c.x + 1e-4, c.y + 1e-4)
    expected = set(units.loc[units.intersects(shapely.box(*box)), "code"].astype(str))
    got = client.get(url, params={"bbox": ",".join(map(str, box))}).json()
    assert {f["id"] for f in got["features"]} == expected and units["code"].iloc[0] in expected
    cls = int(units["unit_class"].iloc[0])
    filt = client.get(url, params={"unit_class": cls}).json()
    assert filt["numberMatched"] == int((units["unit_class"] == cls).sum())
    assert client.get(url, params={"nope": 1}).status_code == 400


def test_one_unit_in_lat_lon(client: TestClient, units: gpd.GeoDataFrame) -> None:
    code = str(units["code"].iloc[0])
    r = client.get(f"/jobs/{JOB}/collections/units/items/{code}", params={"crs": EPSG4326})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{EPSG4326}>"
    lat, lon = shapely.geometry.shape(r.json()["geometry"]).centroid.coords[0]
    c = units.geometry.iloc[0].centroid
    assert (lon, lat) == pytest.approx((c.x, c.y), abs=1e-9)


def test_queryables_and_collection(client: TestClient, units: gpd.GeoDataFrame) -> None:
    q = client.get(f"/jobs/{JOB}/collections/units/queryables").json()
    assert q["properties"]["unit_class"]["type"] == "integer"
    assert q["properties"]["code"]["type"] == "string"
    assert set(q["properties"]) <= set(units.columns)
    col = client.get(f"/jobs/{JOB}/collections/redline").json()
    assert col["itemType"] == "feature" and col["storageCrs"].endswith("/4490")
    red = gpd.read_file(Path(client.app.state.job_service.results_dir) / JOB / "zones.gpkg",  # type: ignore[attr-defined]
                        layer="redline")  # fmt: skip
    assert col["extent"]["spatial"]["bbox"][0] == pytest.approx(list(red.total_bounds), abs=1e-6)


def test_unknown_collection_unknown_feature_and_unfinished_job(client: TestClient) -> None:
    assert_problem(client.get(f"/jobs/{JOB}/collections/dem/items"), 404)
    assert_problem(client.get(f"/jobs/{JOB}/collections/units/items/nope"), 404)
    assert_problem(client.get(f"/jobs/{RUNNING}/collections"), 404, "result-not-ready")
    assert_problem(client.get(f"/jobs/{'f6' * 16}/collections/units/items"), 404, "no-such-job")
    got = client.get(f"/jobs/{JOB}/collections/restoration/items").json()
    gpkg = Path(client.app.state.job_service.results_dir) / JOB / "zones.gpkg"  # type: ignore[attr-defined]
    restoration = gpd.read_file(gpkg, layer="restoration")
    # the small demo window is almost all priority protection (demo version 2): no key-control
    # cells, so its restoration layer is empty, and an empty layer is a collection of 0
    # features, not an error (tests/test_cli.py checks the full demo's non-empty layer)
    assert got["numberMatched"] == len(restoration) and got["features"] == []
