"""Cross-site requests: a page on another web site cannot make a browser change anything.

The guard (``geoeco_api.security.CrossSiteGuard``) refuses state-changing requests from a
foreign ``Origin`` (403 ``cross-origin-request``) and request bodies of the content types a
cross-site form or "simple" fetch can send (415). Checked with the test client (every rule,
one request each), then for real: a uvicorn server on one port and an attacker page on
another port, loaded in headless Chromium, which sends ``text/plain`` and type-less bodies
that would upload a protected-area layer and start zoning jobs. The server's access log shows
each request arrived and was refused; no layer and no job exists afterwards.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings

from .conftest import assert_problem
from .test_e2e_server import free_port

EVIL = "http://evil.example"
ALLOWED = "https://maps.example.org"
#: A protected-area polygon in the demo region (would join the red line of later runs).
PARK = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "fake park"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[109.6, 38.2], [109.7, 38.2], [109.7, 38.3], [109.6, 38.2]]],
            },
        }
    ],
}
UPLOAD = "/uploads?role=protected&layer_id=user.fake_park&filename=park.geojson"
EXECUTE = "/processes/zoning/execution"


@pytest.fixture
def c(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path_factory.getbasetemp() / "geoeco-shared-cache",  # the small demo
        query_demo_size="small",
        rate_limit_per_minute=0,
        cors_origins=ALLOWED,
        log_json=False,
    )
    app = create_app(settings.model_copy(update={"job_run_workers": False}))  # jobs stay accepted
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def nothing_changed(c: TestClient) -> None:
    assert c.get("/uploads").json()["numberReturned"] == 0
    assert c.get("/jobs").json()["numberMatched"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_foreign_origin_is_403_on_every_unsafe_route(c: TestClient, headers: dict) -> None:  # type: ignore[type-arg]
    json_h = {"Content-Type": "application/json", **headers}
    geo_h = {"Content-Type": "application/geo+json", **headers}
    for method, url, kw in [
        ("POST", UPLOAD, {"content": json.dumps(PARK), "headers": geo_h}),
        ("POST", EXECUTE, {"content": b'{"inputs": {"demo_size": "small"}}', "headers": json_h}),
        ("POST", EXECUTE, {"headers": headers}),  # no body: every input has a default
        ("POST", "/screen", {"content": b"{}", "headers": json_h}),
        ("DELETE", "/uploads/user.x", {"headers": headers}),
        ("DELETE", "/jobs/" + "0" * 32, {"headers": headers}),
    ]:  # fmt: skip
        r = c.request(method, url, **kw)
        body = assert_problem(r, 403, "cross-origin-request")
        assert "GEOECO_CORS_ORIGINS" in body["detail"]
    nothing_changed(c)
    # reads stay open to any page (they change nothing)
    assert c.get("/jobs", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        (UPLOAD, "text/plain;charset=UTF-8"),
        (UPLOAD, "application/x-www-form-urlencoded"),
        (UPLOAD, "multipart/form-data; boundary=x"),
        (UPLOAD, None),
        (EXECUTE, "text/plain"),
        (EXECUTE, "application/x-www-form-urlencoded"),
        (EXECUTE, None),
        (EXECUTE, "application/octet-stream"),
        ("/screen", "text/plain"),
        ("/screen/batch", "multipart/form-data; boundary=x"),
    ],
)
def test_form_content_types_are_415_even_without_origin(
    c: TestClient, url: str, content_type: str | None
) -> None:
    body = json.dumps(PARK if url == UPLOAD else {"inputs": {"demo_size": "small"}}).encode()
    headers = {} if content_type is None else {"Content-Type": content_type}
    req = c.build_request("POST", url, content=body, headers=headers)
    if content_type is None:
        assert "content-type" not in req.headers  # like a fetch() of a Blob without a type
    r = c.send(req)
    detail = assert_problem(r, 415, "unsupported-media-type")["detail"]
    assert ("Content-Type" in detail) and ("application/" in detail or "needs" in detail)
    nothing_changed(c)


def test_own_and_allowed_origins_pass(c: TestClient) -> None:
    h = {"Prefer": "respond-async", "Content-Type": "application/json"}
    body = b'{"inputs": {"demo_size": "small"}}'
    for origin in ("http://testserver", ALLOWED, ALLOWED + "/"):
        r = c.post(EXECUTE, content=body, headers={**h, "Origin": origin})
        assert r.status_code in (200, 201), (origin, r.text)
    # GeoJSON is JSON; an upload may use any non-form type
    fc = {"type": "FeatureCollection", "features": []}
    r = c.post("/screen/batch", json=fc, headers={"Content-Type": "application/geo+json"})
    assert r.status_code == 200, r.text
    r = c.post(UPLOAD, content=json.dumps(PARK), headers={"Content-Type": "application/geo+json"})
    assert r.status_code == 201, r.text  # a GeoJSON upload passes the guard
    assert c.get("/jobs").json()["numberMatched"] == 1


def test_cors_preflight_is_answered_only_for_the_cors_list(c: TestClient) -> None:
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = c.options(EXECUTE, headers={"Origin": ALLOWED, **ask})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    bad = c.options(EXECUTE, headers={"Origin": EVIL, **ask})
    assert "access-control-allow-origin" not in bad.headers  # the browser sends nothing more


# --------------------------------------------------------------------------- a real browser

PAGE = """<!doctype html><html><body>
<form id="f" method="POST" enctype="text/plain" action="{target}/processes/zoning/execution">
<input name='{{"inputs": {{"demo_size": "small", "pad": "' value='"}}}}'></form>
<script>
const t = "{target}";
const send = (url, init) => fetch(t + url, Object.assign({{method: "POST", mode: "no-cors"}},
                                                         init)).catch(() => null);
(async () => {{
  await send("{upload}", {{body: {park}}});  // text/plain;charset=UTF-8
  await send("/processes/zoning/execution", {{body: new Blob([{inputs}])}});  // no type
  await send("/processes/zoning/execution", {{headers: {{"Content-Type": "text/plain"}},
                                              body: {inputs}}});
  document.getElementById("f").submit();
}})();
</script></body></html>"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real service (keys off, the default) and the file its JSON log goes to."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "GEOECO_DATA_DIR": str(tmp_path / "data"),
        "GEOECO_CACHE_DIR": str(tmp_path / "cache"),
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_CORS_ORIGINS": "",
        "GEOECO_JOB_RUN_WORKERS": "false",
        "GEOECO_JOB_STORE_URL": "",
        "GEOECO_LOG_JSON": "true",
        "GEOECO_LOG_LEVEL": "INFO",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "geoeco_api.main:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=out, stdout=out)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.1)
        yield base, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _posts(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("event") == "request" and rec.get("method") == "POST":
                out.append(rec)
    return out


@pytest.mark.slow
def test_attacker_page_in_chromium_changes_nothing(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    from tests.test_maps_browser import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary (apt-get install chromium)")
    base, log = served
    site = tmp_path / "attacker"
    site.mkdir()
    inputs = json.dumps(json.dumps({"inputs": {"demo_size": "small"}}))
    (site / "index.html").write_text(
        PAGE.format(target=base, upload=UPLOAD, park=json.dumps(json.dumps(PARK)), inputs=inputs)
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    browser = Chromium(binary)
    try:
        browser.call("Network.setBlockedURLs", urls=[])  # loopback only: both servers are local
        browser.call("Page.navigate", url=f"http://127.0.0.1:{attacker.server_address[1]}/")
        deadline = time.monotonic() + 60
        while len(_posts(log)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        browser.close()
        attacker.shutdown()
    posts = _posts(log)
    assert len(posts) == 4, posts  # the browser did send all four
    assert {p["path"] for p in posts} == {"/uploads", "/processes/zoning/execution"}
    assert all(p["status"] == 403 for p in posts), posts  # Origin: http://127.0.0.1:<other>
    assert all(p["problem_type"].endswith("/cross-origin-request") for p in posts)
    assert httpx.get(base + "/uploads").json()["numberReturned"] == 0
    assert httpx.get(base + "/jobs").json()["numberMatched"] == 0
