"""Restoration effectiveness (issue 18 item 4): the matched comparison computed again pixel by
pixel in plain Python from the trend rasters, on the planted synthetic series."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from shapely.geometry import box

from geoeco.catalog.demo_series import SeriesSpec, write_series
from geoeco.workflows.effectiveness import EffectOptions, run_effectiveness
from geoeco.workflows.trends import TrendOptions, run_trend

SPEC = SeriesSpec()
L, T, R = SPEC.left, SPEC.top, SPEC.res


def _cells(r0: int, r1: int, c0: int, c1: int):  # type: ignore[no-untyped-def]
    return box(L + c0 * R, T - r1 * R, L + c1 * R, T - r0 * R)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("eff")
    write_series(base / "stack")
    run_trend(base / "stack", base / "trends", options=TrendOptions(variables=("ndvi",)))
    whole = _cells(0, 60, 0, 60)
    a = _cells(10, 30, 10, 30)  # the improving block
    left, right = whole.difference(a).intersection(_cells(0, 60, 0, 30)), _cells(0, 60, 30, 60)
    units = gpd.GeoDataFrame(
        {
            "code": ["A", "B1", "B2"],
            "county_code": ["610802", "610802", "610803"],
            "unit_class": [1, 2, 3],
            "battles": ["ji_bend", "ji_bend", ""],
            "park_ids": ["", "", ""],
        },
        geometry=[a, left, right],
        crs=SPEC.grid.crs,
    )
    (base / "zones").mkdir()
    units.to_parquet(base / "zones" / "units.parquet")
    return base


def _expected(base: Path, bins: int) -> dict[str, float]:
    """Matched effect of each unit, pixel by pixel (strata: county x start-value bin)."""
    with rasterio.open(base / "trends" / "ndvi_slope.tif") as ds:
        slope = ds.read(1, masked=True).filled(np.nan)
    with rasterio.open(base / "stack" / "ndvi_2001.tif") as ds:
        start = ds.read(1, masked=True).filled(np.nan)
    unit = np.full((60, 60), "", dtype=object)
    unit[:, :30], unit[:, 30:] = "B1", "B2"
    unit[10:30, 10:30] = "A"
    county = {"A": 0, "B1": 0, "B2": 1}
    ok = np.isfinite(slope)
    edges = np.quantile(start[ok], np.linspace(0, 1, bins + 1)[1:-1])
    cells: dict[tuple, list[tuple[str, float]]] = defaultdict(list)
    for r in range(60):
        for c in range(60):
            if ok[r, c]:
                b = int(np.searchsorted(edges, start[r, c]))
                cells[(county[unit[r, c]], b)].append((unit[r, c], float(slope[r, c])))
    out = {}
    for u in ("A", "B1", "B2"):
        num_in = num_cmp = n = 0.0
        for members in cells.values():
            inside = [s for who, s in members if who == u]
            pool = [s for who, s in members if who != u]
            if inside and len(pool) >= 3:
                num_in += sum(inside)
                num_cmp += len(inside) * sum(pool) / len(pool)
                n += len(inside)
        out[u] = (num_in - num_cmp) / n if n else float("nan")
    return out


@pytest.mark.parametrize("bins", [1, 4])
def test_matched_effects_equal_a_pixel_by_pixel_count(runs: Path, tmp_path, bins: int) -> None:
    res = run_effectiveness(
        runs / "stack",
        runs / "trends",
        runs / "zones",
        tmp_path,
        variable="ndvi",
        options=EffectOptions(start_bins=bins),
    )
    got = {r["id"]: r["effect"] for r in res.rows}
    expect = _expected(runs, bins)
    for u in ("A", "B1", "B2"):
        assert got[u] == pytest.approx(expect[u], rel=1e-6, abs=1e-9, nan_ok=True), u
    # B2 is alone in its county: nothing to compare with
    b2 = next(r for r in res.rows if r["id"] == "B2")
    assert b2["matched_share"] == 0 and np.isnan(b2["effect"])
    # the improving block improves faster than matched land of its county
    assert got["A"] > 0.005
    csv = pd.read_csv(tmp_path / "ndvi_effectiveness.csv", encoding="utf-8-sig")
    assert csv["id"].tolist() == ["A", "B1", "B2"]
    s = json.loads((tmp_path / "ndvi_effectiveness.json").read_text())
    assert set(s["summaries"]["battle_area"]) == {"ji_bend"}
    assert s["summaries"]["battle_area"]["ji_bend"]["n"] == 2


def test_sign_for_a_variable_whose_increase_is_a_degradation(runs: Path, tmp_path) -> None:
    opts = EffectOptions(start_bins=1, increase_is_improvement=False)
    res = run_effectiveness(
        runs / "stack", runs / "trends", runs / "zones", tmp_path, variable="ndvi", options=opts
    )
    a = next(r for r in res.rows if r["id"] == "A")
    assert a["effect_improvement"] == pytest.approx(-a["effect"])


def test_effectiveness_command(runs: Path, tmp_path, capsys) -> None:
    from geoeco.cli import main

    args = [
        "effectiveness",
        "--stack",
        str(runs / "stack"),
        "--trends",
        str(runs / "trends"),
        "--zoning",
        str(runs / "zones"),
        "--variable",
        "ndvi",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["summaries"]["unit"]["n"] == 3
    assert (tmp_path / "o" / "ndvi_effectiveness.csv").is_file()
    bad = [*args[:-1], str(tmp_path / "x")]
    bad[bad.index("ndvi")] = "npp"  # no such variable in the stack
    assert main(bad) == 2 and not (tmp_path / "x").exists()
