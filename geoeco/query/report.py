"""One-page printable HTML report of a screened site (or of every site of a batch).

:func:`render_report` turns a :class:`~geoeco.query.models.ScreeningResult` into one
self-contained HTML page: inline CSS (with ``@media print`` rules for A4), an inline SVG map
drawn here (:func:`svg_map`: units coloured by class, red line hatched, buffer dashed, site in
blue, legend and scale bar), and tables of verdicts, overlaps, zonal statistics and
proximity. It loads nothing from the network, so it prints and archives as is.
:func:`render_batch_report` puts the sites of a batch in one file: a table of every site and
its verdicts first, then each site's report on its own printed page.

Examples
--------
>>> from geoeco.query.models import MapData
>>> sq = {"type": "Polygon", "coordinates": [[[105, 38], [105.01, 38], [105.01, 38.01],
...       [105, 38.01], [105, 38]]]}
>>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": sq,
...       "properties": {"code": "ZH1", "unit_class": 1}}]}
>>> svg = svg_map(MapData(bbox=(104.99, 37.99, 105.02, 38.02), site=fc, units=fc))
>>> svg.startswith("<svg") and "ZH1" in svg
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geoeco.core.attribution import attribution_lines
from geoeco.core.banner import banner_html, banner_lines

from .models import MapData, ScreeningResult

if TYPE_CHECKING:
    from .screening import SiteScreening

Lang = Literal["zh", "en", "both"]

#: Fill colours of the unit classes (priority, key, general) and verdict badges.
CLASS_COLOURS = {1: "#4caf50", 2: "#ffb300", 3: "#b0bec5"}
VERDICT_COLOURS = {
    "allowed": "#2e7d32",
    "conditional": "#1565c0",
    "restricted": "#ef6c00",
    "forbidden": "#c62828",
}
_VERDICT_ZH = {
    "allowed": "允许",
    "conditional": "有条件允许",
    "restricted": "限制",
    "forbidden": "禁止",
}
_SCOPE_NAMES = {
    "redline": ("生态保护红线", "red line"),
    "national_park": ("国家公园", "national park"),
    "priority": ("优先保护单元", "priority protection unit"),
    "key": ("重点管控单元", "key control unit"),
    "general": ("一般管控单元", "general control unit"),
}

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",Arial,sans-serif;font-size:12px;
 color:#222;margin:16px;max-width:1000px}
h1{font-size:18px;margin:0 0 4px}h2{font-size:14px;margin:14px 0 4px;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border:1px solid #bbb;padding:2px 4px;vertical-align:top;text-align:left}
th{background:#eee}td.n{text-align:right;white-space:nowrap}
.badge{color:#fff;padding:1px 6px;border-radius:3px;font-weight:bold;white-space:nowrap}
.top{display:flex;gap:12px}.top>div{flex:1}.small{font-size:10px;color:#555}
.access{font-size:10px;color:#444}svg{border:1px solid #999;background:#fafafa}
@media print{@page{size:A4;margin:10mm}body{margin:0;font-size:9.5px}
 h2{break-after:avoid}tr{break-inside:avoid}.noprint{display:none}
 svg{width:100%;height:auto}section.site{break-before:page}}
section.site{margin-top:24px;border-top:2px solid #999}
"""


def _t(zh: str | None, en: str | None, lang: Lang) -> str:
    zh, en = zh or "", en or ""
    if lang == "zh":
        return html.escape(zh or en)
    if lang == "en":
        return html.escape(en or zh)
    if zh and en and zh != en:
        return f"{html.escape(zh)} / {html.escape(en)}"
    return html.escape(zh or en)


def _num(v: float | None, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:,.{nd}f}"


# --------------------------------------------------------------------------- map


def _rings(geom: Mapping[str, Any]) -> Iterable[tuple[str, list[list[float]]]]:
    """The rings, lines and points of a GeoJSON geometry, each as a list of ``[x, y]``."""
    kind = geom.get("type")
    c: Any = geom.get("coordinates")  # nested lists of positions, by geometry type
    if kind == "Polygon":
        for r in c:
            yield "ring", r
    elif kind == "MultiPolygon":
        for p in c:
            for r in p:
                yield "ring", r
    elif kind == "LineString":
        yield "line", c
    elif kind == "MultiLineString":
        for ln in c:
            yield "line", ln
    elif kind == "Point":
        yield "point", [c]
    elif kind == "MultiPoint":
        for p in c:
            yield "point", [p]
    elif kind == "GeometryCollection":
        for g in geom.get("geometries", []):
            yield from _rings(g)


def svg_map(m: MapData, *, width: int = 460, height: int = 360) -> str:
    """An SVG map of the report's :class:`~geoeco.query.models.MapData` (no external assets).

    Lon-lat is drawn in a local equirectangular projection (x scaled by cos of the central
    latitude), which is true to scale within a site-sized view.
    """
    x0, y0, x1, y1 = m.bbox
    kx = math.cos(math.radians((y0 + y1) / 2))
    w, h = max((x1 - x0) * kx, 1e-12), max(y1 - y0, 1e-12)
    s = min((width - 20) / w, (height - 40) / h)
    ox = (width - w * s) / 2
    oy = (height - 30 - h * s) / 2

    def pt(c: list[float]) -> str:
        return f"{ox + (c[0] - x0) * kx * s:.1f},{oy + (y1 - c[1]) * s:.1f}"

    def path(geom: Mapping[str, Any]) -> tuple[str, list[str]]:
        d, pts = [], []
        for kind, coords in _rings(geom):
            if kind == "point":
                pts.append(pt(coords[0]))
            else:
                d.append("M" + "L".join(pt(c) for c in coords) + ("Z" if kind == "ring" else ""))
        return "".join(d), pts

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="site map">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#c62828" '
        'stroke-width="1.5"/></pattern></defs>',
    ]
    for f in m.units.get("features", []):
        p = f.get("properties") or {}
        d, _ = path(f["geometry"])
        colour = CLASS_COLOURS.get(int(p.get("unit_class") or 0), "#ddd")
        code = html.escape(str(p.get("code", "")))
        out.append(
            f'<path d="{d}" fill="{colour}" fill-opacity="0.55" stroke="#555" '
            f'stroke-width="0.6" fill-rule="evenodd"><title>{code}</title></path>'
        )
    if m.redline:
        for f in m.redline.get("features", []):
            d, _ = path(f["geometry"])
            lx = html.escape(str((f.get("properties") or {}).get("LXBM", "")))
            out.append(
                f'<path d="{d}" fill="url(#hatch)" stroke="#c62828" stroke-width="0.8" '
                f'fill-rule="evenodd"><title>LXBM {lx}</title></path>'
            )
    if m.buffer:
        for f in m.buffer.get("features", []):
            d, _ = path(f["geometry"])
            out.append(
                f'<path d="{d}" fill="none" stroke="#1565c0" stroke-width="1.2" '
                'stroke-dasharray="5,3"/>'
            )
    for f in m.site.get("features", []):
        d, pts = path(f["geometry"])
        if d:
            out.append(
                f'<path d="{d}" fill="#1565c0" fill-opacity="0.25" stroke="#0d47a1" '
                'stroke-width="2" fill-rule="evenodd"/>'
            )
        for p in pts:
            x, y = p.split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="4" fill="#0d47a1"/>')
    out.append(_scale_bar(w / kx * kx, s, height, kx))
    out.append(_legend(width, height, m.redline is not None, m.buffer is not None))
    out.append("</svg>")
    return "".join(out)


def _scale_bar(w_deg: float, s: float, height: int, kx: float) -> str:
    km_per_px = 111.32 / s  # degrees of latitude (x is already scaled by cos(lat))
    target = km_per_px * 100
    nice = 10 ** math.floor(math.log10(target)) if target > 0 else 1
    for mult in (5, 2, 1):
        if mult * nice <= target:
            nice *= mult
            break
    px = nice / km_per_px
    label = f"{nice:g} km" if nice >= 1 else f"{nice * 1000:g} m"
    y = height - 12
    return (
        f'<g font-size="10"><line x1="10" y1="{y}" x2="{10 + px:.1f}" y2="{y}" stroke="#000" '
        f'stroke-width="2"/><text x="{14 + px:.1f}" y="{y + 4}">{label}</text>'
        f'<text x="{10}" y="{y - 6}" font-size="12">N↑</text></g>'
    )


def _legend(width: int, height: int, redline: bool, buffer: bool) -> str:
    items = [
        (CLASS_COLOURS[1], "优先保护 priority"),
        (CLASS_COLOURS[2], "重点管控 key"),
        (CLASS_COLOURS[3], "一般管控 general"),
    ]
    x = width - 150
    y = height - 12 - 14 * (len(items) + redline + buffer + 1)
    g = [
        f'<g font-size="9"><rect x="{x - 4}" y="{y - 10}" width="150" '
        f'height="{14 * (len(items) + redline + buffer + 1) + 6}" fill="#fff" '
        'fill-opacity="0.85"/>'
    ]
    for colour, label in items:
        g.append(
            f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y}">{label}</text>'
        )
        y += 14
    if redline:
        g.append(
            f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="url(#hatch)" '
            f'stroke="#c62828"/><text x="{x + 14}" y="{y}">生态保护红线 red line</text>'
        )
        y += 14
    g.append(
        f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="#1565c0" '
        f'fill-opacity="0.4" stroke="#0d47a1"/><text x="{x + 14}" y="{y}">场址 site</text>'
    )
    y += 14
    if buffer:
        g.append(
            f'<line x1="{x}" y1="{y - 3}" x2="{x + 10}" y2="{y - 3}" stroke="#1565c0" '
            f'stroke-dasharray="3,2"/><text x="{x + 14}" y="{y}">缓冲区 buffer</text>'
        )
    g.append("</g>")
    return "".join(g)


# --------------------------------------------------------------------------- tables


def _badge(verdict: str | None, lang: Lang) -> str:
    if verdict is None:
        return '<span class="badge" style="background:#777">–</span>'
    c = VERDICT_COLOURS.get(verdict, "#777")
    text = _t(_VERDICT_ZH.get(verdict), verdict, lang)
    return f'<span class="badge" style="background:{c}">{text}</span>'


def _verdict_table(r: ScreeningResult, lang: Lang) -> str:
    rows = []
    for v in r.verdicts:
        parts = []
        for p in v.parts:
            zh, en = _SCOPE_NAMES.get(p.scope, (p.scope, p.scope))
            parts.append(
                f"<div>{_badge(p.verdict, lang)} <b>{_t(zh, en, lang)}</b> "
                f"[{html.escape(p.tag)}] {_t(p.reason_zh, p.reason_en, lang)}"
                f'<div class="small">{html.escape(", ".join(p.units[:8]))}'
                f"{' …' if len(p.units) > 8 else ''}</div></div>"
            )
        detail = "".join(parts) or html.escape(v.note or "")
        rows.append(
            f"<tr><td>{_t(v.name_zh, v.name_en, lang)}</td><td>{_badge(v.verdict, lang)}</td>"
            f"<td>{detail}</td></tr>"
        )
    return (
        "<table><tr><th>项目类型 / project type</th><th>结论 / verdict</th>"
        f"<th>依据 / reasons</th></tr>{''.join(rows)}</table>"
    )


def _access_table(r: ScreeningResult, lang: Lang) -> str:
    seen: dict[str, tuple[str, str]] = {}
    for v in r.verdicts:
        for p in v.parts:
            seen.setdefault(p.scope, (p.access_zh, p.access_en))
    if not seen:
        return ""
    rows = "".join(
        f"<tr><td>{_t(*_SCOPE_NAMES.get(s, (s, s)), lang)}</td>"
        f'<td class="access">{_t(zh, en, lang)}</td></tr>'
        for s, (zh, en) in seen.items()
    )
    return (
        "<h2>准入清单：空间布局约束 / Access list: spatial layout constraints</h2>"
        f"<table><tr><th>范围 / scope</th><th>要求 / requirements</th></tr>{rows}</table>"
    )


def _overlap_table(title: str, items: list[Any], lang: Lang) -> str:
    if not items:
        return ""
    unit = {"area_km2": "km²", "length_km": "km", "points": "pts"}[items[0].measure]
    rows = "".join(
        f"<tr><td>{html.escape(o.key)}</td><td>{_t(o.name_zh, o.name_en, lang)}</td>"
        f'<td class="n">{_num(o.amount, 4)}</td><td class="n">{o.share:.1%}</td></tr>'
        for o in items
    )
    return (
        f"<h2>{title}</h2><table><tr><th>code / id</th><th>name</th><th>{unit}</th>"
        f"<th>share</th></tr>{rows}</table>"
    )


def _zonal_table(r: ScreeningResult, lang: Lang) -> str:
    if not r.zonal:
        return ""
    rows = []
    for z in r.zonal:
        hist = ""
        if z.histogram:
            top = sorted(z.histogram, key=lambda c: -c.share)[:4]
            hist = "; ".join(
                f"{_t(c.name_zh, c.name_en, lang) or c.code} {c.share:.0%}" for c in top
            )
        rows.append(
            f"<tr><td>{html.escape(z.layer)}</td><td>{html.escape(z.units or '')}</td>"
            f'<td class="n">{_num(z.area_km2, 3)}</td><td class="n">{_num(z.mean, 2)}</td>'
            f'<td class="n">{_num(z.min, 2)}</td><td class="n">{_num(z.max, 2)}</td>'
            f"<td>{hist}</td></tr>"
        )
    return (
        "<h2>分区统计（按像元覆盖比例）/ Zonal statistics (coverage-weighted)</h2>"
        "<table><tr><th>layer</th><th>units</th><th>km²</th><th>mean</th><th>min</th>"
        f"<th>max</th><th>classes</th></tr>{''.join(rows)}</table>"
    )


def _proximity_table(r: ScreeningResult, lang: Lang) -> str:
    if not r.proximity:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(p.layer)}</td><td>{html.escape(p.id)}</td>"
        f"<td>{_t(p.name_zh, p.name_en, lang)}</td>"
        f'<td class="n">{_num(p.distance_km, 3)}</td></tr>'
        for p in r.proximity[:40]
    )
    more = f"<p class='small'>… {len(r.proximity) - 40} more</p>" if len(r.proximity) > 40 else ""
    return (
        f"<h2>缓冲区 {r.site.buffer_m:g} m 内 / Within {r.site.buffer_m:g} m</h2>"
        "<table><tr><th>layer</th><th>id</th><th>name</th><th>distance km</th></tr>"
        f"{rows}</table>{more}"
    )


def _report_banner(r: ScreeningResult) -> list[str]:
    """The warning lines of a report: the run's synthetic or approximate layers and partial
    coverage (:func:`geoeco.core.banner.banner_lines`), and a site partly outside the run."""
    lines = banner_lines(r.run or {})
    if 0 < r.outside_share < 1:
        pct = f"{r.outside_share * 100:.1f}"
        lines.append(
            f"场址有 {pct}% 位于分析范围之外，统计与研判仅涉及分析范围内部分 — {pct} % of the site "
            "lies outside the analysed area; statistics and verdicts cover the analysed part only"
        )
    return lines


def _site_body(r: ScreeningResult, lang: Lang, title: str) -> list[str]:
    """The HTML parts of one site's report, its title first."""
    site_id = html.escape(r.site_id or "")
    aoi = (r.run.get("aoi") or {}).get("label") if r.run else None
    rule = (r.run.get("rule_set") or {}).get("name") if r.run else None
    status = (
        "<p class='small'>" + _t("场址位于分析范围之外", "outside the analysed area", lang) + "</p>"
        if not r.inside_analysed_area
        else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.notes)
    synth = r.run.get("synthetic_layers") if r.run else None
    approx = r.run.get("approximation_layers") if r.run else None
    caveats = []
    if synth:
        caveats.append("synthetic layers: " + ", ".join(synth))
    if approx:
        caveats.append("approximate layers: " + ", ".join(approx))
    map_svg = svg_map(r.map) if r.map is not None else ""
    facts = (
        "<table>"
        f"<tr><th>site</th><td>{site_id or '–'} ({html.escape(r.site.geometry_type)})</td></tr>"
        f"<tr><th>area</th><td>{_num(r.site.area_km2, 4)} km²"
        + (f", length {_num(r.site.length_km, 3)} km" if r.site.length_km else "")
        + f"</td></tr><tr><th>buffer</th><td>{r.site.buffer_m:g} m</td></tr>"
        f"<tr><th>input CRS</th><td>{html.escape(r.site.input_crs)}</td></tr>"
        f"<tr><th>outside analysed area</th><td>{r.outside_share:.1%}</td></tr>"
        f"<tr><th>run</th><td>{html.escape(str(aoi or '–'))}; rules "
        f"{html.escape(str(rule or '–'))}</td></tr></table>"
    )
    return [
        banner_html(_report_banner(r)),
        f"<h1>{html.escape(title)}</h1>{status}",
        f'<div class="top"><div>{map_svg}</div><div>{facts}'
        + (f"<ul class='small'>{notes}</ul>" if notes else "")
        + (f"<p class='small'>{html.escape('; '.join(caveats))}</p>" if caveats else "")
        + "</div></div>",
        "<h2>合规研判 / Compliance verdicts</h2>",
        _verdict_table(r, lang),
        _overlap_table("管控单元类别 / Unit classes", r.by_class, lang),
        _overlap_table("管控单元 / Control units", r.by_unit, lang),
        _overlap_table("生态保护红线 / Red line (LXBM)", r.redline, lang),
        _overlap_table("国家公园 / National parks", r.national_parks, lang),
        _overlap_table("三北标志性战役 / Battle areas", r.battles, lang),
        _access_table(r, lang),
        _zonal_table(r, lang),
        _proximity_table(r, lang),
        _sources(r),
    ]


def _sources(r: ScreeningResult) -> str:
    """The data sources and licences of the run (its summary's ``attribution``)."""
    lines = attribution_lines((r.run or {}).get("attribution") or [])
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<h2>数据来源 / Data sources</h2><ul class='small geoeco-attribution'>{items}</ul>"


_FOOTER = (
    "<p class='small'>Verdicts follow geoeco's structured rules (compliance.toml); tags: "
    "[V] verified in the methodology, [R] recalled, to be checked, [I] geoeco's reading. "
    "Not a substitute for the official 生态环境分区管控 results.</p>"
)
_TITLE = "选址生态环境分区管控研判 / Site screening"


def _page(title: str, body: Iterable[str]) -> str:
    return (
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def render_report(r: ScreeningResult, *, lang: Lang = "both", title: str | None = None) -> str:
    """The report as one self-contained HTML string (see the module docstring).

    Parameters
    ----------
    r : ScreeningResult
        A result of :func:`geoeco.query.screening.screen_site` (with ``map_data=True`` for a map).
    lang : {"zh", "en", "both"}
        Language of names and reasons.
    title : str, optional
        Page title (default "选址生态环境分区管控研判 / Site screening").
    """
    title = title or _TITLE
    head = f"{title} {r.site_id or ''}".strip()
    return _page(head, [*_site_body(r, lang, title), _FOOTER])


def _contents(sites: Sequence[SiteScreening], lang: Lang) -> str:
    """The batch's first table: one row per site with its verdicts (or its error)."""
    rows = []
    for n, s in enumerate(sites, 1):
        sid = html.escape(s.site_id)
        if s.result is None:
            err = html.escape(f"{s.error_type}: {s.error}")
            rows.append(f"<tr><td>{n}</td><td>{sid}</td><td>not screened: {err}</td></tr>")
            continue
        verdicts = " ".join(
            f"{html.escape(v.project_type)} {_badge(v.verdict, lang)}" for v in s.result.verdicts
        )
        link = f"<a href='#site-{n}'>{sid}</a>"
        rows.append(f"<tr><td>{n}</td><td>{link}</td><td>{verdicts or '–'}</td></tr>")
    return "<table><tr><th>#</th><th>site</th><th>verdicts</th></tr>" + "".join(rows) + "</table>"


def render_batch_report(
    sites: Sequence[SiteScreening], *, lang: Lang = "both", title: str | None = None
) -> str:
    """One HTML report of every site of a batch: a table of the sites and their verdicts
    (a site that could not be screened shows its error), then each screened site's report
    on its own printed page (:func:`render_report`'s content)."""
    title = title or _TITLE
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(sites)} sites; {sum(s.result is None for s in sites)} not screened.</p>",
        _contents(sites, lang),
    ]
    for n, s in enumerate(sites, 1):
        if s.result is not None:
            parts = _site_body(s.result, lang, f"{n}. {s.site_id}")
            body.append(f"<section class='site' id='site-{n}'>{''.join(parts)}</section>")
    return _page(title, [*body, _FOOTER])


def _write_text(text: str, path: str | Path) -> Path:
    from geoeco.core.io import atomic_path

    dest = Path(path)
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return dest


def write_report(
    r: ScreeningResult, path: str | Path, *, lang: Lang = "both", title: str | None = None
) -> Path:
    """Write :func:`render_report` to ``path`` atomically (UTF-8)."""
    return _write_text(render_report(r, lang=lang, title=title), path)


def write_batch_report(
    sites: Sequence[SiteScreening],
    path: str | Path,
    *,
    lang: Lang = "both",
    title: str | None = None,
) -> Path:
    """Write :func:`render_batch_report` to ``path`` atomically (UTF-8)."""
    return _write_text(render_batch_report(sites, lang=lang, title=title), path)


__all__ = [
    "CLASS_COLOURS",
    "VERDICT_COLOURS",
    "render_batch_report",
    "render_report",
    "svg_map",
    "write_batch_report",
    "write_report",
]
