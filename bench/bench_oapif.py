"""Benchmark: all 2,891 counties through GDAL's OAPIF driver vs from a local GeoPackage.

Starts ``geoeco serve`` on a free loopback port (a subprocess; no other network), warms it
(one request indexes ``admin.county``), then times, ``--repeat`` times each and interleaved:

1. ``ogr2ogr -f GPKG out.gpkg OAPIF:http://127.0.0.1:PORT admin.county`` with the driver's
   default options (Debian's GDAL 3.6 pages with ``limit=10`` and follows ``next`` links);
2. the same with ``-oo PAGE_SIZE=1000`` (the server's cap), for reference;
3. ``ogr2ogr`` of the same layer from a local GeoPackage (the county layer written once with
   pyogrio, CGCS2000 lon-lat, same attributes) - the floor without HTTP.

Prints JSON: the best and median wall times, items per second and the OAPIF / local ratios.

Usage::

    python bench/bench_oapif.py [--repeat 3] [--ogr2ogr /usr/bin/ogr2ogr]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    """``geoeco serve`` with the rate limit and the job workers off, quiet logs."""
    env = {
        **os.environ,
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_LOG_LEVEL": "WARNING",
        "GEOECO_LOG_JSON": "false",
        "GEOECO_JOB_RUN_WORKERS": "false",
    }
    cmd = [sys.executable, "-m", "geoeco.cli", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(tmp / "data"), "--cache-dir", str(tmp / "cache")]
    return subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL)


def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait for ``/health``, then index the county layer with one small page."""
    for _ in range(600):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"geoeco serve exited with {proc.returncode}")
        time.sleep(0.1)
    r = httpx.get(base + "/collections/admin.county/items", params={"limit": 1}, timeout=120)
    r.raise_for_status()


def local_gpkg(path: Path) -> None:
    """The county layer as a local GeoPackage layer ``admin.county`` (CGCS2000 lon-lat)."""
    import pyogrio

    from geoeco.catalog.layers import builtin_registry
    from geoeco.catalog.sources import read_layer_vector

    gdf = read_layer_vector(builtin_registry().get("admin.county")).to_crs(4490)
    pyogrio.write_dataframe(gdf, path, layer="admin.county", driver="GPKG")


def timed_copy(ogr2ogr: str, src: list[str], out: Path) -> tuple[float, int]:
    """Wall time of one ``ogr2ogr`` to a fresh GeoPackage, and the features it wrote."""
    import pyogrio

    if out.exists():
        out.unlink()
    t0 = time.perf_counter()
    res = subprocess.run(
        [ogr2ogr, "-f", "GPKG", str(out), *src], capture_output=True, text=True, check=False
    )
    dt = time.perf_counter() - t0
    if res.returncode != 0 or "ERROR" in res.stderr:
        raise SystemExit(f"ogr2ogr failed: {res.stderr[:2000]}")
    n = int(pyogrio.read_info(out, layer="admin.county")["features"])
    return dt, n


def _summary(times: list[float], n: int) -> dict[str, Any]:
    best, med = min(times), statistics.median(times)
    return {
        "features": n,
        "best_s": round(best, 3),
        "median_s": round(med, 3),
        "items_per_s_best": round(n / best),
        "runs_s": [round(t, 3) for t in times],
    }


def run(ogr2ogr: str, repeat: int) -> dict[str, Any]:
    """Run the three copies ``repeat`` times, interleaved, and summarise."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-oapif-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, tmp)
    try:
        wait_ready(base, proc)
        local = tmp / "counties.gpkg"
        local_gpkg(local)
        cases = {
            "oapif_default": ["OAPIF:" + base, "admin.county"],
            "oapif_page_1000": ["-oo", "PAGE_SIZE=1000", "OAPIF:" + base, "admin.county"],
            "local_gpkg": [str(local), "admin.county"],
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        counts: dict[str, int] = {}
        for _ in range(repeat):
            for name, src in cases.items():
                dt, n = timed_copy(ogr2ogr, src, tmp / f"{name}.gpkg")
                times[name].append(dt)
                counts[name] = n
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    out = {k: _summary(v, counts[k]) for k, v in times.items()}
    floor = out["local_gpkg"]["best_s"]
    out["ratio_default_vs_local"] = round(out["oapif_default"]["best_s"] / floor, 1)
    out["ratio_page_1000_vs_local"] = round(out["oapif_page_1000"]["best_s"] / floor, 1)
    out["gdal"] = subprocess.run(
        [ogr2ogr, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return out


def main() -> None:
    """Parse arguments, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ogr2ogr", default=shutil.which("ogr2ogr") or "/usr/bin/ogr2ogr")
    args = ap.parse_args()
    print(json.dumps(run(args.ogr2ogr, args.repeat), indent=2))


if __name__ == "__main__":
    main()
