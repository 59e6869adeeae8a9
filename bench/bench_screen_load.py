"""Site screening under concurrent load: one ``geoeco serve`` on the full demo run, wrk clients.

Usage::

    python bench/bench_screen_load.py [--work DIR] [--cache-dir DIR] [--connections 16 64]
                                      [--duration 30] [--wrk-threads 2]

1. Builds the full demo run into ``--cache-dir`` if needed (:func:`geoeco.workflows.demo_cache.
   ensure_demo_run`, about 1 min the first time; default ``<work>/cache``).
2. Starts one ``geoeco serve`` on a free loopback port with the rate limit off
   (``GEOECO_RATE_LIMIT_PER_MINUTE=0``) and otherwise default settings (keys off, job workers
   on, JSON access log to ``<work>/server.log``), and screens each site once (the first
   request opens the run).
3. For each ``--connections`` value, ``wrk`` (``/usr/bin/wrk``) sends ``POST /screen`` for
   ``--duration`` seconds on that many connections, cycling through eight sites inside the demo
   region (a wind farm, a solar park, a mine, an industrial park with two plots, a road with a
   500 m buffer, a reservoir, a building plot, a quarry; 0.1-15 km², 1 km buffer for the
   polygons; every project type judged, zonal statistics of every raster of the run). A Lua
   script counts every answer that is not a 200; wrk counts socket errors (connect, read,
   write, timeout; ``--timeout 60s``, so a slow answer counts as latency, not an error).
4. Reports requests/s, p50/p90/p99/max latency (``wrk --latency``), non-200 answers, socket
   errors, the server's peak RSS (``VmHWM`` of the server and any child process, from
   ``/proc``, sampled every 0.25 s and read after each phase) and whether the process is still
   alive and ``/health`` answers, then checks the targets of issue 12: zero errors, process
   alive, peak RSS < 1.5 GB.

Writes ``<work>/bench_screen_load.md`` and ``.json``. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

WRK = shutil.which("wrk") or "/usr/bin/wrk"
RSS_TARGET_MB = 1536.0

LUA = r"""
local bodies = {%BODIES%}
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter)
  table.insert(threads, thread)
end
function init(args)
  i = offset
  non200 = 0
end
function request()
  i = i + 1
  return wrk.format("POST", "/screen", {["Content-Type"] = "application/json"},
                    bodies[(i % #bodies) + 1])
end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non200": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, n, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


# --------------------------------------------------------------------------- sites


def _shape(cx: float, cy: float, rx_km: float, ry_km: float, n: int, wobble: float) -> list:
    """A closed lon-lat ring of ``n`` vertices around (cx, cy): an ellipse with a wobble."""
    kx = 1.0 / (111.32 * math.cos(math.radians(cy)))  # degrees of longitude per km
    ky = 1.0 / 110.57
    ring = []
    for k in range(n):
        a = 2 * math.pi * k / n
        f = 1.0 + wobble * math.sin(3 * a)
        ring.append([cx + f * rx_km * kx * math.cos(a), cy + f * ry_km * ky * math.sin(a)])
    return [*ring, ring[0]]


def sites(bounds: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Eight screening requests at fixed fractions of the units' lon-lat bounds."""
    x0, y0, x1, y1 = bounds

    def at(fx: float, fy: float) -> tuple[float, float]:
        return x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)

    def poly(fx: float, fy: float, rx: float, ry: float, n: int, w: float) -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": [_shape(*at(fx, fy), rx, ry, n, w)]}

    ax, ay = at(0.25, 0.55)
    bx, by = at(0.40, 0.62)
    road = {"type": "LineString", "coordinates": [[ax, ay], [(ax + bx) / 2, ay], [bx, by]]}
    plots = {
        "type": "MultiPolygon",
        "coordinates": [
            poly(0.62, 0.30, 1.0, 0.7, 12, 0.1)["coordinates"],
            poly(0.65, 0.33, 0.8, 0.8, 10, 0.1)["coordinates"],
        ],
    }
    geoms = [
        ("wind farm", poly(0.30, 0.35, 2.5, 1.8, 48, 0.15), 1000),
        ("solar park", poly(0.55, 0.50, 1.2, 0.8, 8, 0.0), 1000),
        ("mine", poly(0.70, 0.65, 0.8, 0.6, 24, 0.2), 1000),
        ("industrial park (2 plots)", plots, 1000),
        ("road (500 m buffer)", road, 500),
        ("reservoir", poly(0.45, 0.25, 1.8, 1.2, 64, 0.25), 1000),
        ("building plot", poly(0.50, 0.75, 0.18, 0.15, 6, 0.0), 1000),
        ("quarry", poly(0.80, 0.45, 0.6, 0.5, 16, 0.1), 1000),
    ]
    return [{"name": n, "body": {"geometry": g, "buffer_m": b}} for n, g, b in geoms]


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _status_mb(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Server:
    """One ``geoeco serve`` subprocess and a sampler of its memory."""

    def __init__(self, work: Path, cache: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "GEOECO_RATE_LIMIT_PER_MINUTE": "0",
            "GEOECO_QUERY_DEMO_SIZE": "full",
            "GEOECO_API_KEYS": "",
        }
        exe = Path(sys.executable).with_name("geoeco")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "geoeco.cli"]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--data-dir", str(work / "data"), "--cache-dir", str(cache)]
        self.log = work / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=log, stderr=log)
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            rss = sum(_status_mb(p, "VmRSS") for p in _tree(self.proc.pid))
            self.peak_rss_mb = max(self.peak_rss_mb, rss)

    def hwm_mb(self) -> float:
        """Sum of ``VmHWM`` (peak resident memory) of the server and its children."""
        return sum(_status_mb(p, "VmHWM") for p in _tree(self.proc.pid))

    def healthy(self) -> bool:
        """The process runs and ``/health`` answers 200."""
        if self.proc.poll() is not None:
            return False
        try:
            return httpx.get(self.base + "/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``/health`` answers (or raise)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        """Stop the sampler and the server."""
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --------------------------------------------------------------------------- load


def _size(site: dict[str, Any]) -> str:
    if site.get("area_km2"):
        return f"{site['area_km2']:.2f} km²"
    return f"{site.get('length_km', 0.0):.2f} km"


def warm_up(server: Server, reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Screen each site once, in turn (the first request opens the run): status and seconds."""
    out = []
    with httpx.Client(base_url=server.base, timeout=600) as c:
        for r in reqs:
            t = time.perf_counter()
            resp = c.post("/screen", json=r["body"])
            body = resp.json() if resp.status_code == 200 else {}
            out.append(
                {
                    "site": r["name"],
                    "status": resp.status_code,
                    "seconds": round(time.perf_counter() - t, 3),
                    "size": _size(body.get("site", {})),
                    "inside": body.get("inside_analysed_area"),
                    "units": len(body.get("by_unit", [])),
                    "redline_share": round(sum(o["share"] for o in body.get("redline", [])), 3),
                }
            )
    return out


def run_wrk(server: Server, script: Path, conns: int, args: argparse.Namespace) -> dict:
    """One wrk phase; its figures and the server's state afterwards."""
    threads = max(1, min(args.wrk_threads, conns))
    cmd = [WRK, f"-t{threads}", f"-c{conns}", f"-d{args.duration}s", "--timeout", "60s"]
    cmd += ["--latency", "-s", str(script), server.base + "/screen"]
    print("$", " ".join(cmd), file=sys.stderr)
    load0 = os.getloadavg()[0]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    (args.work / f"wrk-{conns}.txt").write_text(p.stdout + p.stderr)
    line = next(x for x in p.stdout.splitlines() if x.startswith("WRKJSON "))
    w = json.loads(line[len("WRKJSON ") :])
    socket_errors = w["connect"] + w["read"] + w["write"] + w["timeout"]
    return {
        "connections": conns,
        "wrk_threads": threads,
        "seconds": round(w["duration_us"] / 1e6, 2),
        "requests": w["requests"],
        "rps": round(w["requests"] / (w["duration_us"] / 1e6), 1),
        "p50_ms": round(w["p50_us"] / 1e3, 1),
        "p90_ms": round(w["p90_us"] / 1e3, 1),
        "p99_ms": round(w["p99_us"] / 1e3, 1),
        "max_ms": round(w["max_us"] / 1e3, 1),
        "non200": w["non200"],
        "socket_errors": socket_errors,
        "errors_detail": {k: w[k] for k in ("connect", "read", "write", "timeout", "status")},
        "alive": server.healthy(),
        "peak_rss_mb": round(max(server.hwm_mb(), server.peak_rss_mb), 1),
        "load_avg_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }


# --------------------------------------------------------------------------- report


def report(res: dict[str, Any]) -> str:
    """The Markdown report."""
    lines = [
        f"# Site screening under concurrent load ({res['cpus']} CPUs, geoeco {res['version']})",
        "",
        f"One `geoeco serve` on the full demo run ({res['units']} units), rate limit off; wrk "
        f"`POST /screen` over {len(res['warm_up'])} sites, {res['duration']} s per phase, "
        "`--timeout 60s`. Load average (1 min) before and after each phase is given: the "
        "machine is shared.",
        "",
        "| connections | requests | req/s | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | non-200 "
        "| socket errors | alive | peak RSS (MB) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in res["phases"]:
        lines.append(
            f"| {p['connections']} | {p['requests']} | {p['rps']} | {p['p50_ms']} "
            f"| {p['p90_ms']} | {p['p99_ms']} | {p['max_ms']} | {p['non200']} "
            f"| {p['socket_errors']} | {p['alive']} | {p['peak_rss_mb']:.0f} "
            f"| {p['load_avg_1min'][0]} → {p['load_avg_1min'][1]} |"
        )
    lines += ["", "Sites (each screened once before the load; the first opens the run):", ""]
    lines += ["| site | status | s | size | inside | units | red-line share |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for w in res["warm_up"]:
        lines.append(
            f"| {w['site']} | {w['status']} | {w['seconds']} | {w['size']} | {w['inside']} "
            f"| {w['units']} | {w['redline_share']} |"
        )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name, value, ok in res["targets"]:
        lines.append(f"| {name} | {value} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


def targets(phases: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """The issue's targets: zero errors, alive, peak RSS < 1.5 GB."""
    errs = sum(p["non200"] + p["socket_errors"] for p in phases)
    alive = all(p["alive"] for p in phases)
    peak = max(p["peak_rss_mb"] for p in phases)
    return [
        ("zero errors (any non-200, any socket error)", str(errs), errs == 0),
        ("process alive and healthy after every phase", str(alive), alive),
        ("peak RSS < 1.5 GB", f"{peak:.0f} MB", peak < RSS_TARGET_MB),
    ]


def main() -> None:
    """Build the run, start the server, run the phases, write the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/geoeco-bench-screen-load"))
    ap.add_argument("--cache-dir", type=Path, help="cache with the full demo run (built if needed)")
    ap.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--duration", type=int, default=30, help="seconds per phase")
    ap.add_argument("--wrk-threads", type=int, default=2)
    args = ap.parse_args()
    import geopandas as gpd

    from geoeco import __version__
    from geoeco.workflows.demo_cache import ensure_demo_run

    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or args.work / "cache"
    run = ensure_demo_run(cache, "full")
    units = gpd.read_file(run / "zones" / "zones.gpkg", layer="units").to_crs(4490)
    reqs = sites(tuple(units.total_bounds))
    bodies = ", ".join(f"[==[{json.dumps(r['body'])}]==]" for r in reqs)
    script = args.work / "screen.lua"
    script.write_text(LUA.replace("%BODIES%", bodies))
    server = Server(args.work, cache)
    try:
        server.wait_ready()
        warm = warm_up(server, reqs)
        phases = [run_wrk(server, script, c, args) for c in args.connections]
    finally:
        server.stop()
    res = {
        "cpus": os.cpu_count(),
        "version": __version__,
        "units": len(units),
        "duration": args.duration,
        "warm_up": warm,
        "phases": phases,
    }
    res["targets"] = targets(phases)
    md = report(res)
    (args.work / "bench_screen_load.md").write_text(md)
    (args.work / "bench_screen_load.json").write_text(json.dumps(res, indent=2))
    print(md)


if __name__ == "__main__":
    main()
