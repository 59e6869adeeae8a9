"""Shared fixtures: real-data skip logic, the small demo region, and a GeoTIFF factory.

``make_raster`` writes a 2-D array on a projected grid with round pixels (default
EPSG:32631, 10 m pixels, origin (500000, 4000040)), so areas are exact multiples of 100 m²:

    [[ 0,  1,  2,  3],
     [ 4,  5,  6,  7],      a 4x4 grid covers x 500000–500040, y 4000000–4000040
     [ 8,  9, 10, 11],
     [12, 13, 14, 15]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

CRS = "EPSG:32631"
TRANSFORM = from_origin(500000, 4000040, 10, 10)
SHARED_TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``realdata`` when ../shared/testdata is absent."""
    if SHARED_TESTDATA.is_dir():
        return
    skip = pytest.mark.skip(reason="../shared/testdata not found (CI provides it)")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """The folder of real third-party test data (``../shared/testdata`` beside the repo)."""
    return SHARED_TESTDATA


@pytest.fixture(scope="session")
def demo_small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic demo region (10 km at 30 m), built once per test session.

    It is built into ``<tmp>/demo_small`` so that the ``demo_region`` generator, given the
    parent folder as its cache, finds and reuses it.
    """
    from geoeco.catalog.demo_region import build_demo_region

    out = tmp_path_factory.mktemp("demo") / "demo_small"
    build_demo_region(out, size="small")
    return out


@pytest.fixture
def make_raster(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory writing a 2-D array (or 3-D bands × rows × cols) to a GeoTIFF in ``tmp_path``."""

    def _make(
        array: np.ndarray,
        name: str = "layer.tif",
        nodata: float | None = None,
        crs: str | None = CRS,
        transform=TRANSFORM,  # type: ignore[no-untyped-def]
        dtype: str | None = None,
    ) -> Path:
        a = np.asarray(array)
        if dtype is not None:
            a = a.astype(dtype)
        if a.ndim == 2:
            a = a[np.newaxis]
        path = tmp_path / name
        profile = {
            "driver": "GTiff",
            "width": a.shape[2],
            "height": a.shape[1],
            "count": a.shape[0],
            "dtype": str(a.dtype),
            "transform": transform,
            "nodata": nodata,
        }
        if crs is not None:
            profile["crs"] = crs
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(a)
        return path

    return _make


@pytest.fixture(scope="session")
def demo_run_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo run (``zones/``, ``erosion/`` ...), built once per session.

    It goes into ``<basetemp>/geoeco-shared-cache``, the cache folder the API tests use, so
    the session builds it only once (:func:`geoeco.workflows.demo_cache.ensure_demo_run` reuses it).
    """
    from geoeco.workflows.demo_cache import ensure_demo_run

    return ensure_demo_run(tmp_path_factory.getbasetemp() / "geoeco-shared-cache", "small")
