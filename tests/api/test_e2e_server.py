"""End to end: a real uvicorn server, an asynchronous zoning job on the small demo, the
GeoPackage downloaded and opened with pyogrio.

The expected unit count comes from the job's own summary (``units.count``), checked against
the ``units`` layer read back independently with pyogrio.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "GEOECO_DATA_DIR": str(tmp_path / "data"),
        "GEOECO_CACHE_DIR": str(tmp_path / "cache"),
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_JOB_POLL_INTERVAL_S": "0.2",
        "GEOECO_JOB_STORE_URL": "",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "geoeco_api.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(base + "/processes", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}")
            time.sleep(0.1)
        else:
            pytest.fail("the server did not start within 15 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_async_zoning_on_the_small_demo(server: str, tmp_path: Path) -> None:
    import pyogrio

    r = httpx.post(
        server + "/processes/zoning/execution",
        json={"inputs": {"demo_size": "small"}},
        headers={"Prefer": "respond-async"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    location = r.headers["location"]
    assert location.endswith("/jobs/" + r.json()["jobID"])
    seen = set()
    t0 = time.time()
    while time.time() - t0 < 55:
        info = httpx.get(location, timeout=5).json()
        seen.add(info["status"])
        if info["status"] not in ("accepted", "running"):
            break
        time.sleep(0.5)
    assert info["status"] == "successful", info
    assert "running" in seen or "accepted" in seen
    res = httpx.get(location + "/results", timeout=5).json()
    files = {f["title"]: f for f in res["files"]}
    assert files["zones.gpkg"]["type"] == "application/geopackage+sqlite3"
    assert files["zone_class.tif"]["type"].startswith("image/tiff")
    assert files["statistics.csv"]["type"] == "text/csv"
    if res["summary"].get("map") == "map.html":
        assert files["map.html"]["type"] == "text/html"
    gpkg = httpx.get(files["zones.gpkg"]["href"], timeout=30)
    assert gpkg.status_code == 200
    path = tmp_path / "zones.gpkg"
    path.write_bytes(gpkg.content)
    assert len(gpkg.content) == files["zones.gpkg"]["length"]
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"units", "redline", "restoration"} <= layers
    units = pyogrio.read_dataframe(path, layer="units")
    assert len(units) == res["summary"]["units"]["count"] > 0
    assert units.crs.to_epsg() == 4490
