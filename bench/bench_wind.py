"""Benchmark the windowed RWEQ run against the RUSLE erosion run on the same 4 Mpx grid.

Issue 18: the synthetic demo region built at 50 m over its full 100 km extent (2000 × 2000 =
4 Mpx, EPSG:4546), then, each in a fresh child process so that its wall time and peak RSS are
its own:

* ``geoeco.erosion.wind_run.run_wind_erosion`` on the demo's RWEQ inputs (12 monthly bands of
  wind, temperature, rain, ETp, snow factor and rain days on the 1 km climate grid; texture,
  organic carbon, CaCO₃, NDVI, DEM and land cover on the 50 m grid), windows of 256 px;
* ``geoeco.erosion.run.run_erosion`` with the demo's erosion settings (RUSLE, R from daily
  rain, K by EPIC from texture, C from NDVI, P from the land-cover table, LS from the whole
  DEM with D8 routing), windows of its default size.

Printed: wall time and peak RSS of each, and the ratio RWEQ / RUSLE. Each child runs with the
same GDAL block cache (``--gdal-cache-mb``, default 256): GDAL's own default is 5 % of the RAM,
and a warped read fills it, so with it the peak RSS says more about the cache than the run.
The demo region and its synthetic RWEQ inputs are built once (not timed) into ``--work``. CPU
time (user + system) is printed beside the wall time: on a shared machine it is the steadier
figure. Run:

    python bench/bench_wind.py [--res 50] [--work /tmp/bench-wind]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(kind: str, work: Path) -> dict[str, float]:
    """Run one model on the demo layers in ``work/layers``; its wall time and peak RSS."""
    from geoeco.catalog.demo_region import DEMO_VARIABLES

    layers = {v: work / "layers" / f"{v}.tif" for v in DEMO_VARIABLES}
    before = _peak_mib()
    cpu0 = _cpu_s()
    if kind == "rweq":
        from geoeco.catalog.demo_wind import DEMO_WIND_FILES
        from geoeco.erosion.wind_run import run_wind_erosion
        from geoeco.workflows.wind import demo_wind_inputs

        written = {n: work / "layers" / f"{stem}.tif" for n, stem in DEMO_WIND_FILES.items()}
        inputs = demo_wind_inputs(layers, work / "layers", written=written)
        t0 = time.perf_counter()
        res = run_wind_erosion(inputs, work / "rweq")
        wall = time.perf_counter() - t0
        pixels = res.grid.width * res.grid.height
    else:
        from geoeco.erosion.run import run_erosion
        from geoeco.workflows.erosion import ErosionOptions, copy_demo_erosion_files, erosion_config

        settings = copy_demo_erosion_files(work / "layers")
        cfg = erosion_config(ErosionOptions(), settings=settings, base=work / "layers")
        t0 = time.perf_counter()
        ero = run_erosion(layers["dem"], cfg, work / "rusle")
        wall = time.perf_counter() - t0
        pixels = ero.grid.width * ero.grid.height
    return {
        "wall_s": wall,
        "cpu_s": _cpu_s() - cpu0,
        "peak_rss_mib": _peak_mib(),
        "rss_before_mib": before,
        "px": pixels,
    }


def _run_child(kind: str, work: Path, cache_mb: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", kind, "--work", str(work)]
    env = {**os.environ, "GDAL_CACHEMAX": str(cache_mb)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    """Parse the arguments; build the demo once, then time each model in a child."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--res", type=float, default=50.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-wind"))
    ap.add_argument("--child", choices=("rweq", "rusle"))
    ap.add_argument(
        "--gdal-cache-mb",
        type=int,
        default=256,
        help="GDAL block cache of each child (GDAL's default, 5 %% of RAM, shows up in RSS)",
    )
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.work)))
        return
    from geoeco.catalog.demo_region import DEMO_VARIABLES, build_demo_region
    from geoeco.catalog.demo_wind import build_demo_wind_inputs

    t0 = time.perf_counter()
    lay = args.work / "layers"
    build_demo_region(lay, size="full", res=args.res)
    build_demo_wind_inputs({v: lay / f"{v}.tif" for v in DEMO_VARIABLES}, lay)
    print(f"demo region at {args.res:g} m built in {time.perf_counter() - t0:.1f} s")
    rweq = _run_child("rweq", args.work, args.gdal_cache_mb)
    rusle = _run_child("rusle", args.work, args.gdal_cache_mb)
    mpx = rweq["px"] / 1e6
    for name, r in (("RWEQ (wind_run)", rweq), ("RUSLE (erosion run)", rusle)):
        print(
            f"{name:22s} {mpx:.2f} Mpx: wall {r['wall_s']:6.1f} s, CPU {r['cpu_s']:6.1f} s, "
            f"peak RSS {r['peak_rss_mib']:.0f} MiB"
        )
    print(
        f"ratio RWEQ / RUSLE: wall {rweq['wall_s'] / rusle['wall_s']:.2f}, "
        f"CPU {rweq['cpu_s'] / rusle['cpu_s']:.2f}"
    )


if __name__ == "__main__":
    main()
