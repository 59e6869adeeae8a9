"""Maps (``/maps/...``), map assets, and job output tiles (``/jobs/{id}/tiles/...``).

A "successful zoning job" is made by hand: a job row is claimed and finished in the store and
the small demo run's ``zones`` folder copied in as its results (no worker runs), so these
tests take seconds. Expected tile colours come from the class tables (ZHGKDYFL, LXBM ...) and
the codes present are read from the raster with rasterio's own reprojection onto the tile grid.
"""

from __future__ import annotations

import re
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.warp import reproject, transform_bounds

from geoeco.catalog.classes import get_table
from geoeco.maps.assets import external_assets
from geoeco.service.job_model import new_job, result_manifest
from geoeco.workflows.demo_cache import ensure_demo_run

from .conftest import assert_problem

pytest.importorskip("folium")
pytest.importorskip("offlinefolium")

JOB = "b" * 32
PENDING = "c" * 32
HALF = 20037508.342789244


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: the small demo run is built here once."""
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    ensure_demo_run(cache, "small")
    return cache


@pytest.fixture(scope="module")
def zones(shared_cache: Path) -> Path:
    return ensure_demo_run(shared_cache, "small") / "zones"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, zones: Path):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("maps")
    s = Settings(
        data_dir=tmp / "data",
        layers_dir=tmp / "layers",
        cache_dir=shared_cache,
        rate_limit_per_minute=0,
        query_demo_size="small",
        log_json=False,
    )
    app = create_app(s.model_copy(update={"job_run_workers": False}))
    with TestClient(app, raise_server_exceptions=False) as c:
        svc = app.state.job_service
        svc.store.submit(new_job(JOB, "zoning", {"demo_size": "small"}))
        assert svc.store.claim("test-worker").id == JOB
        folder = svc.results_dir / JOB
        shutil.copytree(zones, folder)
        assert svc.store.finish(JOB, 1, files=result_manifest(folder), result={"units": {}})
        svc.store.submit(new_job(PENDING, "zoning", {"demo_size": "full"}))
        yield c


def decode_png(data: bytes) -> np.ndarray:
    """RGBA array of a PNG from geoeco.service.tiles.encode_png (8-bit RGBA, filter 0 rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h = size
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w * 4 + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, 4)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """XYZ tile containing a point (standard Web Mercator tiling formula)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2.0 * n)
    return x, y


def codes_in_tile(path: Path, z: int, x: int, y: int) -> set[int]:
    """Codes of a class raster on the tile's 256² grid (rasterio reproject, nearest)."""
    size = 2 * HALF / 2**z
    b = (-HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size)
    dst = np.zeros((256, 256), np.uint8)
    with rasterio.open(path) as ds:
        reproject(
            rasterio.band(ds, 1),
            dst,
            dst_transform=from_bounds(*b, 256, 256),
            dst_crs="EPSG:3857",
            resampling=Resampling.nearest,
            src_nodata=0,
            dst_nodata=0,
        )
    return {int(v) for v in np.unique(dst) if v}


def centre(zones: Path) -> tuple[float, float]:
    with rasterio.open(zones / "zone_class.tif") as ds:
        w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    return (w + e) / 2, (s + n) / 2


def colours(table: str) -> dict[tuple[int, int, int], int]:
    return {
        tuple(int(col[i : i + 2], 16) for i in (1, 3, 5)): code  # type: ignore[misc]
        for code, _, _, col in get_table(table).legend()
    }


# --------------------------------------------------------------------------- tiles


@pytest.mark.parametrize(
    ("output", "table"),
    [("zone_class", "ZHGKDYFL"), ("redline", "LXBM")],
)
def test_job_class_tile_colours_match_table(
    client: TestClient, zones: Path, output: str, table: str
) -> None:
    lon, lat = centre(zones)
    z = 13
    x, y = tile_of(lon, lat, z)
    r = client.get(f"/jobs/{JOB}/tiles/{output}/{z}/{x}/{y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = decode_png(r.content)
    opaque = img[img[..., 3] > 0][:, :3]
    seen = {tuple(int(v) for v in c) for c in np.unique(opaque, axis=0)}
    by_colour = colours(table)
    assert seen <= set(by_colour)  # only class-table colours
    expected = codes_in_tile(zones / f"{output}.tif", z, x, y)
    assert expected or output != "zone_class"  # the demo centre is zoned
    assert {by_colour[c] for c in seen} == expected


def test_job_rank_tile_is_on_the_selection_ramp(client: TestClient, zones: Path) -> None:
    lon, lat = centre(zones)
    x, y = tile_of(lon, lat, 13)
    img = decode_png(client.get(f"/jobs/{JOB}/tiles/restoration_rank/13/{x}/{y}.png").content)
    px = img[img[..., 3] > 0][:, :3].astype(float)
    if len(px):  # every colour lies on the segment #d9d9d9 -> #d7301f (Restoration-selection)
        a, b = np.array([217, 217, 217.0]), np.array([215, 48, 31.0])
        t = ((px - a) @ (b - a)) / ((b - a) @ (b - a))
        assert np.abs(a + np.outer(t, b - a) - px).max() <= 1.5
    r = client.get(f"/jobs/{JOB}/tiles/restoration_rank/13/{x}/{y}.png?colormap=viridis")
    assert r.status_code == 200


def test_job_tile_errors(client: TestClient) -> None:
    assert_problem(client.get(f"/jobs/{'0' * 32}/tiles/zone_class/1/0/0.png"), 404)
    body = assert_problem(client.get(f"/jobs/{PENDING}/tiles/zone_class/1/0/0.png"), 404)
    assert body["type"].endswith("result-not-ready")
    body = assert_problem(client.get(f"/jobs/{JOB}/tiles/nope/1/0/0.png"), 422)
    assert "path.output" in body["detail"]
    assert_problem(client.get(f"/jobs/{JOB}/tiles/zone_class/1/5/0.png"), 422, "InvalidInput")
    assert_problem(client.get(f"/jobs/{JOB}/tiles/zone_class/25/0/0.png"), 422)
    # a zoning job writes no erosion grades
    assert_problem(client.get(f"/jobs/{JOB}/tiles/erosion_grade/1/0/0.png"), 404)
    body = assert_problem(
        client.get(f"/jobs/{JOB}/tiles/restoration_rank/1/0/0.png?rescale=1,0"), 422
    )
    assert "query.rescale" in body["detail"]
    r = client.get(f"/jobs/{JOB}/tiles/zone_class/3/0/0.png")  # far from the demo
    assert r.status_code == 200 and r.headers["x-tile-empty"] == "true"


def test_demo_tiles_include_erosion_grades(client: TestClient, zones: Path) -> None:
    lon, lat = centre(zones)
    x, y = tile_of(lon, lat, 13)
    r = client.get(f"/maps/demo/tiles/erosion_grade/13/{x}/{y}.png")
    assert r.status_code == 200
    img = decode_png(r.content)
    seen = {tuple(int(v) for v in c) for c in np.unique(img[img[..., 3] > 0][:, :3], axis=0)}
    assert seen and seen <= set(colours("SL190-2007/water"))


# --------------------------------------------------------------------------- maps


def test_job_map_is_offline_and_complete(client: TestClient, zones: Path) -> None:
    import geopandas as gpd

    r = client.get(f"/maps/jobs/{JOB}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert external_assets(html) == []  # no CDN script or stylesheet
    assert "cdn.jsdelivr" not in html
    codes = gpd.read_file(zones / "zones.gpkg", layer="units")["code"]
    assert all(code in html for code in codes)
    assert f"/jobs/{JOB}/tiles/restoration_rank/{{z}}/{{x}}/{{y}}.png" in html
    assert "/tiles/erosion_grade/" not in html  # absent outputs get no layer
    assets = re.findall(r'(?:src|href)="(/maps/assets/[^"]+)"', html)
    assert assets
    for a in assets:
        got = client.get(a)
        assert got.status_code == 200, a
        assert got.headers["cache-control"].endswith("immutable")
    # the results document links the map
    links = client.get(f"/jobs/{JOB}/results").json()["links"]
    assert any(lk["href"].endswith(f"/maps/jobs/{JOB}") for lk in links)


def test_demo_map(client: TestClient) -> None:
    r = client.get("/maps/demo")
    assert r.status_code == 200
    assert external_assets(r.text) == []
    assert "/maps/demo/tiles/erosion_grade/{z}/{x}/{y}.png" in r.text


def test_map_errors(client: TestClient) -> None:
    assert_problem(client.get(f"/maps/jobs/{'0' * 32}"), 404)
    assert_problem(client.get("/maps/jobs/not-a-job"), 404)
    body = assert_problem(client.get(f"/maps/jobs/{PENDING}"), 404)
    assert body["type"].endswith("result-not-ready")


@pytest.mark.parametrize(
    "path",
    [
        "/maps/assets/../../etc/passwd",
        "/maps/assets/%2e%2e/%2e%2e/etc/passwd",
        "/maps/assets/..%2F..%2Fsettings.py",
        "/maps/assets/%2Fetc%2Fpasswd",
        "/maps/assets/nope.js",
        "/maps/assets/",
    ],
)
def test_asset_path_traversal_is_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert "root:" not in r.text
