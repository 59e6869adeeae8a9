"""The warning banner of maps and reports: synthetic or approximate data, partial coverage.

Maps (:mod:`geoeco.maps.banner`) and the HTML screening report (:mod:`geoeco.query.report`)
show the same lines.

A result that rests on synthetic (demo) or approximate layers, or that covers only part of its
area of interest, says so at the top of its map and its HTML report, in Chinese and English,
where a reader cannot miss it (a popup is not enough). Layers supplied by the user (status
``user``) are listed as such elsewhere but raise no banner.

Examples
--------
>>> lines = banner_lines({"synthetic_layers": ["dem"], "approximation_layers": []})
>>> lines[0]
'合成数据（演示，非真实地点）：dem — synthetic data (demo, not a real place): dem'
>>> banner_lines({"synthetic_layers": [], "coverage": {"note_zh": "", "note_en": ""}})
[]
>>> "geoeco-banner" in banner_html(["x"]) and banner_html([]) == ""
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from .provenance import STATUS_TEXT, WARN_STATUSES

#: Inline style of the banner: fixed at the top centre, above the map's panes and controls.
BANNER_STYLE = (
    "position:fixed;top:8px;left:50%;transform:translateX(-50%);z-index:10000;"
    "max-width:80%;background:#fff3cd;color:#533f03;border:1px solid #d39e00;"
    "border-radius:4px;padding:6px 12px;font:13px/1.4 sans-serif;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3)"
)


def _layers(summary: Mapping[str, Any], key: str) -> list[str]:
    """The layer names under ``key`` at the top of a summary or in its ``zones`` record."""
    found = summary.get(key)
    if found is None and isinstance(summary.get("zones"), Mapping):
        found = summary["zones"].get(key)
    return [str(x) for x in found or []]


def banner_lines(summary: Mapping[str, Any]) -> list[str]:
    """The banner's lines for a run summary (zoning ``summary.json`` or its ``zones``
    record): one per warning status with layers, and the partial-coverage note."""
    lines = []
    for status in reversed(WARN_STATUSES):  # synthetic first
        names = _layers(summary, f"{status}_layers")
        if names:
            zh, en = STATUS_TEXT[status]
            lines.append(f"{zh}：{', '.join(names)} — {en}: {', '.join(names)}")
    cov = summary.get("coverage")
    if isinstance(cov, Mapping) and cov.get("note_en"):
        lines.append(f"{cov.get('note_zh', '')} — {cov['note_en']}")
    return lines


def banner_html(lines: Sequence[str]) -> str:
    """The banner as an HTML ``div`` (empty string without lines), texts escaped."""
    if not lines:
        return ""
    body = "<br>".join(f"⚠ {html.escape(line)}" for line in lines)
    return f'<div class="geoeco-banner" role="alert" style="{BANNER_STYLE}">{body}</div>'


__all__ = ["BANNER_STYLE", "banner_html", "banner_lines"]
