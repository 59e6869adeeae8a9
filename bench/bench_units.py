"""Benchmark the vector phase of zoning: control units whole-grid vs in county batches, and
the exact vector mode against a plain ``geopandas.overlay`` chain.

Usage::

    python bench/bench_units.py [--size 8000] [--counties 400] [--batch-pixels 16000000]
                                [--polys 3000] [--json bench_units.json]

(a) **Units.** A synthetic zone-class raster (spectral noise thresholded into priority / key /
general with ~1 % nodata speckle) and a red-line raster (the top of another noise field inside
priority) on a ``size`` × ``size`` 250 m grid in ALBERS_CHINA (8000 × 8000 = 2000 km a side,
Three-North scale), an erosion-grade driver, and ``counties`` Voronoi counties in EPSG:4490 over
the same extent. Each mode runs in a fresh subprocess from files on disk and ends by writing
the units to a GeoPackage with :func:`geoeco.core.io.write_vector`:

* ``whole``: :func:`geoeco.core.io.read_raster` of the full rasters, then
  :func:`geoeco.zoning.units.build.build_units`;
* ``batched``: :func:`geoeco.core.align.aligned_source` window readers, then
  :func:`geoeco.zoning.units.build.build_units_batched`, once per ``--batch-pixels`` budget.

Reported: wall time (units / GeoPackage), peak resident memory of the child
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and the peak minus the resident size after the
imports, and a digest of the units (count, codes, total area) that must be equal.

(b) **Vector mode.** Three class layers (importance CumShare 1–3, water erosion SL190 1–6,
desertification WangTao-2003 1–5) of ``polys`` Voronoi polygons each over a 100 km square.
:func:`geoeco.zoning.overlay.vector.compute_zones_vector` with the rule set red line = importance 3
(code 11), priority = importance ≥ 2, key = erosion ≥ 3 or desertification ≥ 3, is timed
against the same zoning done with ``geopandas.overlay(how="union")`` twice, a vectorised
classification of the pieces and a dissolve by class; the class areas must agree. Not run by
the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

RES = 250.0
X0, Y0 = -1_000_000.0, 5_000_000.0  # top-left corner in ALBERS_CHINA (≈ 93°E, 44°N)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def noise(n: int, seed: int, beta: float = 3.2) -> np.ndarray:
    """Spectral noise with power ~ k^-beta, float32, zero mean and unit variance."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft2(rng.standard_normal((n, n)).astype(np.float32))
    ky = np.fft.fftfreq(n).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(n).astype(np.float32)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    spec *= k ** np.float32(-beta / 2)
    spec[0, 0] = 0
    out = np.fft.irfft2(spec, s=(n, n)).astype(np.float32)
    del spec
    out -= out.mean()
    out /= out.std()
    return out


def make_inputs(d: Path, n: int, n_counties: int) -> dict:
    """Write zone.tif, redline.tif, erosion.tif and counties.gpkg into ``d``."""
    import geopandas as gpd
    import shapely
    from affine import Affine

    from geoeco.core.crs import ALBERS_CHINA
    from geoeco.core.io import write_raster, write_vector
    from geoeco.core.raster import Grid, Raster

    t0 = time.perf_counter()
    grid = Grid(Affine(RES, 0, X0, 0, -RES, Y0), n, n, ALBERS_CHINA)
    f = noise(n, 1)
    zone = np.where(f > 0.6, 1, np.where(f > -0.3, 2, 3)).astype(np.uint8)
    del f
    rng = np.random.default_rng(5)
    zone[rng.random((n, n), dtype=np.float32) < 0.01] = 0  # nodata speckle
    g = noise(n, 2)
    red = np.where((zone == 1) & (g > 0.3), np.where(g > 1.2, 11, 13), 0).astype(np.uint8)
    del g
    write_raster(Raster.from_array(zone, grid, nodata=0), d / "zone.tif")
    write_raster(Raster.from_array(red, grid), d / "redline.tif", nodata=255)
    del red
    h = noise(n, 3, beta=2.6)
    ero = np.clip(np.floor((h + 2.0) * 1.5), 1, 6).astype(np.uint8)
    del h
    ero[zone == 0] = 0
    write_raster(Raster.from_array(ero, grid, nodata=0), d / "erosion.tif")
    stats = {"zoned_px": int(np.count_nonzero(zone)), "priority_px": int((zone == 1).sum())}
    del zone, ero
    side = n * RES
    uv = rng.uniform(0, side, (n_counties, 2))
    pts = shapely.points(X0 + uv[:, 0], Y0 - uv[:, 1])
    frame = shapely.box(X0 - RES, Y0 - side - RES, X0 + side + RES, Y0 + RES)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    cells = shapely.segmentize(shapely.intersection(cells, frame), 2000.0)
    codes = [f"{150000 + 100 * (i // 20) + i % 20 + 1}" for i in range(len(cells))]
    counties = gpd.GeoDataFrame(
        {"code": codes, "name": [f"县{i}" for i in range(len(cells))]},
        geometry=cells,
        crs=ALBERS_CHINA,
    ).to_crs(4490)
    write_vector(counties, d / "counties.gpkg")
    stats["counties"] = len(counties)
    stats["make_s"] = round(time.perf_counter() - t0, 1)
    return stats


def _warm_up(counties) -> None:  # type: ignore[no-untyped-def]
    """Build units on a 4 x 4 grid: loads numba, GDAL and PROJ so the baseline excludes them."""
    from affine import Affine

    from geoeco.core.crs import ALBERS_CHINA
    from geoeco.core.raster import Grid, Raster
    from geoeco.zoning.units.build import build_units

    x, y = counties.to_crs(ALBERS_CHINA).geometry.iloc[0].representative_point().coords[0]
    g = Grid(Affine(RES, 0, x, 0, -RES, y), 4, 4, ALBERS_CHINA)
    z = Raster.from_array(np.full((4, 4), 3, np.uint8), g)
    build_units(z, z.with_array(np.zeros((4, 4), np.uint8)), counties, drivers={"erosion_grade": z})


def child(mode: str, d: Path, batch_pixels: int) -> None:
    """Run one mode in this (fresh) process and print a JSON line."""
    from geoeco.core.io import raster_info, read_raster, read_vector, write_vector
    from geoeco.zoning.units.build import build_units, build_units_batched

    counties = read_vector(d / "counties.gpkg")
    _warm_up(counties)
    base = _rss_mib()
    t0 = time.perf_counter()
    if mode == "whole":
        zone = read_raster(d / "zone.tif")
        red = read_raster(d / "redline.tif")
        ero = read_raster(d / "erosion.tif")
        units = build_units(zone, red, counties, drivers={"erosion_grade": ero})
        del zone, red, ero
    else:
        from contextlib import ExitStack

        from geoeco.core.align import aligned_source

        with ExitStack() as st:
            grid = raster_info(d / "zone.tif").grid
            src = {
                k: st.enter_context(aligned_source(d / f"{k}.tif", grid))
                for k in ("zone", "redline", "erosion")
            }
            units = build_units_batched(
                src["zone"],
                src["redline"],
                counties,
                drivers={"erosion_grade": src["erosion"]},
                batch_pixels=batch_pixels,
            )
    t1 = time.perf_counter()
    write_vector(units, d / f"units_{mode}.gpkg")
    t2 = time.perf_counter()
    codes = "\n".join(units["code"]).encode()
    geoms = b"".join(units.geometry.to_wkb().tolist())
    print(
        json.dumps(
            {
                "mode": mode,
                "units_s": round(t1 - t0, 2),
                "gpkg_s": round(t2 - t1, 2),
                "total_s": round(t2 - t0, 2),
                "peak_rss_mib": round(_rss_mib(), 1),
                "extra_rss_mib": round(_rss_mib() - base, 1),
                "units": len(units),
                "area_km2": round(float(units["area_km2"].sum()), 4),
                "codes_sha": hashlib.sha256(codes).hexdigest()[:16],
                "geoms_sha": hashlib.sha256(geoms).hexdigest()[:16],
            }
        )
    )


# --------------------------------------------------------------------------- (b) vector mode


def class_layers(n_polys: int, side: float = 100_000.0, seed: int = 11) -> dict:
    """Three Voronoi class layers over one square (importance, erosion, desertification)."""
    import geopandas as gpd
    import shapely

    from geoeco.core.crs import ALBERS_CHINA

    rng = np.random.default_rng(seed)
    frame = shapely.box(0, 4_000_000, side, 4_000_000 + side)
    out = {}
    for name, top in (("imp", 3), ("ero", 6), ("des", 5)):
        xy = rng.uniform(0, side, (n_polys, 2)) + [0, 4_000_000]
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(shapely.points(xy)), extend_to=frame)
        )
        cells = shapely.intersection(cells, frame)
        out[name] = gpd.GeoDataFrame(
            {"c": rng.integers(1, top + 1, len(cells))}, geometry=cells, crs=ALBERS_CHINA
        )
    return out


RULES = {
    "name": "bench",
    "version": "1",
    "title_en": "vector benchmark",
    "inputs": {
        "imp": {"table": "CumShare(0.5,0.8)"},
        "ero": {"table": "SL190-2007/water"},
        "des": {"table": "WangTao-2003"},
    },
    "redline": {"reasons": [{"input": "imp", "min_class": 3, "code": 11}]},
    "priority": {"criteria": [{"input": "imp", "min_class": 2}]},
    "key": {
        "criteria": [{"input": "ero", "min_class": 3}, {"input": "des", "min_class": 3}],
    },
}


def geopandas_chain(layers: dict):  # type: ignore[no-untyped-def]
    """The same zoning with geopandas.overlay: union, union, classify pieces, dissolve."""
    import geopandas as gpd

    a = layers["imp"].rename(columns={"c": "imp"})
    b = layers["ero"].rename(columns={"c": "ero"})
    c = layers["des"].rename(columns={"c": "des"})
    with warnings.catch_warnings():  # line/point slivers of the intersections are dropped
        warnings.simplefilter("ignore", UserWarning)
        pieces = gpd.overlay(gpd.overlay(a, b, how="union"), c, how="union")
    imp, ero, des = (pieces[k].fillna(0).to_numpy() for k in ("imp", "ero", "des"))
    pieces["zone_class"] = np.where(imp >= 2, 1, np.where((ero >= 3) | (des >= 3), 2, 3))
    pieces["redline"] = np.where(imp >= 3, 11, 0)
    out = pieces[["zone_class", "redline", "geometry"]].dissolve(
        by=["zone_class", "redline"], as_index=False
    )
    out["area_km2"] = out.geometry.area / 1e6
    return out, len(pieces)


def bench_vector(n_polys: int, repeat: int) -> dict:
    from geoeco.core.crs import ALBERS_CHINA
    from geoeco.zoning.overlay.inputs import LayerInput
    from geoeco.zoning.overlay.vector import compute_zones_vector
    from geoeco.zoning.rules import parse_rule_set

    layers = class_layers(n_polys)
    rs = parse_rule_set(RULES)
    inputs = {k: LayerInput(v, column="c") for k, v in layers.items()}
    t_vec, t_gpd = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        vec = compute_zones_vector(rs, inputs, crs=ALBERS_CHINA)
        t_vec.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref, n_pieces = geopandas_chain(layers)
        t_gpd.append(time.perf_counter() - t0)
    va = vec.frame.groupby("zone_class")["area_km2"].sum()
    ga = ref.groupby("zone_class")["area_km2"].sum()
    diff = max(abs(float(va.get(k, 0)) - float(ga.get(k, 0))) for k in (1, 2, 3))
    return {
        "polys_per_layer": n_polys,
        "pieces": n_pieces,
        "vector_mode_s": round(min(t_vec), 3),
        "geopandas_overlay_s": round(min(t_gpd), 3),
        "ratio_vector_over_geopandas": round(min(t_vec) / min(t_gpd), 3),
        "area_km2": {k: round(float(va.get(k, 0)), 6) for k in (1, 2, 3)},
        "max_class_area_diff_km2": diff,
    }


# --------------------------------------------------------------------------- main


def _run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{cmd[3]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--counties", type=int, default=400)
    ap.add_argument("--batch-pixels", type=int, nargs="+", default=[16_000_000, 4_000_000])
    ap.add_argument("--polys", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", default="bench_units.json")
    ap.add_argument("--skip-units", action="store_true")
    ap.add_argument("--child", choices=["make", "whole", "batched"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "make":
        print(json.dumps(make_inputs(Path(args.dir), args.size, args.counties)))
        return
    if args.child:
        child(args.child, Path(args.dir), args.batch_pixels[0])
        return
    report: dict = {"units": None, "vector": []}
    if not args.skip_units:
        with tempfile.TemporaryDirectory(prefix="bench_units.") as tmp:
            # every step in its own process: ru_maxrss survives exec, so a child started
            # from a parent that held the synthetic rasters would report the parent's peak
            stats = _run([sys.executable, __file__, "--child", "make", "--dir", tmp,
                          "--size", str(args.size), "--counties", str(args.counties)])  # fmt: skip
            runs = []
            for mode, bp in [("whole", 0)] + [("batched", b) for b in args.batch_pixels]:
                cmd = [sys.executable, __file__, "--child", mode, "--dir", tmp]
                cmd += ["--batch-pixels", str(bp)]
                runs.append(_run(cmd) | {"batch_pixels": bp or None})
        report["units"] = {
            "size": args.size,
            "pixels": args.size**2,
            **stats,
            "runs": runs,
            "identical": len({(r["codes_sha"], r["geoms_sha"]) for r in runs}) == 1,
        }
        u = report["units"]
        print(
            f"\n(a) units, {args.size} x {args.size} px at 250 m, {u['counties']} counties, "
            f"{u['zoned_px'] / 1e6:.1f} Mpx zoned; "
            f"identical results: {u['identical']}\n"
        )
        print("| mode | units | units s | GeoPackage s | peak RSS MiB | extra RSS MiB |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in runs:
            name = r["mode"] + (f" {r['batch_pixels'] / 1e6:g} Mpx" if r["batch_pixels"] else "")
            print(
                f"| {name} | {r['units']} | {r['units_s']} | {r['gpkg_s']} | "
                f"{r['peak_rss_mib']} | {r['extra_rss_mib']} |"
            )
    for n in args.polys:
        report["vector"].append(bench_vector(n, args.repeat))
    print("\n(b) vector mode vs geopandas.overlay (3 layers, union-union-classify-dissolve)\n")
    print("| polygons/layer | pieces | compute_zones_vector s | geopandas s | ratio | Δarea km² |")
    print("|---:|---:|---:|---:|---:|---:|")
    for v in report["vector"]:
        print(
            f"| {v['polys_per_layer']} | {v['pieces']} | {v['vector_mode_s']} | "
            f"{v['geopandas_overlay_s']} | {v['ratio_vector_over_geopandas']} | "
            f"{v['max_class_area_diff_km2']:.2e} |"
        )
    Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
