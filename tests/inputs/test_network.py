"""Opt-in: a small real window from the public catalogs (needs the internet).

Deselected by default (``-m "not network"`` in pyproject's addopts); run with
``python -m pytest -m network tests/inputs/test_network.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.inputs.cache import WindowCache
from geoeco.inputs.config import builtin_catalogs
from geoeco.inputs.fetch import fetch_input

from .fixture import albers_grid

pytestmark = pytest.mark.network

#: Yulin city, Shaanxi (county 610802), 10 km square.
YULIN = (109.73, 38.28)


@pytest.mark.parametrize(
    ("recipe", "res", "lo", "hi"),
    [
        ("modis-13q1.ndvi", 250, -0.2, 1.0),
        ("cop-dem.glo90", 90, 900.0, 1600.0),
        ("modis-17a3hgf.npp", 500, 0.0, 2000.0),
    ],
)
def test_real_window_from_planetary_computer(
    tmp_path, recipe: str, res: int, lo: float, hi: float
) -> None:
    grid = albers_grid(*YULIN, 5000, res)
    got = fetch_input(
        recipe,
        grid,
        year=2021,
        catalog=builtin_catalogs()["planetary-computer"],
        cache=WindowCache(tmp_path),
    )
    values = got.raster.array.compressed()
    assert got.record.coverage > 0.9 and got.record.items
    assert np.all((values >= lo) & (values <= hi))


def test_real_soilgrids_window(tmp_path) -> None:
    got = fetch_input(
        "soilgrids.sand",
        albers_grid(*YULIN, 5000, 250),
        year=2021,
        catalog=builtin_catalogs()["isric-soilgrids"],
        cache=WindowCache(tmp_path),
    )
    assert got.record.coverage > 0.9
    assert np.all((got.raster.array.compressed() > 5) & (got.raster.array.compressed() < 100))


def test_real_inputs_folder_for_a_small_area_of_yuyang(tmp_path) -> None:
    """The whole stack for a 10 km square in Yuyang (610802), year 2020, from the public
    catalogs: every file covers the area and the values are in plausible ranges."""
    import json

    import rasterio
    import shapely

    from geoeco.workflows.build_inputs import build_inputs

    lon, lat = YULIN
    box = shapely.box(lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05)
    stack = build_inputs(box, year=2020, res=250, out=tmp_path / "out", cache=tmp_path / "c")
    man = json.loads((tmp_path / "out" / "inputs.json").read_text())
    assert man["status"] in ("real", "approximation")
    assert all(f["coverage_share"] > 0.99 for f in man["files"].values())
    ranges = {"dem": (900, 1600), "ndvi": (0.0, 1.0), "aridity": (0.3, 6.0), "sand": (5, 100)}
    for name, (lo, hi) in ranges.items():
        with rasterio.open(tmp_path / "out" / f"{name}.tif") as ds:
            v = ds.read(1, masked=True).compressed()
        assert np.all((v >= lo) & (v <= hi)), name
    assert stack.summary()["year"] == 2020
