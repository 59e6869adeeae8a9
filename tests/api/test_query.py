"""``/query/point``, ``/screen``, ``/screen/batch`` on the SMALL demo run, and the access log.

The demo run is built once per test session into a shared cache folder (about 20 s); every
app here uses ``query_demo_size="small"``. Expected values are computed independently of the
service: unit membership and red-line shares with geopandas / shapely on ``zones.gpkg`` in the
equal-area EPSG:6933 projection, red-line pixels sampled with rasterio.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings
from pyproj import Transformer

from geoeco.service.job_model import new_job
from geoeco.workflows.demo_cache import ensure_demo_run

from .conftest import assert_problem


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: the small demo run is built here once."""
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    ensure_demo_run(cache, "small")
    return cache


@pytest.fixture(scope="module")
def zones(shared_cache: Path) -> Path:
    """The small demo run's zones folder."""
    return ensure_demo_run(shared_cache, "small") / "zones"


def make_settings(tmp_path: Path, cache: Path, **kw: Any) -> Settings:
    """Settings on tmp folders with the shared cache, small demo, rate limit off."""
    return Settings(
        data_dir=tmp_path / "data",
        layers_dir=tmp_path / "layers",
        cache_dir=cache,
        rate_limit_per_minute=0,
        query_demo_size="small",
        **kw,
    )


def make_client(settings: Settings) -> TestClient:
    """A client whose app runs no job workers (jobs are put into the store by hand)."""
    app = create_app(settings.model_copy(update={"job_run_workers": False}))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("query")
    with make_client(make_settings(tmp, shared_cache)) as c:
        yield c


def square(lon: float, lat: float, d: float) -> dict[str, Any]:
    """A GeoJSON square of side ``d`` degrees with its south-west corner at lon, lat."""
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


# --------------------------------------------------------------------------- point


def test_point_inside_matches_zones_gpkg(client: TestClient, zones: Path) -> None:
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4490)
    # the biggest unit's representative point lies inside exactly that unit
    big = units.loc[units.to_crs(6933).area.idxmax()]
    pt = big.geometry.representative_point()
    r = client.get("/query/point", params={"lon": pt.x, "lat": pt.y})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inside_analysed_area"] is True and body["message"] is None
    assert body["unit"]["code"] == big["code"]
    assert body["unit"]["unit_class"] == int(big["unit_class"])
    # red line: the pixel of redline.tif under the point (rasterio, independent of geoeco)
    with rasterio.open(zones / "redline.tif") as ds:
        x, y = Transformer.from_crs(4490, ds.crs, always_xy=True).transform(pt.x, pt.y)
        code = int(next(ds.sample([(x, y)]))[0])
    assert body["redline"]["inside"] is (code > 0)
    if code:
        assert body["redline"]["lxbm"] == code
    names = {v["layer"] for v in body["layers"]}
    assert {"zone_class", "redline", "restoration_rank"} <= names


def test_point_is_cached_and_warm(client: TestClient, zones: Path) -> None:
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4490)
    pt = units.geometry.iloc[0].representative_point()
    client.get("/query/point", params={"lon": pt.x, "lat": pt.y})
    cache = client.app.state.query_runs  # type: ignore[attr-defined]
    n = len(cache)
    for _ in range(5):
        assert client.get("/query/point", params={"lon": pt.x, "lat": pt.y}).status_code == 200
    assert len(cache) == n == 1  # opened once, reused


def test_point_outside_is_200_with_message(client: TestClient) -> None:
    r = client.get("/query/point", params={"lon": 100.0, "lat": 30.0})
    assert r.status_code == 200
    body = r.json()
    assert body["inside_analysed_area"] is False
    assert body["message"] == "outside the analysed area"
    assert body["unit"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 109.7, "lat": 95}, "query.lat"),
        ({"lon": 200, "lat": 38}, "query.lon"),
        ({"lon": "abc", "lat": 38}, "query.lon"),
        ({"lon": "nan", "lat": 38}, "query.lon"),
        ({"lon": 109.7}, "query.lat"),
        ({"lon": 109.7, "lat": 38.2, "crs": "EPSG:3857"}, "query.crs"),
        ({"lon": 109.7, "lat": 38.2, "run": "/vsicurl/http://evil/x"}, "query.run"),
        ({"lon": 109.7, "lat": 38.2, "run": "../../etc"}, "query.run"),
    ],
)
def test_point_bad_parameters_are_422_naming_the_field(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(client.get("/query/point", params=params), 422, "request-validation")
    assert field in body["detail"]
    assert any(e["field"] == field for e in body["errors"])


def test_point_on_unknown_or_unfinished_job(client: TestClient) -> None:
    r = client.get("/query/point", params={"lon": 109.7, "lat": 38.2, "run": "0" * 32})
    assert assert_problem(r, 404)["type"].endswith("no-such-job")
    svc = client.app.state.job_service  # type: ignore[attr-defined]
    svc.store.submit(new_job("a" * 32, "zoning", {}))
    r = client.get("/query/point", params={"lon": 109.7, "lat": 38.2, "run": "a" * 32})
    assert assert_problem(r, 404)["type"].endswith("result-not-ready")


# --------------------------------------------------------------------------- screen


def test_screen_polygon_shares_match_geopandas(client: TestClient, zones: Path) -> None:
    red = gpd.read_file(zones / "zones.gpkg", layer="redline").to_crs(4490)
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4490)
    c = units.union_all().centroid
    geom = square(c.x - 0.01, c.y - 0.01, 0.02)
    r = client.post("/screen", json={"geometry": geom, "buffer_m": 300})
    assert r.status_code == 200, r.text
    body = r.json()
    site = gpd.GeoSeries([shapely.geometry.shape(geom)], crs=4490).to_crs(6933)
    area = float(site.area.iloc[0]) / 1e6
    assert body["site"]["area_km2"] == pytest.approx(area, rel=5e-3)  # two equal-area CRSs
    inter = float(site.iloc[0].intersection(red.to_crs(6933).union_all()).area) / 1e6
    assert sum(o["share"] for o in body["redline"]) == pytest.approx(inter / area, abs=5e-3)
    assert sum(o["share"] for o in body["by_class"]) + body["outside_share"] == pytest.approx(1)
    assert body["site"]["buffer_m"] == 300
    assert len(body["verdicts"]) >= 10 and body["inside_analysed_area"] is True


def test_screen_repairs_invalid_geometry_with_a_note(client: TestClient, zones: Path) -> None:
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4490)
    c = units.union_all().centroid
    x, y = c.x, c.y
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]],
    }
    r = client.post("/screen", json={"geometry": bowtie})
    assert r.status_code == 200, r.text
    body = r.json()
    assert any("repaired" in n for n in body["site"]["notes"])
    assert body["site"]["geometry_type"] == "MultiPolygon"


def test_screen_outside_area_and_feature_input(client: TestClient) -> None:
    feat = {"type": "Feature", "properties": {"name": "x"}, "geometry": square(100, 30, 0.01)}
    r = client.post("/screen", json={"geometry": feat, "project_type": ["wind_energy"]})
    assert r.status_code == 200
    body = r.json()
    assert body["inside_analysed_area"] is False
    assert body["verdicts"][0]["verdict"] is None
    assert any("outside the analysed area" in n for n in body["notes"])


def test_screen_html_report(client: TestClient, zones: Path) -> None:
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4490)
    c = units.union_all().centroid
    r = client.post("/screen?format=html", json={"geometry": square(c.x, c.y, 0.01)})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<svg" in r.text and "</html>" in r.text.lower()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"geometry": {"type": "Blob", "coordinates": []}}, "body.geometry"),
        ({"geometry": "/vsicurl/http://evil.example/x.shp"}, "body.geometry"),
        ({"geometry": {"type": "Point", "coordinates": "/vsizip//etc/passwd"}}, "body.geometry"),
        (
            {"geometry": {"type": "Point", "coordinates": [109.7, 38.2]}, "buffer_m": -1},
            "body.buffer_m",
        ),
        ({"geometry": {"type": "Point", "coordinates": [109.7, 38.2]}, "run": "x"}, "body.run"),
        ({"geometry": {"type": "Point", "coordinates": [109.7, 38.2]}, "extra": 1}, "body.extra"),
    ],
)
def test_screen_bad_body_is_422_naming_the_field(
    client: TestClient, payload: dict[str, Any], field: str
) -> None:
    body = assert_problem(client.post("/screen", json=payload), 422, "request-validation")
    assert field in body["detail"]


def test_screen_unknown_project_type_is_422(client: TestClient) -> None:
    payload = {"geometry": {"type": "Point", "coordinates": [109.7, 38.2]}, "project_type": ["x"]}
    body = assert_problem(client.post("/screen", json=payload), 422, "request-validation")
    assert "wind_energy" in body["detail"]  # the known types are listed
    assert body["errors"][0]["field"] == "body.project_type.0"


def test_screen_limits_are_413(tmp_path: Path, shared_cache: Path) -> None:
    s = make_settings(
        tmp_path, shared_cache, max_vertices=50, max_sync_area_km2=10.0, max_body_bytes=20_000
    )
    with make_client(s) as c:
        # 61 vertices > 50
        ring = [
            [109.7 + 0.001 * np.cos(t), 38.2 + 0.001 * np.sin(t)]
            for t in np.linspace(0, 2 * np.pi, 61)
        ]
        ring[-1] = ring[0]
        r = c.post("/screen", json={"geometry": {"type": "Polygon", "coordinates": [ring]}})
        assert "61 vertices" in assert_problem(r, 413, "OversizeRequest")["detail"]
        # a 0.05° square is about 24 km² > 10 km²
        r = c.post("/screen", json={"geometry": square(109.65, 38.2, 0.05)})
        assert "km²" in assert_problem(r, 413, "OversizeRequest")["detail"]
        # 100 m buffer is fine, but a 3 km buffer around a point covers 28 km² > 10
        pt = {"type": "Point", "coordinates": [109.7, 38.2]}
        assert c.post("/screen", json={"geometry": pt, "buffer_m": 100}).status_code == 200
        assert_problem(c.post("/screen", json={"geometry": pt, "buffer_m": 3000}), 413)
        big = {"geometry": pt, "pad": "x" * 30_000}
        assert_problem(c.post("/screen", json=big), 413, "payload-too-large")


# --------------------------------------------------------------------------- batch


def test_batch_rows_in_order_with_errors(client: TestClient, zones: Path) -> None:
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4490)
    c = units.union_all().centroid
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": "a", "properties": {}, "geometry": square(c.x, c.y, 0.01)},
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [1]},
            },
            {
                "type": "Feature",
                "properties": {"name": "p"},
                "geometry": {"type": "Point", "coordinates": [c.x, c.y]},
            },
            {"type": "Feature", "properties": {}, "geometry": square(100, 30, 0.01)},
        ],
    }
    r = client.post("/screen/batch", json=fc, params={"project_type": "wind_energy"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 4 and body["ok"] == 3
    rows = body["rows"]
    assert [row["site_id"] for row in rows] == ["a", "1", "2", "3"]
    assert [row["ok"] for row in rows] == [True, False, True, True]
    assert rows[1]["error_type"] == "InvalidGeometry"
    assert rows[0]["inside_analysed_area"] is True and rows[3]["inside_analysed_area"] is False
    assert rows[2]["geometry_type"] == "Point"
    assert "verdict_wind_energy" in rows[0] and "verdict_mining" not in rows[0]
    # by name
    r = client.post("/screen/batch", json=fc, params={"id_field": "name"})
    assert r.json()["rows"][2]["site_id"] == "p"


def test_batch_limits_and_bad_bodies(tmp_path: Path, shared_cache: Path) -> None:
    with make_client(make_settings(tmp_path, shared_cache, max_batch_sites=2)) as c:
        feat = {"type": "Feature", "properties": {}, "geometry": square(109.7, 38.2, 0.001)}
        fc = {"type": "FeatureCollection", "features": [feat] * 3}
        body = assert_problem(c.post("/screen/batch", json=fc), 413, "OversizeRequest")
        assert "at most 2" in body["detail"]
        assert_problem(c.post("/screen/batch", json={"type": "Polygon"}), 422)
        # a string body never names a file the library would read
        r = c.post("/screen/batch", json="/vsicurl/http://evil.example/sites.gpkg")
        assert_problem(r, 422, "request-validation")
        r = c.post("/screen/batch", json=fc | {"features": [feat]}, params={"run": "/etc/x"})
        assert_problem(r, 422, "request-validation")


# --------------------------------------------------------------------------- logs


def test_one_structured_log_line_per_request(client: TestClient) -> None:
    from geoeco_api.logging import JsonFormatter

    records: list[logging.LogRecord] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    h = Grab()
    logger = logging.getLogger("geoeco_api.access")
    logger.addHandler(h)
    try:
        r = client.get(
            "/query/point", params={"lon": 109.7, "lat": 95}, headers={"X-Request-ID": "test-123"}
        )
        ok = client.get("/health")
    finally:
        logger.removeHandler(h)
    assert r.headers["x-request-id"] == "test-123"
    assert len(ok.headers["x-request-id"]) == 32  # generated
    assert len(records) == 2
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["method"] == "GET" and line["path"] == "/query/point"
    assert line["status"] == 422 and line["request_id"] == "test-123"
    assert line["problem_type"].endswith("/request-validation")
    assert isinstance(line["duration_ms"], float)
    assert "lat" not in json.dumps(line)  # no query string, no body
    assert json.loads(JsonFormatter().format(records[1]))["status"] == 200
