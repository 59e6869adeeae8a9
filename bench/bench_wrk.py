"""HTTP benchmark with wrk: the geoeco service against a bare FastAPI route, same uvicorn.

Usage::

    python bench/bench_wrk.py [--work DIR] [--cache-dir DIR] [--duration 15]
                              [--connections 8 50] [--screen-connections 1 8 50]
                              [--screen-duration 30] [--settings-cost]

1. Builds the FULL demo run into ``--cache-dir`` if needed
   (:func:`geoeco.workflows.demo_cache.ensure_demo_run`, about 1 min the first time).
2. Starts, one after the other on a free loopback port, two servers under the SAME uvicorn
   settings (``--workers 1 --loop asyncio --http h11 --no-access-log --log-level warning``):

   a. a bare FastAPI app with one ``async def`` route returning ``{"status": "ok"}``
      (:func:`bare_app`, this file);
   b. the geoeco service (``--factory geoeco_api.main:create_app``) with its production
      defaults: JSON access log on (to ``<work>/geoeco.log``), job supervisor on, keys off,
      the rate limit on but at 10⁹ requests a minute (its bucket is taken on every request,
      it never refuses one); ``GEOECO_QUERY_DEMO_SIZE=full``.

3. Drives each route with ``wrk -t1`` (one client thread, so the server keeps the other core of
   a 2-core machine; ``--latency``, ``--timeout 60s``, a Lua script that counts non-200
   answers) for ``--duration`` seconds at each of ``--connections``, after a 2 s warm-up:
   the bare route ``GET /``, ``GET /health``, ``GET /query/point`` (cycling through 2,000
   random points inside the demo region) and ``POST /screen`` of 榆阳区 (610802) intersected
   with the full demo's extent (the county's boundary from the built-in admin layer, clipped
   client-side and sent as GeoJSON, as the route expects) at ``--screen-connections`` for
   ``--screen-duration`` seconds each, after one screening alone (no wrk warm-up: the requests
   of closed connections would keep the server's threads busy into the next phase).
4. Measures the CPU of wrk (its rusage) and of the server (``/proc/<pid>/stat``) during each
   phase: a client near 100 % of a core would be the bottleneck, and the table says so.
5. With ``--settings-cost``: ``/health`` again on the service with the JSON access log off
   (``GEOECO_LOG_LEVEL=WARNING``) and with the job supervisor off
   (``GEOECO_JOB_RUN_WORKERS=false``), to price those production settings.

Prints a Markdown table with the ratios and targets of issue 16 (point ≥ 80 % of /health,
/health ≥ 60 % of the bare route, point p99 ≤ 20 ms at 8 connections, p99 ≤ 3 × p50 at 50) and
writes ``<work>/bench_wrk.md`` and ``<work>/bench_wrk.json``. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"
HERE = Path(__file__).resolve().parent
UVICORN_FLAGS = [
    "--workers", "1", "--loop", "asyncio", "--http", "h11",
    "--no-access-log", "--log-level", "warning",
]  # fmt: skip
COUNTY = "610802"  # 榆阳区
LUA = r"""
local paths = {%PATHS%}
local body = %BODY%
local method = "%METHOD%"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) i = 0; non200 = 0 end
function request()
  i = i + 1
  local headers = {}
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, paths[(i % #paths) + 1], headers, body)
end
function response(status, headers, b)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non200": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, n, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def bare_app() -> Any:
    """The reference: a FastAPI app with one ``async def`` route returning a small JSON."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine, all cores (from /proc/stat)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + f[4]  # idle, iowait
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Server:
    """One uvicorn process on a free loopback port (``target`` is its app argument)."""

    def __init__(self, target: list[str], env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), *UVICORN_FLAGS]
        with log.open("ab") as f:
            self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=f, stderr=f)

    def get(self, path: str, timeout: float = 600.0) -> Any:
        """``GET path`` (raises on a non-200)."""
        import httpx

        r = httpx.get(self.base + path, timeout=timeout)
        r.raise_for_status()
        return r

    def post(self, path: str, body: str, timeout: float = 600.0) -> Any:
        """``POST path`` with a JSON ``body`` (raises on a non-200)."""
        import httpx

        headers = {"Content-Type": "application/json"}
        r = httpx.post(self.base + path, content=body, headers=headers, timeout=timeout)
        r.raise_for_status()
        return r

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Until ``path`` answers 200 (or raise)."""
        import httpx

        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.base + path, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        """Terminate the server (kill it after 20 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------- wrk


def lua_script(work: Path, name: str, paths: list[str], body: str | None = None) -> Path:
    """A wrk script cycling through ``paths`` (GET, or POST of ``body``)."""
    text = LUA.replace("%PATHS%", ", ".join(f"[==[{p}]==]" for p in paths))
    text = text.replace("%BODY%", f"[==[{body}]==]" if body is not None else "nil")
    text = text.replace("%METHOD%", "POST" if body is not None else "GET")
    script = work / f"{name}.lua"
    script.write_text(text, encoding="utf-8")
    return script


def run_wrk(server: Server, script: Path, conns: int, seconds: float) -> dict[str, Any]:
    """One wrk phase (``-t1``): its figures, and the CPU of wrk and of the server."""
    cmd = [WRK, "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "60s", "--latency"]
    cmd += ["-s", str(script), server.base]
    srv0, all0, t0 = _cpu_s(server.proc.pid), _machine_busy_s(), time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - t0
    srv = _cpu_s(server.proc.pid) - srv0
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    others = max(0.0, _machine_busy_s() - all0 - srv - wrk_cpu)
    line = next(x for x in p.stdout.splitlines() if x.startswith("WRKJSON "))
    w = json.loads(line[len("WRKJSON ") :])
    dur = w["duration_us"] / 1e6
    return {
        "connections": conns,
        "requests": w["requests"],
        "rps": round(w["requests"] / dur, 1) if dur else 0.0,
        "p50_ms": round(w["p50_us"] / 1e3, 2),
        "p90_ms": round(w["p90_us"] / 1e3, 2),
        "p99_ms": round(w["p99_us"] / 1e3, 2),
        "max_ms": round(w["max_us"] / 1e3, 2),
        "non200": w["non200"],
        "socket_errors": w["socket_errors"],
        "wrk_cpu_pct": round(100 * wrk_cpu / wall, 1),
        "server_cpu_pct": round(100 * srv / wall, 1),
        "server_cpu_us_per_req": round(1e6 * srv / w["requests"], 1) if w["requests"] else None,
        "other_cpu_pct": round(100 * others / wall, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def measure(
    server: Server, script: Path, conns: list[int], seconds: float, route: str, *, warm: bool = True
) -> list[dict[str, Any]]:
    """A 2 s warm-up (unless ``warm`` is false), then one phase per connection count (fewest
    first), tagged with ``route``."""
    if warm:
        run_wrk(server, script, max(conns), 2)
    out = []
    for c in sorted(conns):
        row = {"route": route, **run_wrk(server, script, c, seconds)}
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
        out.append(row)
    return out


# --------------------------------------------------------------------------- requests


def point_paths(run: Path, n: int = 2000) -> list[str]:
    """``n`` point queries at random places inside the bounds of the run's units (lon-lat)."""
    import geopandas as gpd

    units = gpd.read_file(run / "zones" / "zones.gpkg", layer="units").to_crs(4326)
    w, s, e, north = units.total_bounds
    rng = random.Random(0)
    out = []
    for _ in range(n):
        lon = rng.uniform(w + 0.05 * (e - w), e - 0.05 * (e - w))
        lat = rng.uniform(s + 0.05 * (north - s), north - 0.05 * (north - s))
        out.append(f"/query/point?lon={lon:.6f}&lat={lat:.6f}")
    return out


def county_body() -> tuple[str, dict[str, Any]]:
    """``POST /screen`` body: 榆阳区 (by its code) intersected with the full demo's extent."""
    import shapely

    from geoeco.core.geometry import area_km2
    from geoeco.workflows.demo_inputs import demo_aoi
    from geoeco.zoning.aoi import resolve_aoi

    county = resolve_aoi(COUNTY).lonlat
    site = shapely.intersection(county, demo_aoi("full").lonlat)
    body = json.dumps({"geometry": shapely.geometry.mapping(site), "buffer_m": 0})
    info = {
        "code": COUNTY,
        "county_km2": round(area_km2(county), 1),
        "site_km2": round(area_km2(site), 1),
        "vertices": int(shapely.get_num_coordinates(site)),
        "body_bytes": len(body),
    }
    return body, info


# --------------------------------------------------------------------------- runs


def geoeco_env(work: Path, cache: Path, **extra: str) -> dict[str, str]:
    """The service's environment: production defaults, rate limit never reached, full demo."""
    env = {
        "GEOECO_CACHE_DIR": str(cache),
        "GEOECO_DATA_DIR": str(work / "data"),
        "GEOECO_QUERY_DEMO_SIZE": "full",
        "GEOECO_RATE_LIMIT_PER_MINUTE": "1000000000",
        "GEOECO_API_KEYS": "",
    }
    return {**env, **extra}


def bench_bare(args: argparse.Namespace, scripts: dict[str, Path]) -> list[dict[str, Any]]:
    """The bare route on its own server."""
    server = Server(["--app-dir", str(HERE), "--factory", "bench_wrk:bare_app"], {}, args.log)
    try:
        server.wait_ready("/")
        return measure(server, scripts["bare"], args.connections, args.duration, "bare route")
    finally:
        server.stop()


def bench_geoeco(
    args: argparse.Namespace, cache: Path, scripts: dict[str, Path], point: str
) -> tuple[list[dict[str, Any]], float]:
    """/health, the point query and the county screening on one service process."""
    target = ["--factory", "geoeco_api.main:create_app"]
    server = Server(target, geoeco_env(args.work, cache), args.log)
    try:
        server.wait_ready("/health")
        t0 = time.perf_counter()
        server.get(point)  # opens the run
        open_s = time.perf_counter() - t0
        rows = measure(server, scripts["health"], args.connections, args.duration, "/health")
        rows += measure(server, scripts["point"], args.connections, args.duration, "point query")
        # warm-up: one screening at a time (wrk's connections left behind by a warm-up would
        # keep the server's threads busy screening well into the next phase)
        server.post("/screen", scripts["screen_body"].read_text(encoding="utf-8"))
        rows += measure(
            server,
            scripts["screen"],
            args.screen_connections,
            args.screen_duration,
            "county screening",
            warm=False,
        )
        return rows, open_s
    finally:
        server.stop()


def bench_settings(
    args: argparse.Namespace, cache: Path, scripts: dict[str, Path]
) -> list[dict[str, Any]]:
    """/health with the JSON access log off, then with the job supervisor off."""
    rows = []
    variants = [
        ("/health, access log off", {"GEOECO_LOG_LEVEL": "WARNING"}),
        ("/health, job supervisor off", {"GEOECO_JOB_RUN_WORKERS": "false"}),
    ]
    for name, extra in variants:
        target = ["--factory", "geoeco_api.main:create_app"]
        server = Server(target, geoeco_env(args.work, cache, **extra), args.log)
        try:
            server.wait_ready("/health")
            rows += measure(server, scripts["health"], args.connections, args.duration, name)
        finally:
            server.stop()
    return rows


# --------------------------------------------------------------------------- report


def _row(rows: list[dict[str, Any]], route: str, conns: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["route"] == route and r["connections"] == conns), None)


def ratios(rows: list[dict[str, Any]], conns: list[int]) -> list[tuple[str, str, bool | None]]:
    """The targets of issue 16, from the rows of this run."""
    out: list[tuple[str, str, bool | None]] = []
    for c in conns:
        bare, health, point = (_row(rows, r, c) for r in ("bare route", "/health", "point query"))
        if bare and health and point:
            hp = point["rps"] / health["rps"]
            out.append((f"point / health req/s at {c} ≥ 0.80", f"{hp:.2f}", hp >= 0.80))
            hb = health["rps"] / bare["rps"]
            out.append((f"health / bare req/s at {c} ≥ 0.60", f"{hb:.2f}", hb >= 0.60))
            cpu = [r["server_cpu_us_per_req"] for r in (bare, health, point)]
            if all(cpu):  # the same ratios from server CPU per request (robust to a busy box)
                out.append(
                    (
                        f"point / health by server CPU per request at {c}",
                        f"{cpu[1] / cpu[2]:.2f}",
                        None,
                    )
                )
                out.append(
                    (
                        f"health / bare by server CPU per request at {c}",
                        f"{cpu[0] / cpu[1]:.2f}",
                        None,
                    )
                )
    if (p8 := _row(rows, "point query", 8)) is not None:
        out.append(("point p99 at 8 ≤ 20 ms", f"{p8['p99_ms']} ms", p8["p99_ms"] <= 20.0))
    for route in ("bare route", "/health", "point query", "county screening"):
        if (r := _row(rows, route, 50)) is not None and r["p50_ms"] > 0:
            q = r["p99_ms"] / r["p50_ms"]
            out.append((f"{route} p99 / p50 at 50 ≤ 3", f"{q:.2f}", q <= 3.0))
    if (s := _row(rows, "county screening", 1)) is not None:
        out.append(("county screening p50 (1 conn.) ≤ 300 ms", f"{s['p50_ms']} ms", None))
    return out


def report(res: dict[str, Any]) -> str:
    """The Markdown report of a run."""
    lines = [
        f"# HTTP benchmark (wrk -t1; {res['cpus']} CPUs; geoeco {res['version']})",
        "",
        f"uvicorn `{' '.join(UVICORN_FLAGS)}` for both apps; {res['duration']} s per phase "
        f"({res['screen_duration']} s for screening). "
        f"Run opened by the first point query in {res['open_s']} s. County site: "
        f"{res['site']['code']} ∩ full demo = {res['site']['site_km2']} km² "
        f"({res['site']['vertices']} vertices). wrk CPU near 100 % would mean the client is "
        "the bottleneck; other CPU is what other processes of the machine used meanwhile "
        "(of 100 % × cores): a busy machine slows the server; the server's CPU time per "
        "request does not depend on it much, so the ratios are also given from it.",
        "",
        "| route | conn. | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-200 "
        "| socket err. | wrk CPU % | server CPU % | server CPU µs/req | other CPU % | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['route']} | {r['connections']} | {r['requests']} | {r['rps']} "
            f"| {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['non200']} "
            f"| {r['socket_errors']} | {r['wrk_cpu_pct']} | {r['server_cpu_pct']} "
            f"| {r['server_cpu_us_per_req']} | {r['other_cpu_pct']} | {r['load_avg_1min']} |"
        )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name, value, ok in res["targets"]:
        met = "(reported)" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {name} | {value} | {met} |")
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/geoeco-bench-wrk"))
    ap.add_argument("--cache-dir", type=Path, help="cache with the full demo run (built if needed)")
    ap.add_argument("--duration", type=int, default=15, help="seconds per phase")
    ap.add_argument("--connections", type=int, nargs="+", default=[8, 50])
    ap.add_argument("--screen-connections", type=int, nargs="+", default=[1, 8, 50])
    ap.add_argument("--screen-duration", type=int, default=30, help="seconds per screening phase")
    ap.add_argument("--settings-cost", action="store_true", help="also price log and supervisor")
    return ap.parse_args()


def main() -> None:
    """Build the run, measure both servers, print and write the report."""
    args = parse_args()
    from geoeco import __version__
    from geoeco.workflows.demo_cache import ensure_demo_run

    args.work.mkdir(parents=True, exist_ok=True)
    args.log = args.work / "servers.log"
    cache = args.cache_dir or args.work / "cache"
    run = ensure_demo_run(cache, "full")
    points = point_paths(run)
    body, site = county_body()
    scripts = {
        "bare": lua_script(args.work, "bare", ["/"]),
        "health": lua_script(args.work, "health", ["/health"]),
        "point": lua_script(args.work, "point", points),
        "screen": lua_script(args.work, "screen", ["/screen"], body),
        "screen_body": args.work / "screen.json",
    }
    scripts["screen_body"].write_text(body, encoding="utf-8")
    rows = bench_bare(args, scripts)
    geo, open_s = bench_geoeco(args, cache, scripts, points[0])
    rows += geo
    if args.settings_cost:
        rows += bench_settings(args, cache, scripts)
    res = {
        "cpus": os.cpu_count(),
        "version": __version__,
        "duration": args.duration,
        "screen_duration": args.screen_duration,
        "uvicorn_flags": UVICORN_FLAGS,
        "wrk": "wrk -t1 --latency --timeout 60s",
        "open_s": round(open_s, 2),
        "site": site,
        "rows": rows,
    }
    res["targets"] = ratios(rows, args.connections)
    md = report(res)
    (args.work / "bench_wrk.md").write_text(md, encoding="utf-8")
    (args.work / "bench_wrk.json").write_text(
        json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    print(md)


if __name__ == "__main__":
    main()
