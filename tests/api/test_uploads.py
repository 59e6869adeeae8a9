"""``/uploads``: user layers over HTTP, safe extraction, GDAL-URL refusal, use in a zoning job.

The files are made here (GeoJSON text, a Shapefile written by geopandas and zipped, GeoTIFFs
written by rasterio, hostile zips built with :mod:`zipfile`). The zoning test runs a real job
on the small demo with an uploaded ``protected`` square placed where the demo's red line is
not; the expected growth of the red line is the square's area (computed with geopandas in the
equal-area EPSG:6933), within the rasterisation error of the 30 m grid.
"""

from __future__ import annotations

import io
import json
import stat
import time
import zipfile
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
from rasterio.transform import from_origin

from geoeco.workflows.demo_cache import ensure_demo_run

from .conftest import assert_problem

SQUARE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "park"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[109.7, 38.2], [109.72, 38.2], [109.72, 38.22], [109.7, 38.2]]],
            },
        }
    ],
}


def settings_for(tmp_path: Path, cache: Path | None = None, **kw: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        layers_dir=tmp_path / "layers",
        cache_dir=cache or tmp_path / "cache",
        rate_limit_per_minute=0,
        query_demo_size="small",
        log_json=False,
        **kw,
    )


def client_for(settings: Settings, **job: Any) -> TestClient:
    app = create_app(settings.model_copy(update={"job_run_workers": False} | job))
    return TestClient(app, raise_server_exceptions=False)


def upload(c: TestClient, data: bytes, **params: Any):  # type: ignore[no-untyped-def]
    headers = params.pop("headers", {})
    return c.post(
        "/uploads",
        content=data,
        params=params,
        headers={"Content-Type": "application/octet-stream", **headers},
    )


def tiff_bytes(tmp_path: Path, *, nodata: float | None = 0) -> bytes:
    p = tmp_path / "r.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="uint8",
        crs="EPSG:4490",
        transform=from_origin(109.6, 38.3, 0.01, 0.01),
        nodata=nodata,
    ) as ds:
        ds.write(np.full((1, 10, 10), 3, np.uint8))
    return p.read_bytes()


def zip_bytes(members: dict[str, bytes], *, mode: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            z.writestr(info, data)
    return buf.getvalue()


def shapefile_zip(tmp_path: Path, folder: str = "parks/") -> bytes:
    gdf = gpd.read_file(json.dumps(SQUARE))
    d = tmp_path / "shp"
    d.mkdir()
    gdf.to_file(d / "parks.shp")
    return zip_bytes({folder + p.name: p.read_bytes() for p in sorted(d.iterdir())})


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    with client_for(settings_for(tmp_path)) as c:
        yield c


# --------------------------------------------------------------------------- happy paths


def test_geojson_upload_list_catalogue_delete(client: TestClient, tmp_path: Path) -> None:
    r = upload(
        client,
        json.dumps(SQUARE).encode(),
        role="protected",
        layer_id="user.park",
        filename="park.geojson",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == "user.park" and body["kind"] == "vector" and body["role"] == "protected"
    assert r.headers["location"].endswith("/collections/user.park")
    stored = tmp_path / "data" / "uploads" / "user.park" / "data.geojson"
    assert stored.is_file()
    assert [u["id"] for u in client.get("/uploads").json()["uploads"]] == ["user.park"]
    col = client.get("/collections/user.park").json()
    assert col["role"] == "protected"
    items = client.get("/collections/user.park/items").json()
    assert items["numberMatched"] == 1
    # the same id again is a conflict
    again = upload(client, json.dumps(SQUARE).encode(), role="protected", layer_id="user.park")
    assert_problem(again, 409, "LayerExists")
    assert client.delete("/uploads/user.park").json() == {"id": "user.park", "deleted": True}
    assert client.get("/uploads").json()["uploads"] == []
    assert_problem(client.get("/collections/user.park"), 404)
    assert not stored.parent.exists()
    assert_problem(client.delete("/uploads/user.park"), 404)


def test_zipped_shapefile_and_geotiff(client: TestClient, tmp_path: Path) -> None:
    r = upload(client, shapefile_zip(tmp_path), role="development", filename="My Parks.zip")
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "user.my_parks" and r.json()["kind"] == "vector"
    r = upload(
        client,
        tiff_bytes(tmp_path),
        role="evaluation",
        layer_id="user.imp",
        variable="importance_biodiversity",
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "raster" and r.json()["variable"] == "importance_biodiversity"
    tile = client.get("/tiles/user.imp/0/0/0.png")
    assert tile.status_code == 200
    r = upload(client, tiff_bytes(tmp_path, nodata=None), role="evaluation", layer_id="user.nn")
    assert "nodata" in assert_problem(r, 422, "InvalidInput")["detail"]
    assert not (tmp_path / "data" / "uploads" / "user.nn").exists()  # cleaned up


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("members", "mode", "word"),
    [
        ({"../x.shp": b"x"}, None, ".."),
        ({"a/../../x.geojson": b"{}"}, None, ".."),
        ({"/etc/x.geojson": b"{}"}, None, "absolute"),
        ({"C:/x.geojson": b"{}"}, None, "absolute"),
        ({"link.geojson": b"/etc/passwd"}, stat.S_IFLNK | 0o777, "link"),
        ({"dev.geojson": b""}, stat.S_IFCHR | 0o666, "device"),
        ({"x.vrt": b"<VRTDataset/>"}, None, "unsupported"),
        ({"inner.zip": b"PK\x03\x04"}, None, "unsupported"),
    ],
)
def test_hostile_zips_are_422(
    client: TestClient, tmp_path: Path, members: dict[str, bytes], mode: int | None, word: str
) -> None:
    r = upload(client, zip_bytes(members, mode=mode), role="protected", layer_id="user.bad")
    body = assert_problem(r, 422, "InvalidInput")
    assert word in body["detail"]
    assert not (tmp_path / "data" / "uploads" / "user.bad").exists()
    assert not (tmp_path / "x.shp").exists() and not (tmp_path / "data" / "x.shp").exists()


def test_zip_bombs_and_caps_are_413(tmp_path: Path) -> None:
    s = settings_for(tmp_path, max_upload_unpacked_bytes=40_000_000, max_upload_files=5)
    with client_for(s) as c:
        # 30 MB of zeros deflates about 1000:1 > 250:1
        bomb = zip_bytes({"a.geojson": b"\0" * 30_000_000})
        assert len(bomb) < 100_000
        body = assert_problem(upload(c, bomb, role="protected", layer_id="user.b1"), 413)
        assert "zip bomb" in body["detail"]
        # declared total above the cap (two members of 25 MB of random-ish text)
        big = np.random.default_rng(0).integers(65, 91, 25_000_000, dtype=np.uint8).tobytes()
        r = upload(
            c, zip_bytes({"a.geojson": big, "b.json": big}), role="protected", layer_id="user.b2"
        )
        assert "unpacks to more than" in assert_problem(r, 413, "OversizeRequest")["detail"]
        many = zip_bytes({f"{i}.txt": b"x" for i in range(6)})
        r = upload(c, many, role="protected", layer_id="user.b3")
        assert "6 members" in assert_problem(r, 413)["detail"]
    s = settings_for(tmp_path, max_upload_bytes=1000)
    with client_for(s) as c:
        r = upload(c, b"{" + b" " * 2000 + b"}", role="protected", layer_id="user.b4")
        assert_problem(r, 413, "payload-too-large")


@pytest.mark.parametrize(
    "data",
    [
        b'<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand band="1">'
        b"<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource>"
        b"</VRTRasterBand></VRTDataset>",
        b"/vsicurl/http://evil.example/x.tif",
        b"http://evil.example/x.gpkg",
        b"/vsizip//etc/archive.zip/x.shp",
    ],
)
def test_gdal_urls_and_vrt_disguised_as_tif_are_422(client: TestClient, data: bytes) -> None:
    r = upload(client, data, role="evaluation", layer_id="user.v", filename="x.tif", nodata=0)
    assert "not a GeoTIFF" in assert_problem(r, 422, "InvalidInput")["detail"]


def test_names_never_become_paths(client: TestClient, tmp_path: Path) -> None:
    r = upload(
        client,
        json.dumps(SQUARE).encode(),
        role="protected",
        filename="/vsicurl/http://evil.example/../../etc/parks.geojson",
    )
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "user.parks"
    assert (tmp_path / "data" / "uploads" / "user.parks" / "data.geojson").is_file()
    for bad in ("/vsizip//etc/x", "user../x", "demo.dem", "user./vsicurl/http"):
        r = upload(client, b"{}", role="protected", layer_id=bad)
        assert "query.layer_id" in assert_problem(r, 422)["detail"]
    body = assert_problem(upload(client, b"{}", role="admin"), 422)
    assert "query.role" in body["detail"]


def test_api_keys(tmp_path: Path) -> None:
    with client_for(settings_for(tmp_path, api_keys="k1")) as c:
        data = json.dumps(SQUARE).encode()
        assert_problem(upload(c, data, role="protected", layer_id="user.k"), 401)
        r = upload(c, data, role="protected", layer_id="user.k", headers={"X-API-Key": "zz"})
        assert_problem(r, 403)
        r = upload(c, data, role="protected", layer_id="user.k", headers={"X-API-Key": "k1"})
        assert r.status_code == 201
        assert c.get("/uploads").status_code == 200  # reading needs no key
        assert_problem(c.delete("/uploads/user.k"), 401)
        assert c.delete("/uploads/user.k", headers={"X-API-Key": "k1"}).status_code == 200


def test_zoning_layer_inputs_never_open_urls(tmp_path: Path) -> None:
    """A URL or path given as a layer id is refused at submission (422) and names the input;
    no job is created, so nothing is ever handed to GDAL."""
    values = ("/vsicurl/http://evil.example/x.tif", "/etc/passwd")
    with client_for(settings_for(tmp_path)) as c:
        for value in values:
            r = c.post(
                "/processes/zoning/execution",
                json={
                    "inputs": {"demo_size": "small", "layers": {"importance_biodiversity": value}}
                },
                headers={"Prefer": "respond-async"},
            )
            assert r.status_code == 422, r.text
            assert "importance_biodiversity" in r.json()["detail"]
        assert c.get("/jobs").json()["jobs"] == []


# --------------------------------------------------------------------------- use in a job


def _free_square(zones: Path, side: float = 0.016) -> shapely.Polygon:
    """A square inside the demo's units that avoids its red line (searched on a 0.004° grid)."""
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4326).union_all()
    red = gpd.read_file(zones / "zones.gpkg", layer="redline").to_crs(4326).union_all()
    inner = units.buffer(-0.004)
    w, s, e, n = inner.bounds
    for x in np.arange(w, e - side, 0.004):
        for y in np.arange(s, n - side, 0.004):
            sq = shapely.box(x, y, x + side, y + side)
            if inner.contains(sq) and not sq.buffer(0.003).intersects(red):
                return sq
    pytest.skip("no red-line-free square in the small demo")


def test_uploaded_protected_layer_grows_the_red_line(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    zones = ensure_demo_run(cache, "small") / "zones"
    sq = _free_square(zones)
    s = settings_for(tmp_path, cache=cache)
    with client_for(s, job_run_workers=True, job_poll_interval_s=0.1, job_sync_timeout_s=150) as c:
        centre = {"lon": sq.centroid.x, "lat": sq.centroid.y}
        before = c.get("/query/point", params=centre).json()
        assert before["inside_analysed_area"] and before["redline"]["inside"] is False
        fc = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(sq)}
            ],
        }
        r = upload(c, json.dumps(fc).encode(), role="protected", layer_id="user.new_reserve")
        assert r.status_code == 201, r.text
        t0 = time.time()
        r = c.post(
            "/processes/zoning/execution", json={"inputs": {"demo_size": "small", "map": False}}
        )
        assert r.status_code == 200, (r.status_code, r.text[:500], time.time() - t0)
        job_id = r.headers["link"].split("/jobs/")[1].split(">")[0]
        after = c.get("/query/point", params=centre | {"run": job_id}).json()
        assert after["redline"]["inside"] is True
        gpkg = c.get(f"/jobs/{job_id}/files/zones.gpkg")
        (tmp_path / "z.gpkg").write_bytes(gpkg.content)
    old = gpd.read_file(zones / "zones.gpkg", layer="redline").to_crs(6933).area.sum() / 1e6
    new = gpd.read_file(tmp_path / "z.gpkg", layer="redline").to_crs(6933).area.sum() / 1e6
    added = gpd.GeoSeries([sq], crs=4326).to_crs(6933).area.iloc[0] / 1e6  # about 2.5 km²
    assert new - old == pytest.approx(added, rel=0.15)
