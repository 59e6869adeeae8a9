"""Benchmark LS routed by basin tile (geoeco.terrain.ls_tiled) against the whole-DEM run.

Usage::

    python bench/bench_basins.py [--size 6000] [--blocks 20] [--budget 4000000]
                                 [--method dg] [--routing d8]

The DEM (``size`` x ``size``, 30 m) is two rows of ``blocks`` rectangular basins, each a
tilted V valley with uniform noise (pits to fill) fenced by flat-topped crests, the layout
of ``tests/test_basins.py`` scaled up: basins follow true divides, so both runs must agree
exactly. Each run happens in a fresh subprocess so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own (the DEM is built in a child
as well, since Linux carries ru_maxrss over fork + exec). Both runs write ``ls.tif`` and
``flow_acc.tif`` as COGs; the whole run reads the DEM whole, the tiled run derives basins
from a coarsened DEM and reads one tile window at a time. Not run by the test suite.

Measured (2 cores, 24 GB, dg + D8, ``--size 6000 --blocks 20 --budget 4000000``; 40 basins
of 3000 x 300 px, coarse factor 6, 10 tiles, largest window 3.6 Mpx, windows cover the DEM
1.003 times)::

    whole: 64.1 s (37.0 s ls_factor + 27.1 s writing 2 COGs), peak RSS 1995 MB
    tiled: 84.2 s (3.5 s basins + 43.9 s tiles + 36.8 s mosaic), peak RSS  646 MB
    flow_acc and ls identical

The tiled peak is the interpreter with its imports (~220 MB) + the coarse routing + one
tile (~87 B per window pixel); it does not grow with the DEM.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def blocks_dem(size: int, nbc: int) -> np.ndarray:
    h, w = size // 2, size // nbc
    r, c = np.indices((2 * h, nbc * w), dtype=np.int32)
    lr, lc = r % h, c % w
    top = r < h
    z = (100.0 + np.where(top, lr, h - 1 - lr) + 2.0 * np.abs(lc - (w - 1) / 2)).astype(np.float32)
    del r
    z += np.random.default_rng(1).uniform(0.0, 3.0, z.shape).astype(np.float32)
    crest = (lc == 0) | (lc == w - 1) | np.where(top, lr == h - 1, lr == 0)
    z[crest] = 100.0 + h + w + 10.0
    return z


def make_dem(path: Path, size: int, nbc: int) -> None:
    from affine import Affine

    from geoeco.core.io import write_raster
    from geoeco.core.raster import Grid, Raster

    z = blocks_dem(size, nbc)
    grid = Grid(Affine(30, 0, 500000, 0, -30, 4000000), z.shape[1], z.shape[0], "EPSG:32650")
    write_raster(Raster.from_array(z, grid, units="m"), path)


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_one(
    mode: str, dem: str, out: str, budget: int, factor: int, method: str, routing: str
) -> dict:
    from geoeco.core.io import read_raster, write_raster
    from geoeco.terrain.ls import ls_factor
    from geoeco.terrain.ls_tiled import ls_factor_tiled

    t0 = time.perf_counter()
    info: dict = {}
    if mode == "whole":
        res = ls_factor(read_raster(dem, units="m"), method=method, routing=routing)
        info["compute_s"] = round(time.perf_counter() - t0, 2)
        info["peak_mb_before_write"] = _peak_mb()
        write_raster(res.ls, Path(out) / "ls.tif")
        write_raster(res.flow_acc, Path(out) / "flow_acc.tif")
    else:
        marks: dict[str, float] = {}

        def progress(stage: str, frac: float) -> None:
            if stage.startswith("flow routing") and "tiles_start_s" not in marks:
                marks["tiles_start_s"] = time.perf_counter() - t0
            if stage.startswith("mosaic"):
                marks["mosaic_start_s"] = time.perf_counter() - t0
                marks["peak_mb_before_mosaic"] = _peak_mb()

        tiled = ls_factor_tiled(
            dem,
            out,
            method=method,
            routing=routing,
            budget_pixels=budget,
            factor=factor,
            outputs=("ls", "flow_acc"),
            progress=progress,
        )
        assert tiled.plan is not None
        info.update({k: round(v, 2) for k, v in marks.items()})
        info.update(
            tiles=tiled.tiles_routed,
            basins=tiled.plan.n_basins,
            largest_window_px=tiled.largest_window,
            overhead=round(tiled.plan.overhead, 3),
            factor=tiled.plan.factor,
        )
    return {
        "mode": mode,
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_mb": _peak_mb(),
        **info,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=6000)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--budget", type=int, default=4_000_000)
    ap.add_argument("--factor", type=int, default=6, help="coarse cell, DEM pixels a side")
    ap.add_argument("--method", default="dg")
    ap.add_argument("--routing", default="d8")
    ap.add_argument("--gdal-cache-mb", type=int, default=128)
    ap.add_argument("--child", nargs=4)
    ap.add_argument("--make")
    a = ap.parse_args()
    if a.make:
        make_dem(Path(a.make), a.size, a.blocks)
        return
    if a.child:
        import rasterio

        mode, dem, out, budget = a.child
        # GDAL's block cache defaults to 5 % of RAM and would dominate the peak of the COG
        # writes in both modes; cap it so that the peak shows what the algorithms need
        with rasterio.Env(GDAL_CACHEMAX=a.gdal_cache_mb * 2**20):
            row = run_one(mode, dem, out, int(budget), a.factor, a.method, a.routing)
        print(json.dumps(row))
        return
    h, w = a.size // 2, a.size // a.blocks
    if h % a.factor or w % a.factor:
        raise SystemExit(f"blocks of {h} x {w} px must be multiples of --factor {a.factor}")
    with tempfile.TemporaryDirectory() as d:
        dem = Path(d) / "dem.tif"
        # in a child too: Linux keeps ru_maxrss across fork + exec, so a parent that had
        # built the DEM itself would pass its own peak on to every run
        cmd = [sys.executable, __file__, "--size", str(a.size), "--blocks", str(a.blocks)]
        subprocess.run([*cmd, "--make", str(dem)], check=True)
        for mode in ("whole", "tiled"):
            out = Path(d) / mode
            out.mkdir()
            cmd = [sys.executable, __file__, "--method", a.method, "--routing", a.routing]
            cmd += ["--gdal-cache-mb", str(a.gdal_cache_mb), "--factor", str(a.factor)]
            cmd += ["--child", mode, str(dem), str(out), str(a.budget)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            print(res.stdout.strip().splitlines()[-1])
        from geoeco.core.io import read_raster

        for name in ("flow_acc", "ls"):
            w = np.ma.filled(read_raster(Path(d) / "whole" / f"{name}.tif").array, np.nan)
            t = np.ma.filled(read_raster(Path(d) / "tiled" / f"{name}.tif").array, np.nan)
            print(f"{name}: identical = {np.array_equal(w, t, equal_nan=True)}")


if __name__ == "__main__":
    main()
