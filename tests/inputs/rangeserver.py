"""A loopback HTTP server for the inputs tests and benchmark: static files with Range support,
a tiny STAC API ``/search`` with ``next``-link paging, and a log of every request.

Python's ``SimpleHTTPRequestHandler`` ignores ``Range`` (it always sends the whole file), so
this handler implements single ranges itself (206 + ``Content-Range``), answers multi-range
requests with 416 (so a silent whole-file download cannot hide behind one), and records
``(method, path, range, bytes sent, status)`` under a lock for the tests to count.

Paths may start with an alias segment ``/a-<token>/`` that is stripped before serving: the
same files under a fresh URL prefix, so GDAL's per-process HTTP cache (keyed by URL) cannot
answer for a test that means to measure requests.

The API lives under ``/api/``: ``/api/`` is a landing page (``conformsTo`` item-search, a
``search`` link) and ``/api/search`` filters the static items by ``collections``, ``bbox`` and
``datetime`` and pages ``limit`` at a time with a ``token`` in the ``next`` link.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Hit:
    """One logged request."""

    method: str
    path: str
    range: str | None
    nbytes: int
    status: int


@dataclass
class RequestLog:
    """Thread-safe list of :class:`Hit`."""

    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)

    def clear(self) -> None:
        with self.lock:
            self.hits.clear()

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def for_suffix(self, suffix: str) -> list[Hit]:
        return [h for h in self.snapshot() if h.path.endswith(suffix)]

    def bytes_for(self, fragment: str) -> int:
        return sum(h.nbytes for h in self.snapshot() if fragment in h.path)


def _parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _item_range(item: dict[str, Any]) -> tuple[datetime, datetime]:
    p = item["properties"]
    if p.get("start_datetime"):
        return _parse_dt(p["start_datetime"]), _parse_dt(p["end_datetime"])
    dt = _parse_dt(p["datetime"])
    return dt, dt


def _matches(item: dict[str, Any], query: dict[str, str]) -> bool:
    if "collections" in query and item.get("collection") not in query["collections"].split(","):
        return False
    if "bbox" in query:
        w, s, e, n = (float(x) for x in query["bbox"].split(","))
        a = item["bbox"]
        if not (a[0] < e and w < a[2] and a[1] < n and s < a[3]):
            return False
    if query.get("datetime"):
        lo_text, _, hi_text = query["datetime"].partition("/")
        lo, hi = _parse_dt(lo_text), _parse_dt(hi_text)
        start, end = _item_range(item)
        if end < lo or start > hi:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.root``; see the module docstring."""

    server: FixtureServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _local(self) -> tuple[str, Path | None]:
        path = urllib.parse.urlsplit(self.path).path
        parts = path.split("/")
        if len(parts) > 1 and parts[1].startswith("a-"):
            path = "/" + "/".join(parts[2:])
        if ".." in path.split("/"):
            return path, None
        return path, self.server.root / urllib.parse.unquote(path.lstrip("/"))

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        rng = self.headers.get("Range")
        sent = len(body) if self.command != "HEAD" else 0
        self.server.log.add(Hit(self.command, self.path, rng, sent, status))

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path, local = self._local()
        if path.rstrip("/").endswith("/api/search"):
            return self._search()
        if path.rstrip("/").endswith("/api"):
            return self._landing()
        if path in self.server.fail_paths:
            return self._send(503, b"unavailable", "text/plain")
        if local is None or not local.is_file():
            return self._send(404, b"not found", "text/plain")
        data = local.read_bytes()
        ctype = "application/json" if local.suffix == ".json" else "application/octet-stream"
        rng = self.headers.get("Range")
        if rng is None:
            return self._send(200, data, ctype)
        m = _RANGE.match(rng.strip())
        if m is None or "," in rng:
            return self._send(416, b"one range only", "text/plain")
        start = int(m.group(1)) if m.group(1) else max(0, len(data) - int(m.group(2)))
        end = int(m.group(2)) if m.group(1) and m.group(2) else len(data) - 1
        end = min(end, len(data) - 1)
        if start >= len(data):
            return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
        body = data[start : end + 1]
        return self._send(206, body, ctype, {"Content-Range": f"bytes {start}-{end}/{len(data)}"})

    def _base(self) -> str:
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
        path = urllib.parse.urlsplit(self.path).path
        return f"http://{host}{path[: path.index('/api') + 4]}"

    def _landing(self) -> None:
        base = self._base()
        body = {
            "type": "Catalog",
            "id": "loopback-api",
            "description": "test STAC API",
            "stac_version": "1.0.0",
            "conformsTo": [
                "https://api.stacspec.org/v1.0.0/core",
                "https://api.stacspec.org/v1.0.0/item-search",
            ],
            "links": [
                {"rel": "self", "href": base + "/"},
                {"rel": "root", "href": base + "/"},
                {"rel": "search", "href": base + "/search", "type": "application/geo+json"},
            ],
        }
        self._send(200, json.dumps(body).encode(), "application/json")

    def _search(self) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        limit = int(query.get("limit", "10"))
        start = int(query.get("token", "0"))
        found = [i for i in self.server.api_items() if _matches(i, query)]
        files = self._base()[: -len("/api")]
        page = json.loads(json.dumps(found[start : start + limit]))
        for item in page:
            for a in item["assets"].values():
                if "://" not in a["href"]:
                    a["href"] = f"{files}/{a['href']}"
        links: list[dict[str, str]] = []
        if start + limit < len(found):
            nxt = dict(query, token=str(start + limit))
            href = f"{self._base()}/search?{urllib.parse.urlencode(nxt)}"
            links.append({"rel": "next", "href": href, "method": "GET"})
        body = {"type": "FeatureCollection", "features": page, "links": links}
        self._send(200, json.dumps(body).encode(), "application/geo+json")


class FixtureServer(ThreadingHTTPServer):
    """The server object: ``root`` folder, ``log``, ``fail_paths`` (answered 503)."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root
        self.log = RequestLog()
        self.fail_paths: set[str] = set()
        self._api_items: list[dict[str, Any]] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def api_items(self) -> list[dict[str, Any]]:
        """Every item JSON under ``root`` (asset hrefs relative to ``root``), for ``/search``."""
        if self._api_items is None:
            items = []
            for p in sorted(self.root.rglob("*.json")):
                doc = json.loads(p.read_text())
                if doc.get("type") != "Feature":
                    continue
                rel = p.parent.relative_to(self.root).as_posix()
                for a in doc["assets"].values():
                    if "://" not in a["href"]:
                        a["href"] = f"{rel}/{a['href'].removeprefix('./')}"
                doc["links"] = []
                items.append(doc)
            self._api_items = items
        return self._api_items


def serve(root: Path) -> Iterator[FixtureServer]:
    """Start a :class:`FixtureServer` on 127.0.0.1 (free port) in a thread; stop it after."""
    server = FixtureServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
