"""Bytes read and wall time of one input for a county, on the loopback fixture (issue 17).

Builds a real-size MODIS 13Q1 tile (h26v05, 4800 × 4800 px, int16 NDVI and int8 pixel
reliability, 512-px DEFLATE COGs as on the Planetary Computer) behind the test suite's
Range-honouring loopback server, then fetches ``modis-13q1.ndvi`` for a county-sized square
(default 60 km, 250 m CGCS2000 Albers grid) inside the tile:

* **cold**: fresh URL prefix (GDAL's in-process HTTP cache cannot help) and empty cache;
* **warm**: the same request with the cache filled by the cold run (must request nothing).

Reported: bytes sent by the server for the tile files vs the files' sizes (issue target
≤ 0.3), number of requests, and wall times.

Then the **whole stack** (``geoeco.build_inputs``: 14 fetched inputs, 17 files) for the test
suite's fixture county (``tests/inputs/fixture.py``, about 24 × 26 km at 250 m), cold and warm:
bytes the server sent for the COG tiles vs the sizes of the tiles touched, all bytes sent
(STAC JSON, Zarr chunks, SoilGrids VRTs and tiles included), requests and wall time.

Prints a Markdown table and writes ``bench_inputs.json`` in the work folder. Usage::

    python bench/bench_inputs.py [--work /tmp/bench_inputs] [--half-km 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pystac

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from inputs.fixture import (  # noqa: E402
    SINU,
    _collection,
    _item,
    _lonlat_bbox,
    _outline,
    _sinu_transform,
    albers_grid,
    build_fixture,
    build_fixture_inputs,
    write_cog,
)
from inputs.rangeserver import serve  # noqa: E402

from geoeco.inputs.cache import ProgressTotals, WindowCache  # noqa: E402
from geoeco.inputs.config import CatalogConfig  # noqa: E402
from geoeco.inputs.fetch import fetch_input  # noqa: E402

ITEM = "MOD13Q1.A2021161.h26v05.061.2021178000000"
#: A county centre inside h26v05 (column ≈ 2950, row ≈ 1040 of the real tile): Yulin area.
CENTRE = (109.73, 38.28)


def build(work: Path) -> dict[str, int]:
    """The one-item catalog with a real-size tile; returns file sizes by name."""
    rng = np.random.default_rng(17)
    t = _sinu_transform(26, 5, 0, 0, 4800)
    r, c = np.mgrid[0:4800, 0:4800].astype("float32")
    ndvi = 3000 + 2000 * np.sin(r / 300) * np.cos(c / 450) + rng.integers(-400, 400, (4800, 4800))
    rel = rng.choice(np.array([0, 0, 0, 1, 1, 3], dtype="int8"), size=(4800, 4800))
    coll = _collection("modis-13Q1-061")
    item = _item(
        ITEM,
        _lonlat_bbox(t, (4800, 4800), SINU),
        "2021-06-10T00:00:00Z",
        "2021-06-25T23:59:59Z",
        {"platform": "terra"},
        _outline(t, (4800, 4800), SINU),
    )
    sizes = {}
    for key, arr, nd in (
        ("250m_16_days_NDVI", ndvi.astype("int16"), -3000),
        ("250m_16_days_pixel_reliability", rel, -1),
    ):
        path = work / "modis-13Q1-061" / ITEM / f"{ITEM}_{key}.tif"
        write_cog(path, arr, t, SINU, nodata=nd, block=512)
        item.add_asset(key, pystac.Asset(str(path), media_type=pystac.MediaType.COG))
        sizes[path.name] = path.stat().st_size
    coll.add_item(item)
    cat = pystac.Catalog("bench", "bench_inputs")
    cat.add_child(coll)
    cat.normalize_hrefs(str(work))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return sizes


def run_once(srv, sizes: dict[str, int], half_km: float, cache_dir: Path) -> dict:
    """One cold and one warm fetch; figures of both."""
    prefix = f"{srv.url}/a-{uuid.uuid4().hex[:10]}/"
    cat = CatalogConfig.http_mirror(prefix + "catalog.json", name="bench")
    grid = albers_grid(*CENTRE, half_km * 1000, 250)
    out = {}
    for phase in ("cold", "warm"):
        srv.log.clear()
        progress = ProgressTotals()
        t0 = time.perf_counter()
        got = fetch_input(
            "modis-13q1.ndvi",
            grid,
            year=2021,
            catalog=cat,
            cache=WindowCache(cache_dir),
            progress=progress,
        )
        wall = time.perf_counter() - t0
        hits = srv.log.snapshot()
        tile_bytes = {n: sum(h.nbytes for h in hits if h.path.endswith(n)) for n in sizes}
        out[phase] = {
            "wall_s": wall,
            "requests": len(hits),
            "tile_requests": sum(1 for h in hits if h.path.endswith(".tif")),
            "bytes_total": sum(h.nbytes for h in hits),
            "tile_bytes": tile_bytes,
            "ratio": sum(tile_bytes.values()) / sum(sizes.values()),
            "coverage": got.record.coverage,
            "pixels": grid.width * grid.height,
        }
    return out


def stack_once(srv, tiles: dict[str, int], work: Path, cache_dir: Path) -> dict:
    """One cold and one warm ``build_inputs`` of the fixture county; figures of both."""
    base = f"{srv.url}/a-{uuid.uuid4().hex[:10]}/"
    out = {}
    for phase in ("cold", "warm"):
        srv.log.clear()
        progress = ProgressTotals()
        t0 = time.perf_counter()
        build_fixture_inputs(
            base + "catalog.json", work / f"out-{phase}", cache=cache_dir, fetch_progress=progress
        )
        wall = time.perf_counter() - t0
        hits = srv.log.snapshot()
        read = {n: sum(h.nbytes for h in hits if h.path.endswith("/" + n)) for n in tiles}
        touched = {n: b for n, b in read.items() if b > 0}
        out[phase] = {
            "wall_s": wall,
            "requests": len(hits),
            "bytes_total": sum(h.nbytes for h in hits),
            "tiles_touched": len(touched),
            "tile_bytes_read": sum(touched.values()),
            "tile_bytes_whole": sum(tiles[n] for n in touched),
            "ratio": (sum(touched.values()) / sum(tiles[n] for n in touched)) if touched else 0.0,
        }
    return out


def stack_bench(work: Path, repeat: int) -> dict:
    """The whole-stack figures (median wall times over ``repeat`` cold/warm pairs)."""
    fx = build_fixture(work / "fixture")
    runs = []
    for srv in serve(fx.root):
        for i in range(repeat):
            runs.append(stack_once(srv, fx.tile_bytes, work / f"stack{i}", work / f"scache{i}"))
    cold, warm = [r["cold"] for r in runs], [r["warm"] for r in runs]
    return {
        "cold": cold[0],
        "warm_requests": max(w["requests"] for w in warm),
        "cold_wall_s_median": statistics.median(c["wall_s"] for c in cold),
        "warm_wall_s_median": statistics.median(w["wall_s"] for w in warm),
        "runs": runs,
    }


def markdown(report: dict) -> str:
    """The figures as a Markdown table."""
    s = report["stack"]
    rows = [
        ("case", "bytes read / whole tiles", "requests cold / warm", "wall cold / warm (s)"),
        (
            f"NDVI, {report['county_km']:g} km county in one 4800² MODIS tile",
            f"{report['ratio_bytes_read_to_tiles']:.3f}",
            f"{report['cold_requests']} / {report['warm_requests']}",
            f"{report['cold_wall_s_median']:.2f} / {report['warm_wall_s_median']:.3f}",
        ),
        (
            f"whole stack, fixture county ({s['cold']['tiles_touched']} COG tiles touched)",
            f"{s['cold']['ratio']:.3f}",
            f"{s['cold']['requests']} / {s['warm_requests']}",
            f"{s['cold_wall_s_median']:.2f} / {s['warm_wall_s_median']:.2f}",
        ),
    ]
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--half-km", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_inputs_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sizes = build(work)
    print(f"built a 4800² tile in {time.perf_counter() - t0:.1f} s: {sizes}")
    runs = []
    for srv in serve(work):
        for i in range(args.repeat):
            runs.append(run_once(srv, sizes, args.half_km, work / f"cache{i}"))
    cold = [r["cold"] for r in runs]
    warm = [r["warm"] for r in runs]
    report = {
        "county_km": 2 * args.half_km,
        "tile_file_bytes": sizes,
        "cold_tile_bytes_read": cold[0]["tile_bytes"],
        "ratio_bytes_read_to_tiles": cold[0]["ratio"],
        "cold_requests": cold[0]["requests"],
        "cold_tile_requests": cold[0]["tile_requests"],
        "warm_requests": max(w["requests"] for w in warm),
        "cold_wall_s_median": statistics.median(c["wall_s"] for c in cold),
        "warm_wall_s_median": statistics.median(w["wall_s"] for w in warm),
        "runs": runs,
    }
    report["stack"] = stack_bench(work, args.repeat)
    (work / "bench_inputs.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k not in ("runs", "stack")}, indent=2))
    print(markdown(report))
    print(f"JSON: {work / 'bench_inputs.json'}")
    target = "met" if report["ratio_bytes_read_to_tiles"] <= 0.3 else "NOT met"
    print(f"target bytes/tiles <= 0.3: {target}")


if __name__ == "__main__":
    main()
