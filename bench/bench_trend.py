"""Benchmark the vectorised trend statistics against pymannkendall looped over pixels.

Issue 18: Theil–Sen slope and Mann–Kendall test on a synthetic 25-year stack of 4 Mpx
(float32, NDVI-like values quantised to 0.001 so that ties occur, a planted trend on a third of
the pixels), timed three ways, each in a fresh child process so that its peak RSS is its own:

* ``geoeco.change.trend.mann_kendall`` on the whole stack (original variance), and with the
  Hamed–Rao correction;
* pymannkendall's ``original_test`` (which also gives Sen's slope) looped over a 10,000-pixel
  sample of the same kind of stack, scaled to the stack's pixel count;
* the vectorised run on stacks of 10, 25 and 40 years of the same pixel count, to show that the
  working memory above the stack stays bounded as the stack grows: it is the chunk (16 MiB by
  default) plus the six per-pixel result arrays (48 bytes a pixel), whatever the years.

The sample run also checks that both give the same S, Var(S) and slope. Run:

    python bench/bench_trend.py [--pixels 4000000] [--sample 10000] [--lengths 10 25 40]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _rss_mib() -> float:
    """Current resident set size (MiB) from /proc."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stack(years: int, pixels: int, seed: int = 0) -> np.ndarray:
    """(years, pixels) float32, built year by year (no float64 temporary of the whole stack)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.6, pixels).astype(np.float32)
    slope = np.zeros(pixels, dtype=np.float32)
    slope[: pixels // 3] = 0.004
    out = np.empty((years, pixels), dtype=np.float32)
    for i in range(years):
        noise = rng.standard_normal(pixels, dtype=np.float32) * np.float32(0.03)
        out[i] = np.round(base + slope * i + noise, 3)
    return out


def child_vector(years: int, pixels: int, variance: str, chunk_mib: float) -> dict[str, float]:
    from geoeco.change.trend import TrendParameters, mann_kendall

    stack = _stack(years, pixels)
    before = _rss_mib()
    params = TrendParameters(variance=variance, chunk_mib=chunk_mib)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    res = mann_kendall(stack, params=params)
    wall = time.perf_counter() - t0
    peak = _peak_mib()
    return {
        "wall_s": wall,
        "us_per_px": wall / pixels * 1e6,
        "stack_mib": stack.nbytes / 2**20,
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "working_mib": peak - before,
        "significant_share": float(np.mean(res.p < 0.05)),
    }


def child_pymk(years: int, sample: int) -> dict[str, float]:
    import pymannkendall as mk

    from geoeco.change.trend import TrendParameters, mann_kendall

    stack = _stack(years, sample, seed=1).astype(np.float64)
    t0 = time.perf_counter()
    rows = [mk.original_test(stack[:, j]) for j in range(sample)]
    wall = time.perf_counter() - t0
    ours = mann_kendall(stack, params=TrendParameters(min_years=3))
    ref = {k: np.array([getattr(r, k) for r in rows], dtype=float) for k in ("s", "var_s", "slope")}
    agree = {
        f"max_rel_diff_{k}": float(
            np.max(np.abs(getattr(ours, k) - v) / np.maximum(np.abs(v), 1e-300))
        )
        for k, v in ref.items()
    }
    return {"wall_s": wall, "us_per_px": wall / sample * 1e6, "peak_rss_mib": _peak_mib(), **agree}


def _run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pixels", type=int, default=4_000_000)
    ap.add_argument("--years", type=int, default=25)
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--lengths", type=int, nargs="+", default=[10, 25, 40])
    ap.add_argument("--chunk-mib", type=float, default=16.0)
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "vector":
            res = child_vector(int(rest[0]), int(rest[1]), rest[2], float(rest[3]))
        else:
            res = child_pymk(int(rest[0]), int(rest[1]))
        print(json.dumps(res))
        return
    px, cm = str(args.pixels), str(args.chunk_mib)
    figures: dict[str, object] = {"pixels": args.pixels, "years": args.years}
    figures["vector"] = _run_child("vector", str(args.years), px, "original", cm)
    figures["hamed_rao"] = _run_child("vector", str(args.years), px, "hamed_rao", cm)
    figures["pymk"] = _run_child("pymk", str(args.years), str(args.sample))
    figures["lengths"] = {n: _run_child("vector", str(n), px, "original", cm) for n in args.lengths}
    _report(figures, args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)


def _report(f: dict, args: argparse.Namespace) -> None:  # type: ignore[type-arg]
    vec, hr, pm = f["vector"], f["hamed_rao"], f["pymk"]
    scaled = pm["us_per_px"] * args.pixels / 1e6
    print(
        f"# Trend benchmark: {args.years} years x {args.pixels:,} px, chunk {args.chunk_mib} MiB\n"
    )
    print("| run | wall (s) | µs/px | peak RSS (MiB) | stack (MiB) | working (MiB) |")
    print("|---|---|---|---|---|---|")
    for name, r in (
        ("geoeco mann_kendall (original)", vec),
        ("geoeco mann_kendall (Hamed–Rao)", hr),
    ):
        print(
            f"| {name} | {r['wall_s']:.1f} | {r['us_per_px']:.2f} | {r['peak_rss_mib']:.0f} "
            f"| {r['stack_mib']:.0f} | {r['working_mib']:.0f} |"
        )
    print(
        f"| pymannkendall original_test, {args.sample:,} px looped, scaled | {scaled:.0f} "
        f"| {pm['us_per_px']:.1f} | {pm['peak_rss_mib']:.0f} | – | – |"
    )
    print(f"\nspeed-up per pixel: {pm['us_per_px'] / vec['us_per_px']:.0f}x (target >= 100x)")
    print(
        "agreement on the sample (max relative difference): "
        + ", ".join(
            f"{k.removeprefix('max_rel_diff_')} {v:.1e}"
            for k, v in pm.items()
            if k.startswith("max_rel")
        )
    )
    print(
        "\n| years | pairs/px | wall (s) | µs/px | stack (MiB) | peak RSS (MiB) | working (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, r in f["lengths"].items():
        print(
            f"| {n} | {n * (n - 1) // 2} | {r['wall_s']:.1f} | {r['us_per_px']:.2f} "
            f"| {r['stack_mib']:.0f} | {r['peak_rss_mib']:.0f} | {r['working_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
