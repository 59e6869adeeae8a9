"""HTTP benchmark: point queries vs a trivial endpoint, and screening a county-sized polygon.

Starts ``uvicorn --factory geoeco_api.main:create_app`` on a free loopback port (a subprocess;
no other network), warms it up (the FULL demo run is built into the cache folder on first use,
about 1 min, then opened), and then, in the same server run:

1. ``--clients`` concurrent clients (default 50) for ``--seconds`` (default 30) on
   ``GET /query/point`` at random points inside the demo region;
2. the same load on ``GET /health`` (a trivial route of the same app: settings, registry);
3. ``--screens`` sequential ``POST /screen`` of 榆阳区 (610802) clipped to the demo region
   (the demo is about 100 km around Yulin, so the county is cut to its extent), p50 latency.

It prints p50 / p99 latency, throughput and the point/trivial ratios as JSON. Clients are a
small asyncio + httpx loop (bounded by count and time).

Usage::

    python bench/bench_http.py [--cache-dir DIR] [--clients 50] [--seconds 30] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, cache: Path, data: Path, workers: int) -> subprocess.Popen[bytes]:
    """uvicorn with the service's factory, rate limit off, JSON access log off (quiet)."""
    env = {
        **os.environ,
        "GEOECO_CACHE_DIR": str(cache),
        "GEOECO_DATA_DIR": str(data),
        "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
        "GEOECO_API_KEYS": "",
        "GEOECO_QUERY_DEMO_SIZE": "full",
        "GEOECO_LOG_LEVEL": "WARNING",
        "GEOECO_JOB_RUN_WORKERS": "false",
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "geoeco_api.main:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, cwd=data)


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll ``/health`` until the server answers."""
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            try:
                if (await c.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


async def load(
    base: str, make_request: Any, clients: int, seconds: float, max_requests: int = 2_000_000
) -> dict[str, Any]:
    """``clients`` concurrent loops sending ``make_request(client)`` for ``seconds``."""
    lat: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as c:

        async def one() -> None:
            nonlocal errors
            while time.monotonic() < deadline and len(lat) < max_requests:
                t = time.perf_counter()
                r = await make_request(c)
                dt = time.perf_counter() - t
                if r.status_code != 200:
                    errors += 1
                lat.append(dt)

        t0 = time.monotonic()
        await asyncio.gather(*(one() for _ in range(clients)))
        wall = time.monotonic() - t0
    a = np.array(lat) * 1000.0
    return {
        "requests": len(lat),
        "errors": errors,
        "seconds": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
    }


def county_site() -> tuple[dict[str, Any], float, float]:
    """榆阳区 (610802) clipped to the full demo region: GeoJSON, its km² and the county's km²."""
    import shapely

    from geoeco.core.geometry import area_km2
    from geoeco.workflows.demo_inputs import demo_aoi
    from geoeco.zoning.aoi import resolve_aoi

    county = resolve_aoi("610802").lonlat
    demo = demo_aoi("full").lonlat
    clip = shapely.intersection(county, demo)
    return shapely.geometry.mapping(clip), area_km2(clip), area_km2(county)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three measurements against one server."""
    from geoeco.workflows.demo_inputs import demo_aoi

    data = Path(tempfile.mkdtemp(prefix="geoeco-bench-"))
    cache = Path(args.cache_dir) if args.cache_dir else data / "cache"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, cache, data, args.workers)
    try:
        await wait_ready(base, proc)
        w, s, e, n = demo_aoi("full").lonlat.bounds
        rng = random.Random(0)

        def point(c: httpx.AsyncClient) -> Any:
            lon = rng.uniform(w + 0.05 * (e - w), e - 0.05 * (e - w))
            lat = rng.uniform(s + 0.05 * (n - s), n - 0.05 * (n - s))
            return c.get("/query/point", params={"lon": f"{lon:.6f}", "lat": f"{lat:.6f}"})

        t0 = time.monotonic()
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            first = await c.get("/query/point", params={"lon": (w + e) / 2, "lat": (s + n) / 2})
            first.raise_for_status()
        warm_s = time.monotonic() - t0
        await load(base, point, args.clients, 3.0)  # warm-up
        await load(base, lambda c: c.get("/health"), args.clients, 2.0)
        pt = await load(base, point, args.clients, args.seconds)
        triv = await load(base, lambda c: c.get("/health"), args.clients, args.seconds)
        geom, site_km2, county_km2 = county_site()
        times = []
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            body = {"geometry": geom, "buffer_m": 0}
            r = await c.post("/screen", json=body)  # warm
            r.raise_for_status()
            res = r.json()
            for _ in range(args.screens):
                t = time.perf_counter()
                (await c.post("/screen", json=body)).raise_for_status()
                times.append(time.perf_counter() - t)
        return {
            "machine": f"{os.cpu_count()} cores (shared), loopback, "
            f"{args.workers} uvicorn worker(s)",
            "first_point_query_s (demo build/open)": round(warm_s, 1),
            "clients": args.clients,
            "point_query": pt,
            "trivial_health": triv,
            "ratio_p50_point_over_trivial": round(pt["p50_ms"] / triv["p50_ms"], 2),
            "ratio_p99_point_over_trivial": round(pt["p99_ms"] / triv["p99_ms"], 2),
            "ratio_throughput_trivial_over_point": round(
                triv["throughput_rps"] / pt["throughput_rps"], 2
            ),
            "screen_county": {
                "site": "榆阳区 610802 clipped to the full demo region",
                "county_km2": round(county_km2, 1),
                "site_km2": round(site_km2, 1),
                "vertices": int(sum(len(r) for poly in _rings(geom) for r in poly)),
                "units_overlapped": len(res["by_unit"]),
                "runs": args.screens,
                "p50_ms": round(float(np.percentile(np.array(times) * 1000, 50)), 1),
            },
        }
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _rings(geom: dict[str, Any]) -> list[list[list[float]]]:
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    if geom["type"] == "MultiPolygon":
        return list(geom["coordinates"])
    return []


def main() -> None:
    """Parse the arguments, run, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache-dir", help="cache folder (the full demo run is built here once)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--screens", type=int, default=7)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
