"""Benchmark point lookups and zonal statistics on the small demo run.

* **Point lookup**: opens the run once (:class:`geoeco.query.point.QueryContext`), warms it, then
  times :func:`geoeco.query.point.lookup_point` at ``--points`` random places inside the units'
  extent and prints the median, mean and 95th percentile per lookup (target: ≤ 1 ms warm).
* **Zonal statistics**: for ``--sites`` random 1–3 km boxes, times
  :func:`geoeco.query.zonal.zonal_stats` over every raster of the run (held in memory) against
  :func:`exactextract.exact_extract` called directly on each file, and checks the numbers agree.

Run (builds the demo into a temporary folder unless ``--run`` names an existing one):

    python bench/bench_query.py [--run /tmp/q_demo] [--points 5000] [--sites 50]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely


def _build_demo(out: Path) -> Path:
    from geoeco.workflows.demo import run_demo
    from geoeco.workflows.demo_inputs import demo_zoning_inputs
    from geoeco.workflows.zoning import run_zoning

    run_demo(out, size="small", zoning=False)
    ev = out / "evaluation"
    if not (ev / "importance_biodiversity.tif").exists():
        shutil.copyfile(
            ev / "importance_water_conservation.tif", ev / "importance_biodiversity.tif"
        )
    inputs = demo_zoning_inputs(out)
    run_zoning(
        out / "zones",
        demo_size="small",
        inputs=inputs,
        statuses=dict.fromkeys(inputs, "synthetic"),
        res=30.0,
    )
    return out


def bench_points(run: Path, n: int, seed: int = 0) -> dict[str, float]:
    """Open time and per-lookup times (µs) of warm point lookups."""
    from geoeco.query.context import QueryContext
    from geoeco.query.point import lookup_point

    t0 = time.perf_counter()
    ctx = QueryContext.open(run)
    t_open = time.perf_counter() - t0
    x0, y0, x1, y1 = ctx.units.frame.total_bounds
    rng = np.random.default_rng(seed)
    xs = rng.uniform(x0, x1, n)
    ys = rng.uniform(y0, y1, n)
    for i in range(min(n, 200)):  # warm-up: caches, transformers, unit models
        lookup_point(ctx, xs[i], ys[i])
    times = []
    inside = 0
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        t = time.perf_counter()
        r = lookup_point(ctx, x, y)
        times.append((time.perf_counter() - t) * 1e6)
        inside += r.inside_analysed_area
    times.sort()
    return {
        "open_s": t_open,
        "rasters": len(ctx.rasters),
        "inside_share": inside / n,
        "median_us": statistics.median(times),
        "mean_us": statistics.fmean(times),
        "p95_us": times[int(0.95 * (n - 1))],
    }


def bench_zonal(run: Path, n: int, seed: int = 1) -> dict[str, float]:
    """Mean ms per site: geoeco zonal_stats (all rasters) vs exactextract on the files."""
    import geopandas as gpd
    from exactextract import exact_extract

    from geoeco.core.crs import CGCS2000
    from geoeco.query.context import QueryContext
    from geoeco.query.zonal import project, zonal_stats

    ctx = QueryContext.open(run)
    x0, y0, x1, y1 = ctx.units.frame.total_bounds
    rng = np.random.default_rng(seed)
    sites = []
    for _ in range(n):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        w, h = rng.uniform(0.01, 0.03, 2)
        sites.append(shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    ops = ["count", "sum", "mean", "min", "max"]
    zonal_stats(sites[0], ctx.rasters)  # warm
    t = time.perf_counter()
    ours = [zonal_stats(s, ctx.rasters) for s in sites]
    t_ours = time.perf_counter() - t
    frames = {}
    for lyr in ctx.rasters:
        g = [project(s, CGCS2000, lyr.grid.crs) for s in sites]
        frames[lyr.name] = gpd.GeoDataFrame({"i": range(n)}, geometry=g, crs=lyr.grid.crs)
    t = time.perf_counter()
    ref = {
        lyr.name: exact_extract(str(lyr.path), frames[lyr.name], ops, output="pandas")
        for lyr in ctx.rasters
    }
    t_ref = time.perf_counter() - t
    worst = 0.0
    for i, stats in enumerate(ours):
        for s in stats:
            r = ref[s.layer].iloc[i]
            if s.count > 0:
                worst = max(worst, abs(s.sum - float(r["sum"])) / max(1.0, abs(float(r["sum"]))))
    return {
        "sites": n,
        "rasters": len(ctx.rasters),
        "geoeco_ms_per_site": 1e3 * t_ours / n,
        "exactextract_ms_per_site": 1e3 * t_ref / n,
        "max_rel_diff_sum": worst,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="an existing demo folder (else one is built)")
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--sites", type=int, default=50)
    a = ap.parse_args()
    tmp = None
    run = a.run
    if run is None:
        tmp = tempfile.TemporaryDirectory()
        run = _build_demo(Path(tmp.name) / "demo")
    try:
        p = bench_points(run, a.points)
        print(
            f"point lookup: open {p['open_s']:.2f} s, {p['rasters']} rasters, "
            f"{p['inside_share']:.0%} inside; per lookup median {p['median_us']:.0f} µs, "
            f"mean {p['mean_us']:.0f} µs, p95 {p['p95_us']:.0f} µs"
        )
        z = bench_zonal(run, a.sites)
        print(
            f"zonal stats ({z['sites']} sites × {z['rasters']} rasters): geoeco "
            f"{z['geoeco_ms_per_site']:.2f} ms/site, exactextract on files "
            f"{z['exactextract_ms_per_site']:.2f} ms/site, max rel. diff of sums "
            f"{z['max_rel_diff_sum']:.1e}"
        )
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
