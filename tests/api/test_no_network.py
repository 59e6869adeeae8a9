"""No user file makes geoeco contact another machine: a loopback HTTP listener started here
records every request while files whose content names it are validated (library and
``geoeco layers validate``) and uploaded (``POST /uploads``). Each must be refused with a clear
4xx / error, and the listener must receive nothing but the test's own control request (which
proves the listener works, so the test can fail).

The hostile files are those of issue 12 and their relatives: a GDAL streamed algorithm reading
``/vsicurl/`` (as .geojson and .json), a GeoJSON ``crs`` link and a ``crs`` name that is a URL,
a VRT named .tif and an OGR VRT named .gpkg whose sources are ``/vsicurl/`` URLs, a GeoParquet
whose CRS is a URL, and three files GDAL does open whose CRS text is a URL (a Shapefile's
``.prj``, a GeoPackage's ``gpkg_spatial_ref_sys`` and a GeoTIFF's ``.aux.xml``): those are
refused for having no CRS, because nothing resolves the URL.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from geoeco.cli import main
from geoeco.core.errors import GeoecoError
from geoeco.core.inspect import inspect_layer_file

from .conftest import assert_problem
from .test_uploads import client_for, settings_for, upload, zip_bytes

SQUARE = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(109.0, 38.0, 109.5, 38.5)], crs=4490)


@dataclass
class Listener:
    """A loopback HTTP server and the request lines it received."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """An HTTP server on 127.0.0.1 (free port) answering 200 to everything, recording it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            body = b"id,WKT\n1,POINT (109 38)\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Listener(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()


def _tif(path: Path, crs: str | None = "EPSG:4490") -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="uint8",
        crs=crs,
        transform=from_origin(109.0, 38.4, 0.1, 0.1),
        nodata=0,
    ) as ds:
        ds.write(np.ones((1, 4, 4), np.uint8))
    return path


def hostile_files(d: Path, url: str) -> dict[str, tuple[Path, bytes]]:
    """name -> (file to validate, bytes to upload) for every hostile case."""
    out: dict[str, tuple[Path, bytes]] = {}

    def text(name: str, content: str) -> None:
        p = d / name
        p.write_text(content)
        out[name] = (p, content.encode())

    alg = {
        "type": "gdal_streamed_alg",
        "command_line": f"gdal vector pipeline ! read /vsicurl/{url}/alg.csv ! write "
        "--of stream streamed_dataset",
    }
    text("alg.geojson", json.dumps(alg))
    text("alg.json", json.dumps(alg))
    doc = json.loads(SQUARE.to_json())
    link = {"type": "link", "properties": {"href": f"{url}/crs", "type": "proj4"}}
    text("crs_link.geojson", json.dumps(doc | {"crs": link}))
    name = {"type": "name", "properties": {"name": f"{url}/crsname"}}
    text("crs_name.geojson", json.dumps(doc | {"crs": name}))
    text(
        "vrt.tif",
        '<VRTDataset rasterXSize="4" rasterYSize="4"><VRTRasterBand dataType="Byte" band="1">'
        f"<SimpleSource><SourceFilename>/vsicurl/{url}/src.tif</SourceFilename>"
        "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>",
    )
    text(
        "ogrvrt.gpkg",
        f'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/vsicurl/{url}/v.csv'
        "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>",
    )
    shp_dir = d / "shp"
    shp_dir.mkdir()
    SQUARE.to_file(shp_dir / "prj.shp")
    (shp_dir / "prj.prj").write_text(f"{url}/prj")
    members = {f.name: f.read_bytes() for f in sorted(shp_dir.iterdir())}
    out["prj.shp"] = (shp_dir / "prj.shp", zip_bytes(members))
    gpkg = d / "srs.gpkg"
    SQUARE.to_file(gpkg)
    con = sqlite3.connect(gpkg)
    con.execute(
        "insert into gpkg_spatial_ref_sys values ('x', 99999, 'x', 99999, ?, 'url')",
        (f"{url}/srs",),
    )
    con.execute("update gpkg_contents set srs_id = 99999")
    con.execute("update gpkg_geometry_columns set srs_id = 99999")
    con.commit()
    con.close()
    out["srs.gpkg"] = (gpkg, gpkg.read_bytes())
    aux_dir = d / "aux"
    aux_dir.mkdir()
    tif = _tif(aux_dir / "aux.tif", crs=None)
    (aux_dir / "aux.tif.aux.xml").write_text(f"<PAMDataset><SRS>{url}/auxsrs</SRS></PAMDataset>")
    members = {f.name: f.read_bytes() for f in sorted(aux_dir.iterdir())}
    out["aux.tif"] = (tif, zip_bytes(members))
    return out


def _parquet_with_url_crs(d: Path, url: str) -> Path:
    import pyarrow.parquet as pq

    SQUARE.to_parquet(d / "ok.parquet")
    table = pq.read_table(d / "ok.parquet")
    geo = json.loads(table.schema.metadata[b"geo"])
    geo["columns"]["geometry"]["crs"] = f"{url}/parquetcrs"
    meta = dict(table.schema.metadata) | {b"geo": json.dumps(geo).encode()}
    pq.write_table(table.replace_schema_metadata(meta), d / "crs_url.parquet")
    return d / "crs_url.parquet"


def test_user_files_naming_urls_reach_no_host(
    listener: Listener, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    assert opener.open(f"{listener.url}/control", timeout=5).status == 200
    assert listener.requests == ["GET /control"]  # the listener is reachable

    (tmp_path / "files").mkdir()
    files = hostile_files(tmp_path / "files", listener.url)
    files["crs_url.parquet"] = (_parquet_with_url_crs(tmp_path / "files", listener.url), b"")
    paths = [
        f"/vsicurl/{listener.url}/direct.tif",
        f"{listener.url}/direct.geojson",
        f"GeoJSON:{listener.url}/direct.geojson",
    ]

    for name, (path, _) in files.items():
        with pytest.raises(GeoecoError) as exc:  # library
            inspect_layer_file(path)
        assert name.split(".")[0] in str(exc.value) and str(tmp_path) not in str(exc.value)
    for p in [str(path) for path, _ in files.values()] + paths:
        assert main(["layers", "validate", p]) == 2, p  # CLI: exit 2 with one message
        err = capsys.readouterr().err
        assert "error:" in err and "Traceback" not in err
    assert main(["layers", "add", str(files["alg.json"][0]), "--role", "protected"]) == 2
    assert "streamed algorithm" in capsys.readouterr().err

    with client_for(settings_for(tmp_path / "svc")) as c:
        for i, (name, (_, data)) in enumerate(files.items()):
            if not data:
                continue  # uploads take GeoTIFF, GeoPackage, GeoJSON or zip
            r = upload(c, data, role="protected", layer_id=f"user.h{i}", filename=name, nodata=0)
            body = assert_problem(r, 422)
            assert body["detail"], name
        assert c.get("/uploads").json()["numberReturned"] == 0

    assert listener.requests == ["GET /control"], listener.requests


def test_refusal_messages_say_why(listener: Listener, tmp_path: Path) -> None:
    """The refusals that happen before GDAL name the reason; those GDAL reads say no CRS."""
    (tmp_path / "files").mkdir()
    files = hostile_files(tmp_path / "files", listener.url)
    why = {
        "alg.geojson": "streamed algorithm",
        "alg.json": "streamed algorithm",
        "crs_link.geojson": "type 'link'",
        "crs_name.geojson": "not an EPSG code",
        "vrt.tif": "a GDAL VRT",
        "ogrvrt.gpkg": "an OGR VRT",
        "prj.shp": "no CRS",
        "srs.gpkg": "no CRS",
        "aux.tif": "no CRS",
    }
    for name, (path, _) in files.items():
        with pytest.raises(GeoecoError, match=why[name]):
            inspect_layer_file(path)
    assert listener.requests == []


_OFFLINE_SCRIPT = """
import json, sys, pathlib
import pyogrio, rasterio
from geoeco.core.userdata import _pyogrio_offline, offline_gdal_options

url, d = sys.argv[1], pathlib.Path(sys.argv[2])
def attempt(label, fn):
    try:
        fn()
    except Exception:
        pass
    print(label, flush=True)
link = {"type": "FeatureCollection", "features": [], "crs": {"type": "link",
        "properties": {"href": url + "/{tag}crs", "type": "proj4"}}}
def crs_link(tag):
    p = d / f"{tag}.geojson"
    p.write_text(json.dumps(link).replace("{tag}", tag))
    pyogrio.read_info(p)
def raster(path):
    with rasterio.open(path) as ds:
        ds.read(1)
attempt("pyogrio-control", lambda: pyogrio.read_info(f"/vsicurl/{url}/c1.geojson"))
attempt("link-control", lambda: crs_link("c2"))
attempt("rasterio-control", lambda: raster(f"/vsicurl/{url}/c3.tif"))
with rasterio.Env(**offline_gdal_options()):
    attempt("rasterio-offline", lambda: raster(f"/vsicurl/{url}/o3.tif"))
_pyogrio_offline()
attempt("pyogrio-offline", lambda: pyogrio.read_info(f"/vsicurl/{url}/o1.geojson"))
attempt("link-offline", lambda: crs_link("o2"))
"""


def test_offline_gdal_options_stop_gdal_http(listener: Listener, tmp_path: Path) -> None:
    """The second line of defence, tested on its own: GDAL reading ``/vsicurl/`` URLs and a
    GeoJSON crs link directly (bypassing the gate) reaches the listener without
    :func:`geoeco.core.userdata.offline_gdal_options` (the controls), and does not with them
    (rasterio: thread-local ``rasterio.Env``; pyogrio: set process-wide, hence a subprocess).
    ``NO_PROXY`` is cleared: curl would otherwise bypass the proxy for listed hosts."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT, listener.url, str(tmp_path)],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    paths = {r.split()[1] for r in listener.requests}
    assert {"/c1.geojson", "/c2crs", "/c3.tif"} <= paths  # the controls got through
    assert not {p for p in paths if p.startswith("/o")}, listener.requests
