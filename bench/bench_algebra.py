"""Benchmark geoeco's RUSLE factor algebra against a plain numpy product.

Times A = R·K·LS·C·P on 5000×5000 float32 arrays three ways in the same run:

* plain numpy ``R * K * LS * C * P`` (the reference),
* ``geoeco.erosion.factors.rusle(R, K, LS, C, P)`` (allocates one output),
* ``geoeco.erosion.factors.rusle(..., out=buf)`` (reuses a preallocated buffer),

and prints megapixels per second, the ratio to plain numpy and the peak extra memory each
needed (tracemalloc, which numpy reports its buffers to). Run:

    python bench/bench_algebra.py [--size 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from geoeco.erosion.factors import rusle


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time over ``repeat`` runs, and the peak traced memory (MiB) of one run."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    shape = (n, n)
    R = rng.uniform(200, 3000, shape).astype(np.float32)
    K = rng.uniform(0.01, 0.06, shape).astype(np.float32)
    LS = rng.uniform(0.1, 20, shape).astype(np.float32)
    C = rng.uniform(0, 1, shape).astype(np.float32)
    P = rng.uniform(0.2, 1, shape).astype(np.float32)
    R[::97, ::89] = np.nan  # some nodata
    buf = np.empty(shape, dtype=np.float32)
    mpx = n * n / 1e6

    ref = R * K * LS * C * P
    assert np.array_equal(rusle(R, K, LS, C, P), ref, equal_nan=True)

    runs = {
        "plain numpy R*K*LS*C*P": lambda: R * K * LS * C * P,
        "geoeco rusle()": lambda: rusle(R, K, LS, C, P),
        "geoeco rusle(out=buf)": lambda: rusle(R, K, LS, C, P, out=buf),
    }
    print(f"{n}x{n} float32 ({mpx:.0f} Mpx), best of {args.repeat}")
    base = None
    for name, fn in runs.items():
        t, peak = _best(fn, args.repeat)
        base = base or t
        print(
            f"  {name:26s} {t * 1e3:8.1f} ms  {mpx / t:8.1f} Mpx/s  "
            f"ratio {base / t:5.2f}  peak extra {peak:7.1f} MiB"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process max RSS {rss:.0f} MiB (inputs: 5 x {R.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
