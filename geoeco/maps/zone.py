"""Folium maps of zoning results: zone map, site screening, side-by-side comparison.

Folium is imported inside the functions only, so ``import geoeco`` never needs it; without it
they raise an :class:`ImportError` naming ``pip install "geoeco[maps]"``.

Every map is built for a planning director's laptop:

* **offline**: Leaflet and the plugins come from the ``folium-offline`` package and are
  inlined (:func:`map_html` with ``assets="inline"``) or served by a web service from
  :func:`geoeco.maps.assets.asset_dir` (``assets="/maps/assets/"``); the basemap is
  OpenStreetMap (``basemap="osm"``), Tianditu (``basemap="tianditu"`` with a token) or none
  (the default) - everything else shows without it;
* **correct**: raster layers are warped to Web Mercator zoom-level pixels before they become an
  ``ImageOverlay`` (:mod:`geoeco.maps.overlay`), or come from the API's tile route
  (``tile_url_template``); class colours and names come from
  :func:`geoeco.catalog.classes.get_table`
  only (``ZHGKDYFL``, ``LXBM``, ``SL190-2007/water``, ``WangTao-2003``,
  ``Restoration-selection``);
* **readable**: a categorical legend per layer that shows and hides with its layer, popups in
  Chinese and English, a search box for unit codes, full screen, minimap, measuring tool and
  mouse position;
* **quick**: polygons are simplified and delta-encoded (:mod:`geoeco.maps.data`), drawn on a
  canvas, and the long access-list texts are stored once per class/add-on combination.

Examples
--------
>>> from geoeco.maps.base import map_html
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> units = gpd.GeoDataFrame({"code": ["ZH1"], "unit_class": [1]},
...                          geometry=[box(109.0, 38.0, 109.1, 38.1)], crs=4490)
>>> html = map_html(zone_map(units))
>>> "ZH1" in html and "优先保护单元" in html and "cdn.jsdelivr" not in html
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from geoeco.core.attribution import attribution_lines
from geoeco.core.errors import InvalidInput

from .banner import add_attribution, add_banner, banner_lines
from .base import (
    OUTLINE_STYLE,
    OUTLINES,
    RASTER_PANE,
    UNIT_STYLE,
    _add_controls,
    _add_layer,
    _call,
    _folium,
    _minimap_js,
    _new_map,
    save_map,
)
from .data import auto_tolerance, to_json
from .effect import add_effect_layer
from .layers import (
    RASTER_OUTPUTS,
    class_items,
    encode_outline,
    encode_units,
    raster_legend,
    read_run,
    standalone_overlay,
    to_lonlat,
)


def _add_outline(
    m: Any, key: str, gdf: Any, name_col: str | None, tolerance: float, clip: Any, show: bool = True
) -> None:
    if gdf is None or len(gdf) == 0:
        return
    lines = key != "restoration"
    data = encode_outline(
        gdf, tolerance=tolerance, clip=clip if lines else None, name_col=name_col, lines=lines
    )
    if not data["g"]:
        return
    zh, en, style = OUTLINES[key]
    legend = {
        "title": f"{zh} {en}",
        "items": [[style["color"], f"{zh} {en}"]],
        "line": True,
        "position": "bottomleft",
    }
    _add_layer(
        m,
        data,
        kind="polys",
        name=f"{zh} {en}",
        style={**style, **OUTLINE_STYLE},
        show=show,
        legend=None if key == "context" else legend,
    )


#: Outlines are clipped this many degrees (or half the units' extent) around the units;
#: the minimap's admin lines cover a wider area.
OUTLINE_PAD_DEG, MINIMAP_PAD_DEG = 1.0, 8.0


#: A lon-lat box ``(west, south, east, north)`` in degrees.
Bounds = tuple[float, float, float, float]


def _padded(b: Bounds, pad_deg: float) -> Bounds:
    """``b`` grown by ``max(pad_deg, half its larger side)`` on every side.

    >>> _padded((100.0, 30.0, 101.0, 30.5), 1.0)
    (99.0, 29.0, 102.0, 31.5)
    """
    pad = max(pad_deg, (max(b[2] - b[0], b[3] - b[1])) * 0.5)
    return (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)


def zone_map(
    units: Any,
    *,
    redline: Any = None,
    parks: Any = None,
    three_north: Any = None,
    battles: Any = None,
    restoration: Any = None,
    context: Any = None,
    rasters: Mapping[str, Any] | None = None,
    effectiveness: Any = None,
    tile_url_template: str | None = None,
    basemap: str | None = None,
    tianditu_token: str | None = None,
    tolerance: float | None = None,
    max_overlay_size: int = 2048,
    banner: Sequence[str] | None = None,
    attribution: Sequence[Mapping[str, Any]] | None = None,
) -> Any:
    """Zone map: control units by class, reference outlines, class rasters, controls.

    Parameters
    ----------
    units : GeoDataFrame
        Control units (columns as in ``zones.gpkg`` layer ``units``; only ``code`` and
        ``unit_class`` are required) in any CRS with a definition.
    redline, parks, three_north, battles, restoration, context : GeoDataFrame, optional
        Red line (coloured by ``LXBM``), national parks, Three-North area, battle areas,
        restoration areas, admin boundaries; drawn as outlines clipped around the units.
    rasters : mapping, optional
        Output name (``erosion_grade``, ``desertification_degree``, ``restoration_rank``) ->
        :class:`~geoeco.core.raster.Raster` or raster path. Without ``tile_url_template`` each is
        warped to Web Mercator and embedded as an ImageOverlay; with it, the values are
        ignored and the layer is ``tile_url_template`` with ``{output}`` replaced by the name.
    effectiveness : DataFrame, optional
        Restoration effectiveness rows (:func:`geoeco.maps.layers.read_effectiveness`): the
        units and ``restoration`` patches coloured by their effect, with a legend.
    tile_url_template : str, optional
        E.g. ``"/jobs/abc/tiles/{output}/{z}/{x}/{y}.png"`` (the API's tile route).
    basemap : {None, "osm", "tianditu"}
        None draws no tiles (offline). "tianditu" needs ``tianditu_token``.
    tolerance : float, optional
        Simplification tolerance in degrees; default :func:`~geoeco.maps.data.auto_tolerance`.
    max_overlay_size : int
        Long side (pixels) of embedded raster images.
    banner, attribution : list, optional
        Warning lines at the top (:func:`geoeco.maps.banner.banner_lines`); data sources and
        licences at the bottom left (the ``sources`` of ``inputs.json``).

    Returns
    -------
    folium.Map
    """
    u = to_lonlat(units, what="units")
    w, s, e, n = (float(v) for v in u.total_bounds)
    tol = auto_tolerance((w, s, e, n)) if tolerance is None else float(tolerance)
    m = _new_map(basemap, tianditu_token)
    clip = _padded((w, s, e, n), OUTLINE_PAD_DEG)
    context_js = _add_context(m, context, (w, s, e, n), tol, clip)
    for key, gdf, col in (
        ("three_north", three_north, "name_zh"), ("battles", battles, "name_zh"),
        ("parks", parks, "name_zh"), ("restoration", restoration, None),
    ):  # fmt: skip
        _add_outline(m, key, gdf, col, tol, clip)
    _add_rasters(m, rasters, tile_url_template, max_overlay_size)
    add_effect_layer(m, effectiveness, u, restoration, tol)
    units_layer = _add_layer(
        m,
        encode_units(u, tolerance=tol, battles=battles),
        kind="units",
        name="管控单元 Control units",
        style=UNIT_STYLE,
        legend={"title": "管控单元类别 Unit class", "items": class_items("ZHGKDYFL")},
    )
    if redline is not None and len(redline):
        _add_redline(m, redline, tol)
    _call(m, f"geoeco.search(MAP, {units_layer.get_name()});")
    _add_controls(m, _minimap_js(basemap, tianditu_token, context_js, (w, s, e, n)))
    _finish(m, (w, s, e, n), banner, attribution)
    return m


def _finish(
    m: Any,
    bounds: Bounds,
    banner: Sequence[str] | None,
    attribution: Sequence[Mapping[str, Any]] | None,
) -> None:
    """Fit the map to ``bounds``; the warning banner at the top, the data sources (title,
    attribution text, licence of each) at the bottom left."""
    w, s, e, n = bounds
    m.fit_bounds([[s, w], [n, e]])
    add_banner(m, banner or [])
    add_attribution(m, attribution_lines(attribution or []))


def _add_context(
    m: Any, context: Any, bounds: Bounds, tolerance: float, clip: Bounds
) -> str | None:
    """Admin boundaries: outlines clipped around the units on the map, and coarse lines over a
    wide area for the minimap (their JSON, returned; ``None`` without context)."""
    if context is None or not len(context):
        return None
    wide = _padded(bounds, MINIMAP_PAD_DEG)
    ctx = encode_outline(context, tolerance=(wide[2] - wide[0]) / 300, clip=wide, lines=True)
    _add_outline(m, "context", context, None, tolerance, clip)
    return to_json(ctx) if ctx["g"] else None


def _add_redline(m: Any, redline: Any, tolerance: float) -> None:
    """The red line, coloured by type (LXBM), with a legend of the types present."""
    rl = encode_outline(to_lonlat(redline, what="red line"), tolerance=tolerance, column="LXBM")
    present = sorted({int(v) for v in rl["v"]})
    codes, lx_items = class_items("LXBM", codes=True)
    items = [it for code, it in zip(codes, lx_items, strict=True) if code in present]
    style = {
        "by": "v",
        "colours": {str(c): it[0] for c, it in zip(codes, lx_items, strict=True)},
        "base": {**OUTLINE_STYLE, "weight": 2, "fill": True, "fillOpacity": 0.15},
    }
    _add_layer(
        m,
        rl,
        kind="polys",
        name="生态保护红线 Ecological red line",
        style=style,
        legend={"title": "生态保护红线类型 Red-line type (LXBM)", "items": items},
    )


def _add_rasters(
    m: Any, rasters: Mapping[str, Any] | None, template: str | None, max_size: int
) -> None:
    folium = _folium()
    for name, value in (rasters or {}).items():
        if name not in RASTER_OUTPUTS:
            raise InvalidInput(f"unknown raster output {name!r}; known: {sorted(RASTER_OUTPUTS)}")
        zh, en, _, _ = RASTER_OUTPUTS[name]
        title = f"{zh} {en}"
        if template is not None:
            layer = folium.TileLayer(
                template.replace("{output}", name),
                pane=RASTER_PANE,
                name=title,
                attr="geoeco",
                overlay=True,
                show=False,
                opacity=0.75,
                max_native_zoom=14,
            )
        elif value is None:
            continue
        else:
            ov = standalone_overlay(name, value, max_size=max_size)
            layer = folium.raster_layers.ImageOverlay(
                ov.data_url,
                pane=RASTER_PANE,
                bounds=[list(ov.bounds[0]), list(ov.bounds[1])],
                name=title,
                opacity=0.75,
                show=False,
                interactive=False,
                pixelated=True,
            )
        layer.add_to(m)
        _call(m, f"geoeco.legend(MAP, {layer.get_name()}, {to_json(raster_legend(name))});")


def write_zone_map(
    run_dir: str | Path,
    out_html: str | Path | None = None,
    *,
    basemap: str | None = None,
    tianditu_token: str | None = None,
    rasters: Mapping[str, Any] | None = None,
    banner: Sequence[str] | None = None,
    attribution: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write a self-contained ``map.html`` (assets inlined) for a ``geoeco zone`` run folder.

    Reads ``zones.gpkg`` (layers ``units``, ``redline``, ``restoration``), the rasters
    ``restoration_rank.tif`` and, when present, ``../erosion/erosion_grade.tif`` and
    ``../desertification/desertification_degree.tif`` (or ``rasters``: name -> path), and the
    national parks, Three-North area and battle areas of the built-in registry. ``banner``:
    warning lines (default: from the folder's ``summary.json``, :func:`run_banner`);
    ``attribution``: data sources and licences (default: the summary's, :func:`run_summary`).
    """
    run = read_run(Path(run_dir), rasters=rasters)
    lines = run_banner(Path(run_dir)) if banner is None else list(banner)
    if attribution is None:
        attribution = run_summary(Path(run_dir)).get("attribution") or []
    m = zone_map(
        run.pop("units"),
        basemap=basemap,
        tianditu_token=tianditu_token,
        banner=lines,
        attribution=attribution,
        **run,
    )
    return save_map(m, Path(out_html) if out_html else Path(run_dir) / "map.html")


def zone_map_from_run(
    run_dir: str | Path,
    *,
    tile_url_template: str | None = None,
    basemap: str | None = None,
    tianditu_token: str | None = None,
) -> Any:
    """The :func:`write_zone_map` map as a ``folium.Map`` (for a service: pass the tile route)."""
    run = read_run(Path(run_dir), rasters=None, open_rasters=tile_url_template is None)
    return zone_map(
        run.pop("units"),
        basemap=basemap,
        tianditu_token=tianditu_token,
        tile_url_template=tile_url_template,
        banner=run_banner(Path(run_dir)),
        attribution=run_summary(Path(run_dir)).get("attribution") or [],
        **run,
    )


def run_summary(run_dir: Path) -> dict[str, Any]:
    """The ``summary.json`` of a run folder (empty without one or when it is not an object)."""
    import json

    p = run_dir / "summary.json"
    if not p.is_file():
        return {}
    try:
        summary = json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return summary if isinstance(summary, dict) else {}


def run_banner(run_dir: Path) -> list[str]:
    """The banner lines of a run folder, from its ``summary.json`` (none without one)."""
    summary = run_summary(run_dir)
    return banner_lines(summary) if summary else []


__all__ = [
    "run_banner",
    "run_summary",
    "write_zone_map",
    "zone_map",
    "zone_map_from_run",
]
