"""``/docs`` in a real headless Chromium with the network blocked: Swagger UI comes from the
service itself (the ``swagger-ui-bundle`` package), reads ``/openapi.json`` (OpenAPI 3.0) and
lists every operation; no request leaves the service, no script error."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import pytest
from test_maps_browser import Chromium, find_chromium

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("swagger_ui_bundle")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from geoeco_api.main import create_app
    from geoeco_api.settings import Settings

    base = tmp_path_factory.mktemp("docs")
    settings = Settings(data_dir=base / "data", cache_dir=base / "cache", job_run_workers=False)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary on PATH (apt-get install chromium); CI installs it")
    cr = Chromium(binary)
    # loopback only: every other host fails to resolve and is reported by errors()
    cr.call("Network.setBlockedURLs", urls=[])
    try:
        yield cr
    finally:
        cr.close()


def _operations(service: str) -> set[str]:
    with urllib.request.urlopen(service + "/openapi.json", timeout=30) as r:
        doc = json.load(r)
    return {
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }


def test_docs_list_every_operation_offline(browser, service):
    expected = _operations(service)
    assert len(expected) > 20
    browser.events.clear()
    browser.call("Page.navigate", url=service + "/docs")
    browser.wait_event("Page.loadEventFired", timeout=60)
    shown: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and shown != expected:
        time.sleep(0.5)
        shown = set(
            browser.js(
                "Array.from(document.querySelectorAll('.opblock-summary')).map(e => "
                "e.querySelector('.opblock-summary-method').textContent + ' ' + "
                "e.querySelector('.opblock-summary-path').getAttribute('data-path'))"
            )
            or []
        )
    assert shown == expected
    title = browser.js("document.querySelector('.info .title').textContent")
    assert title.startswith("geoeco")
    # Swagger UI says so when it cannot read a document (e.g. OpenAPI 3.1 in Swagger UI 4)
    assert not browser.js("document.body.innerText.includes('Unable to render')")
    foreign = [e for e in browser.errors() if not e.startswith(f"network request to {service}")]
    assert foreign == [], foreign
    requested = {e.split(service, 1)[1] for e in browser.errors()}
    assert {"/docs", "/docs/assets/swagger-ui-bundle.js", "/openapi.json"} <= requested
