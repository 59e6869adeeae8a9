"""Small grids run the terrain kernels interpreted (no numba); large ones compile them.

Both versions must give identical arrays: every public terrain function is run on random
grids once with the threshold forcing the interpreted version and once forcing numba.
A whole ``geoeco erosion`` process on a small DEM must not import numba at all.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rasterio
from affine import Affine

from geoeco.core import jit
from geoeco.core.jit import kernel
from geoeco.core.raster import Grid, Raster
from geoeco.terrain.basins import basin_labels
from geoeco.terrain.fill import priority_flood
from geoeco.terrain.ls import ls_factor
from geoeco.terrain.mfd_invest import mfd_invest_shares
from geoeco.terrain.routing import route
from geoeco.terrain.slope import aspect, slope_horn


def _dem(seed: int, shape: tuple[int, int] = (23, 31)) -> np.ndarray:
    """Rough random terrain with flats (rounded heights), pits and a few nodata cells."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    z = np.add.outer(np.linspace(40, 0, rows), np.linspace(0, 10, cols))
    z = np.round(z + rng.normal(0, 3, shape), 0).astype(np.float32)
    z[rng.random(shape) < 0.03] = np.nan
    return z


def _both(monkeypatch: pytest.MonkeyPatch, fn, *args, **kwargs):
    """``fn`` run with every kernel interpreted, then with every kernel compiled by numba."""
    monkeypatch.setattr(jit, "STICKY", False)
    monkeypatch.setattr(jit, "SMALL_GRID_CELLS", 10**15)
    interpreted = fn(*args, **kwargs)
    monkeypatch.setattr(jit, "SMALL_GRID_CELLS", 0)
    compiled = fn(*args, **kwargs)
    return interpreted, compiled


def _same(a, b) -> bool:
    """Arrays identical: same dtype, shape and values, NaN where the other has NaN."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


@kernel
def _blend(z: np.ndarray, i: int) -> float:
    """A callee kernel mixing float32 elements with float64 literals (numba widens them)."""
    return 2.0 * z[i] + z[i - 1] / 3.0 + 0.1


@kernel
def _blend_all(z: np.ndarray, out: np.ndarray) -> None:
    """A caller kernel reaching its callee through a module-level name."""
    for i in range(1, z.size):
        out[i] = _blend(z, i)


def test_nested_kernel_float32_identical_and_compiled_once_sticks(monkeypatch):
    """A kernel calling a kernel gives the same float32 result interpreted and compiled;
    once compiled, STICKY keeps small calls on the compiled version."""
    z = np.random.default_rng(3).normal(100, 30, 500).astype(np.float32)

    def run(values):
        out = np.zeros_like(values)
        _blend_all(values, out)
        return out

    interpreted, compiled = _both(monkeypatch, run, z)
    assert _same(interpreted, compiled)
    by_hand = np.float32(2.0 * float(z[7]) + float(z[6]) / 3.0 + 0.1)  # float64, then stored
    assert compiled[7] == by_hand
    monkeypatch.setattr(jit, "STICKY", True)
    monkeypatch.setattr(jit, "SMALL_GRID_CELLS", 10**15)

    def no_interpreting(self):
        raise AssertionError(f"{self.__name__} interpreted after it was compiled")

    monkeypatch.setattr(jit.Kernel, "python", no_interpreting)
    assert _same(run(z[:10]), compiled[:10])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fill_slope_aspect_basins_identical(monkeypatch, seed):
    """Priority flood, Horn slope/aspect, basin labels and MFD shares: both versions equal."""
    z = _dem(seed)
    for fn, args in [
        (priority_flood, (np.nan_to_num(z, nan=-1e9).astype(np.float64),)),
        (slope_horn, (z, 30.0)),
        (aspect, (z, 30.0)),
        (basin_labels, (np.nan_to_num(z, nan=np.nan), 30.0)),
    ]:
        interpreted, compiled = _both(monkeypatch, fn, *args)
        if isinstance(interpreted, tuple):
            for x, y in zip(interpreted, compiled, strict=True):
                assert _same(x, y)
        else:
            assert _same(interpreted, compiled)
    filled = priority_flood(np.nan_to_num(z, nan=-1e9).astype(np.float64))[0]
    assert _same(*_both(monkeypatch, mfd_invest_shares, filled))


@pytest.mark.parametrize("method", ["d8", "mfd", "mfd-invest"])
def test_routing_identical(monkeypatch, method):
    """Every routing output (filled DEM, directions, accumulation, order) is the same."""
    z = _dem(7)
    interpreted, compiled = _both(monkeypatch, route, z, method=method, cellsize=30.0)
    for name in ("filled", "flowdir", "flow_acc", "order"):
        assert _same(getattr(interpreted, name), getattr(compiled, name))


@pytest.mark.parametrize(
    ("method", "routing"),
    [("lstool", "d8"), ("dg", "mfd"), ("invest", "mfd-invest"), ("invest", "d8")],
)
def test_ls_identical(monkeypatch, method, routing):
    """LS, L, S, slope and accumulation of every method: both versions equal."""
    grid = Grid(Affine(30, 0, 400000, 0, -30, 2500000), 31, 23, "EPSG:32649")
    dem = Raster.from_array(_dem(11), grid)
    interpreted, compiled = _both(monkeypatch, ls_factor, dem, method=method, routing=routing)
    for name in ("ls", "l", "s", "slope_deg", "flow_acc"):
        assert _same(getattr(interpreted, name).array, getattr(compiled, name).array)
    assert interpreted.params == compiled.params


def test_small_erosion_process_never_imports_numba(tmp_path):
    """`geoeco erosion` on a 12 × 200 DEM runs without importing numba (fast start)."""
    dem = tmp_path / "dem.tif"
    z = _dem(5, (12, 200))
    profile = {
        "driver": "GTiff",
        "height": 12,
        "width": 200,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:32649",
        "transform": Affine(30, 0, 400000, 0, -30, 2500000),
        "nodata": np.nan,
    }
    with rasterio.open(dem, "w", **profile) as dst:
        dst.write(z, 1)
    code = textwrap.dedent(
        """
        import sys
        from geoeco.cli import app
        try:
            app(sys.argv[1:])
        except SystemExit as exit:
            assert not exit.code, exit.code
        print("numba imported:", "numba" in sys.modules)
        """
    )
    args = ["erosion", "--dem", str(dem), "--r", "3000", "--k", "0.03", "--c", "0.1"]
    args += ["--out", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    assert "numba imported: False" in done.stdout
    assert (tmp_path / "out" / "summary.json").is_file()
