"""Zonal statistics in one pass vs exactextract the old way, per site and for a county screening.

On the full demo run (built once into ``--cache-dir`` by
:func:`geoeco.workflows.demo_cache.ensure_demo_run`, the cache the tests and the service use),
with its 14 rasters held in memory, one run measures side by side:

* **per site** (``--sites`` random 1–3 km boxes inside the units' extent):
  (a) exactextract the old way — one ``exact_extract`` per raster on the same in-memory arrays
  (``NumPyRasterSource``, geometry already in the raster's CRS) with ``count``, ``sum``,
  ``mean``, ``min``, ``max`` and, for class rasters, ``unique`` and ``frac``;
  (b) :func:`geoeco.query.zonal.zonal_stats` (coverage once per grid, numpy statistics),
  geometry given in lon-lat (its reprojection is timed too);
* **county** (榆阳区 610802 intersected with the full demo's extent, 5,684 km²): the same
  (a) and (b) on the county, and the whole :func:`geoeco.query.screening.screen_site` as the
  ``POST /screen`` route calls it (JSON, no map), serialised to JSON, p50 of ``--repeat``
  runs (target ≤ 300 ms).

Every statistic and class share of (b) is compared with (a); the largest relative difference
is printed. Times are wall and CPU (``time.process_time``: steadier on a shared machine).
With ``--before-tree DIR`` (a folder holding an older ``geoeco`` package, e.g. ``git archive
3304b8c geoeco | tar -x -C DIR``) the county screening of that code is timed too, in a child
process, in the same run. Prints a Markdown table and writes it with a JSON file to ``--out``.

Run::

    python bench/bench_screening.py [--cache-dir /tmp/geoeco-bench-cache] [--sites 200]
        [--repeat 15] [--out /tmp/geoeco-bench-screening] [--before-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

OPS = ["count", "sum", "mean", "min", "max"]


def _old_way_setup(layers: list[Any]) -> list[tuple[Any, Any, list[Any]]]:
    """Per raster: its exactextract source and operations, built once (as geoeco kept them)."""
    from exactextract.operation import Operation
    from exactextract.raster import NumPyRasterSource

    out = []
    for lyr in layers:
        a = lyr._array
        values = a if a.dtype.kind == "f" else a.astype("float64")
        src = NumPyRasterSource(values, *lyr.grid.bounds, name=lyr.name)
        stats = OPS + (["unique", "frac"] if lyr.is_class else [])
        out.append((lyr, src, [Operation(s, f"{lyr.name}__{s}", src) for s in stats]))
    return out


def _old_way(setup: list[tuple[Any, Any, list[Any]]], feats: dict[str, Any]) -> dict[str, Any]:
    """exactextract per raster (geometry already projected to each grid CRS)."""
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource

    out = {}
    for lyr, src, ops in setup:
        res = exact_extract(src, JSONFeatureSource([feats[lyr.name]]), ops, output="geojson")
        out[lyr.name] = res[0]["properties"] if res else {}
    return out


def _features(site: Any, layers: list[Any]) -> dict[str, Any]:
    from geoeco.core.crs import CGCS2000
    from geoeco.query.zonal import project

    return {
        lyr.name: {
            "type": "Feature",
            "properties": {},
            "geometry": shapely.geometry.mapping(project(site, CGCS2000, lyr.grid.crs)),
        }
        for lyr in layers
    }


def _max_diff(ours: list[Any], ref: dict[str, Any]) -> float:
    """Largest relative difference between our statistics/shares and exactextract's."""
    worst = 0.0

    def d(a: float | None, b: Any) -> float:
        b = float(b) if b is not None else float("nan")
        if a is None:
            return 0.0 if (np.isnan(b) or b == 0) else float("inf")
        return abs(a - b) / max(1.0, abs(b))

    for s in ours:
        p = {k.split("__", 1)[1]: v for k, v in ref[s.layer].items()}
        worst = max(worst, d(s.count, p.get("count", 0.0)))
        if s.count > 0:
            worst = max(worst, *(d(getattr(s, k), p[k]) for k in OPS[1:]))
        if s.histogram is not None and s.count > 0:
            pairs = sorted(zip(p["unique"].tolist(), p["frac"].tolist(), strict=True))
            if len(pairs) != len(s.histogram):
                return float("inf")
            shares = zip(s.histogram, pairs, strict=True)
            worst = max(worst, *(abs(c.share - f) for c, (_, f) in shares))
    return worst


def _sites(ctx: Any, n: int, seed: int = 1) -> list[Any]:
    x0, y0, x1, y1 = ctx.units.frame.total_bounds
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(x0 + 0.03, x1 - 0.03), rng.uniform(y0 + 0.03, y1 - 0.03)
        w, h = rng.uniform(0.01, 0.03, 2)
        out.append(shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return out


def bench_sites(ctx: Any, n: int) -> dict[str, Any]:
    """Mean ms per site over ``n`` sites, (a) and (b), and the largest difference."""
    from geoeco.query.zonal import zonal_stats

    layers = ctx.rasters
    setup = _old_way_setup(layers)
    sites = _sites(ctx, n)
    feats = [_features(s, layers) for s in sites]
    _old_way(setup, feats[0]), zonal_stats(sites[0], layers)  # warm
    t, c = time.perf_counter(), time.process_time()
    refs = [_old_way(setup, f) for f in feats]
    t_old, c_old = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    ours = [zonal_stats(s, layers) for s in sites]
    t_new, c_new = time.perf_counter() - t, time.process_time() - c
    return {
        "sites": n,
        "rasters": len(layers),
        "exactextract_ms": 1e3 * t_old / n,
        "one_pass_ms": 1e3 * t_new / n,
        "exactextract_cpu_ms": 1e3 * c_old / n,
        "one_pass_cpu_ms": 1e3 * c_new / n,
        "max_rel_diff": max(_max_diff(o, r) for o, r in zip(ours, refs, strict=True)),
    }


def _p50(f: Any, repeat: int) -> tuple[float, float]:
    """Median wall and CPU time of ``f`` (ms) over ``repeat`` calls after one warm-up."""
    f()  # warm
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        f()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def bench_county(ctx: Any, repeat: int) -> dict[str, Any]:
    """The county: zonal (a) vs (b), and the whole screening p50 (ms)."""
    from bench_http import county_site

    from geoeco.query.screening import screen_site
    from geoeco.query.zonal import zonal_stats

    geom, site_km2, _ = county_site()
    site = shapely.geometry.shape(geom)
    layers = ctx.rasters
    setup = _old_way_setup(layers)
    feats = _features(site, layers)
    diff = _max_diff(zonal_stats(site, layers), _old_way(setup, feats))

    def screen() -> None:
        screen_site(ctx, geom, map_data=False).model_dump_json()

    old, new, scr = (
        _p50(lambda: _old_way(setup, feats), repeat),
        _p50(lambda: zonal_stats(site, layers), repeat),
        _p50(screen, repeat),
    )
    return {
        "site_km2": round(site_km2, 1),
        "exactextract_ms": old[0],
        "one_pass_ms": new[0],
        "screening_p50_ms": scr[0],
        "exactextract_cpu_ms": old[1],
        "one_pass_cpu_ms": new[1],
        "screening_cpu_p50_ms": scr[1],
        "max_rel_diff": diff,
    }


_BEFORE = """
import json, statistics, sys, time
sys.path.insert(0, {bench!r})
from bench_http import county_site
from geoeco.query.context import QueryContext
from geoeco.query.screening import screen_site
import geoeco.query.zonal
ctx = QueryContext.open({run!r})
geom = county_site()[0]
screen_site(ctx, geom, map_data=False).model_dump_json()
wall, cpu = [], []
for _ in range({repeat}):
    t, c = time.perf_counter(), time.process_time()
    screen_site(ctx, geom, map_data=False).model_dump_json()
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(json.dumps({{"code": geoeco.query.zonal.__file__, "wall": 1e3 * statistics.median(wall),
                  "cpu": 1e3 * statistics.median(cpu)}}))
"""


def bench_before(tree: Path, run: Path, repeat: int) -> dict[str, Any]:
    """The county screening p50 (wall and CPU ms) with the ``geoeco`` package of ``tree``
    (e.g. ``git archive <commit> geoeco | tar -x -C tree``), in a child process."""
    import subprocess
    import sys

    code = _BEFORE.format(bench=str(Path(__file__).parent), run=str(run), repeat=repeat)
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True, check=True
    )
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if not str(res["code"]).startswith(str(tree)):
        raise RuntimeError(f"the child imported geoeco from {res['code']}, not from {tree}")
    return res


def markdown(res: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    s, c = res["per_site"], res["county"]
    lines = [
        f"# Zonal statistics in one pass ({res['cpus']} CPUs, {res['rasters']} rasters, "
        f"{s['sites']} sites; load average {res['load_average']})",
        "",
        "| measure | exactextract per raster (a) | one pass (b) | a / b | max rel. diff |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in (("zonal statistics per site, mean", s), ("zonal statistics, county, p50", c)):
        for unit, sfx in (("wall ms", ""), ("CPU ms", "_cpu")):
            a, b = r[f"exactextract{sfx}_ms"], r[f"one_pass{sfx}_ms"]
            lines.append(
                f"| {name} ({unit}) | {a:.2f} | {b:.2f} | {a / b:.2f}× | {r['max_rel_diff']:.1e} |"
            )
    lines += [
        f"| county screening `screen_site` + JSON, p50 (wall ms; target ≤ 300) | | "
        f"{c['screening_p50_ms']:.0f} | | |",
        f"| county screening `screen_site` + JSON, p50 (CPU ms) | | "
        f"{c['screening_cpu_p50_ms']:.0f} | | |",
    ]
    b = res.get("before")
    if b:
        for unit, k, ours in (
            ("wall", "wall", "screening_p50_ms"),
            ("CPU", "cpu", "screening_cpu_p50_ms"),
        ):
            lines.append(
                f"| county screening, `--before-tree` code vs this one, p50 ({unit} ms) | "
                f"{b[k]:.0f} | {c[ours]:.0f} | {b[k] / c[ours]:.2f}× | |"
            )
    lines += [
        "",
        f"County: 榆阳区 (610802) ∩ the full demo's extent, {c['site_km2']} km².",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Build or reuse the full demo run, measure, print and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/geoeco-bench-cache"))
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--out", type=Path, default=Path("/tmp/geoeco-bench-screening"))
    ap.add_argument(
        "--before-tree",
        type=Path,
        help="a folder holding an older geoeco package (git archive <commit> geoeco | tar -x "
        "-C DIR): its county screening is timed in a child process in the same run",
    )
    a = ap.parse_args()
    from geoeco.query.context import QueryContext
    from geoeco.workflows.demo_cache import ensure_demo_run

    run = ensure_demo_run(a.cache_dir, "full")
    ctx = QueryContext.open(run)
    res = {
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
        "run": str(run),
        "rasters": len(ctx.rasters),
        "per_site": bench_sites(ctx, a.sites),
        "county": bench_county(ctx, a.repeat),
    }
    if a.before_tree:
        res["before"] = bench_before(a.before_tree.resolve(), run, a.repeat)
    md = markdown(res)
    print(md)
    print(json.dumps(res, indent=2))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bench_screening.md").write_text(md, encoding="utf-8")
    (a.out / "bench_screening.json").write_text(json.dumps(res, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
