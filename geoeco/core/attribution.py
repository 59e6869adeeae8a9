"""The data sources and licences of a result, as maps and reports show them.

A run on a raw inputs folder carries the folder's ``sources`` (``inputs.json``: title,
licence, attribution text, citation) into its ``summary.json`` as ``attribution``; the zone
map (:mod:`geoeco.maps.zone`) and the HTML report (:mod:`geoeco.query.report`) list them with
the same lines (:func:`attribution_lines`), in a block a reader sees without opening a popup.

Examples
--------
>>> attribution_lines([{"title": "Copernicus DEM GLO-30", "licence": "CC-BY-4.0",
...                     "attribution": "© DLR e.V. 2021, © Airbus 2021"}])
['Copernicus DEM GLO-30 — © DLR e.V. 2021, © Airbus 2021 — licence: CC-BY-4.0']
>>> attribution_lines([{"title": "x"}, {"title": "x"}, "junk"])
['x']
>>> block = attribution_html(["a <b>"])
>>> "geoeco-attribution" in block and "&lt;b&gt;" in block
True
>>> attribution_html([])
''
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Inline style of the map's attribution block: bottom left, above the map's panes.
ATTRIBUTION_STYLE = (
    "position:fixed;bottom:24px;left:8px;z-index:9999;max-width:60%;background:#ffffffe6;"
    "color:#333;border:1px solid #bbb;border-radius:4px;padding:4px 8px;font:11px/1.35 "
    "sans-serif"
)


def attribution_lines(sources: Iterable[Any]) -> list[str]:
    """One line per source (title, attribution text, licence), duplicates and entries that
    are not objects left out, in the order given."""
    lines: list[str] = []
    for s in sources:
        if not isinstance(s, Mapping):
            continue
        title = str(s.get("title") or s.get("recipe") or "").strip()
        text = str(s.get("attribution") or "").strip()
        licence = str(s.get("licence") or s.get("license") or "").strip()
        parts = [p for p in (title, text if text != title else "") if p]
        if licence:
            parts.append(f"licence: {licence}")
        line = " — ".join(parts)
        if line and line not in lines:
            lines.append(line)
    return lines


def attribution_html(lines: Sequence[str], *, style: str = ATTRIBUTION_STYLE) -> str:
    """The lines as an HTML block headed 数据来源 / Data sources (empty without lines),
    texts escaped."""
    if not lines:
        return ""
    body = "<br>".join(html.escape(line) for line in lines)
    return (
        f'<div class="geoeco-attribution" style="{style}"><b>数据来源 / Data sources</b><br>'
        f"{body}</div>"
    )


__all__ = ["ATTRIBUTION_STYLE", "attribution_html", "attribution_lines"]
