"""``/docs`` and ``/docs/assets/``: only local URLs, only the allow-listed files, proxy prefix.

The page itself is checked in a browser by ``tests/test_docs_browser.py``; here the routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from geoeco_api.routers.docs import ASSETS
from geoeco_api.settings import Settings

swagger_ui_bundle = pytest.importorskip("swagger_ui_bundle")


def test_docs_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""", r.text)
    flat = {a or b for a, b in urls}
    assert flat == {
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/openapi.json",
    }
    assert "validatorUrl" in r.text and "http" not in r.text.replace("http-equiv", "")
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


def test_assets_are_the_package_files_and_nothing_else(client: TestClient) -> None:
    dist = Path(str(swagger_ui_bundle.swagger_ui_path))
    for name, media in ASSETS.items():
        r = client.get(f"/docs/assets/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"] == media
        assert r.content == (dist / name).read_bytes()
    for bad in ("index.html", "..%2F__init__.py", "swagger-ui.js.map", "%2Fetc%2Fpasswd"):
        r = client.get(f"/docs/assets/{bad}")
        assert r.status_code == 404, bad
        assert r.headers["content-type"].startswith("application/problem+json")
        assert str(dist) not in r.text


def test_docs_behind_a_proxy_prefix(
    settings: Settings, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(settings.model_copy(update={"root_path": "/geoeco"}))
    text = client.get("/docs").text
    assert 'src="/geoeco/docs/assets/swagger-ui-bundle.js"' in text
    assert "url: '/geoeco/openapi.json'" in text
