"""`geoeco serve` starts the HTTP service on loopback (health and docs answer)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_the_service(tmp_path):
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "geoeco.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    body = json.loads(r.read())
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()[-2000:]) from None
                time.sleep(0.5)
        assert body is not None, "service did not answer /health within 60 s"
        assert body["status"] in ("ok", "degraded")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as r:
            assert "/collections" in json.loads(r.read())["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_demo_serve_serves_the_demo_it_built(tmp_path):
    """`geoeco demo --size small --serve` builds the demo, then answers /maps/demo and point
    queries from that same run (the service reuses it instead of building another)."""
    port = _free_port()
    out = tmp_path / "d"
    cmd = [
        sys.executable,
        "-m",
        "geoeco.cli",
        "demo",
        "--out",
        str(out),
        "--size",
        "small",
        "--serve",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        page = None
        while time.monotonic() < deadline and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/maps/demo", timeout=30) as r:
                    page = r.read().decode()
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()[-2000:]) from None
                time.sleep(1)
        assert page is not None and "leaflet" in page.lower()
        import geopandas as gpd

        units = gpd.read_file(out / "zones" / "zones.gpkg", layer="units")
        assert units["code"].iloc[0] in page
        runs = list((out / ".service-cache" / "demo-run").iterdir())
        assert len(runs) == 1 and runs[0].is_symlink()  # the service reused this demo run
    finally:
        proc.terminate()
        proc.wait(timeout=20)
