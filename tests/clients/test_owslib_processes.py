"""OWSLib's OGC API - Processes client against a real ``geoeco serve``.

A ``geoeco serve`` subprocess on a free loopback port (the small demo's inputs come from the
session's shared cache). OWSLib (``owslib.ogcapi.processes.Processes``) reads the landing
page, the conformance classes, lists the processes and describes one, then executes

- ``desertification`` on the small demo **synchronously** (OWSLib sends
  ``Prefer: respond-sync``): the results document comes back in the answer; its GeoTIFF is
  downloaded and the area by degree recomputed from its pixels (30 m cells) must match the
  summary's (computed by the service on an equal-area projection: within 0.5 %);
- ``erosion`` on the small demo **asynchronously** (``async_=True``: ``Prefer:
  respond-async``): a 201 statusInfo with ``Location``; the job is followed (OWSLib 0.35 has
  no job methods, so its ``http_get`` helper reads the status and results links) until it is
  successful, and its soil-loss raster is downloaded and opened.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

owslib = pytest.importorskip("owslib")
rasterio = pytest.importorskip("rasterio")
from owslib.ogcapi.processes import Processes  # noqa: E402
from owslib.util import http_get  # noqa: E402

pytestmark = pytest.mark.slow
CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("owslib") / "data"
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    port = _free_port()
    cmd = [sys.executable, "-m", "geoeco.cli", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data), "--cache-dir", str(cache)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise AssertionError(proc.stderr.read().decode()[-2000:]) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _download(href: str, path: Path) -> Path:
    r = http_get(href, timeout=60)
    assert r.status_code == 200
    path.write_bytes(r.content)
    return path


def test_owslib_lists_and_describes_processes(service: str) -> None:
    p = Processes(service)
    conforms = set(p.conformance()["conformsTo"])
    assert {CONF + c for c in ("core", "json", "job-list", "dismiss")} <= conforms
    ids = {x["id"] for x in p.processes()}
    assert {"zoning", "erosion", "desertification", "screening"} <= ids
    d = p.process("desertification")
    assert d["id"] == "desertification"
    assert d["inputs"]["demo_size"]["schema"]["enum"] == ["full", "small"]
    assert {"sync-execute", "async-execute"} <= set(d["jobControlOptions"])
    assert p.api()["openapi"].startswith("3.0")  # found through the service-desc link


def test_owslib_executes_synchronously(service: str, tmp_path: Path) -> None:
    p = Processes(service, timeout=120)
    doc = p.execute("desertification", {"demo_size": "small"})
    summary = doc["summary"]
    assert summary["kind"] == "desertification"
    files = {f["title"]: f for f in doc["files"]}
    tif = _download(files["desertification_degree.tif"]["href"], tmp_path / "d.tif")
    assert tif.stat().st_size == files["desertification_degree.tif"]["length"]
    with rasterio.open(tif) as src:
        a = src.read(1)
        cell_km2 = abs(src.res[0] * src.res[1]) / 1e6
        nodata = src.nodata
    assert cell_km2 == pytest.approx(0.0009)  # 30 m cells
    by_degree = summary["area_km2_by_degree"]
    for code, label in enumerate(sorted(by_degree), start=1):
        assert label.startswith(f"{code} ")
        area = float(np.count_nonzero(a == code)) * cell_km2
        assert area == pytest.approx(by_degree[label], rel=0.005), label
    valid = np.count_nonzero(a != nodata) if nodata is not None else a.size
    assert valid * cell_km2 == pytest.approx(summary["area_km2_total"], rel=0.005)


def test_owslib_executes_asynchronously(service: str, tmp_path: Path) -> None:
    p = Processes(service, timeout=30)
    try:
        info = p.execute("erosion", {"demo_size": "small"}, async_=True)
    finally:
        p.headers.pop("Prefer", None)  # OWSLib keeps it in its module-wide headers
    assert info["status"] in ("accepted", "running") and info["type"] == "process"
    location = p.response_headers["Location"]
    assert location.endswith("/jobs/" + info["jobID"])
    deadline = time.monotonic() + 240
    while info["status"] in ("accepted", "running") and time.monotonic() < deadline:
        time.sleep(1)
        info = http_get(location, timeout=10).json()
    assert info["status"] == "successful", info
    results = next(lk["href"] for lk in info["links"] if lk["rel"].endswith("/results"))
    doc = json.loads(http_get(results, timeout=10).content)
    assert doc["summary"]["kind"] == "erosion"
    tifs = [f for f in doc["files"] if f["type"].startswith("image/tiff")]
    assert tifs
    path = _download(tifs[0]["href"], tmp_path / tifs[0]["title"])
    with rasterio.open(path) as src:
        assert src.width > 0 and src.height > 0 and src.crs is not None
