"""The warning banner on folium maps (:mod:`geoeco.core.banner` makes its lines and HTML), and
the block of data sources and licences (:mod:`geoeco.core.attribution`).

>>> banner_lines({"synthetic_layers": ["dem"]})[0].startswith("合成数据")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geoeco.core.attribution import attribution_html
from geoeco.core.banner import banner_html, banner_lines


def add_banner(m: Any, lines: Sequence[str]) -> None:
    """Put the banner on folium map ``m`` (nothing without lines)."""
    text = banner_html(lines)
    if text:
        import folium

        m.get_root().html.add_child(folium.Element(text))


def add_attribution(m: Any, lines: Sequence[str]) -> None:
    """Put the data sources and licences (:func:`geoeco.core.attribution.attribution_lines`)
    on folium map ``m``: a block at the bottom left (nothing without lines)."""
    text = attribution_html(lines)
    if text:
        import folium

        m.get_root().html.add_child(folium.Element(text))


__all__ = ["add_attribution", "add_banner", "banner_lines"]
