"""geoeco erosion against InVEST SDR 3.20.2 on the same case, in one run (issue 16, item 4).

Usage::

    python bench/bench_invest.py [--case /work/invest-cases/case2000] [--repeat 3]
        [--invest-python /work/invest-venv/bin/python] [--json bench_invest.json]

The case folder is made by ``../shared/reference/invest/make_invest_case.py --size 2000
--seed 42`` (dem, erosivity, erodibility, lulc, biophysical.csv, watersheds). Each repeat runs,
interleaved, two child processes timed from start to exit (imports included, as a user runs
them), each on a fresh output folder:

* InVEST: ``INVEST_PYTHON invest_usle.py CASE -w WS --fresh`` (natcap.invest's
  ``sdr.execute``, MFD, threshold 1000, l_max 122; the runner is
  ``../shared/reference/invest/invest_usle.py``);
* geoeco: ``geoeco erosion`` with the InVEST-compatible method (``--ls-method invest``:
  pygeoprocessing's MFD, streams left out, as tests/test_invest_parity.py) and the same R, K,
  land cover and C/P table.

The fastest wall time of each over ``--repeat`` is kept; the ratio InVEST / geoeco is the
speed-up (issue 16 target: at least 8). Before the timed runs geoeco runs once untimed, so
numba's on-disk cache is warm (as for any user after the first run). Both results are summed
to show they agree: InVEST's usle.tif in t/(ha·a) per pixel, geoeco's soil_loss.tif in
t/(km²·a) divided by 100; both leave stream pixels out. Prints a Markdown table and writes
the figures as JSON. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO.parent / "shared" / "reference" / "invest" / "invest_usle.py"


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of a child process and its children; its output
    is kept only to report a failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _sum_valid(path: Path, scale: float = 1.0) -> tuple[float, int]:
    """Sum (float64) and count of the valid pixels of band 1, times ``scale``."""
    with rasterio.open(path) as src:
        a = src.read(1, masked=True).astype("float64")
    if np.issubdtype(a.dtype, np.floating):
        a = np.ma.masked_invalid(a)
    a = np.ma.masked_greater(a, 1e38)  # InVEST's usle.tif nodata is float32 max
    return float(a.sum()) * scale, int(a.count())


def geoeco_cmd(case: Path, out: Path) -> list[str]:
    """The ``geoeco erosion`` command on an InVEST case folder, InVEST-compatible method."""
    exe = Path(sys.executable).with_name("geoeco")
    return [
        str(exe),
        "erosion",
        "--dem", str(case / "dem.tif"),
        "--r", str(case / "erosivity.tif"),
        "--k", str(case / "erodibility.tif"),
        "--landcover", str(case / "lulc.tif"),
        "--table", str(case / "biophysical.csv"),
        "--ls-method", "invest",
        "--out", str(out),
    ]  # fmt: skip


def invest_cmd(python: str, runner: Path, case: Path, ws: Path) -> list[str]:
    """InVEST SDR on the case, on a fresh workspace."""
    return [python, str(runner), str(case), "-w", str(ws), "--fresh"]


def run(args: argparse.Namespace) -> dict:
    """Warm-up, then ``repeat`` interleaved pairs; the fastest of each and both sums."""
    case = Path(args.case)
    walls: dict[str, list[float]] = {"invest": [], "geoeco": []}
    cpus: dict[str, list[float]] = {"invest": [], "geoeco": []}
    with tempfile.TemporaryDirectory(prefix="bench-invest-") as tmp:
        t = Path(tmp)
        _timed(geoeco_cmd(case, t / "warm"))  # numba's cache, as after a user's first run
        for i in range(args.repeat):
            ws, out = t / f"ws{i}", t / f"geoeco{i}"
            for name, cmd in (
                ("invest", invest_cmd(args.invest_python, args.runner, case, ws)),
                ("geoeco", geoeco_cmd(case, out)),
            ):
                wall, cpu = _timed(cmd)
                walls[name].append(wall)
                cpus[name].append(cpu)
            print(f"repeat {i + 1}: InVEST {walls['invest'][-1]:.2f} s, "
                  f"geoeco {walls['geoeco'][-1]:.2f} s", file=sys.stderr)  # fmt: skip
        inv_sum, inv_n = _sum_valid(ws / "usle.tif")
        geo_sum, geo_n = _sum_valid(out / "soil_loss.tif", scale=0.01)  # t/km² -> t/ha
        geo_files = sorted(p.name for p in out.iterdir())
        shutil.rmtree(ws, ignore_errors=True)
    best = {k: min(v) for k, v in walls.items()}
    best_cpu = {k: min(v) for k, v in cpus.items()}
    return {
        "case": str(case),
        "repeat": args.repeat,
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "invest_cmd": " ".join(invest_cmd(args.invest_python, args.runner, case, Path("WS"))),
        "geoeco_cmd": " ".join(geoeco_cmd(case, Path("OUT"))),
        "wall_s": walls,
        "best_wall_s": best,
        "speedup": best["invest"] / best["geoeco"],
        "cpu_s": cpus,
        "best_cpu_s": best_cpu,
        "speedup_cpu": best_cpu["invest"] / best_cpu["geoeco"],
        "load_avg_1min": os.getloadavg()[0],
        "usle_sum_t_ha": {"invest": inv_sum, "geoeco": geo_sum, "ratio": geo_sum / inv_sum},
        "valid_pixels": {"invest": inv_n, "geoeco": geo_n},
        "geoeco_files": geo_files,
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def table(res: dict) -> str:
    """The Markdown table of a result."""
    b, c = res["best_wall_s"], res["best_cpu_s"]
    s, n = res["usle_sum_t_ha"], res["valid_pixels"]
    return "\n".join(
        [
            f"Case {res['case']}, fastest of {res['repeat']} (whole process), "
            f"{res['machine']['cpus']} CPUs, load average {res['load_avg_1min']:.1f} at the end",
            "",
            "| run | wall s | CPU s | USLE sum t/ha (valid px) | valid px |",
            "|---|---:|---:|---:|---:|",
            f"| InVEST SDR 3.20.2 | {b['invest']:.2f} | {c['invest']:.2f} | {s['invest']:.1f} "
            f"| {n['invest']} |",
            f"| geoeco erosion (invest method) | {b['geoeco']:.2f} | {c['geoeco']:.2f} "
            f"| {s['geoeco']:.1f} | {n['geoeco']} |",
            "",
            f"speed-up InVEST / geoeco: **{res['speedup']:.1f}×** wall (target ≥ 8), "
            f"{res['speedup_cpu']:.1f}× CPU; sum ratio geoeco / InVEST: {s['ratio']:.5f}",
        ]
    )


def main() -> None:
    """Parse the arguments, run, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="/work/invest-cases/case2000")
    ap.add_argument("--invest-python", default="/work/invest-venv/bin/python")
    ap.add_argument("--runner", type=Path, default=RUNNER, help="invest_usle.py")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", default="bench_invest.json", help="where the figures go")
    args = ap.parse_args()
    res = run(args)
    print(table(res))
    Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
