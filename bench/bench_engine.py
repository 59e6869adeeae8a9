"""Benchmark the erosion pipeline on the local engine and on Dask with 1 and 2 workers.

Usage::

    python bench/bench_engine.py [--work DIR] [--res 30] [--block 1024] [--repeat 2]
                                 [--workers 1 2] [--json out.json]

The synthetic demo region (``geoeco.catalog.demo_region.build_demo_region(size="full", res=...)``;
100 km
square, 3333 x 3333 pixels at 30 m) is built under ``--work`` (reused if present) and
``geoeco.erosion.run.run_erosion`` runs on it with the demo's erosion settings
(``geoeco/data/demo_erosion.toml``: daily-rain R, EPIC K from texture, C from NDVI, P from the
land-cover table, LS by LS-tool on D8) on:

* ``local``: :class:`geoeco.core.engine.LocalEngine` (in-process, the default);
* ``dask-N``: :class:`geoeco.core.engine.DaskEngine` on a ``LocalCluster`` of N worker processes
  with 1 thread each and a 2 GiB memory limit, started once (start-up time reported apart)
  and warmed up (geoeco imported on the workers) before timing.

Each run is split by its progress callback into the *prep* phase (DEM checks, flow routing and
LS, R from daily rain, NDVI endpoints; always in the driver) and the *window* phase (the
per-window algebra on the engine, the driver writing the seven output COGs window by window and
converting them to COGs at the end). Repeats keep the fastest run. *Compute only* times the
kernel (:func:`geoeco.erosion.window.erosion_window`) over every window on the engine with its
arrays
dropped in the worker: the parallel part without the driver's writes.

The **I/O floor** is the window phase's unavoidable I/O in one process: every input read
window by window through ``geoeco.core.align.aligned_source`` (as the kernel does) plus the ten
outputs written with ``geoeco.core.io.open_raster_writer`` (their values copied from the local
run's outputs, whose read time is measured and subtracted).

Peak memory: a sampler thread polls the resident set size (psutil) of the driver and of each
worker process every 50 ms; the window-phase peak of each worker and the driver's overall peak
are reported. Every Dask run's rasters are compared with the local run's
(``np.array_equal``) and its summary numbers with the local summary.

``GDAL_CACHEMAX`` is set to ``--gdal-cache-mb`` (default 256 MB) for the driver and workers.
The report is a Markdown table on stdout and a JSON file (default
``<work>/bench_engine.json``). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any


def _config(layers: Path, block: int) -> Any:
    from geoeco.erosion.config import make_config

    settings = tomllib.loads(
        (files("geoeco") / "data" / "demo_erosion.toml").read_text(encoding="utf-8")
    )
    settings["landcover_table"]["path"] = str(files("geoeco") / "data/demo_landcover_factors.csv")
    settings["block_size"] = block
    return make_config(settings, base=layers)


class Sampler:
    """Poll the RSS of the driver and of given worker PIDs; peaks per phase."""

    def __init__(self, pids: dict[str, int], every: float = 0.05) -> None:
        import psutil

        self.procs = {k: psutil.Process(p) for k, p in pids.items()}
        self.procs["driver"] = psutil.Process(os.getpid())
        self.every = every
        self.phase = "prep"
        self.peak: dict[str, dict[str, int]] = {"prep": {}, "window": {}}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            ph = self.peak[self.phase]
            for k, p in self.procs.items():
                try:
                    rss = p.memory_info().rss
                except Exception:  # a worker restarted: keep what we have
                    continue
                ph[k] = max(ph.get(k, 0), rss)
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def run_once(dem: Path, cfg: Any, out: Path, engine: Any, pids: dict[str, int]) -> dict:
    """One erosion run: phase times, peak RSS per process, the summary."""
    from geoeco.erosion.run import run_erosion

    marks: dict[str, float] = {}

    with Sampler(pids) as sampler:

        def progress(step: str, fraction: float) -> None:
            if step == "soil loss by window" and "window" not in marks:
                marks["window"] = time.perf_counter()
                sampler.phase = "window"

        t0 = time.perf_counter()
        summary = run_erosion(dem, cfg, out, engine=engine, progress=progress).summary()
        t1 = time.perf_counter()
    mb = 2**20
    return {
        "total_s": t1 - t0,
        "prep_s": marks["window"] - t0,
        "window_s": t1 - marks["window"],
        "peak_rss_mb_window": {k: v / mb for k, v in sampler.peak["window"].items()},
        "peak_rss_mb_prep": {k: v / mb for k, v in sampler.peak["prep"].items()},
        "summary": summary,
    }


def io_floor(dem: Path, cfg: Any, ref_out: Path, scratch: Path) -> dict[str, float]:
    """Read every kernel input window by window and write the seven outputs (copied from
    ``ref_out``; the time spent reading them is subtracted)."""
    import contextlib

    import numpy as np

    from geoeco.core.align import aligned_source
    from geoeco.core.io import open_raster_writer, raster_info, read_raster
    from geoeco.erosion.window import ErosionSpec, _factor_inputs

    grid = raster_info(dem).grid
    spec = ErosionSpec(
        cfg=cfg,
        grid=grid,
        r=str(ref_out / "r.tif"),
        ls_files=(("ls", str(ref_out / "ls.tif")), ("slope", str(ref_out / "slope.tif"))),
    )
    outputs = {
        "soil_loss": {"units": "t/(km²·a)"},
        "potential_loss": {},
        "soil_conservation": {},
        "k": {},
        "c": {},
        "p": {},
        "erosion_grade": {"dtype": "uint8", "nodata": 0},
    }
    scratch.mkdir(parents=True, exist_ok=True)
    t_ref = 0.0
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        srcs = [
            stack.enter_context(aligned_source(v, grid, resampling=rs, name=n))
            for v, n, rs in _factor_inputs(spec)
            if isinstance(v, str)
        ]
        writers = {
            n: stack.enter_context(open_raster_writer(scratch / f"{n}.tif", grid, **kw))
            for n, kw in outputs.items()
        }
        for win in grid.blocks(cfg.block_size):
            for s in srcs:
                s.read(win)
            for _, p in spec.ls_files:
                read_raster(p, window=win)
            for n, w in writers.items():
                tr = time.perf_counter()
                a = read_raster(ref_out / f"{n}.tif", window=win).array
                t_ref += time.perf_counter() - tr
                w.write(win, a if n == "erosion_grade" else np.ma.masked_invalid(a.filled(np.nan)))
    return {"io_floor_s": time.perf_counter() - t0 - t_ref, "reference_read_s": t_ref}


def _numbers(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "compute"}


def identical(a: Path, b: Path, outputs: list[str]) -> bool:
    """Every output raster of ``b`` equals ``a``'s exactly (NaN = NaN)."""
    import numpy as np
    import rasterio

    for f in outputs:
        with rasterio.open(a / f) as x, rasterio.open(b / f) as y:
            if not np.array_equal(x.read(), y.read(), equal_nan=True):
                return False
    return True


def _kernel_only(spec: Any, window: Any) -> Any:
    """The erosion kernel without shipping its arrays back (the compute phase alone)."""
    from geoeco.erosion.window import erosion_window

    return erosion_window(spec, window).counts


def kernel_spec(dem: Path, cfg: Any, ref_out: Path) -> Any:
    """The ErosionSpec run_erosion builds, on the reference run's R and LS files."""
    from geoeco.catalog.classes import Provenance
    from geoeco.core.io import raster_info
    from geoeco.erosion.config import read_landcover_table
    from geoeco.erosion.run import _ndvi_endpoints_of
    from geoeco.erosion.window import ErosionSpec, _bt_tables

    return ErosionSpec(
        cfg=cfg,
        grid=raster_info(dem).grid,
        r=str(ref_out / "r.tif"),
        ls_files=(("ls", str(ref_out / "ls.tif")), ("slope", str(ref_out / "slope.tif"))),
        lc_tables=read_landcover_table(cfg.landcover_table),
        fvc_ends=_ndvi_endpoints_of(Path(cfg.ndvi), Provenance()),
        bt_tables=_bt_tables(cfg),
    )


def time_kernel(engine: Any, spec: Any, repeat: int) -> float:
    """Fastest wall time of the kernel over every window (results dropped)."""
    wins = list(spec.grid.blocks(spec.cfg.block_size))
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _w, _c in engine.map_windows(_kernel_only, wins, spec):
            pass
        best = min(best, time.perf_counter() - t)
    return best


def _warm() -> str:
    import geoeco.erosion.run  # noqa: F401

    return "ok"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_engine"))
    ap.add_argument("--res", type=float, default=30.0, help="demo pixel size, m (30: 3333²)")
    ap.add_argument("--block", type=int, default=1024, help="window size (multiple of 512)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--gdal-cache-mb", type=int, default=256)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ["GDAL_CACHEMAX"] = str(args.gdal_cache_mb)

    from distributed import Client, LocalCluster

    from geoeco.catalog.demo_region import build_demo_region
    from geoeco.core.engine import DaskEngine, LocalEngine

    work: Path = args.work
    layers = work / f"demo_full_{args.res:g}m"
    t = time.perf_counter()
    paths = build_demo_region(layers, size="full", res=args.res)
    print(f"demo layers ready in {time.perf_counter() - t:.1f} s", flush=True)
    dem = Path(paths["dem"])
    cfg = _config(layers, args.block)

    results: dict[str, Any] = {}
    local_out = work / "out_local"
    best: dict[str, Any] = {}
    for _ in range(args.repeat):
        r = run_once(dem, cfg, local_out, LocalEngine(), {})
        print(f"local: total {r['total_s']:.1f} s, window {r['window_s']:.1f} s", flush=True)
        if not best or r["window_s"] < best["window_s"]:
            best = r
    results["local"] = best
    ref = best["summary"]
    spec = kernel_spec(dem, cfg, local_out)
    best["compute_s"] = time_kernel(LocalEngine(), spec, args.repeat)

    for n in args.workers:
        t = time.perf_counter()
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            memory_limit="2GiB",
            dashboard_address=None,
        )
        client = Client(cluster, set_as_default=False)
        client.run(_warm)
        startup = time.perf_counter() - t
        pids = {f"worker{i}": pid for i, pid in enumerate(client.run(os.getpid).values())}
        eng = DaskEngine(client=client)
        out = work / f"out_dask{n}"
        best = {}
        for _ in range(args.repeat):
            r = run_once(dem, cfg, out, eng, pids)
            print(f"dask-{n}: total {r['total_s']:.1f} s, window {r['window_s']:.1f} s", flush=True)
            if not best or r["window_s"] < best["window_s"]:
                best = r
        best["startup_s"] = startup
        best["compute_s"] = time_kernel(eng, spec, args.repeat)
        best["identical_rasters"] = identical(local_out, out, ref["outputs"])
        best["equal_summary_numbers"] = _numbers(best["summary"]) == _numbers(ref)
        results[f"dask-{n}"] = best
        client.close()
        cluster.close()

    floors = [io_floor(dem, cfg, local_out, work / "floor") for _ in range(args.repeat)]
    floor = min(floors, key=lambda f: f["io_floor_s"])

    grid = ref["grid"]["shape"]
    report: dict[str, Any] = {
        "grid": grid,
        "mpx": grid[0] * grid[1] / 1e6,
        "block": args.block,
        "windows": ref["compute"]["windows"],
        "cpus": os.cpu_count(),
        "io_floor": floor,
        "runs": {
            k: {kk: vv for kk, vv in v.items() if kk != "summary"} for k, v in results.items()
        },
    }
    base = results["local"]["window_s"]
    for v in report["runs"].values():
        v["window_speedup_vs_local"] = base / v["window_s"]
        v["window_vs_io_floor"] = v["window_s"] / floor["io_floor_s"]
    if "dask-1" in results and "dask-2" in results:
        d1, d2 = results["dask-1"], results["dask-2"]
        report["dask2_vs_dask1_window"] = d1["window_s"] / d2["window_s"]
        report["dask2_vs_dask1_total"] = d1["total_s"] / d2["total_s"]
        report["dask2_vs_dask1_compute"] = d1["compute_s"] / d2["compute_s"]

    lines = [
        f"erosion on the demo at {args.res:g} m: {grid[0]} x {grid[1]} px "
        f"({report['mpx']:.1f} Mpx), {report['windows']} windows of {args.block}², "
        f"{report['cpus']} CPUs; I/O floor {floor['io_floor_s']:.1f} s",
        "",
        "| engine | start-up (s) | prep: routing, LS, R (s) | compute only (s) "
        "| window phase (s) | total (s) "
        "| window speed-up vs local | window / I/O floor | peak RSS per worker, windows (MB) "
        "| peak RSS driver (MB) | identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, v in report["runs"].items():
        w = v["peak_rss_mb_window"]
        workers = [x for kk, x in w.items() if kk.startswith("worker")]
        driver = max(v["peak_rss_mb_prep"].get("driver", 0), w.get("driver", 0))
        per_worker = f"{max(workers):.0f}" if workers else f"{w.get('driver', 0):.0f} (driver)"
        ident = (
            "reference"
            if k == "local"
            else str(v["identical_rasters"] and v["equal_summary_numbers"])
        )
        lines.append(
            f"| {k} | {v.get('startup_s', 0):.1f} | {v['prep_s']:.1f} | {v['compute_s']:.1f} "
            f"| {v['window_s']:.1f} "
            f"| {v['total_s']:.1f} | {v['window_speedup_vs_local']:.2f} "
            f"| {v['window_vs_io_floor']:.2f} | {per_worker} | {driver:.0f} | {ident} |"
        )
    if "dask2_vs_dask1_window" in report:
        lines += [
            "",
            f"dask 2 workers vs 1: compute only {report['dask2_vs_dask1_compute']:.2f}x, "
            f"window phase {report['dask2_vs_dask1_window']:.2f}x, "
            f"whole run {report['dask2_vs_dask1_total']:.2f}x",
        ]
    md = "\n".join(lines)
    print(md)
    dest = args.json or work / "bench_engine.json"
    dest.write_text(json.dumps(report, indent=2), encoding="utf-8")
    (dest.with_suffix(".md")).write_text(md + "\n", encoding="utf-8")
    print(f"written {dest} and {dest.with_suffix('.md')}")


if __name__ == "__main__":
    main()
