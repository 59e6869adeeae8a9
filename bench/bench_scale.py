"""Scale-out benchmark: erosion and zoning, single-process and on Dask with 1 and 2 workers,
plus the 30 m sample processed end to end. One command, one Markdown and one JSON report.

Usage::

    python bench/bench_scale.py [--work DIR] [--scale 1] [--sample-res 30] [--workers 1 2]
                                [--repeat 1] [--zoning-repeat 3] [--skip erosion zoning e2e]

It runs three benchmarks, each in its own child processes (so every peak memory figure is that
run's own), and collects their results:

* **zoning at 250 m** (``bench_zoning.py --engines local dask:1 dask:2``): the
  Three-North-scale synthetic stack (``--scale 1``: 8000 x 8125 pixels, 65 Mpx, 4.06 million
  km², eight class layers) is generated under ``--work`` (reused), then the I/O floor (read the
  inputs, write three COGs) and ``compute_zones`` on each engine run interleaved in one session;
* **erosion on the 30 m sample** (``bench_engine.py``): the synthetic demo region at
  ``--sample-res`` (100 km x 100 km, about 1° x 1°; 3333 x 3333 pixels at 30 m) with its I/O
  floor, on the local engine and on Dask with each number of workers;
* **end to end on the 30 m sample**: ``geoeco.workflows.demo.run_demo(res=30)`` in a fresh process:
  build the layers, erosion, desertification, the four ecosystem services and sensitivity,
  zoning into units, statistics, restoration and maps; its wall time and peak RSS.

The report (``<work>/bench_scale.md`` and ``.json``) gives the tables of both benchmarks, the
ratios (2 workers vs 1 on each phase) and a check of the issue's targets: 2 workers at least
1.4x faster than 1 on the compute phase of zoning at 250 m with identical results, at most
2 GB per worker, and the 30 m sample end to end under 2 GB. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GB = 1024.0  # MB


def _run(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    print("$", " ".join(cmd), file=sys.stderr)
    with open(log, "w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, env=env)


def zoning(args: argparse.Namespace, work: Path) -> dict:
    out = work / "zoning.json"
    engines = ["local", *(f"dask:{n}" for n in args.workers)]
    cmd = [sys.executable, str(HERE / "bench_zoning.py"), "--work", str(work / "zoning")]
    cmd += ["--scales", f"{args.scale:g}", "--repeat", str(args.zoning_repeat), "--json", str(out)]
    _run([*cmd, "--engines", *engines], work / "zoning.log")
    return json.loads(out.read_text())


def erosion(args: argparse.Namespace, work: Path) -> dict:
    out = work / "erosion.json"
    cmd = [sys.executable, str(HERE / "bench_engine.py"), "--work", str(work / "erosion")]
    cmd += ["--res", f"{args.sample_res:g}", "--repeat", str(args.repeat), "--json", str(out)]
    _run([*cmd, "--workers", *(str(n) for n in args.workers)], work / "erosion.log")
    res = json.loads(out.read_text())
    res["markdown"] = out.with_suffix(".md").read_text()
    return res


def end_to_end(args: argparse.Namespace, work: Path) -> dict:
    out = work / "e2e.json"
    cmd = [sys.executable, __file__, "--phase", "e2e", "--work", str(work)]
    # GDAL's block cache is 5 % of RAM by default (1.2 GB on a 24 GB machine) and is counted in
    # the resident memory; pin it, as the other benchmarks do, so the peak is geoeco's own
    env = {**os.environ, "GDAL_CACHEMAX": str(args.gdal_cache_mb)}
    cmd += ["--sample-res", f"{args.sample_res:g}", "--json", str(out)]
    _run(cmd, work / "e2e.log", env=env)
    res = json.loads(out.read_text())
    res["gdal_cachemax_mb"] = args.gdal_cache_mb
    return res


def e2e_child(args: argparse.Namespace) -> None:
    """The whole demo chain at the sample resolution, in this (fresh) process."""
    import threading

    import psutil
    import rasterio

    from geoeco.workflows.demo import run_demo

    out = Path(args.work) / f"e2e_{args.sample_res:g}m"
    shutil.rmtree(out, ignore_errors=True)  # end to end: the layers are built too
    stages: list[list] = []  # [step, start s, peak RSS MB while it ran]
    t0 = time.perf_counter()
    proc, stop = psutil.Process(), threading.Event()

    def sample() -> None:  # the peak resident memory of each stage, every 20 ms
        while not stop.wait(0.02):
            if stages:
                stages[-1][2] = max(stages[-1][2], round(proc.memory_info().rss / 2**20))

    def progress(step: str, frac: float) -> None:
        if not stages or stages[-1][0] != step:
            stages.append([step, round(time.perf_counter() - t0, 1), 0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = run_demo(out, res=args.sample_res, progress=progress)
    seconds = time.perf_counter() - t0
    stop.set()
    with rasterio.open(out / "layers" / "dem.tif") as ds:
        shape = [ds.height, ds.width]
        res = ds.res[0]
    summary = json.loads((out / "zones" / "summary.json").read_text())
    report = {
        "res_m": res,
        "shape": shape,
        "mpx": shape[0] * shape[1] / 1e6,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "stages_started_s": stages,
        "units": summary.get("units", {}).get("count") if isinstance(summary, dict) else None,
        "outputs": sorted(str(Path(p).relative_to(out)) for p in _paths(result.as_dict()))[:40],
    }
    Path(args.json).write_text(json.dumps(report, indent=2))


def _paths(obj: object) -> list[str]:
    if isinstance(obj, dict):
        return [p for v in obj.values() for p in _paths(v)]
    if isinstance(obj, list | tuple):
        return [p for v in obj for p in _paths(v)]
    if isinstance(obj, str | Path) and os.path.isabs(str(obj)) and Path(obj).is_file():
        return [str(obj)]
    return []


def _burn(seconds: float) -> int:
    """CPU-bound work (zlib on a fixed buffer) for about ``seconds``; returns the rounds done."""
    import zlib

    import numpy as np

    buf = np.random.default_rng(0).integers(0, 16, 4 << 20, dtype=np.uint8).tobytes()
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        zlib.compress(buf, 6)
        n += 1
    return n


def calibrate(seconds: float = 4.0) -> dict:
    """The machine's own ceiling for 2 processes vs 1: the throughput of the same CPU-bound
    loop in 1 process, then in 2 at once. On 2 dedicated cores it is close to 2.0; shared or
    hyper-threaded vCPUs give less, and no engine can scale better than this."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_burn, [0.2, 0.2]))  # start both processes
        one_a = pool.submit(_burn, seconds).result()
        two = sum(pool.map(_burn, [seconds, seconds]))
        one_b = pool.submit(_burn, seconds).result()
    one = (one_a + one_b) / 2  # 1 process before and after the 2, for drifting machines
    return {
        "rounds_1_process": [one_a, one_b],
        "rounds_2_processes": two,
        "ceiling_2_vs_1": two / one,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else a / b


def report(args: argparse.Namespace, res: dict) -> str:
    lines = [f"# geoeco scale-out benchmark ({os.cpu_count()} CPUs)", ""]
    cal = [
        res[k]["ceiling_2_vs_1"] for k in ("calibration_before", "calibration_after") if k in res
    ]
    if cal:
        lines += [
            "Machine ceiling (the same CPU-bound loop in 2 processes vs 1, before and after): "
            + " and ".join(f"{c:.2f}x" for c in cal)
            + ". No engine can scale better than this on this machine.",
            "",
        ]
    targets = []
    z = res.get("zoning")
    if z:
        rows = {r["engine"]: r for r in z["runs"]}
        r0 = next(iter(rows.values()))
        lines += [
            f"## Zoning at 250 m: {r0['shape'][0]} x {r0['shape'][1]} px ({r0['mpx']:.1f} Mpx, "
            f"{r0['area_km2'] / 1e6:.2f} million km², {r0['layers']} layers)",
            "",
            "| engine | raster phase (s) | compute phase (s) | write phase (s) | I/O floor (s) "
            "| raster / floor | peak RSS driver (MB) | peak RSS per worker (MB) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e, r in rows.items():
            w = r["zones"].get("worker_peak_rss_mb")
            lines.append(
                f"| {e} | {r['zones']['seconds']:.1f} | {r['compute_s']:.1f} | {r['write_s']:.1f} "
                f"| {r['io_floor']['seconds']:.1f} | {r['ratio']:.2f} "
                f"| {r['zones']['peak_rss_mb']:.0f} | {', '.join(map(str, w)) if w else '–'} |"
            )
        one, two = rows.get("dask:1"), rows.get("dask:2")
        same = len(
            {json.dumps(r["zones"].get("pixel_sha256"), sort_keys=True) for r in rows.values()}
        )
        if one and two:
            c = _ratio(one["compute_s"], two["compute_s"])
            wr = _ratio(one["write_s"], two["write_s"])
            whole = _ratio(one["zones"]["seconds"], two["zones"]["seconds"])
            lines += [
                "",
                f"2 workers vs 1: compute phase **{c:.2f}x**, write phase {wr:.2f}x, "
                f"whole raster phase {whole:.2f}x. Output pixels identical on every engine "
                f"(SHA-256 of the three rasters): {same == 1}.",
            ]
            targets.append(
                (
                    "zoning compute phase, 2 workers vs 1 >= 1.4x, identical results",
                    f"{c:.2f}x, identical: {same == 1}",
                    c >= 1.4 and same == 1,
                )
            )
        peaks = [p for r in rows.values() for p in r["zones"].get("worker_peak_rss_mb") or []]
        if peaks:
            targets.append(
                (
                    "peak memory per worker <= 2 GB (zoning)",
                    f"{max(peaks)} MB",
                    max(peaks) <= 2 * GB,
                )
            )
        lines.append("")
    e = res.get("erosion")
    if e:
        lines += [f"## Erosion on the {args.sample_res:g} m sample", "", e.get("markdown", "")]
        peaks = [
            v
            for r in e.get("runs", {}).values()
            for k, v in r.get("peak_rss_mb_window", {}).items()
            if k.startswith("worker")
        ]
        if "dask2_vs_dask1_compute" in e:
            c = e["dask2_vs_dask1_compute"]
            targets.append(("erosion compute, 2 workers vs 1 (no target)", f"{c:.2f}x", True))
        if peaks:
            targets.append(
                (
                    "peak memory per worker <= 2 GB (erosion)",
                    f"{max(peaks):.0f} MB",
                    max(peaks) <= 2 * GB,
                )
            )
        lines.append("")
    d = res.get("e2e")
    if d:
        lines += [
            f"## End to end on the {d['res_m']:g} m sample",
            "",
            f"{d['shape'][0]} x {d['shape'][1]} px ({d['mpx']:.1f} Mpx): layers, erosion, "
            f"desertification, evaluation, zoning, units, restoration and maps in "
            f"{d['seconds']:.0f} s, peak RSS **{d['peak_rss_mb']} MB** (one process, "
            f"GDAL_CACHEMAX={d.get('gdal_cachemax_mb')} MB).",
            "",
            "Stages (start time in s, peak RSS in MB while it ran): "
            + ", ".join(f"{name} {t:g} s {m} MB" for name, t, m in d["stages_started_s"]),
            "",
        ]
        targets.append(
            (
                f"{d['res_m']:g} m sample end to end < 2 GB",
                f"{d['peak_rss_mb']} MB",
                d["peak_rss_mb"] < 2 * GB,
            )
        )
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'no'} |" for t, m, ok in targets]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/geoeco-bench-scale"))
    ap.add_argument("--scale", type=float, default=1.0, help="zoning stack (1: 65 Mpx at 250 m)")
    ap.add_argument("--sample-res", type=float, default=30.0, help="sample pixel size, m")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1, help="erosion repeats; the fastest is kept")
    ap.add_argument(
        "--zoning-repeat",
        type=int,
        default=3,
        help="zoning repeats, interleaved (local, dask:1, dask:2, floors, ...); the fastest of "
        "each is kept, which filters out the noise of a shared machine",
    )
    ap.add_argument("--gdal-cache-mb", type=int, default=256, help="GDAL_CACHEMAX of the e2e run")
    ap.add_argument("--skip", nargs="*", default=[], choices=["zoning", "erosion", "e2e"])
    ap.add_argument("--phase", choices=["e2e"], help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "e2e":
        e2e_child(args)
        return
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
    res["calibration_before"] = calibrate()
    for name, fn in (("zoning", zoning), ("erosion", erosion), ("e2e", end_to_end)):
        if name not in args.skip:
            t = time.perf_counter()
            res[name] = fn(args, work)
            print(f"{name}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    res["calibration_after"] = calibrate()
    res["load_avg_end"] = os.getloadavg()
    md = report(args, res)
    (work / "bench_scale.md").write_text(md)
    (work / "bench_scale.json").write_text(json.dumps(res, indent=2))
    print(md)
    print(f"report: {work / 'bench_scale.md'}, {work / 'bench_scale.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
