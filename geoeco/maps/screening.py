"""Site-screening and comparison maps (folium imported on call, see :mod:`geoeco.maps.zone`).

Inputs are plain data - GeoDataFrames, shapely geometries, lists and dicts - so the maps do
not depend on how :mod:`geoeco.query.screening` or :mod:`geoeco.query.point` compute them.
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import (
    UNIT_STYLE,
    _add_controls,
    _add_layer,
    _call,
    _folium,
    _minimap_js,
    _new_map,
    _prepare,
)
from .data import auto_tolerance, to_json
from .layers import class_items, encode_units, to_lonlat


def screening_map(
    site: Any,
    buffer: Any,
    units: Any,
    distances: Sequence[tuple[str, float]],
    *,
    lookup: Mapping[str, Any] | None = None,
    crs: Any = 4490,
    basemap: str | None = None,
    tianditu_token: str | None = None,
    title: str = "选址筛查 Site screening",
) -> Any:
    """Site-screening map: site, buffer, overlapping units by class, distances, lookup popup.

    Parameters
    ----------
    site, buffer : shapely geometry
        In ``crs`` (default CGCS2000 lon/lat). ``buffer`` may be None.
    units : GeoDataFrame
        Overlapping units (``code``, ``unit_class``; other unit columns are shown if present).
    distances : sequence of (name, distance_km)
        Rows of the distance table (e.g. nearest red-line patch, national park, battle area).
    lookup : mapping, optional
        A point lookup's answer (plain dict); shown as the site's popup, open on load.
    """
    import geopandas as gpd

    folium = _folium()
    geo = gpd.GeoSeries([site, buffer] if buffer is not None else [site], crs=crs).to_crs(4326)
    m = _new_map(basemap, tianditu_token)
    u = to_lonlat(units, what="units") if units is not None and len(units) else None
    if u is not None:
        layer = _add_layer(
            m,
            encode_units(u, tolerance=0.0),
            kind="units",
            name="重叠管控单元 Overlapping units",
            style=UNIT_STYLE,
            legend={"title": "管控单元类别 Unit class", "items": class_items("ZHGKDYFL")},
        )
        _call(m, f"geoeco.search(MAP, {layer.get_name()});")
    if buffer is not None:
        folium.GeoJson(
            geo.iloc[[1]].__geo_interface__,
            name="缓冲区 Buffer",
            style_function=lambda _: dict(_BUFFER_STYLE),
        ).add_to(m)
    site_layer = folium.GeoJson(
        geo.iloc[[0]].__geo_interface__,
        name="场址 Site",
        style_function=lambda _: dict(_SITE_STYLE),
        marker=folium.CircleMarker(radius=7, color="#000000", fill=True, fill_opacity=0.9),
    ).add_to(m)
    _add_distances(m, distances, title)
    if lookup:
        _call(
            m,
            f"{site_layer.get_name()}.bindPopup({to_json(_dict_html(lookup))}, "
            "{maxWidth: 440}).openPopup();",
        )
    w, s, e, n = (float(v) for v in geo.total_bounds)
    _add_controls(m, _minimap_js(basemap, tianditu_token, None, (w, s, e, n)))
    m.fit_bounds([[s, w], [n, e]])
    return m


#: Styles of the site's buffer (dashed blue) and of the site (black).
_BUFFER_STYLE = {"color": "#2166ac", "weight": 2, "dashArray": "6 4", "fillOpacity": 0.05}
_SITE_STYLE = {"color": "#000000", "weight": 3, "fillOpacity": 0.1}


def _add_distances(m: Any, distances: Sequence[tuple[str, float]], title: str) -> None:
    """The distance table as a panel at the top right of the map (names escaped)."""
    rows = "".join(
        f"<tr><td>{_html.escape(str(nm))}</td><td>{float(d):,.2f}</td></tr>" for nm, d in distances
    )
    panel = (
        f"<b>{_html.escape(title)}</b><table><tr><th>要素 Feature</th>"
        f"<th>距离 Distance (km)</th></tr>{rows}</table>"
    )
    _call(
        m,
        "(function(){var c=L.control({position:'topright'});c.onAdd=function(){"
        "var d=L.DomUtil.create('div','geoeco-legend geoeco-distances leaflet-control');"
        f"d.innerHTML={to_json(panel)};return d;}};c.addTo(MAP);}})();",
    )


def _dict_html(d: Mapping[str, Any], depth: int = 0) -> str:
    """A nested dict as nested HTML tables (values escaped)."""
    rows = []
    for k, v in d.items():
        if isinstance(v, Mapping):
            cell = _dict_html(v, depth + 1) if depth < 3 else _html.escape(str(v))
        elif isinstance(v, list | tuple):
            cell = (
                "<br>".join(
                    _dict_html(x, depth + 1) if isinstance(x, Mapping) else _html.escape(str(x))
                    for x in v
                )
                or "–"
            )
        elif isinstance(v, float | np.floating):
            cell = f"{float(v):,.4g}"
        else:
            cell = _html.escape("–" if v is None else str(v))
        rows.append(f"<tr><th>{_html.escape(str(k))}</th><td>{cell}</td></tr>")
    return f"<div class='geoeco-popup'><table>{''.join(rows)}</table></div>"


def compare_map(
    left: Any,
    right: Any,
    *,
    labels: tuple[str, str] = ("A", "B"),
    basemap: str | None = None,
    tianditu_token: str | None = None,
    tolerance: float | None = None,
) -> Any:
    """Two zonings (units GeoDataFrames) side by side in synchronised maps (folium DualMap)."""
    folium = _folium()
    lu, ru = to_lonlat(left, what="left units"), to_lonlat(right, what="right units")
    b = np.vstack([lu.total_bounds, ru.total_bounds])
    w, s, e, n = (
        float(b[:, 0].min()),
        float(b[:, 1].min()),
        float(b[:, 2].max()),
        float(b[:, 3].max()),
    )
    tol = auto_tolerance((w, s, e, n)) if tolerance is None else float(tolerance)
    dual = folium.plugins.DualMap(tiles=None, prefer_canvas=True, control_scale=True)
    for m, u, label in ((dual.m1, lu, labels[0]), (dual.m2, ru, labels[1])):
        _prepare(m, basemap, tianditu_token)
        layer = _add_layer(
            m,
            encode_units(u, tolerance=tol),
            kind="units",
            name=f"{label}: 管控单元 Control units",
            style=UNIT_STYLE,
            legend={"title": f"{label}: 管控单元类别 Unit class", "items": class_items("ZHGKDYFL")},
        )
        _call(m, f"geoeco.search(MAP, {layer.get_name()});")
        folium.LayerControl(collapsed=False).add_to(m)
    dual.fit_bounds([[s, w], [n, e]])
    return dual


__all__ = ["compare_map", "screening_map"]
