"""The warning banner on folium maps (:mod:`geoeco.core.banner` makes its lines and HTML).

>>> banner_lines({"synthetic_layers": ["dem"]})[0].startswith("合成数据")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geoeco.core.banner import banner_html, banner_lines


def add_banner(m: Any, lines: Sequence[str]) -> None:
    """Put the banner on folium map ``m`` (nothing without lines)."""
    text = banner_html(lines)
    if text:
        import folium

        m.get_root().html.add_child(folium.Element(text))


__all__ = ["add_banner", "banner_lines"]
