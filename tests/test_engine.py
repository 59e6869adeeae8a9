"""Engines: the erosion window algebra on a dask.distributed cluster gives exactly the rasters
and summary of the in-process engine; option validation; an unreachable scheduler fails fast.

The expected values are the local engine's own outputs (the reference implementation, itself
tested against hand-worked numbers in test_erosion_pipeline.py): the Dask engine must give
bit-identical arrays and equal summary numbers.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import tomllib
from importlib.resources import files

import numpy as np
import pytest
import rasterio

from geoeco.core.engine import DaskEngine, LocalEngine, get_engine
from geoeco.core.errors import DataSourceError, InvalidInput
from geoeco.erosion.config import make_config
from geoeco.erosion.run import run_erosion

distributed = pytest.importorskip("distributed", reason="engine 'dask' needs dask.distributed")


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes (1 thread each) for the whole module."""
    import cloudpickle

    # the small kernels below live in this test module, which workers cannot import
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="2GiB",
        dashboard_address=None,
    )
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


def _demo_config(demo_dir, **changes):
    """The demo's erosion settings (as geoeco.workflows.demo uses them) with ``changes``."""
    settings = tomllib.loads(
        (files("geoeco") / "data" / "demo_erosion.toml").read_text(encoding="utf-8")
    )
    settings["landcover_table"]["path"] = str(files("geoeco") / "data/demo_landcover_factors.csv")
    settings.update(changes)
    return make_config(settings, base=demo_dir)


def _numbers(summary):
    """The summary without the compute description (which names the engine)."""
    return {k: v for k, v in summary.items() if k != "compute"}


def _add(a, b):
    return a + b


def _window_sum(offset, window):
    return offset + window[0] * 1000 + window[1]


# ------------------------------------------------------------------ map_windows


def test_map_windows_local_and_dask_agree(client):
    """``kernel(*args, window)`` per window; ordered results come back in window order on both
    engines, unordered ones as a permutation (values: offset 7 + row*1000 + col)."""
    wins = [(r, c, 4, 4) for r in (0, 4, 8) for c in (0, 4)]
    expect = [(w, 7 + w[0] * 1000 + w[1]) for w in wins]
    assert list(LocalEngine().map_windows(_window_sum, wins, 7)) == expect
    eng = DaskEngine(client=client, in_flight=1)  # 2 slots: forces refills while iterating
    assert list(eng.map_windows(_window_sum, wins, 7)) == expect
    assert sorted(eng.map_windows(_window_sum, wins, 7, ordered=False)) == sorted(expect)
    assert eng.describe()["workers"] == 2
    eng.close()  # a client passed in is not closed
    assert client.submit(_add, 1, 2).result() == 3


def test_kernel_errors_keep_their_type(client):
    """A geoeco error raised in a worker arrives in the driver with its type and message."""

    def bad(window):
        raise InvalidInput(f"window {window[0]} is bad")

    with pytest.raises(InvalidInput, match="window 0 is bad"):
        list(DaskEngine(client=client).map_windows(bad, [(0, 0, 1, 1), (1, 0, 1, 1)]))


# ------------------------------------------------------------------ erosion


@pytest.mark.parametrize(
    "changes",
    [
        {"block_size": 128},  # 3 x 3 windows on the 333 x 333 demo
        {
            "block_size": 200,
            "model": "csle",
            # demo land cover: 1 cropland 2 forest 3 grass 4 water 5 built 6 sand 7 bare
            "b_factors": {1: 1.0, 2: "cai", 3: "cai", 4: 0.0, 5: 0.0, 6: 1.0, 7: 1.0},
            "t_factors": {1: 0.4, 2: 1.0, 3: 1.0, 4: 0.0, 5: 0.0, 6: 1.0, 7: 1.0},
        },
    ],
    ids=["rusle", "csle"],
)
def test_erosion_dask_equals_local(client, demo_small_dir, tmp_path, changes):
    """Erosion on the small demo (333 x 333 at 30 m) with engine local and with 2 Dask workers:
    every output raster is bit-identical and every summary number equal."""
    cfg = _demo_config(demo_small_dir, **changes)
    dem = demo_small_dir / "dem.tif"
    local = run_erosion(dem, cfg, tmp_path / "local")
    dask = run_erosion(dem, cfg, tmp_path / "dask", engine=DaskEngine(client=client))
    assert local.compute["name"] == "local"
    assert dask.compute == {
        "name": "dask",
        "scheduler": "local",
        "workers": 2,
        "threads": 2,
        "windows": 9 if changes["block_size"] == 128 else 4,
        "window_px": changes["block_size"],
        "writes": "dask",  # each output file written by one task on a worker
    }
    assert not [p for p in (tmp_path / "dask").iterdir() if p.name.startswith(".")]  # no scratch
    assert _numbers(local.summary()) == _numbers(dask.summary())
    assert local.area_km2_total > 50  # the demo is ~100 km², not an empty run
    for f in local.outputs:
        with rasterio.open(tmp_path / "local" / f) as a, rasterio.open(tmp_path / "dask" / f) as b:
            x, y = a.read(), b.read()
            assert str(a.profile) == str(b.profile), f  # str: nodata NaN != NaN
            assert np.array_equal(x, y, equal_nan=True), f


def test_erosion_engine_by_name(demo_small_dir, tmp_path):
    """``engine="local"`` is the default path; a bad name is refused before any work."""
    cfg = _demo_config(demo_small_dir)
    s = run_erosion(demo_small_dir / "dem.tif", cfg, tmp_path / "o", engine="local")
    assert s.compute == {
        "name": "local",
        "workers": 1,
        "threads_per_worker": 1,
        "windows": 1,
        "window_px": 1024,
    }
    with pytest.raises(InvalidInput, match="engine must be one of local, dask"):
        run_erosion(demo_small_dir / "dem.tif", cfg, tmp_path / "o2", engine="spark")
    with pytest.raises(InvalidInput, match="engine must be"):
        run_erosion(demo_small_dir / "dem.tif", cfg, tmp_path / "o3", engine=3)  # type: ignore[arg-type]


# ------------------------------------------------------------------ options


def test_engine_options_are_validated():
    """Names, addresses and numbers are checked when the engine is made (no connection)."""
    assert isinstance(get_engine(None), LocalEngine)
    assert isinstance(get_engine(" Dask "), DaskEngine)
    eng = LocalEngine()
    assert get_engine(eng) is eng
    with pytest.raises(InvalidInput, match="needs engine 'dask'"):
        get_engine("local", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InvalidInput, match="takes no options"):
        get_engine("local", n_workers=2)
    with pytest.raises(InvalidInput, match="scheduler address must look like"):
        get_engine("dask", scheduler="not an address")
    with pytest.raises(InvalidInput, match="local cluster only"):
        DaskEngine("tcp://127.0.0.1:8786", n_workers=2)
    for bad in ({"n_workers": 0}, {"threads_per_worker": 0}, {"in_flight": 0}):
        with pytest.raises(InvalidInput, match="positive integer"):
            DaskEngine(**bad)
    with pytest.raises(InvalidInput, match="connect_timeout"):
        DaskEngine("127.0.0.1:8786", connect_timeout=0)
    d = get_engine("dask", scheduler="127.0.0.1:8786", connect_timeout=1)
    assert (d.scheduler, d.n_workers, d.threads_per_worker) == ("127.0.0.1:8786", None, 1)


def test_unreachable_scheduler_fails_fast(demo_small_dir, tmp_path):
    """A port nobody listens on: DataSourceError naming the address, within a few seconds
    (connect_timeout 2 s), and before any output is written."""
    with socket.socket() as s:  # a free local port, closed again: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    t0 = time.monotonic()
    with pytest.raises(DataSourceError, match=rf"{addr} did not answer within 2 s"):
        with DaskEngine(addr, connect_timeout=2) as eng:
            run_erosion(
                demo_small_dir / "dem.tif",
                _demo_config(demo_small_dir),
                tmp_path / "o",
                engine=eng,
            )
    assert time.monotonic() - t0 < 8
    assert not (tmp_path / "o" / "soil_loss.tif").exists()


def test_cli_engine_option(demo_small_dir, tmp_path, capsys):
    """``geoeco erosion --engine`` validates its value and the scheduler flag (exit 2, one
    line, no traceback), and ``--engine local`` runs as before."""
    from geoeco.cli import main

    cfg = tmp_path / "e.toml"
    text = (files("geoeco") / "data" / "demo_erosion.toml").read_text(encoding="utf-8")
    table = (files("geoeco") / "data" / "demo_landcover_factors.csv").as_posix()
    text = text.replace('path = "demo_landcover_factors.csv"', f'path = "{table}"')
    for name in ("rain_daily", "ndvi", "landcover", "sand", "silt", "clay", "soc"):
        text = text.replace(f'"{name}.tif"', f'"{(demo_small_dir / name).as_posix()}.tif"')
    cfg.write_text(text, encoding="utf-8")
    base = ["erosion", "--dem", str(demo_small_dir / "dem.tif"), "--config", str(cfg)]
    assert main([*base, "--out", str(tmp_path / "a"), "--engine", "spark"]) == 2
    assert "engine must be one of local, dask" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b"), "--scheduler", "127.0.0.1:8786"]) == 2
    assert "needs engine 'dask'" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "c"), "--engine", "local"]) == 0
    assert (tmp_path / "c" / "erosion_grade.tif").exists()


def test_service_jobs_can_compute_on_dask(client, demo_small_dir, tmp_path):
    """The service's engine setting reaches erosion jobs: an ExecutionContext with
    engine="dask" and the cluster's scheduler address runs the `erosion` process on that
    cluster, with the same soil loss as the default (local) context."""
    import numpy as np

    from geoeco.core.io import read_raster
    from geoeco.service.process_inputs import ExecutionContext
    from geoeco.service.processes import execute

    assert ExecutionContext().compute_engine() is None
    ctx = ExecutionContext(engine="dask", scheduler=client.scheduler.address)
    inputs = {"demo_size": "small"}
    a = execute("erosion", inputs, tmp_path / "local", lambda s, f: None)
    b = execute("erosion", inputs, tmp_path / "dask", lambda s, f: None, context=ctx)
    assert a.summary["mean_soil_loss_t_km2_a"] == b.summary["mean_soil_loss_t_km2_a"]
    full = json.loads((tmp_path / "dask" / "summary.json").read_text(encoding="utf-8"))
    assert full["compute"]["name"] == "dask"  # it really ran on the cluster
    la = read_raster(tmp_path / "local" / "soil_loss.tif").array
    lb = read_raster(tmp_path / "dask" / "soil_loss.tif").array
    assert np.array_equal(la.filled(np.nan), lb.filled(np.nan), equal_nan=True)
