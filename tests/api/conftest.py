"""Fixtures for the HTTP API tests: settings on tmp folders, two small user raster layers.

``user.sens`` is a categorical uint8 raster in EPSG:4490 (CGCS2000 lon-lat), 0.01° pixels,
200 × 200, covering 105–107 °E, 34–36 °N. It is made of 20 × 20-pixel blocks whose code is
``(block_row + block_col) % 6`` (0 is nodata, 1–5 the classes of the class table
``EcoZoning-interim/sanding``, named in the manifest's ``attributes.class_table``).

``user.grad`` is a float32 raster on the same grid whose value is the pixel centre's
``(lon - 105) / 2``, i.e. a linear ramp from 0.0025 at the west edge to 0.9975 at the east,
with nodata -9999 in the 20 southernmost rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings
from rasterio.transform import from_origin

from geoeco.catalog.validate import user_layer_spec, write_user_manifest

ORIGIN = (105.0, 36.0)
RES = 0.01
N = 200
CLASS_TABLE = "EcoZoning-interim/sanding"


def sens_codes() -> np.ndarray:
    """The 200 × 200 class codes of ``user.sens`` (see the module docstring)."""
    r, c = np.indices((N, N)) // 20
    return ((r + c) % 6).astype(np.uint8)


def grad_values() -> np.ndarray:
    """The 200 × 200 values of ``user.grad`` (see the module docstring)."""
    lon = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    vals = np.broadcast_to((lon - 105.0) / 2.0, (N, N)).astype(np.float32).copy()
    vals[-20:, :] = -9999.0
    return vals


def _write(path: Path, data: np.ndarray, nodata: float) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=N,
        height=N,
        count=1,
        dtype=data.dtype.name,
        crs="EPSG:4490",
        transform=from_origin(ORIGIN[0], ORIGIN[1], RES, RES),
        nodata=nodata,
    ) as ds:
        ds.write(data, 1)
    return path


@pytest.fixture
def layers_dir(tmp_path: Path) -> Path:
    """A user layers folder holding the manifests of ``user.sens`` and ``user.grad``."""
    d = tmp_path / "layers"
    d.mkdir()
    files = tmp_path / "files"
    files.mkdir()
    sens = _write(files / "sens.tif", sens_codes(), 0)
    spec = user_layer_spec(sens, role="evaluation", layer_id="user.sens", status="synthetic")
    spec = spec.model_copy(update={"attributes": {"class_table": CLASS_TABLE}})
    write_user_manifest(spec, d)
    grad = _write(files / "grad.tif", grad_values(), -9999.0)
    spec = user_layer_spec(grad, role="vegetation", layer_id="user.grad", units="1")
    write_user_manifest(spec, d)
    return d


@pytest.fixture
def settings(tmp_path: Path, layers_dir: Path) -> Settings:
    """Settings on tmp folders, rate limit off, keys off."""
    return Settings(
        data_dir=tmp_path / "data",
        layers_dir=layers_dir,
        cache_dir=tmp_path / "cache",
        rate_limit_per_minute=0,
    )


@pytest.fixture
def make_client() -> Callable[..., TestClient]:
    """Factory: a TestClient on a fresh app (``raise_server_exceptions=False`` for 500s)."""

    def _make(settings: Settings, **kw: object) -> TestClient:
        return TestClient(create_app(settings), raise_server_exceptions=False, **kw)  # type: ignore[arg-type]

    return _make


@pytest.fixture
def client(settings: Settings, make_client: Callable[..., TestClient]) -> TestClient:
    """A TestClient on ``create_app(settings)``."""
    return make_client(settings)


def assert_problem(resp, status: int, type_suffix: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """Check an RFC 7807 response and return its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    if type_suffix is not None:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    text = resp.text
    assert "Traceback" not in text and "/tmp/" not in text and "/work/" not in text
    return body


@pytest.fixture
def problem() -> Callable[..., dict]:
    """``problem(resp, status, type_suffix=None)``: check an RFC 7807 response, return its body."""
    return assert_problem
