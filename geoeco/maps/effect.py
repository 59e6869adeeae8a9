"""Restoration effectiveness on the zone map (issue 18 item 6).

When a zoning run has an effectiveness table next to it
(``../change/<variable>_effectiveness.csv``, read by
:func:`geoeco.maps.layers.read_effectiveness`, written by
:func:`geoeco.workflows.effectiveness.run_effectiveness`; the demo writes
``change/ndvi_effectiveness.csv``), the zone map gains a layer with the control units and
restoration patches coloured by the sign of their effect (``effect_improvement`` > 0:
improving faster than matched land; < 0: slower; NaN: no matched comparison; colours and names
from the ``Effect-class`` table), a tooltip with the figures in Chinese and English, and a
legend.

>>> effect_class(0.002), effect_class(-0.001), effect_class(float("nan"))
(1, 2, 3)
"""

from __future__ import annotations

import math
from typing import Any

from .base import OUTLINE_STYLE, _add_layer
from .layers import class_items, encode_outline, to_lonlat

#: The class table of the effect classes.
EFFECT_TABLE = "Effect-class"


def effect_class(value: float) -> int:
    """1 improving faster than matched land, 2 slower (or equal), 3 no comparison (NaN)."""
    if not math.isfinite(value):
        return 3
    return 1 if value > 0 else 2


def _num(v: Any, fmt: str) -> str:
    return "–" if v is None or not math.isfinite(float(v)) else format(float(v), fmt)


def _label(kind_zh: str, row: Any) -> str:
    e = row["effect_improvement"]
    head = f"{kind_zh} {row['id']}: "
    if effect_class(e) == 3:
        return head + "无匹配对照 no matched comparison"
    return head + (
        f"成效 effect {_num(e, '+.4f')}/a · 内部 inside {_num(row['slope_inside'], '.4f')}/a · "
        f"匹配对照 matched {_num(row['slope_comparison'], '.4f')}/a · "
        f"匹配比例 matched share {_num(row['matched_share'], '.0%')}"
    )


def effect_features(table: Any, units: Any, restoration: Any) -> Any:
    """Units then patches with a ``label`` and an ``effect_class``, in lon/lat (or ``None``)."""
    import geopandas as gpd

    parts = []
    for kind, kind_zh, gdf in (
        ("unit", "管控单元 unit", units),
        ("patch", "修复图斑 patch", restoration),
    ):
        rows = table[table["kind"] == kind]
        if gdf is None or not len(gdf) or not len(rows):
            continue
        ll = to_lonlat(gdf, what=kind).reset_index(drop=True)
        keys = (
            ll["code"].astype(str).tolist()
            if kind == "unit"
            else [f"patch_{i + 1}" for i in range(len(ll))]
        )
        geom = dict(zip(keys, ll.geometry, strict=True))
        for _, row in rows.iterrows():
            if row["id"] in geom:
                c = effect_class(float(row["effect_improvement"]))
                parts.append((_label(kind_zh, row), c, geom[row["id"]]))
    if not parts:
        return None
    label, cls, geoms = zip(*parts, strict=True)
    return gpd.GeoDataFrame(
        {"label": list(label), "effect_class": list(cls)}, geometry=list(geoms), crs=4326
    )


def add_effect_layer(
    m: Any, table: Any, units: Any, restoration: Any, tolerance: float
) -> Any | None:
    """The effectiveness layer and its legend on map ``m`` (``None`` when nothing to draw)."""
    if table is None or not len(table):
        return None
    gdf = effect_features(table, units, restoration)
    if gdf is None:
        return None
    data = encode_outline(gdf, tolerance=tolerance, name_col="label", column="effect_class")
    codes, items = class_items(EFFECT_TABLE, codes=True)
    style = {
        "by": "v",
        "colours": {str(c): it[0] for c, it in zip(codes, items, strict=True)},
        "base": {**OUTLINE_STYLE, "weight": 1, "fill": True, "fillOpacity": 0.55},
    }
    var = str(table.attrs.get("variable", "")).upper()
    title = f"恢复成效 Restoration effectiveness ({var} trend vs matched land)"
    return _add_layer(
        m,
        data,
        kind="polys",
        name=f"恢复成效 Restoration effectiveness ({var})",
        style=style,
        show=False,
        legend={"title": title, "items": items},
    )


__all__ = [
    "EFFECT_TABLE",
    "add_effect_layer",
    "effect_class",
    "effect_features",
]
