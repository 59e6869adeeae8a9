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
