"""Several clients screening and point-querying one real server at once (issue 12, Found 2).

Two parallel ``POST /screen`` loops used to kill the service within seconds (a segfault in
the shared opened run). Here a real uvicorn process (``-X faulthandler``, the small demo run
from the session cache, rate limit off) serves eight client threads for five seconds: six
post screenings of twelve different sites, two query points. Every answer must be a 200
(no 5xx, no 4xx: the inputs are valid), no request may fail to connect or be cut off, the
process must still be alive and healthy afterwards, and every concurrent screening must
equal the same site's screening asked again alone, after the load (byte for byte, as JSON).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

SECONDS = 5.0
CLIENTS = 8
SCREENERS = 6  # clients 0-5 screen, 6-7 query points
#: Lon-lat extent of the small demo run's units (109.62-109.74 °E, 38.20-38.29 °N).
EXTENT = (109.62, 38.19, 109.74, 38.29)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def server(tmp_path: Path, demo_run_small: Path):  # type: ignore[no-untyped-def]
    """A uvicorn subprocess answering on the small demo run; yields (base url, process, log)."""
    port = _free_port()
    env = {
        **os.environ,
        "GEOECO_DATA_DIR": str(tmp_path / "data"),
        "GEOECO_CACHE_DIR": str(demo_run_small.parents[1]),  # <cache>/demo-run/small-<v>
        "GEOECO_QUERY_DEMO_SIZE": "small",
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_JOB_STORE_URL": "",
        "GEOECO_JOB_RUN_WORKERS": "false",
    }
    log = tmp_path / "server.log"
    app = ["--factory", "geoeco_api.main:create_app", "--log-level", "warning"]
    cmd = [sys.executable, "-X", "faulthandler", "-m", "uvicorn", *app, "--port", str(port)]
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        else:
            pytest.fail("the server did not start within 30 s")
        yield base, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _sites() -> list[dict[str, Any]]:
    """Twelve squares of 0.005-0.03° over the demo's units (some partly outside them)."""
    x0, y0, x1, y1 = EXTENT
    rnd = random.Random(7)
    out = []
    for _ in range(12):
        d = rnd.uniform(0.005, 0.03)
        lon, lat = rnd.uniform(x0, x1 - d), rnd.uniform(y0, y1 - d)
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
        out.append({"type": "Polygon", "coordinates": [ring]})
    return out


def _load(base: str, sites: list[dict[str, Any]]) -> tuple[Counter[Any], dict[int, set[str]]]:
    """CLIENTS threads for SECONDS: statuses (or exception names) and screenings by site."""
    statuses: Counter[Any] = Counter()
    answers: dict[int, set[str]] = {i: set() for i in range(len(sites))}
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def work(k: int) -> None:
        rnd = random.Random(k)
        with httpx.Client(base_url=base, timeout=60) as client:
            start.wait()
            end = time.monotonic() + SECONDS
            while time.monotonic() < end:
                i = rnd.randrange(len(sites))
                try:
                    if k < SCREENERS:
                        body = {"geometry": sites[i], "buffer_m": 500}
                        r = client.post("/screen", json=body)
                    else:
                        lon, lat = rnd.uniform(*EXTENT[::2]), rnd.uniform(*EXTENT[1::2])
                        r = client.get("/query/point", params={"lon": lon, "lat": lat})
                except httpx.HTTPError as exc:
                    with lock:
                        statuses[type(exc).__name__] += 1
                    continue
                with lock:
                    statuses[r.status_code] += 1
                    if k < SCREENERS and r.status_code == 200:
                        answers[i].add(json.dumps(r.json(), sort_keys=True))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, answers


@pytest.mark.slow
def test_concurrent_screening_and_point_queries(server) -> None:  # type: ignore[no-untyped-def]
    base, proc, log = server
    sites = _sites()
    # one point query opens the run first (a few seconds); its screening structures (the
    # exactextract objects, most prepared indexes) are still cold when the load starts
    r = httpx.get(base + "/query/point", params={"lon": 109.7, "lat": 38.25}, timeout=120)
    assert r.status_code == 200, r.text
    statuses, answers = _load(base, sites)
    assert proc.poll() is None, f"the server died: {log.read_text()[-4000:]}"
    assert set(statuses) == {200}, statuses  # no 5xx, no 4xx, no connection error
    assert statuses[200] >= 30, statuses
    assert httpx.get(base + "/health", timeout=10).status_code == 200
    screened = [i for i, a in answers.items() if a]
    assert len(screened) >= 6, answers.keys()
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in screened:
            r = client.post("/screen", json={"geometry": sites[i], "buffer_m": 500})
            assert r.status_code == 200, r.text
            assert answers[i] == {json.dumps(r.json(), sort_keys=True)}, f"site {i} differs"
    assert "Fatal Python error" not in log.read_text()
