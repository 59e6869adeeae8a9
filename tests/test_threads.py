"""Eight threads screening and point-querying one opened run at once (issue 12, Found 2).

Two threads screening on one shared :class:`~geoeco.query.point.QueryContext` used to crash the
interpreter within seconds (GEOS prepared geometries and exactextract objects shared between
threads; the small demo run is enough to trigger it). The threads run in a child process
(``tests/threads_worker.py``, with ``-X faulthandler``) so that a crash fails this test
instead of killing pytest.

Expected values: every concurrent result must equal the single-threaded result for the same
input (the serialised JSON, byte for byte); the single-threaded results are themselves
checked against an independent computation with geopandas on ``zones.gpkg``: the unit
containing each point (CGCS2000 lon-lat) and each site's share per unit (areas in the
equal-area EPSG:6933, so shares agree with the service's Albers ones to about 1e-3).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

WORKER = Path(__file__).with_name("threads_worker.py")
THREADS = 8
SECONDS = 4.0


def _inputs(units: gpd.GeoDataFrame) -> dict[str, Any]:
    """Ten squares, two lines and one point site, and 30 points, around the units."""
    x0, y0, x1, y1 = units.total_bounds
    rnd = random.Random(12)
    sites: list[dict[str, Any]] = []
    for _ in range(10):
        d = rnd.uniform(0.005, 0.03)
        lon, lat = rnd.uniform(x0 - d / 2, x1 - d / 2), rnd.uniform(y0 - d / 2, y1 - d / 2)
        sites.append(shapely.geometry.mapping(shapely.box(lon, lat, lon + d, lat + d)))
    for _ in range(2):
        a = (rnd.uniform(x0, x1), rnd.uniform(y0, y1))
        b = (rnd.uniform(x0, x1), rnd.uniform(y0, y1))
        sites.append(shapely.geometry.mapping(shapely.LineString([a, b])))
    sites.append({"type": "Point", "coordinates": [(x0 + x1) / 2, (y0 + y1) / 2]})
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    points = [[rnd.uniform(x0 - dx, x1 + dx), rnd.uniform(y0 - dy, y1 + dy)] for _ in range(30)]
    return {"sites": sites, "points": points}


def _unit_of(units: gpd.GeoDataFrame, lon: float, lat: float) -> str | None:
    hit = units[units.contains(shapely.Point(lon, lat))]
    return str(hit["code"].iloc[0]) if len(hit) else None


def _shares(units6933: gpd.GeoDataFrame, site: dict[str, Any]) -> dict[str, float]:
    g = gpd.GeoSeries([shapely.geometry.shape(site)], crs=4490).to_crs(6933).iloc[0]
    inter = units6933.geometry.intersection(g).area / g.area
    return {str(c): float(s) for c, s in zip(units6933["code"], inter, strict=True) if s > 0}


@pytest.mark.slow
def test_threads_share_one_run_without_crash_or_difference(
    demo_run_small: Path, tmp_path: Path
) -> None:
    units = gpd.read_file(demo_run_small / "zones" / "zones.gpkg", layer="units")
    assert units.crs.to_epsg() == 4490
    inputs = _inputs(units)
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(inputs), encoding="utf-8")
    args = [str(WORKER), str(demo_run_small), str(path), str(SECONDS), str(THREADS)]
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", *args], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, f"worker exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n_errors"] == 0, out["errors"]
    assert out["n_mismatches"] == 0, out["mismatches"]
    counts = out["counts"]
    assert len(counts) == THREADS
    # every thread really worked, and both kinds of query ran concurrently
    assert all(c["screen"] >= 3 and c["point"] >= 3 for c in counts), counts
    ref = out["reference"]
    expected_units = [_unit_of(units, lon, lat) for lon, lat in inputs["points"]]
    assert ref["points"] == expected_units
    assert any(u is None for u in expected_units) and any(u for u in expected_units)
    units6933 = units.to_crs(6933)
    for site, got in zip(inputs["sites"][:10], ref["sites"][:10], strict=True):
        want = _shares(units6933, site)
        for code in set(want) | set(got):
            assert got.get(code, 0.0) == pytest.approx(want.get(code, 0.0), abs=5e-3), code
