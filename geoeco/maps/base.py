"""Folium plumbing shared by geoeco's maps: lazy import, runtime elements, basemaps, controls.

Folium is imported inside functions only (``import geoeco`` never needs it); a missing folium
raises :class:`ImportError` naming ``pip install "geoeco[maps]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from .assets import MAPS_EXTRA, inline_assets, localize_assets
from .data import to_json

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={token}"
)
#: Outline styles of the reference layers (not classes: no table involved).
OUTLINES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "parks": ("国家公园", "National parks", {"color": "#00441b", "weight": 2, "dashArray": "6 4"}),
    "three_north": ("三北工程区", "Three-North area", {"color": "#542788", "weight": 2.5}),
    "battles": (
        "三大标志性战役",
        "Landmark battles",
        {"color": "#b35806", "weight": 2, "dashArray": "2 5"},
    ),
    "restoration": ("修复区", "Restoration areas", {"color": "#d7301f", "weight": 1.5}),
    "context": ("行政区界", "Admin boundaries", {"color": "#737373", "weight": 0.8}),
}
OUTLINE_STYLE = {"fill": False, "interactive": False, "pane": "geoeco-outlines"}
UNIT_STYLE = {"color": "#404040", "weight": 0.4, "fillOpacity": 0.65}


def _folium() -> ModuleType:
    """The folium package (with its plugins), or an ImportError naming the ``maps`` extra."""
    try:
        import folium
        import folium.plugins
    except ImportError as exc:
        raise ImportError(
            f"folium is needed for geoeco's maps; install it with {MAPS_EXTRA}"
        ) from exc
    return folium


@lru_cache(maxsize=1)
def _elements() -> dict[str, type]:
    """The folium element classes of geoeco's runtime (defined once folium is importable)."""
    folium = _folium()
    from branca.element import Element, Figure, MacroElement
    from folium.elements import JSCSSMixin
    from folium.map import Layer
    from folium.template import Template

    from .js import CSS, JS

    def add_runtime(el: Any) -> None:
        root = el.get_root()
        if isinstance(root, Figure):
            root.header.add_child(
                Element(f"<style>{CSS}</style><script>{JS}</script>"), name="geoeco_runtime"
            )

    class WithRuntime(MacroElement):
        """An element that adds geoeco's runtime (CSS and JS, once) to the page it renders in."""

        def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as branca's MacroElement.render, which returns None unlike Element.render
            add_runtime(self)
            super().render(**kwargs)  # type: ignore[no-untyped-call]  # branca's MacroElement.render is not annotated

    class DataLayer(WithRuntime, Layer):
        """A geoeco polygon layer drawn by the runtime from delta-encoded data."""

        _template = Template(
            "{% macro script(this, kwargs) %}var {{ this.get_name() }} = geoeco.{{ this.kind }}("
            "{{ this._parent.get_name() }}, {{ this.data_js }}, {{ this.style|tojson }}, "
            "{{ this.layer_name|tojson }});{% endmacro %}"
        )

        def __init__(
            self, data_js: str, *, kind: str, name: str, style: Any, show: bool = True
        ) -> None:
            super().__init__(name=name, overlay=True, control=True, show=show)
            self._name = "GeoecoLayer"
            self.data_js, self.kind, self.style = data_js, kind, style

    class Call(WithRuntime):
        """One line of JS after the map's layers: ``{{js}}`` with ``MAP`` = the parent map."""

        _template = Template(
            "{% macro script(this, kwargs) %}"
            "{{ this.js.replace('MAP', this._parent.get_name()) }}{% endmacro %}"
        )

        def __init__(self, js: str) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is not annotated
            self._name = "GeoecoCall"
            self.js = js

    class LayerMiniMap(JSCSSMixin, MacroElement):
        """leaflet-minimap over a geoeco polygon layer (works offline) or a tile URL."""

        _template = Template(
            "{% macro script(this, kwargs) %}var {{ this.get_name() }} = new L.Control.MiniMap("
            "{{ this.layer_js }}, {width: 160, height: 160, zoomLevelOffset: -5,"
            " position: 'bottomleft'});"
            "{{ this._parent.get_name() }}.addControl({{ this.get_name() }});{% endmacro %}"
        )
        default_js = folium.plugins.MiniMap.default_js
        default_css = folium.plugins.MiniMap.default_css

        def __init__(self, layer_js: str) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is not annotated
            self._name = "GeoecoMiniMap"
            self.layer_js = layer_js

    return {"DataLayer": DataLayer, "Call": Call, "LayerMiniMap": LayerMiniMap}


#: Panes above the units (overlayPane, z 400): rasters, then outlines on a canvas of their own
#: that lets clicks through to the units' popups.
RASTER_PANE, OUTLINE_PANE = "geoeco-rasters", "geoeco-outlines"


def _new_map(basemap: str | None, tianditu_token: str | None, **kw: Any) -> Any:
    folium = _folium()
    m = folium.Map(tiles=None, prefer_canvas=True, control_scale=True, **kw)
    _prepare(m, basemap, tianditu_token)
    return m


def _prepare(m: Any, basemap: str | None, tianditu_token: str | None) -> None:
    """Trim assets, add the basemap and geoeco's panes to a fresh ``folium.Map``."""
    folium = _folium()
    _trim_assets(m)
    _add_basemap(m, basemap, tianditu_token)
    folium.map.CustomPane(RASTER_PANE, z_index=410).add_to(m)
    folium.map.CustomPane(OUTLINE_PANE, z_index=420).add_to(m)


def _trim_assets(m: Any) -> None:
    """Keep only Leaflet itself: geoeco's maps use no jQuery, Bootstrap or icon fonts."""
    m.default_js = [p for p in m.default_js if p[0] == "leaflet"]
    m.default_css = [p for p in m.default_css if p[0] == "leaflet_css"]


def _basemap_urls(basemap: str | None, token: str | None) -> list[tuple[str, str, str]]:
    if basemap is None or basemap == "none":
        return []
    if basemap == "osm":
        return [(OSM_URL, "OpenStreetMap", "© OpenStreetMap contributors")]
    if basemap == "tianditu":
        if not token:
            from geoeco.core.errors import InvalidInput

            raise InvalidInput(
                "basemap 'tianditu' needs tianditu_token (a key from tianditu.gov.cn)"
            )
        attr = "© 天地图 Tianditu"
        return [
            (
                TIANDITU_URL.format(layer=lyr, token=token, s="{s}", z="{z}", x="{x}", y="{y}"),
                name,
                attr,
            )
            for lyr, name in (("vec", "天地图 Tianditu"), ("cva", "天地图注记 Tianditu labels"))
        ]
    raise InvalidInput(f"basemap must be None, 'osm' or 'tianditu', got {basemap!r}")


def _add_basemap(m: Any, basemap: str | None, token: str | None) -> None:
    folium = _folium()
    for i, (url, name, attr) in enumerate(_basemap_urls(basemap, token)):
        sub = {"subdomains": "01234567"} if "{s}" in url else {}
        folium.TileLayer(url, name=name, attr=attr, overlay=i > 0, **sub).add_to(m)


def _add_controls(m: Any, minimap_js: str) -> None:
    folium = _folium()
    plugins = folium.plugins
    plugins.Fullscreen(position="topleft").add_to(m)
    plugins.MeasureControl(
        position="topleft",
        primary_length_unit="kilometers",
        secondary_length_unit="meters",
        primary_area_unit="hectares",
        secondary_area_unit="sqmeters",
    ).add_to(m)
    plugins.MousePosition(
        position="bottomright",
        separator=" , ",
        num_digits=5,
        prefix="lat , lon:",
        empty_string="",
    ).add_to(m)
    _elements()["LayerMiniMap"](minimap_js).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)


def _minimap_js(
    basemap: str | None, token: str | None, context_js: str | None, bounds: Sequence[float]
) -> str:
    """The minimap's layer: the basemap's tiles, else admin outlines, else the map's extent."""
    urls = _basemap_urls(basemap, token)
    if urls:
        return f"L.tileLayer({to_json(urls[0][0])}, {{subdomains: '01234567', attribution: ''}})"
    if context_js:
        return f"geoeco.polys(null, {context_js}, {to_json(OUTLINES['context'][2])})"
    w, s, e, n = (float(v) for v in bounds)
    return (
        f"L.rectangle([[{s}, {w}], [{n}, {e}]], "
        "{color: '#404040', weight: 1, fillColor: '#1b7837', fillOpacity: 0.3})"
    )


def _add_layer(
    m: Any,
    data: dict[str, Any],
    *,
    kind: str,
    name: str,
    style: Any,
    show: bool = True,
    legend: dict[str, Any] | None = None,
) -> Any:
    layer = _elements()["DataLayer"](to_json(data), kind=kind, name=name, style=style, show=show)
    layer.add_to(m)
    if legend is not None:
        _call(m, f"geoeco.legend(MAP, {layer.get_name()}, {to_json(legend)});")
    return layer


def _call(m: Any, js: str) -> None:
    _elements()["Call"](js).add_to(m)


def map_html(m: Any, *, assets: str = "inline") -> str:
    """Render a map to HTML; ``assets`` = "inline" (standalone), "cdn", or a base URL.

    A base URL such as ``"/maps/assets/"`` points the scripts at the files of
    :func:`geoeco.maps.assets.asset_dir` served there.
    """
    html: str = m.get_root().render()
    if assets == "inline":
        return inline_assets(html)
    if assets == "cdn":
        return html
    return localize_assets(html, assets)


def save_map(m: Any, path: str | Path, *, assets: str = "inline") -> Path:
    """Write :func:`map_html` to ``path`` atomically (UTF-8)."""
    from geoeco.core.io import atomic_path

    dest = Path(path)
    with atomic_path(dest) as tmp:
        tmp.write_text(map_html(m, assets=assets), encoding="utf-8")
    return dest


__all__ = ["map_html", "save_map"]
