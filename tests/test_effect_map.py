"""Restoration effectiveness on the zone map (issue 18 item 6): units and patches coloured by
the sign of their effect, tooltips with the figures, a zh + en legend, read from the
effectiveness table the demo writes next to the run."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geoeco.catalog.classes import get_table

pytest.importorskip("folium")
pytest.importorskip("offlinefolium")


def _row(kind: str, id_: str, effect: float) -> dict[str, object]:
    return {
        "kind": kind,
        "id": id_,
        "effect_improvement": effect,
        "slope_inside": 0.01,
        "slope_comparison": 0.01 - effect,
        "matched_share": 0.5,
    }


def test_units_and_patches_are_classed_by_the_sign_of_their_effect() -> None:
    from geoeco.maps.base import map_html
    from geoeco.maps.effect import effect_features
    from geoeco.maps.zone import zone_map

    units = gpd.GeoDataFrame(
        {"code": ["A", "B"], "unit_class": [1, 2]},
        geometry=[box(109.0, 38.0, 109.1, 38.1), box(109.1, 38.0, 109.2, 38.1)],
        crs=4490,
    )
    patches = gpd.GeoDataFrame(geometry=[box(109.02, 38.02, 109.04, 38.04)], crs=4490)
    table = pd.DataFrame(
        [_row("unit", "A", 0.004), _row("unit", "B", -0.002), _row("patch", "patch_1", math.nan)]
    )
    table.attrs["variable"] = "ndvi"
    f = effect_features(table, units, patches)
    assert f["effect_class"].tolist() == [1, 2, 3]  # faster, slower, no comparison
    assert "成效 effect +0.0040/a" in f["label"][0] and "matched share 50%" in f["label"][0]
    assert "无匹配对照 no matched comparison" in f["label"][2]
    html = map_html(zone_map(units, restoration=patches, effectiveness=table))
    assert "恢复成效 Restoration effectiveness (NDVI trend vs matched land)" in html
    for _code, zh, en, colour in get_table("Effect-class").legend():
        assert f"{zh} {en}" in html and colour in html
    assert "管控单元 unit B: 成效 effect -0.0020/a" in html


def test_zone_map_of_the_demo_shows_the_effectiveness_layer(demo_run_small: Path) -> None:
    from geoeco.maps.base import map_html
    from geoeco.maps.effect import effect_features
    from geoeco.maps.layers import read_run
    from geoeco.maps.zone import zone_map

    csv = demo_run_small / "change" / "ndvi_effectiveness.csv"
    assert csv.is_file()
    run = read_run(demo_run_small / "zones")
    table = run["effectiveness"]
    assert table is not None and table.attrs["variable"] == "ndvi"
    raw = pd.read_csv(csv, encoding="utf-8-sig")
    units = raw[raw["kind"] == "unit"]
    f = effect_features(table, run["units"], run.get("restoration"))
    expected = [
        3 if not math.isfinite(e) else (1 if e > 0 else 2) for e in units["effect_improvement"]
    ]
    assert f["effect_class"].tolist()[: len(units)] == expected
    html = map_html(zone_map(run.pop("units"), **run))
    assert "恢复成效 Restoration effectiveness (NDVI trend vs matched land)" in html
    for code in units["id"]:
        assert f"管控单元 unit {code}: " in html
    for _code, zh, en, colour in get_table("Effect-class").legend():
        assert f"{zh} {en}" in html and colour in html


def test_the_demos_map_html_has_the_trend_and_effectiveness_layers(demo_run_small: Path) -> None:
    """``geoeco demo`` writes the zone map again once trends/ and change/ exist."""
    html = (demo_run_small / "zones" / "map.html").read_text(encoding="utf-8")
    assert "恢复成效 Restoration effectiveness (NDVI trend vs matched land)" in html
    assert "植被变化趋势 NDVI trend (Mann-Kendall)" in html
