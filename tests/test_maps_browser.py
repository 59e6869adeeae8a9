"""geoeco's standalone maps in a real browser: headless Chromium, network blocked.

Chromium (Debian package ``chromium``) is driven through the DevTools protocol with the small
standard-library websocket client below (no selenium, no browser download). Every page load
blocks all http(s) requests (``--host-resolver-rules`` and ``Network.setBlockedURLs``), so a
map that needs the internet fails: its scripts or tiles would be reported as errors.

The tests skip, with the reason, when no Chromium binary is found; CI installs it
(``apt-get install chromium``) and treats skips as failures.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    # every host name fails to resolve (no internet), except the loopback service under test
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: masked text frames out, frames in."""

    def __init__(self, url: str, timeout: float = 60.0):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake failed: {head[:200]!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text: str, opcode: int = 1) -> None:
        data = text.encode() if isinstance(text, str) else text
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        arr = np.frombuffer(data, dtype=np.uint8)
        m = np.resize(np.frombuffer(mask, dtype=np.uint8), n)
        self.sock.sendall(head + mask + (arr ^ m).tobytes())

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(a ^ mask[i % 4] for i, a in enumerate(payload))
            if opcode == 9:  # ping
                self.send(payload.decode("latin1"), opcode=10)
                continue
            if opcode == 8:
                raise ConnectionError("DevTools closed the websocket")
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Chromium:
    """A headless Chromium with a fresh profile and one page, driven over DevTools."""

    def __init__(self, binary: str, width: int = 1280, height: int = 800):
        self.profile = tempfile.mkdtemp(prefix="geoeco-chromium-")
        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools server")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = _WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Network.setBlockedURLs", urls=["http://*", "https://*", "ws://*", "wss://*"])
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev["method"] == name:
                return ev
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == name:
                    return msg
        raise TimeoutError(f"no {name} within {timeout} s")

    def js(self, expression: str, *, await_promise: bool = False) -> Any:
        res = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error: {res['exceptionDetails']}")
        return res["result"].get("value")

    def open(self, path: Path) -> float:
        """Load ``path``; return ms from navigation start until the map has been painted."""
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired", timeout=60)
        return float(
            self.js(
                "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                "() => r(performance.now()))))",
                await_promise=True,
            )
        )

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and non-local requests so far."""
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:400])
            elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "assert",
            ):
                out.append(json.dumps(p.get("args"))[:400])
            elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
            elif ev["method"] == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    out.append(f"network request to {url}")
        return out

    def screenshot(self) -> np.ndarray:
        """RGB(A) pixels of the viewport, shape (bands, rows, cols)."""
        import warnings

        from rasterio.errors import NotGeoreferencedWarning
        from rasterio.io import MemoryFile

        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a screenshot has no CRS
            with MemoryFile(data) as mf, mf.open() as ds:
                return ds.read()

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


# ----------------------------------------------------------------------------------- tests

folium = pytest.importorskip("folium")
pytest.importorskip("offlinefolium")


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary on PATH (apt-get install chromium); CI installs it")
    cr = Chromium(binary)
    try:
        yield cr
    finally:
        cr.close()


@pytest.fixture(scope="module")
def zone_html(tmp_path_factory):
    from test_maps import make_raster, make_units

    from geoeco.maps.base import save_map
    from geoeco.maps.zone import zone_map

    units, redline = make_units()
    raster = make_raster()
    m = zone_map(units, redline=redline, rasters={"erosion_grade": raster})
    path = tmp_path_factory.mktemp("maps") / "map.html"
    save_map(m, path)
    return path, units, raster


UNITS = "管控单元 Control units"


def _toggle(cr: Chromium, label_part: str) -> None:
    cr.js(
        "Array.from(document.querySelectorAll('.leaflet-control-layers label'))"
        f".find(l => l.textContent.includes({json.dumps(label_part)}))"
        ".querySelector('input').click()"
    )


def _legends(cr: Chromium) -> list[str]:
    return cr.js("Array.from(document.querySelectorAll('.geoeco-legend')).map(e => e.textContent)")


def _popup_text(cr: Chromium) -> str:
    """Text of the open popup (a closed one fades out for 200 ms: wait, then take the last)."""
    cr.js("new Promise(r => setTimeout(r, 300))", await_promise=True)
    return cr.js(
        "(a => a.length ? a[a.length - 1].textContent : '')"
        "(document.querySelectorAll('.leaflet-popup-content'))"
    )


def test_zone_map_renders_offline_without_errors(browser, zone_html):
    path, units, _ = zone_html
    ms = browser.open(path)
    assert browser.errors() == []
    assert ms < 3000
    # prefer_canvas: polygons are canvas paths, not DOM nodes; count the Leaflet layers instead
    n = browser.js(f"geoeco.layers[{json.dumps(UNITS)}].getLayers().length")
    assert n == len(units)
    legend = " ".join(_legends(browser))
    for name in ("priority protection", "key control", "general control", "water conservation"):
        assert name in legend
    assert browser.js("document.querySelectorAll('.leaflet-control-layers-selector').length") >= 3
    assert browser.js("document.querySelector('.geoeco-search input') !== null")
    img = browser.screenshot()
    # not blank: the class colours cover a good part of the view (variance far above a flat page)
    assert float(img[:3].astype(float).std()) > 20


def test_legend_follows_its_layer(browser, zone_html):
    path, _, _ = zone_html
    browser.open(path)
    assert any("Unit class" in t for t in _legends(browser))
    assert not any("Soil-loss grade" in t for t in _legends(browser))  # raster starts hidden
    _toggle(browser, "Control units")
    assert not any("Unit class" in t for t in _legends(browser))
    _toggle(browser, "Control units")
    assert any("Unit class" in t for t in _legends(browser))
    _toggle(browser, "Soil-loss grade")
    assert any("Soil-loss grade" in t and "slight" in t for t in _legends(browser))
    assert browser.js(
        "Array.from(document.querySelectorAll('img.leaflet-image-layer'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert browser.errors() == []


def test_click_and_search_open_the_unit_popup(browser, zone_html):
    path, units, _ = zone_html
    browser.open(path)
    # the centre of unit 5 (hand-made grid: an interior point of its box)
    c = units.geometry.iloc[5].representative_point()
    x, y = browser.js(
        f"(p => [p.x, p.y])(Object.values(window).find(v => v instanceof L.Map)"
        f".latLngToContainerPoint([{c.y}, {c.x}]))"
    )
    browser.click(x, y)
    text = _popup_text(browser)
    assert units.code.iloc[5] in text
    for field in (
        "Unit class",
        "County",
        "Area",
        "Red line share",
        "Access list",
        "spatial layout constraints",
    ):
        assert field in text
    code = units.code.iloc[2]
    browser.js(
        "(i => {i.value = " + json.dumps(code) + "; i.dispatchEvent(new Event('input'));"
        " i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));})"
        "(document.querySelector('.geoeco-search input'))"
    )
    text = _popup_text(browser)
    assert code in text
    assert browser.errors() == []


def test_raster_overlay_lines_up_on_screen(browser, zone_html):
    """Colour under the projected centre of source pixels = the class colour of that pixel.

    Expected colours come from the class table; screen positions from Leaflet's own
    ``latLngToContainerPoint`` of lon/lat computed with pyproj from the GK pixel centres.
    """
    from pyproj import Transformer

    from geoeco.catalog.classes import get_table
    from geoeco.maps.overlay import hex_rgba

    path, _, raster = zone_html
    browser.open(path)
    _toggle(browser, "Control units")  # hide the units and the red line above the raster
    _toggle(browser, "red line")
    _toggle(browser, "Soil-loss grade")
    browser.js(
        "(m => { m.eachLayer(l => { if (l instanceof L.ImageOverlay) l.setOpacity(1); });"
        " m.setZoom(m.getZoom() + 1); })(Object.values(window).find(v => v instanceof L.Map))"
    )
    browser.js("new Promise(r => setTimeout(r, 400))", await_promise=True)
    img = browser.screenshot()
    colours = {c.code: hex_rgba(c.colour)[:3] for c in get_table("SL190-2007/water").classes}
    tr = Transformer.from_crs(raster.crs, "EPSG:4326", always_xy=True)
    t = raster.transform
    checked = 0
    # block centres of the 8 x 8-pixel class blocks: class (i + j) % 6 + 1 (see make_raster),
    # four source pixels (400 m) from any class edge
    for i in range(raster.grid.height // 8):
        for j in range(raster.grid.width // 8):
            lon, lat = tr.transform(*(t * (8 * j + 4, 8 * i + 4)))
            # skip points under a control or its drop shadow (12 px around its box)
            x, y, on_image = browser.js(
                "(p => [p.x, p.y, !Array.from(document.querySelectorAll('.leaflet-control'))"
                ".some(c => { const r = c.getBoundingClientRect(); return p.x >= r.left - 12 &&"
                " p.x <= r.right + 12 && p.y >= r.top - 12 && p.y <= r.bottom + 12; })])"
                "(Object.values(window).find(v => v instanceof L.Map)"
                f".latLngToContainerPoint([{lat}, {lon}]))"
            )
            if not on_image or not (2 < x < img.shape[2] - 2 and 2 < y < img.shape[1] - 2):
                continue  # under a control or outside the view
            got = tuple(int(v) for v in img[:3, int(round(y)), int(round(x))])
            assert got == colours[(i + j) % 6 + 1], (i, j, got)
            checked += 1
    assert checked >= 8
    assert browser.errors() == []


def test_warning_banner_is_visible_on_top(browser, tmp_path):
    """A map of synthetic, partly covered results shows the zh + en banner at the top of the
    view, not hidden behind the map's panes (the element at its centre is the banner)."""
    from test_maps import make_units

    from geoeco.maps.banner import banner_lines
    from geoeco.maps.base import save_map
    from geoeco.maps.zone import zone_map

    units, _ = make_units()
    summary = {
        "synthetic_layers": ["erosion_grade"],
        "coverage": {"note_zh": "部分覆盖：仅分析了研究区的 83.6%", "note_en": "Partial coverage"},
    }
    path = save_map(zone_map(units, banner=banner_lines(summary)), tmp_path / "map.html")
    browser.open(path)
    assert browser.errors() == []
    box = browser.js(
        "(b => { const r = b.getBoundingClientRect(); const s = getComputedStyle(b);"
        " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return {top: r.top, h: r.height, w: r.width, vis: s.visibility, disp: s.display,"
        " onTop: b.contains(hit), text: b.textContent}; })"
        "(document.querySelector('.geoeco-banner'))"
    )
    assert box["disp"] != "none" and box["vis"] == "visible" and box["onTop"]
    assert 0 <= box["top"] < 50 and box["h"] > 10 and box["w"] > 100
    assert "合成数据" in box["text"] and "synthetic data" in box["text"]
    assert "部分覆盖" in box["text"] and "Partial coverage" in box["text"]
