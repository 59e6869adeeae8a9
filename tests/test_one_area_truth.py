"""One area truth (issue 14 item 2): after sliver merging, ``zone_class.tif``, the statistics
tables and the ``units`` polygons agree within 0.1 % per class, on the demo and on a county.

The reference is computed here, independently of the run: the equal-area area of each unit
polygon of ``zones.gpkg`` (GeoPandas, projected to the China Albers grid), summed by class.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from geoeco.core.crs import ALBERS_CHINA
from geoeco.workflows.demo_inputs import demo_zoning_inputs
from geoeco.workflows.zoning import run_zoning

TOLERANCE = 0.001  # 0.1 %


def _areas(run: Path) -> dict[str, dict[int, float]]:
    """Area per zone class (km²) of the unit polygons, the raster, the CSV and class_totals."""
    u = gpd.read_file(run / "zones.gpkg", layer="units").to_crs(ALBERS_CHINA)
    polys = (u.area / 1e6).groupby(u["unit_class"]).sum()
    with rasterio.open(run / "zone_class.tif") as ds:
        a = ds.read(1)
        cell_km2 = abs(ds.transform.a * ds.transform.e) / 1e6
    stats = pd.read_csv(run / "statistics.csv")
    table = stats.groupby("zone_class")["area_km2"].sum()
    totals = gpd.read_file(run / "zones.gpkg", layer="class_totals")
    tot = dict(zip(totals["zone_class"], totals["area_km2"], strict=True))
    return {
        "units": {c: float(polys.get(c, 0.0)) for c in (1, 2, 3)},
        "raster": {c: float(np.count_nonzero(a == c) * cell_km2) for c in (1, 2, 3)},
        "statistics": {c: float(table.get(c, 0.0)) for c in (1, 2, 3)},
        "class_totals": {c: float(tot[str(c)]) for c in (1, 2, 3)},
    }


def _assert_agree(run: Path) -> dict[str, dict[int, float]]:
    got = _areas(run)
    for c in (1, 2, 3):
        ref = got["units"][c]
        for what in ("raster", "statistics", "class_totals"):
            v = got[what][c]
            if ref == 0:
                assert v < 1e-3, (what, c, v)  # rounding of the tables: 0.0001 km²
            else:
                assert abs(v - ref) <= TOLERANCE * ref + 1e-4, (what, c, v, ref)
    return got


def _merged_something(run: Path) -> bool:
    """Whether sliver merging changed a class area of the overlay (so the test bites)."""
    z = json.loads((run / "summary.json").read_text("utf-8"))["zones"]
    after, before = z["area_km2"], z["area_km2_before_merge"]
    return any(abs(after[k] - before[k]) > 1e-9 for k in ("priority", "key", "general"))


def test_demo_units_raster_and_tables_agree(demo_run_small: Path, tmp_path: Path) -> None:
    """The demo's own run (whose key and general slivers all merge into priority units at the
    default 0.1 km²), and the demo zoned with 0.01 km² units, which keeps several classes."""
    _assert_agree(demo_run_small / "zones")
    assert _merged_something(demo_run_small / "zones")
    given = demo_zoning_inputs(demo_run_small)
    run_zoning(tmp_path / "d", inputs=given, demo_size="small", min_unit_km2=0.01, write_map=False)
    got = _assert_agree(tmp_path / "d")
    assert sum(v > 0 for v in got["units"].values()) >= 2 and _merged_something(tmp_path / "d")


def test_county_units_raster_and_tables_agree(demo_run_small: Path, tmp_path: Path) -> None:
    """榆阳区 (610802) on the small demo's rasters, partial coverage allowed."""
    given = demo_zoning_inputs(demo_run_small)
    run_zoning(
        tmp_path / "c",
        aoi="610802",
        inputs=given,
        write_map=False,
        allow_partial=True,
        min_unit_km2=0.02,
    )
    got = _assert_agree(tmp_path / "c")
    assert sum(got["units"].values()) > 10
    assert sum(v > 0 for v in got["units"].values()) >= 2
    assert _merged_something(tmp_path / "c")


@pytest.mark.parametrize("column", ["pixels"])
def test_statistics_csv_is_readable(demo_run_small: Path, column: str) -> None:
    """Integer pixel counts, areas with at most 4 decimals, class and county names."""
    text = (demo_run_small / "zones" / "statistics.csv").read_text("utf-8")
    stats = pd.read_csv(demo_run_small / "zones" / "statistics.csv", dtype={"county": str})
    assert stats[column].dtype.kind == "i"
    assert ".0," not in text.splitlines()[1]
    assert all(len(f"{v:.10f}".rstrip("0").split(".")[1]) <= 4 for v in stats["area_km2"])
    assert {"county_name", "zone_class_zh", "zone_class_en", "erosion_grade_en"} <= set(stats)
    row = stats[stats["zone_class"] == 1].iloc[0]
    assert row["zone_class_zh"] == "优先保护单元" and row["zone_class_en"] == "priority protection"
    assert row["county"] == "610802" and row["county_name"] == "榆阳区"
