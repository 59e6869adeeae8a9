"""The map served by the API, in a real headless Chromium: assets and tiles come from the
service itself (no CDN, no internet), the legend and units are there, tiles load."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import pytest
from test_maps_browser import UNITS, Chromium, _legends, _toggle, find_chromium

folium = pytest.importorskip("folium")
uvicorn = pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from geoeco_api.main import create_app
    from geoeco_api.settings import Settings

    base = tmp_path_factory.mktemp("served")
    settings = Settings(
        data_dir=base / "data",
        cache_dir=base / "cache",
        query_demo_size="small",
        job_run_workers=False,
    )
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
    # build the demo run once (the first /maps/demo request does it; about 20 s)
    urllib.request.urlopen(url + "/maps/demo", timeout=300).close()
    yield url
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary on PATH (apt-get install chromium); CI installs it")
    cr = Chromium(binary)
    # the service under test is on loopback: unblock http(s); every other host still fails to
    # resolve (--host-resolver-rules) and any request elsewhere is reported by errors()
    cr.call("Network.setBlockedURLs", urls=[])
    try:
        yield cr
    finally:
        cr.close()


def test_served_demo_map_renders_with_local_assets_and_tiles(browser, service):
    browser.events.clear()
    browser.call("Page.navigate", url=service + "/maps/demo")
    browser.wait_event("Page.loadEventFired", timeout=60)
    foreign = [e for e in browser.errors() if not e.startswith(f"network request to {service}")]
    assert foreign == [], foreign  # nothing but the service itself was contacted, no JS errors
    assert browser.js(f"geoeco.layers[{json.dumps(UNITS)}].getLayers().length") > 0
    legend = " ".join(_legends(browser))
    assert "priority protection" in legend
    # switch a raster layer on: its tiles come from the service's tile route
    _toggle(browser, "SL 190")
    deadline = time.monotonic() + 30
    loaded = 0
    while time.monotonic() < deadline and not loaded:
        time.sleep(0.5)
        loaded = browser.js("document.querySelectorAll('img.leaflet-tile-loaded').length")
    assert loaded > 0, "no tile loaded from the service"
    tiles = [e for e in browser.errors() if "/tiles/" in e]
    assert tiles and all(
        t.startswith(f"network request to {service}/maps/demo/tiles/") for t in tiles
    )
    img = browser.screenshot()
    assert float(img[:3].astype(float).std()) > 20  # not blank
