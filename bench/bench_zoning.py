"""Benchmark the zoning raster phase (geoeco.zoning.overlay.run.compute_zones) at Three-North scale.

Usage::

    python bench/bench_zoning.py [--work DIR] [--scales 0.5 1 2] [--repeat 2] [--json out.json]
                                 [--gdal-threads ALL_CPUS] [--profile]
                                 [--engines local dask:1 dask:2]

A synthetic stack of the eight class layers the default rule set requires (four importance,
two sensitivity, erosion grade, desertification degree) is generated on an ALBERS_CHINA grid of
250 m pixels; ``--scales 1`` is 8000 x 8125 pixels (65 Mpx, ~4.06 million km², the size of the
Three-North programme area), and ``--scales`` multiplies the *area* (0.5 = half the pixels).
Each layer is a smooth random field (two octaves of bilinearly upsampled Gaussian-filtered
noise, ~16 km and ~2 km features, plus a little pixel noise) cut into classes at fixed
quantiles, with a shared ~7% nodata "sea"; it is written as a tiled COG window by window with
``geoeco.core.io.open_raster_writer`` and kept under ``--work`` (reused if present).

For every scale, three phases run (interleaved ``--repeat`` times, fastest kept), each in a
fresh child process so that its peak resident memory (``resource.getrusage(RUSAGE_SELF)
.ru_maxrss``) is its own, with ``GDAL_CACHEMAX=--gdal-cache-mb``:

* **zones**: ``compute_zones(load_rule_set("default"), readers, grid, out_dir=...)``;
* **io_floor**: read every input window by window and write three uint8 COGs of the grid's
  size holding the zones outputs (their read time is measured and subtracted), i.e. the
  unavoidable I/O of the raster phase at the same compression cost;
* **io_floor_copying_inputs**: the same, writing copies of three inputs.

Inputs are bound as direct window readers (``--reader direct``: one open rasterio dataset per
layer, ``read(window)`` masked) or through ``geoeco.core.align.aligned_source`` (``--reader
aligned``: a GDAL warped VRT). The report is a Markdown table (time, ratio zones / floor, peak
RSS) and a JSON file; results are in bench/README.md. ``--profile`` runs the zones phase under
cProfile and prints the top functions. Not run by the test suite.

``--engines local dask:1 dask:2`` runs the zones phase once per engine, interleaved in the same
run (so the ratios between engines are measured under the same load). ``dask:N`` is a
``LocalCluster`` of N worker processes (1 thread each; the readers pickle as their paths and
reopen in the workers), started and warmed up (numba kernels loaded) before the clock starts.
On Dask every per-tile step runs on the workers (``geoeco.zoning.overlay.distributed``): pass 1 with
sweep 1 of the patch stage, sweeps 2 and 3, pass 2, then one task per output COG. Each zones
row splits the time into the **compute phase** (``summary.compute["compute_s"]``: pass 1,
patch stage and pass 2, until every output tile is computed) and the **write phase**
(``write_s``: assembling the three COGs), and gives the start-up time and each worker's peak
RSS. On the local engine each output has a writer thread of its own (window writes overlap
pass 2; the floor uses the same writers), and the write phase is the three COG conversions at
the end, side by side.

Each phase also records its process CPU time (``time.process_time``, every thread of the
child; the floor's reference reads excluded): on a machine shared with other jobs the wall
ratio moves with their load, the CPU ratio much less.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FULL_SHAPE = (8000, 8125)  # rows, cols at 250 m: 65 Mpx, 4.06 million km²
RES = 250.0
ORIGIN = (-1_500_000.0, 5_800_000.0)  # ALBERS_CHINA x, y of the top-left corner
SEED = 20240601

# layer -> class shares (class 1 first), roughly the shape of real maps: the red line (top
# classes) ends up near 30% of the land and priority units near 55%, as in published
# provincial results.
LAYERS: dict[str, tuple[float, ...]] = {
    "importance_water_conservation": (0.87, 0.08, 0.05),
    "importance_biodiversity": (0.87, 0.08, 0.05),
    "importance_soil_conservation": (0.87, 0.08, 0.05),
    "importance_windbreak": (0.87, 0.08, 0.05),
    "sensitivity_soil_erosion": (0.45, 0.25, 0.20, 0.05, 0.05),
    "sensitivity_sanding": (0.45, 0.25, 0.20, 0.05, 0.05),
    "erosion_grade": (0.50, 0.20, 0.12, 0.08, 0.06, 0.04),
    "desertification_degree": (0.45, 0.20, 0.15, 0.12, 0.08),
}


def shape_for(scale: float) -> tuple[int, int]:
    f = math.sqrt(scale)
    return round(FULL_SHAPE[0] * f), round(FULL_SHAPE[1] * f)


def grid_for(scale: float):  # type: ignore[no-untyped-def]
    from affine import Affine

    from geoeco.core.crs import ALBERS_CHINA
    from geoeco.core.raster import Grid

    h, w = shape_for(scale)
    return Grid(Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1]), w, h, ALBERS_CHINA)


# --------------------------------------------------------------------------- synthetic stack


def _coarse(rng: np.random.Generator, shape: tuple[int, int], factor: int, sigma: float):
    from scipy.ndimage import gaussian_filter

    h, w = shape[0] // factor + 3, shape[1] // factor + 3
    c = gaussian_filter(rng.standard_normal((h, w)), sigma, mode="wrap")
    return (c / c.std()).astype(np.float32)


def _upsample(c: np.ndarray, factor: int, win: tuple[int, int, int, int]) -> np.ndarray:
    """Bilinear value of coarse field ``c`` (cells of ``factor`` pixels) over a window."""
    r0, c0, h, w = win
    y = (np.arange(r0, r0 + h) + 0.5) / factor
    x = (np.arange(c0, c0 + w) + 0.5) / factor
    iy, ix = y.astype(np.int64), x.astype(np.int64)
    fy, fx = (y - iy).astype(np.float32)[:, None], (x - ix).astype(np.float32)[None, :]
    a = c[np.ix_(iy, ix)]
    b = c[np.ix_(iy, ix + 1)]
    top = a + (b - a) * fx
    a = c[np.ix_(iy + 1, ix)]
    b = c[np.ix_(iy + 1, ix + 1)]
    bot = a + (b - a) * fx
    return top + (bot - top) * fy


def generate(folder: Path, scale: float, block: int) -> dict:
    from scipy.stats import norm

    from geoeco.core.io import open_raster_writer

    meta_path = folder / "stack.json"
    want = {
        "scale": scale,
        "shape": list(shape_for(scale)),
        "seed": SEED,
        "layers": {k: list(v) for k, v in LAYERS.items()},
    }
    if meta_path.exists() and json.loads(meta_path.read_text()).get("params") == want:
        return json.loads(meta_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    grid = grid_for(scale)
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    sea = _coarse(rng, grid.shape, 64, 2.0)
    sea_cut = np.float32(norm.ppf(0.07))
    for k, (name, shares) in enumerate(LAYERS.items()):
        lrng = np.random.default_rng([SEED, k])
        big = _coarse(lrng, grid.shape, 64, 1.0)
        mid = _coarse(lrng, grid.shape, 8, 1.0)
        cuts = norm.ppf(np.cumsum(shares)[:-1]).astype(np.float32)
        sd = np.float32(math.sqrt(1 + 0.6**2 + 0.25**2))
        with open_raster_writer(
            folder / f"{name}.tif", grid, dtype="uint8", nodata=0, units="class"
        ) as wr:
            for win in grid.blocks(block):
                v = _upsample(big, 64, win) + 0.6 * _upsample(mid, 8, win)
                v += 0.25 * lrng.standard_normal(v.shape, dtype=np.float32)
                v /= sd
                cls = (np.searchsorted(cuts, v.ravel()).reshape(v.shape) + 1).astype(np.uint8)
                cls[_upsample(sea, 64, win) < sea_cut] = 0
                wr.write(win, cls)
    meta = {
        "params": want,
        "seconds": round(time.perf_counter() - t0, 1),
        "bytes": sum(p.stat().st_size for p in folder.glob("*.tif")),
    }
    meta_path.write_text(json.dumps(meta))
    return meta


# --------------------------------------------------------------------------- phases


class DirectReader:
    """``read(window)`` of one band of an open GeoTIFF (masked by its nodata)."""

    def __init__(self, path: Path, grid) -> None:  # type: ignore[no-untyped-def]
        import rasterio

        self.path = Path(path)
        self._ds = rasterio.open(path)
        self.grid = grid

    def __getstate__(self) -> dict:  # pickles as its path: a Dask worker reopens the file
        return {"path": self.path, "grid": self.grid}

    def __setstate__(self, state: dict) -> None:
        self.path, self.grid, self._ds = state["path"], state["grid"], None

    def read(self, window: tuple[int, int, int, int]) -> np.ma.MaskedArray:
        from rasterio.windows import Window

        if self._ds is None:
            import rasterio

            self._ds = rasterio.open(self.path)
        r, c, h, w = window
        return self._ds.read(1, window=Window(c, r, w, h), masked=True)

    def close(self) -> None:
        if self._ds is not None:
            self._ds.close()


@contextlib.contextmanager
def open_inputs(folder: Path, grid, reader: str):  # type: ignore[no-untyped-def]
    with contextlib.ExitStack() as stack:
        out = {}
        for name in LAYERS:
            if reader == "aligned":
                from geoeco.core.align import aligned_source

                out[name] = stack.enter_context(aligned_source(folder / f"{name}.tif", grid))
            else:
                r = DirectReader(folder / f"{name}.tif", grid)
                stack.callback(r.close)
                out[name] = r
        yield out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def phase_floor(folder: Path, scale: float, block: int, reader: str, copy: str) -> dict:
    """Read every input window by window and write three uint8 COGs.

    ``copy="outputs"``: the COGs get the content of the zones phase's outputs (read from
    ``out_zones``; that read is timed separately and subtracted), so compression costs the
    same as in the zones phase. ``copy="inputs"``: copies of the first three inputs.
    """
    from geoeco.core.io import open_raster_writer
    from geoeco.zoning.overlay.outputs import ThreadedWriters

    grid = grid_for(scale)
    out = folder / "out_floor"
    names = (("zone_class", 0), ("redline", 255), ("flags", 255))
    before = _rss_mb()
    excluded = excluded_cpu = 0.0
    c0 = time.process_time()
    t0 = time.perf_counter()
    with open_inputs(folder, grid, reader) as inputs, contextlib.ExitStack() as stack:
        refs = []
        if copy == "outputs":
            for n, _ in names:
                r = DirectReader(folder / "out_zones" / f"{n}.tif", grid)
                stack.callback(r.close)
                refs.append(r)
        # the zones phase's writers: one thread per output from opening to the COG conversion
        writers = stack.enter_context(
            ThreadedWriters(
                [
                    functools.partial(
                        open_raster_writer,
                        out / f"{n}.tif",
                        grid,
                        dtype="uint8",
                        nodata=nd,
                        units="class",
                    )
                    for n, nd in names
                ]
            )
        )
        for win in grid.blocks(block):
            arrays = [r.read(win) for r in inputs.values()]
            if refs:
                t, c = time.perf_counter(), time.process_time()
                arrays = [r.read(win) for r in refs]
                excluded += time.perf_counter() - t
                excluded_cpu += time.process_time() - c
            writers.write(win, *arrays[:3])
    dt = time.perf_counter() - t0 - excluded
    cpu = time.process_time() - c0 - excluded_cpu
    shutil.rmtree(out, ignore_errors=True)
    return {
        "seconds": dt,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "excluded_reference_read_s": excluded,
    }


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_zones(
    folder: Path,
    scale: float,
    block: int,
    reader: str,
    profile: bool,
    keep: bool,
    engine: str = "local",
    workers: int = 2,
) -> dict:
    from geoeco.zoning.overlay import run as overlay
    from geoeco.zoning.rules import load_rule_set

    grid = grid_for(scale)
    out = folder / "out_zones"
    rules = load_rule_set("default")
    timings: dict[str, float] = {}

    def timed(fn, key):  # type: ignore[no-untyped-def]
        def wrapper(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            r = fn(*a, **k)
            timings[key] = time.perf_counter() - t
            return r

        return wrapper

    # pass 1 + patch sweeps, and the sweeps after pass 1 (names looked up at call time; sweep 1
    # runs tile by tile inside pass 1)
    overlay._patch_stage_tiled = timed(overlay._patch_stage_tiled, "pass1_and_patch_stage_s")
    from geoeco.zoning.patches.tiled import TiledRedline

    TiledRedline.finish = timed(TiledRedline.finish, "patch_sweeps_s")  # type: ignore[method-assign]
    eng = None
    extra: dict = {"engine": engine}
    if engine == "dask":
        from geoeco.core.engine import DaskEngine

        t = time.perf_counter()
        eng = DaskEngine(n_workers=workers, threads_per_worker=1)
        eng.client.run(overlay.warm_up)  # start-up and numba cache loads, not timed
        extra.update(workers=workers, startup_s=time.perf_counter() - t)
    before = _rss_mb()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0 = time.process_time()
    t0 = time.perf_counter()
    with open_inputs(folder, grid, reader) as inputs:
        res = overlay.compute_zones(rules, inputs, grid, out_dir=out, block_size=block, engine=eng)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0  # this process only (a Dask worker's CPU is not in it)
    if eng is not None:
        peaks = eng.client.run(_worker_peak_mb)
        extra["worker_peak_rss_mb"] = sorted(round(v) for v in peaks.values())
        eng.close()
    extra["compute"] = res.summary.compute
    extra["pixel_sha256"] = _pixel_digests([res.zone_class, res.redline, res.flags])
    if prof is not None:
        import io
        import pstats

        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
        sys.stderr.write(s.getvalue())
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
        sys.stderr.write(s.getvalue())
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    sm = res.summary
    return {
        "seconds": dt,
        "cpu_s": cpu,
        "rss_before_mb": before,
        **timings,
        "area_km2": sm.area_km2.to_dict(),
        "redline_km2_total": sum(sm.redline_km2.values()),
        "redline_cleanup": {
            "removed_km2": sm.redline_cleanup.removed_km2,
            "filled_km2": sm.redline_cleanup.filled_km2,
        },
        "method": sm.redline_cleanup.method,
        **extra,
    }


def _pixel_digests(paths: list) -> dict[str, str]:  # type: ignore[type-arg]
    """SHA-256 of each output's pixels (read block by block, untimed): equal digests mean
    bit-identical rasters whichever engine wrote them (file bytes may differ in layout)."""
    import hashlib

    import rasterio

    out = {}
    for p in paths:
        h = hashlib.sha256()
        with rasterio.open(p) as ds:
            for _, win in ds.block_windows(1):
                h.update(ds.read(1, window=win).tobytes())
        out[Path(p).stem] = h.hexdigest()[:16]
    return out


def run_child(args: argparse.Namespace, phase: str, folder: Path, scale: float) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--dir",
        str(folder),
        "--scales",
        str(scale),
        "--block",
        str(args.block),
        "--reader",
        args.reader,
    ]
    if args.profile and phase.startswith("zones"):
        cmd.append("--profile")
    if phase.startswith("zones"):
        engine, _, workers = phase.partition(":")[2].partition(":")
        cmd[3] = "zones"
        cmd += ["--keep", "--engine", engine or "local", "--workers", workers or "1"]
    env = {**os.environ, "GDAL_CACHEMAX": str(args.gdal_cache_mb)}
    if args.gdal_threads:  # both phases: multi-threaded deflate in the GTiff and COG drivers
        env["GDAL_NUM_THREADS"] = args.gdal_threads
    p = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env)
    return json.loads(p.stdout.strip().splitlines()[-1])


def child_main(args: argparse.Namespace) -> None:
    folder, scale = Path(args.dir), args.scales[0]
    # steady state: import what either phase uses before the clock starts (a service or a
    # notebook has these loaded; the first import of scipy.sparse alone takes ~0.5 s)
    import rasterio  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.sparse.csgraph  # noqa: F401

    import geoeco.core.io  # noqa: F401
    import geoeco.zoning.overlay.run

    if args.phase == "zones":  # ... and its numba kernels (from numba's cache: ~0.3 s cold)
        geoeco.zoning.overlay.run.warm_up()

    if args.phase.startswith("floor"):
        copy = "outputs" if args.phase == "floor_outputs" else "inputs"
        r = phase_floor(folder, scale, args.block, args.reader, copy)
    else:
        r = phase_zones(
            folder,
            scale,
            args.block,
            args.reader,
            args.profile,
            args.keep,
            args.engine,
            args.workers,
        )
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", help="folder for the synthetic stack (default: a temp dir)")
    ap.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--reader", choices=["direct", "aligned"], default="direct")
    ap.add_argument(
        "--gdal-cache-mb",
        type=int,
        default=256,
        help="GDAL_CACHEMAX of both phases (GDAL's default, 5%% of RAM, lets the block cache "
        "of the COG writers grow with the grid and hides the engine's own memory)",
    )
    ap.add_argument(
        "--gdal-threads",
        help="GDAL_NUM_THREADS of both phases (e.g. ALL_CPUS: the writers compress with "
        "worker threads); default: unset, one thread",
    )
    ap.add_argument(
        "--engines",
        nargs="+",
        default=["local"],
        help="engines of the zones phase, each run in the same session: local, dask:N "
        "(a LocalCluster of N worker processes, started untimed)",
    )
    ap.add_argument("--engine", choices=["local", "dask"], default="local", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write the results here (default: <work>/bench_zoning.json)")
    ap.add_argument("--profile", action="store_true", help="cProfile the zones phase (stderr)")
    ap.add_argument(
        "--repeat", type=int, default=1, help="run each phase N times, keep the fastest"
    )
    ap.add_argument(
        "--phase", choices=["floor_outputs", "floor_inputs", "zones"], help=argparse.SUPPRESS
    )
    ap.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        child_main(args)
        return
    tmp = None
    if args.work:
        work = Path(args.work)
    else:
        tmp = tempfile.mkdtemp(prefix="geoeco-bench-zoning-")
        work = Path(tmp)
    rows = []
    try:
        for scale in args.scales:
            folder = work / f"scale_{scale:g}"
            h, w = shape_for(scale)
            meta = generate(folder, scale, args.block)
            print(
                f"scale {scale:g}: {h} x {w} = {h * w / 1e6:.1f} Mpx x {len(LAYERS)} layers, "
                f"{meta['bytes'] / 1e6:.0f} MB of COGs (generated in {meta['seconds']} s)",
                file=sys.stderr,
            )
            for e in args.engines:
                if e != "local" and not (e.startswith("dask:") and e[5:].isdigit()):
                    raise SystemExit(f"--engines takes local or dask:N, got {e!r}")
            zone_phases = [f"zones:{e}" for e in args.engines]
            runs: dict[str, list[dict]] = {p: [] for p in zone_phases}
            runs.update(floor_outputs=[], floor_inputs=[])
            for _ in range(args.repeat):  # interleaved, so load from elsewhere hits all alike
                for phase in runs:  # zones first: they leave out_zones for the floor
                    runs[phase].append(run_child(args, phase, folder, scale))
            best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
            floor, floor_in = best["floor_outputs"], best["floor_inputs"]
            shutil.rmtree(folder / "out_zones", ignore_errors=True)
            for e, phase in zip(args.engines, zone_phases, strict=True):
                zones = best[phase]
                rows.append(
                    {
                        "scale": scale,
                        "shape": [h, w],
                        "mpx": h * w / 1e6,
                        "area_km2": h * w * RES * RES / 1e6,
                        "layers": len(LAYERS),
                        "block": args.block,
                        "reader": args.reader,
                        "engine": e,
                        "gdal_cachemax_mb": args.gdal_cache_mb,
                        "gdal_num_threads": args.gdal_threads,
                        "io_floor": floor,
                        "io_floor_copying_inputs": floor_in,
                        "zones": zones,
                        "compute_s": zones["compute"].get("compute_s"),
                        "write_s": zones["compute"].get("write_s"),
                        "repeats": args.repeat,
                        "all_seconds": {k: [r["seconds"] for r in v] for k, v in runs.items()},
                        "ratio": zones["seconds"] / floor["seconds"],
                        "ratio_vs_copying_inputs": zones["seconds"] / floor_in["seconds"],
                        "cpu_ratio": zones["cpu_s"] / floor["cpu_s"],
                    }
                )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        "| scale | grid (Mpx) | engine | I/O floor (s) | floor, input copies (s) "
        "| raster phase (s) | compute phase (s) | write phase (s) | ratio to floor "
        "| CPU floor (s) | CPU raster phase (s) | CPU ratio "
        "| peak RSS floor (MB) | peak RSS driver (MB) | peak RSS per worker (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        workers = r["zones"].get("worker_peak_rss_mb")
        lines.append(
            f"| {r['scale']:g} | {r['mpx']:.1f} | {r['engine']} "
            f"| {r['io_floor']['seconds']:.1f} | {r['io_floor_copying_inputs']['seconds']:.1f} "
            f"| {r['zones']['seconds']:.1f} | {r['compute_s']:.1f} | {r['write_s']:.1f} "
            f"| {r['ratio']:.2f} | {r['io_floor']['cpu_s']:.1f} | {r['zones']['cpu_s']:.1f} "
            f"| {r['cpu_ratio']:.2f} | {r['io_floor']['peak_rss_mb']:.0f} "
            f"| {r['zones']['peak_rss_mb']:.0f} "
            f"| {', '.join(str(x) for x in workers) if workers else '–'} |"
        )
    dask = {r["engine"]: r for r in rows if r["engine"].startswith("dask:")}
    if "dask:1" in dask and "dask:2" in dask:
        one, two = dask["dask:1"], dask["dask:2"]
        lines.append(
            f"\n2 workers vs 1: compute phase {one['compute_s'] / two['compute_s']:.2f}x, "
            f"write phase {one['write_s'] / two['write_s']:.2f}x, "
            f"raster phase {one['zones']['seconds'] / two['zones']['seconds']:.2f}x"
        )
    print("\n".join(lines))
    out = Path(args.json) if args.json else (work / "bench_zoning.json" if args.work else None)
    if out is not None:
        out.write_text(json.dumps({"cpus": os.cpu_count(), "runs": rows}, indent=2))
        print(f"\nJSON: {out}", file=sys.stderr)
    else:
        print(json.dumps({"cpus": os.cpu_count(), "runs": rows}))


if __name__ == "__main__":
    main()
