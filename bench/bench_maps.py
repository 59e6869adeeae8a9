"""Zone map of all Three-North counties: HTML size and browser render time.

Synthetic Three-North-scale units: every built-in county that intersects the Three-North area
(about 600) is cut into ~20 units by a Voronoi diagram of random points (fixed seed), with
classes 1/2/3 and access-list texts shaped like the real ones (one text per class and add-on
combination). Targets (issue 7): HTML < 5 MB, rendered in headless Chromium in < 3 s.

Run: ``python bench/bench_maps.py [--units-per-county 20] [--out /tmp/bench_map.html]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geoeco.catalog.layers import builtin_registry
from geoeco.catalog.sources import read_layer_vector
from geoeco.maps.base import save_map
from geoeco.maps.zone import zone_map

DIMS = ("spatial_layout", "pollutant_discharge", "environmental_risk", "resource_efficiency")
ADDONS = ("redline", "park", "erosion", "desertification", "battle")


def synthetic_units(per_county: int, seed: int = 7):
    reg = builtin_registry()
    counties = read_layer_vector(reg.get("admin.county"))
    tn = read_layer_vector(reg.get("programme.three_north")).geometry.iloc[0]
    counties = counties[counties.intersects(tn)].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = []
    base = dict.fromkeys((1, 2, 3), "某类管控要求，" * 40)
    for _, county in counties.iterrows():
        g = county.geometry
        w, s, e, n = g.bounds
        pts = shapely.points(rng.uniform(w, e, per_county * 3), rng.uniform(s, n, per_county * 3))
        pts = pts[shapely.contains(g, pts)][:per_county]
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=g))
        parts = (
            [c for c in shapely.intersection(cells, g) if not c.is_empty] if len(pts) > 1 else [g]
        )
        for k, part in enumerate(parts):
            cls = int(rng.integers(1, 4))
            addons = tuple(a for a in ADDONS if rng.random() < 0.25)
            rows.append(
                {
                    "code": f"ZH{county['code']}{cls}{k:04d}",
                    "unit_class": cls,
                    "county_name": county["name"],
                    "area_km2": 100.0,
                    "area_gk_km2": 100.2,
                    "redline_share": rng.random() * 0.5,
                    "redline_main": 11,
                    "erosion_grade_main": 2,
                    "desert_degree_main": 3,
                    "park_share": 0.0,
                    "battles": "ji_bend",
                    "in_three_north": True,
                    "access_addons": ",".join(addons),
                    **{
                        f"{d}_{lang}": base[cls]
                        + "".join(f"[{a}附加要求 add-on text]" * 8 for a in addons)
                        for d in DIMS
                        for lang in ("zh", "en")
                    },
                    "geometry": part,
                }
            )
    return gpd.GeoDataFrame(rows, crs=4490), counties


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units-per-county", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("/tmp/geoeco_bench_map.html"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    units, counties = synthetic_units(args.units_per_county)
    t1 = time.perf_counter()
    print(
        f"synthetic units: {len(units)} in {len(counties)} counties "
        f"({shapely.get_num_coordinates(units.geometry.values).sum():,} vertices), "
        f"{t1 - t0:.1f} s"
    )
    m = zone_map(units)
    save_map(m, args.out)
    t2 = time.perf_counter()
    size = args.out.stat().st_size
    print(f"zone_map + save_map: {t2 - t1:.1f} s; HTML {size / 1e6:.2f} MB (target < 5 MB)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_maps_browser import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        print("render: skipped (no chromium on PATH)")
        return
    cr = Chromium(binary)
    try:
        times = [cr.open(args.out) for _ in range(3)]
        n = cr.js("geoeco.layers['管控单元 Control units'].getLayers().length")
        errors = cr.errors()
    finally:
        cr.close()
    print(
        f"render (navigation start -> painted, 3 loads): "
        f"{', '.join(f'{t / 1000:.2f}' for t in times)} s (target < 3 s); "
        f"{n} unit polygons; console errors: {len(errors)}"
    )


if __name__ == "__main__":
    main()
