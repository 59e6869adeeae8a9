"""Benchmark geoeco.terrain.ls.ls_factor (flow routing included) on a synthetic fractal DEM.

Usage::

    python bench/bench_ls.py [--size 5000] [--cell 30]

The DEM is spectral fractal noise (power spectrum ~ k^-3, i.e. a rough surface of
fractal dimension ~2.5) scaled to ~1500 m of relief plus a gentle regional tilt, on a
projected 30 m grid. Each case runs in a fresh subprocess so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own; the reported "extra" is the
peak minus the resident size just before ``ls_factor`` (i.e. what LS itself needs, the input
DEM excluded). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

CASES = [("dg", "d8"), ("dg", "mfd"), ("lstool", "d8"), ("invest", "mfd"), ("invest", "mfd-invest")]


def fractal_dem(n: int, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, n)).astype(np.float32)
    spec = np.fft.rfft2(white)
    del white
    ky = np.fft.fftfreq(n)[:, None]
    kx = np.fft.rfftfreq(n)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    spec *= k**-1.5  # amplitude ~ k^-beta/2 with beta = 3
    spec[0, 0] = 0.0
    z = np.fft.irfft2(spec, s=(n, n)).astype(np.float32)
    del spec
    z -= z.min()
    z *= np.float32(1500.0 / z.max())
    z += np.linspace(200.0, 0.0, n, dtype=np.float32)[:, None]  # drain southward overall
    return z


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_one(path: str, method: str, routing: str, cell: float) -> dict:
    from affine import Affine

    from geoeco.core.raster import Grid, Raster
    from geoeco.terrain.ls import ls_factor

    z = np.load(path)
    n_rows, n_cols = z.shape
    grid = Grid(Affine(cell, 0, 500000, 0, -cell, 4000000), n_cols, n_rows, "EPSG:32650")
    dem = Raster.from_array(z, grid, units="m")
    del z
    # compile the numba kernels on a tiny DEM first, so the timing is the run itself
    small = Raster.from_array(np.asarray(dem.array[:50, :50]), grid.window(0, 0, 50, 50), units="m")
    ls_factor(small, method=method, routing=routing)
    before = _rss_kb()
    t0 = time.perf_counter()
    res = ls_factor(dem, method=method, routing=routing)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    npx = n_rows * n_cols
    return {
        "method": method,
        "routing": routing,
        "pixels": npx,
        "seconds": round(dt, 2),
        "mpx_per_s": round(npx / dt / 1e6, 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "extra_mb": round((peak - before) / 1024, 1),
        "extra_bytes_per_px": round((peak - before) * 1024 / npx, 1),
        "ls_mean": float(res.ls.array.mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--cell", type=float, default=30.0)
    ap.add_argument("--one", nargs=3, metavar=("NPY", "METHOD", "ROUTING"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.one[2], args.cell)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dem.npy")
        t0 = time.perf_counter()
        np.save(path, fractal_dem(args.size))
        print(f"DEM {args.size}x{args.size} generated in {time.perf_counter() - t0:.1f} s")
        for method, routing in CASES:
            cmd = [sys.executable, __file__, "--cell", str(args.cell), "--one", path]
            out = subprocess.run(
                [*cmd, method, routing],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['method']:>6}/{r['routing']:<3}  {r['seconds']:7.1f} s  "
                f"{r['mpx_per_s']:6.2f} Mpx/s  peak RSS {r['peak_rss_mb']:8.1f} MB  "
                f"LS needs {r['extra_mb']:8.1f} MB = {r['extra_bytes_per_px']:5.1f} B/px  "
                f"(mean LS {r['ls_mean']:.2f})"
            )


if __name__ == "__main__":
    main()
