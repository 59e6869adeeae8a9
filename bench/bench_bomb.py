"""Peak RSS of ``geoeco serve`` when a 200,000² sparse raster is uploaded, and when large
legitimate rasters are uploaded and tiled.

Starts ``uvicorn --factory geoeco_api.main:create_app`` (one process) on a free loopback port
with its data in a temporary folder, and reads the server's peak resident memory (``VmHWM`` of
``/proc/<pid>/status``) after each step:

1. start-up (``/health`` answered);
2. ``POST /uploads`` of the bomb: a 200,000 × 200,000 uint8 GeoTIFF, 512² deflate tiles, one
   block written (1.8 MB on disk, 40 Gpx declared). Expected: 413 from the header check;
3. ``POST /uploads`` of two legitimate rasters without overviews (the worst case for tiles),
   then tiles of each from zoom 4 (the whole raster in about one tile) to zoom 12, three tiles
   per zoom around the raster's centre, categorical (legend) and continuous (colour ramp):

   * ``dense``: 20,000 × 20,000 (0.4 Gpx), every pixel written (classes 1..5 in 1,000-pixel
     squares), deflate;
   * ``sparse``: 38,000 × 38,000 (1.44 Gpx, just under the 1.5 Gpx limit), one block written.

``--gdal-cache-mb`` sets ``GDAL_CACHEMAX`` for the server (default: unset, GDAL's 5 % of RAM):
the block cache is where a decimated read of a raster without overviews spends its memory.
``--mmap-threshold`` sets glibc's ``MALLOC_MMAP_THRESHOLD_`` (e.g. 131072): GDAL's 256 KB
blocks are then mapped and unmapped one by one instead of fragmenting the heap, whose freed
pages glibc otherwise keeps (the peak then grows by tens of MB per low-zoom tile).

Usage::

    python bench/bench_bomb.py [--gdal-cache-mb 256] [--mmap-threshold 131072] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import rasterio
from rasterio.transform import from_origin


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size of process ``pid`` in MB (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def write_raster(path: Path, n: int, *, dense: bool) -> Path:
    """An n × n uint8 GeoTIFF over 100–110° E, 30–40° N, 512² deflate tiles, no overviews."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="uint8",
        crs="EPSG:4490",
        transform=from_origin(100.0, 40.0, 10.0 / n, 10.0 / n),
        nodata=0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        sparse_ok=not dense,
        compress="deflate",
        BIGTIFF="YES",
    ) as ds:
        if not dense:
            ds.write(np.full((1, 512, 512), 3, np.uint8), window=((0, 512), (0, 512)))
            return path
        for r0 in range(0, n, 2048):
            h = min(2048, n - r0)
            rows = (np.arange(r0, r0 + h) // 1000)[:, None]
            cols = (np.arange(n) // 1000)[None, :]
            ds.write(((rows + cols) % 5 + 1).astype(np.uint8)[None], window=((r0, r0 + h), (0, n)))
    return path


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Slippy-map tile of a lon-lat point."""
    k = 2**z
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * k
    return int((lon + 180.0) / 360.0 * k), int(y)


def start_server(
    port: int, data: Path, cache_mb: int | None, mmap_threshold: int | None
) -> subprocess.Popen[bytes]:
    """One uvicorn process, rate limit off, quiet logs, job workers off."""
    env = {
        **os.environ,
        "GEOECO_DATA_DIR": str(data),
        "GEOECO_CACHE_DIR": str(data / "cache"),
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_LOG_LEVEL": "WARNING",
        "GEOECO_JOB_RUN_WORKERS": "false",
    }
    env.pop("GDAL_CACHEMAX", None)
    if cache_mb is not None:
        env["GDAL_CACHEMAX"] = str(cache_mb)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    if mmap_threshold is not None:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "geoeco_api.main:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, cwd=data)


def wait_ready(c: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    """Poll ``/health`` until the server answers."""
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if c.get("/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


def upload(c: httpx.Client, path: Path, layer_id: str) -> tuple[int, str, float]:
    """Status, problem detail (if any) and seconds of one ``POST /uploads``."""
    t0 = time.perf_counter()
    r = c.post(
        "/uploads",
        content=path.read_bytes(),
        params={"role": "evaluation", "layer_id": layer_id, "filename": path.name},
        headers={"Content-Type": "application/octet-stream"},
    )
    detail = r.json().get("detail", "") if r.status_code >= 400 else ""
    return r.status_code, detail, time.perf_counter() - t0


def tiles(c: httpx.Client, layer: str) -> dict[str, Any]:
    """Tiles z4..z12 (three per zoom around the centre), by legend-less default and ramp."""
    statuses: dict[int, int] = {}
    worst = 0.0
    t0 = time.perf_counter()
    for z in range(4, 13):
        x, y = tile_xy(105.0, 35.0, z)
        for dx in (-1, 0, 1):
            for params in ({}, {"colormap": "viridis", "rescale": "0,5"}):
                t1 = time.perf_counter()
                r = c.get(f"/tiles/{layer}/{z}/{x + dx}/{y}.png", params=params)
                worst = max(worst, time.perf_counter() - t1)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    return {
        "statuses": statuses,
        "seconds": round(time.perf_counter() - t0, 2),
        "worst_s": round(worst, 2),
    }


def run(work: Path, cache_mb: int | None, mmap_threshold: int | None) -> dict[str, Any]:
    """The whole benchmark in ``work``; a JSON-able report."""
    files = work / "files"
    files.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bomb = write_raster(files / "bomb.tif", 200_000, dense=False)
    dense = write_raster(files / "dense.tif", 20_000, dense=True)
    sparse = write_raster(files / "sparse.tif", 38_000, dense=False)
    made = time.perf_counter() - t0
    data = work / "data"
    data.mkdir(exist_ok=True)
    port = free_port()
    proc = start_server(port, data, cache_mb, mmap_threshold)
    out: dict[str, Any] = {
        "gdal_cachemax_mb": cache_mb,
        "malloc_mmap_threshold": mmap_threshold,
        "files_mb": {p.name: round(p.stat().st_size / 1e6, 2) for p in (bomb, dense, sparse)},
        "make_files_s": round(made, 1),
    }
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as c:
            wait_ready(c, proc)
            out["rss_start_mb"] = round(vm_hwm_mb(proc.pid))
            status, detail, secs = upload(c, bomb, "user.bomb")
            out["bomb_upload"] = {"status": status, "detail": detail, "seconds": round(secs, 2)}
            out["rss_after_bomb_mb"] = round(vm_hwm_mb(proc.pid))
            for name, path in (("dense", dense), ("sparse", sparse)):
                status, detail, secs = upload(c, path, f"user.{name}")
                out[f"{name}_upload"] = {
                    "status": status,
                    "detail": detail,
                    "seconds": round(secs, 2),
                }
                out[f"{name}_tiles"] = tiles(c, f"user.{name}")
                out[f"rss_after_{name}_tiles_mb"] = round(vm_hwm_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    """Parse arguments, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gdal-cache-mb", type=int, default=None)
    ap.add_argument("--mmap-threshold", type=int, default=None)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    if args.work is not None:
        print(json.dumps(run(args.work, args.gdal_cache_mb, args.mmap_threshold), indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="bench_bomb_") as d:
        print(json.dumps(run(Path(d), args.gdal_cache_mb, args.mmap_threshold), indent=2))


if __name__ == "__main__":
    main()
