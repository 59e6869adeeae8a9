"""Standard Features clients against a real ``geoeco serve``: Debian's GDAL 3.6 and OWSLib.

One ``geoeco serve`` subprocess on a free loopback port runs one real asynchronous zoning job
on the small demo; then

* ``ogrinfo -ro OAPIF:`` lists exactly the built-in vector layers and prints no ``ERROR``
  (GDAL 3.6 asks every entry of ``/collections`` for items, so raster layers must not be one);
* ``ogr2ogr`` copies the job's ``units`` collection to a GeoPackage equal to the ``units``
  layer of the job's own ``zones.gpkg`` (downloaded from its results);
* OWSLib's ``Features`` lists the vector collections, pages the counties in a bbox (the ids
  are compared with geopandas ``intersects`` on the layer file) and reads the queryables.

Skipped when ``ogrinfo`` (Debian's gdal-bin, installed by ``.ci/run``) or OWSLib is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely

from geoeco.catalog.layers import builtin_registry
from geoeco.catalog.sources import read_layer_vector

httpx = pytest.importorskip("httpx")
pytestmark = pytest.mark.slow
BBOX = (108.0, 34.0, 110.0, 36.0)
OGRINFO, OGR2OGR = shutil.which("ogrinfo"), shutil.which("ogr2ogr")
needs_gdal = pytest.mark.skipif(OGRINFO is None or OGR2OGR is None, reason="gdal-bin missing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"geoeco serve exited with {proc.returncode}")
        time.sleep(0.1)
    pytest.fail("geoeco serve did not start within 30 s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("oapif")
    port = _free_port()
    env = {
        **os.environ,
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_JOB_POLL_INTERVAL_S": "0.2",
        "GEOECO_JOB_STORE_URL": "",
        "GEOECO_LOG_JSON": "false",
    }
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    cmd = [sys.executable, "-m", "geoeco.cli", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(tmp / "data"), "--cache-dir", str(cache)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def job(server: str) -> str:
    """The id of a successful zoning job on the small demo, run by the server."""
    r = httpx.post(
        server + "/processes/zoning/execution",
        json={"inputs": {"demo_size": "small"}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    job_id = str(r.json()["jobID"])
    t0 = time.time()
    while time.time() - t0 < 240:
        info = httpx.get(f"{server}/jobs/{job_id}", timeout=10).json()
        if info["status"] not in ("accepted", "running"):
            break
        time.sleep(0.5)
    assert info["status"] == "successful", info
    return job_id


def _vector_ids() -> set[str]:
    return {s.id for s in builtin_registry() if s.kind == "vector"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, check=False)


@needs_gdal
def test_ogrinfo_lists_only_vector_collections_without_errors(server: str) -> None:
    out = _run(str(OGRINFO), "-ro", "OAPIF:" + server)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "ERROR" not in text and "Warning" not in text, text
    names = {ln.split(": ", 1)[1].split(" (", 1)[0] for ln in out.stdout.splitlines()
             if ln[:1].isdigit() and ": " in ln}  # fmt: skip
    assert names == _vector_ids()


@needs_gdal
def test_ogr2ogr_copies_a_jobs_units_to_a_geopackage(server: str, job: str, tmp_path: Path) -> None:
    import pyogrio

    out = tmp_path / "units_via_oapif.gpkg"
    res = _run(str(OGR2OGR), "-f", "GPKG", str(out), f"OAPIF:{server}/jobs/{job}", "units")
    assert res.returncode == 0 and "ERROR" not in res.stderr, res.stderr
    zones = tmp_path / "zones.gpkg"
    zones.write_bytes(httpx.get(f"{server}/jobs/{job}/files/zones.gpkg", timeout=60).content)
    want = pyogrio.read_dataframe(zones, layer="units")
    got = pyogrio.read_dataframe(out, layer="units")
    assert len(got) == len(want) > 0
    assert list(got["code"]) == list(want["code"])
    assert list(got["unit_class"]) == list(want["unit_class"])
    for g, w in zip(got.geometry, want.geometry, strict=True):
        assert g.symmetric_difference(w).area < 1e-9 * w.area


def _county_ids_in_bbox() -> set[str]:
    gdf = read_layer_vector(builtin_registry().get("admin.county"))
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return set(gdf.loc[gdf.intersects(shapely.box(*BBOX)), "code"].astype(str))


def test_owslib_lists_collections_pages_with_bbox_and_reads_queryables(server: str) -> None:
    features_mod = pytest.importorskip("owslib.ogcapi.features")
    api = features_mod.Features(server + "/")
    assert set(api.feature_collections()) == _vector_ids()
    seen: list[str] = []
    offset, matched = 0, None
    while matched is None or offset < matched:
        page: dict[str, Any] = api.collection_items(
            "admin.county", bbox=list(BBOX), limit=20, offset=offset
        )
        matched = page["numberMatched"]
        assert page["numberReturned"] == len(page["features"]) <= 20
        seen += [str(f["id"]) for f in page["features"]]
        offset += 20
    assert len(seen) == len(set(seen)) and set(seen) == _county_ids_in_bbox()
    props = api.collection_queryables("admin.county")["properties"]
    assert {"code", "name", "province_code"} <= set(props)


def test_owslib_reads_a_jobs_units(server: str, job: str) -> None:
    features_mod = pytest.importorskip("owslib.ogcapi.features")
    api = features_mod.Features(f"{server}/jobs/{job}/")
    assert api.feature_collections() == ["units", "redline", "restoration"]
    units = api.collection_items("units", limit=1000)
    zones = httpx.get(f"{server}/jobs/{job}/results", timeout=10).json()["summary"]
    assert units["numberMatched"] == zones["units"]["count"] > 0
    cls = units["features"][0]["properties"]["unit_class"]
    same = api.collection_items("units", unit_class=cls)
    expected = sum(f["properties"]["unit_class"] == cls for f in units["features"])
    assert same["numberMatched"] == expected
