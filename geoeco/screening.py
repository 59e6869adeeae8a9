"""Site screening: overlaps, zonal statistics, proximity and compliance verdicts for a site.

:func:`screen_site` answers, for one geometry on an opened zoning run
(:class:`~geoeco.query.QueryContext`):

* **Overlaps** of the site's footprint with control units (per unit and per class), red-line
  types (LXBM), national parks and battle areas: equal-area km² and share of the site
  (:data:`~geoeco.crs.ALBERS_CHINA`); a line site is measured in km of length, a point site
  in points. The share outside every unit is ``outside_share``. Overlaps under 1 m² (1 m for
  lines) are slivers of shared edges and are ignored (:data:`SLIVER`), so a site drawn along a
  unit's boundary does not "touch" the neighbour.
* **Zonal statistics** of every raster of the run with exact coverage fractions
  (:func:`geoeco.zonal.zonal_stats`) over the footprint, or over the buffer when the
  footprint has no area (a point or a line).
* **Proximity** (IBAT style): every unit, red-line patch, national park and battle area within
  ``buffer_m`` of the footprint, with its distance (0 when it overlaps).
* **Verdicts** per project type from structured rules (``geoeco/data/compliance.toml``, see
  its header for sources and tags): each scope the footprint touches (red line, national park,
  unit class priority/key/general) gives ``allowed`` < ``conditional`` < ``restricted`` <
  ``forbidden`` with reasons and the access-list text beside it; the project's verdict is the
  most severe. A site outside the analysed area gets no verdict (``None``) and a note.

:func:`screen_batch` screens many sites (GeoJSON FeatureCollection, vector file, CSV or
DataFrame with WKT) into one row per site; a bad site's error is reported in its row.

Examples
--------
>>> rules = load_compliance()
>>> project_types(rules)[:3]
['industry', 'mining', 'wind_energy']
>>> rules.rule("redline", "linear_infrastructure").verdict
'restricted'
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .access import load_access_lists
from .crs import ALBERS_CHINA
from .errors import GeoecoError, InvalidInput, ManifestError
from .geometry_input import (
    MAX_AREA_KM2,
    MAX_VERTICES,
    SwapPolicy,
    from_albers,
    iter_features,
    parse_geometry,
    to_albers,
)
from .io import read_toml
from .models import (
    MapData,
    Overlap,
    ProjectVerdict,
    ProximityItem,
    ScreeningResult,
    SiteInfo,
    Tag,
    Verdict,
    VerdictPart,
    worst_verdict,
)
from .query import OUTSIDE, IndexedLayer, QueryContext, redline_reason
from .rules import REDLINE_CODES, ZONE_CLASSES
from .zonal import zonal_stats

SCOPES: tuple[str, ...] = ("redline", "national_park", "priority", "key", "general")
_CLASS_SCOPE = {1: "priority", 2: "key", 3: "general"}
#: Largest buffer accepted (metres).
MAX_BUFFER_M = 50_000.0
#: Overlaps smaller than this are numerical slivers of shared edges and are ignored
#: (1 m² for areas, 1 m for lines, in km² / km).
SLIVER = {"area_km2": 1e-6, "length_km": 1e-3, "points": 0.5}


# --------------------------------------------------------------------------- rules


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComplianceRule(_Frozen):
    """The verdict for one project type in one scope, with its reason and tag."""

    verdict: Verdict
    tag: Tag = "I"
    reason_zh: str
    reason_en: str


class ProjectType(_Frozen):
    """An enumerated project type."""

    id: str
    name_zh: str
    name_en: str


class ScopeRules(_Frozen):
    """The rules of one scope and where they come from."""

    source: str = ""
    rules: dict[str, ComplianceRule]


class ComplianceRules(_Frozen):
    """Validated compliance rules: every project type has a rule in every scope."""

    version: str
    name: str = ""
    project_type: tuple[ProjectType, ...]
    scope: dict[str, ScopeRules]

    @model_validator(mode="after")
    def _complete(self) -> ComplianceRules:
        ids = [p.id for p in self.project_type]
        if len(ids) != len(set(ids)):
            raise ValueError("project type ids must be unique")
        missing_scopes = [s for s in SCOPES if s not in self.scope]
        extra_scopes = [s for s in self.scope if s not in SCOPES]
        if missing_scopes or extra_scopes:
            raise ValueError(
                f"scopes must be exactly {', '.join(SCOPES)}; missing {missing_scopes}, "
                f"unknown {extra_scopes}"
            )
        for s, sr in self.scope.items():
            miss = [i for i in ids if i not in sr.rules]
            unknown = [i for i in sr.rules if i not in ids]
            if miss or unknown:
                raise ValueError(
                    f"scope {s!r}: project types without a rule {miss}, unknown {unknown}"
                )
        return self

    def rule(self, scope: str, project_type: str) -> ComplianceRule:
        """The rule of ``project_type`` in ``scope``."""
        return self.scope[scope].rules[project_type]

    def project(self, project_type: str) -> ProjectType:
        """The project type ``project_type`` (or :class:`InvalidInput` listing the known ones)."""
        for p in self.project_type:
            if p.id == project_type:
                return p
        known = ", ".join(p.id for p in self.project_type)
        raise InvalidInput(f"unknown project type {project_type!r}; known types: {known}")


def _parse_rules(data: Mapping[str, Any], what: str) -> ComplianceRules:
    try:
        return ComplianceRules.model_validate(dict(data))
    except ValidationError as exc:
        raise ManifestError(f"{what}: invalid compliance rules: {exc}") from None


@lru_cache(maxsize=1)
def _builtin_rules() -> ComplianceRules:
    text = files("geoeco").joinpath("data/compliance.toml").read_text(encoding="utf-8")
    return _parse_rules(tomllib.loads(text), "built-in compliance.toml")


def load_compliance(source: str | Path | Mapping[str, Any] | None = None) -> ComplianceRules:
    """Compliance rules: the built-in ones, or a TOML file / dict of the same shape."""
    if source is None:
        return _builtin_rules()
    if isinstance(source, ComplianceRules):
        return source
    if isinstance(source, Mapping):
        return _parse_rules(source, "user compliance rules")
    p = Path(source)
    data = read_toml(p, what="compliance rules")
    return _parse_rules(data, p.name)


def project_types(rules: ComplianceRules | None = None) -> list[str]:
    """Ids of the enumerated project types."""
    return [p.id for p in (rules or load_compliance()).project_type]


# --------------------------------------------------------------------------- overlaps


def _measure(geom: Any, kind: str) -> np.ndarray | float:
    if kind == "area_km2":
        return shapely.area(geom) / 1e6
    if kind == "length_km":
        return shapely.length(geom) / 1e3
    return shapely.get_num_coordinates(geom) * 1.0


def _kind(site_al: Any) -> str:
    if site_al.area > 0:
        return "area_km2"
    if site_al.length > 0:
        return "length_km"
    return "points"


def _overlaps(
    layer: IndexedLayer | None, site_al: Any, kind: str, total: float
) -> list[tuple[int, float, float]]:
    """(row, amount, share) for every feature overlapping the site by a positive amount."""
    if layer is None or total <= 0:
        return []
    idx = layer.hits_albers(site_al)
    if len(idx) == 0:
        return []
    inter = shapely.intersection(layer.albers[idx], site_al)
    if kind == "area_km2":
        inter = np.array([_polys(g) for g in inter], dtype=object)
    amt = np.atleast_1d(_measure(inter, kind))
    return [
        (int(i), float(a), min(1.0, float(a) / total))
        for i, a in zip(idx, amt, strict=True)
        if a > SLIVER[kind]
    ]


def _polys(g: Any) -> Any:
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _feature_overlaps(
    layer: IndexedLayer | None, hits: list[tuple[int, float, float]], kind: str
) -> list[Overlap]:
    if layer is None:
        return []
    return [
        Overlap(
            key=layer.feature_id(i),
            name_zh=layer.text(i, "name_zh"),
            name_en=layer.text(i, "name_en"),
            measure=kind,  # type: ignore[arg-type]
            amount=a,
            share=s,
            extra={"status": layer.text(i, "status")} if layer.text(i, "status") else {},
        )
        for i, a, s in hits
    ]


def _unit_overlaps(
    ctx: QueryContext, hits: list[tuple[int, float, float]], kind: str
) -> tuple[list[Overlap], list[Overlap]]:
    u = ctx.units
    classes = u.column("unit_class")
    by_unit = [
        Overlap(
            key=u.feature_id(i),
            name_zh=u.text(i, "name_zh"),
            name_en=u.text(i, "name_en"),
            measure=kind,  # type: ignore[arg-type]
            amount=a,
            share=s,
            extra={
                "unit_class": int(classes[i]),
                "county_code": u.text(i, "county_code"),
                "county_name": u.text(i, "county_name"),
            },
        )
        for i, a, s in hits
    ]
    sums: dict[int, list[float]] = {}
    for i, a, s in hits:
        acc = sums.setdefault(int(classes[i]), [0.0, 0.0])
        acc[0] += a
        acc[1] += s
    by_class = [
        Overlap(
            key=str(c),
            name_zh=ZONE_CLASSES.get(c, ("", ""))[0],
            name_en=ZONE_CLASSES.get(c, ("", ""))[1],
            measure=kind,  # type: ignore[arg-type]
            amount=a,
            share=min(1.0, s),
        )
        for c, (a, s) in sorted(sums.items())
    ]
    return by_class, by_unit


def _redline_overlaps(ctx: QueryContext, site_al: Any, kind: str, total: float) -> list[Overlap]:
    layer = ctx.redline
    hits = _overlaps(layer, site_al, kind, total)
    if layer is None:
        return []
    sums: dict[int, list[float]] = {}
    codes = layer.column("LXBM")
    for i, a, s in hits:
        acc = sums.setdefault(int(codes[i]), [0.0, 0.0])
        acc[0] += a
        acc[1] += s
    out = []
    for code, (a, s) in sorted(sums.items()):
        rz, re_ = redline_reason(code)
        zh, en = REDLINE_CODES.get(code, ("", ""))
        out.append(
            Overlap(
                key=str(code),
                name_zh=zh,
                name_en=en,
                measure=kind,  # type: ignore[arg-type]
                amount=a,
                share=s,
                extra={"reason_zh": rz, "reason_en": re_},
            )
        )
    return out


# --------------------------------------------------------------------------- proximity


def _proximity(ctx: QueryContext, site_al: Any, buffer_al: Any) -> list[ProximityItem]:
    layers: list[tuple[str, IndexedLayer | None]] = [
        ("units", ctx.units),
        ("redline", ctx.redline),
        ("national_parks", ctx.parks),
        ("battles", ctx.battles),
    ]
    out: list[ProximityItem] = []
    for name, layer in layers:
        if layer is None:
            continue
        idx = layer.hits_albers(buffer_al)
        if len(idx) == 0:
            continue
        dist = shapely.distance(layer.albers[idx], site_al) / 1000.0
        for i, d in zip(idx.tolist(), np.atleast_1d(dist).tolist(), strict=True):
            if name == "redline":
                code = int(layer.column("LXBM")[i])
                zh, en = REDLINE_CODES.get(code, ("", ""))
                fid = str(code)
            elif name == "units":
                fid = layer.feature_id(i)
                zh = (
                    layer.text(i, "class_zh")
                    or ZONE_CLASSES.get(int(layer.column("unit_class")[i]), ("", ""))[0]
                )
                en = (
                    layer.text(i, "class_en")
                    or ZONE_CLASSES.get(int(layer.column("unit_class")[i]), ("", ""))[1]
                )
            else:
                fid = layer.feature_id(i)
                zh, en = layer.text(i, "name_zh"), layer.text(i, "name_en")
            out.append(
                ProximityItem(
                    layer=name,
                    id=fid,
                    name_zh=zh,
                    name_en=en,
                    distance_km=float(d),
                    overlaps_site=bool(d == 0.0),
                )
            )
    out.sort(key=lambda p: (p.distance_km, p.layer, p.id))
    return out


# --------------------------------------------------------------------------- verdicts


def _addon_text(addon_id: str) -> tuple[str, str]:
    for a in load_access_lists().addon:
        if a.id == addon_id and a.spatial_layout is not None:
            return a.spatial_layout.zh, a.spatial_layout.en
    return "", ""


def verdicts(
    touched: Mapping[str, Sequence[str]],
    types: Sequence[str] | None = None,
    *,
    rules: ComplianceRules | None = None,
) -> list[ProjectVerdict]:
    """Verdicts per project type for the scopes a site touches.

    Parameters
    ----------
    touched : mapping of scope to ids
        Scopes (``redline``, ``national_park``, ``priority``, ``key``, ``general``) the site
        touches, each with the unit codes / feature ids concerned.
    types : list of str, optional
        Project types (default all).

    Examples
    --------
    >>> v = verdicts({"key": ["ZH1"], "redline": ["13"]}, ["linear_infrastructure"])[0]
    >>> v.verdict, [p.scope for p in v.parts]
    ('restricted', ['redline', 'key'])
    """
    rs = rules or load_compliance()
    lists = load_access_lists()
    scopes = [s for s in SCOPES if touched.get(s)]
    out = []
    for t in types or project_types(rs):
        pt = rs.project(t)
        parts = []
        for s in scopes:
            r = rs.rule(s, t)
            if s == "redline":
                az, ae = _addon_text("redline")
            elif s == "national_park":
                az, ae = _addon_text("park")
            else:
                cls = {v: k for k, v in _CLASS_SCOPE.items()}[s]
                az = lists.text(cls, "spatial_layout", "zh")
                ae = lists.text(cls, "spatial_layout", "en")
            parts.append(
                VerdictPart(
                    scope=s,  # type: ignore[arg-type]
                    verdict=r.verdict,
                    reason_zh=r.reason_zh,
                    reason_en=r.reason_en,
                    tag=r.tag,
                    source=rs.scope[s].source,
                    units=list(touched[s]),
                    access_zh=az,
                    access_en=ae,
                )
            )
        out.append(
            ProjectVerdict(
                project_type=t,
                name_zh=pt.name_zh,
                name_en=pt.name_en,
                verdict=worst_verdict(p.verdict for p in parts),
                parts=parts,
                note=None if parts else f"{OUTSIDE}: no verdict",
            )
        )
    return out


# --------------------------------------------------------------------------- map data


def _fc(geoms: Iterable[Any], props: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": shapely.geometry.mapping(g), "properties": dict(p)}
            for g, p in zip(geoms, props, strict=True)
            if g is not None and not g.is_empty
        ],
    }


def _map_data(ctx: QueryContext, site_al: Any, buffer_al: Any | None) -> MapData:
    outer = buffer_al if buffer_al is not None else site_al
    x0, y0, x1, y1 = outer.bounds
    pad = max(0.25 * max(x1 - x0, y1 - y0), 200.0)
    view = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    tol = max(x1 - x0, y1 - y0, 2 * pad) / 400.0

    def clip(layer: IndexedLayer | None, cols: Sequence[str]) -> dict[str, Any] | None:
        if layer is None:
            return None
        idx = layer.hits_albers(view)
        geoms = shapely.intersection(layer.albers[idx], view)
        geoms = from_albers(shapely.simplify(geoms, tol, preserve_topology=True))
        props = [
            {c: (layer.column(c)[i] if c in layer.frame.columns else None) for c in cols}
            for i in idx.tolist()
        ]
        props = [{k: _plain(v) for k, v in p.items()} for p in props]
        return _fc(geoms, props)

    vb = from_albers(view).bounds
    return MapData(
        bbox=tuple(float(v) for v in vb),  # type: ignore[arg-type]
        site=_fc([from_albers(site_al)], [{}]),
        buffer=None if buffer_al is None else _fc([from_albers(buffer_al)], [{}]),
        units=clip(ctx.units, ("code", "unit_class")) or _fc([], []),
        redline=clip(ctx.redline, ("LXBM",)),
    )


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


# --------------------------------------------------------------------------- screening


def screen_site(
    ctx: QueryContext,
    geometry: Any,
    *,
    buffer_m: float = 0.0,
    project_type: str | Sequence[str] | None = None,
    crs: str | int | None = "wgs84",
    swap: SwapPolicy = "auto",
    rules: ComplianceRules | str | Path | Mapping[str, Any] | None = None,
    zonal: bool = True,
    map_data: bool = True,
    max_vertices: int | None = MAX_VERTICES,
    max_area_km2: float | None = MAX_AREA_KM2,
    site_id: str | None = None,
) -> ScreeningResult:
    """Screen one site on an opened run (see the module docstring).

    Parameters
    ----------
    ctx : QueryContext
        The opened run (:meth:`geoeco.query.QueryContext.open`).
    geometry : GeoJSON, WKT or shapely
        The site (:func:`geoeco.geometry_input.parse_geometry`).
    buffer_m : float
        Proximity buffer around the footprint in metres (0 to :data:`MAX_BUFFER_M`).
    project_type : str or list of str, optional
        Project types to judge (default every enumerated type, :func:`project_types`).
    crs, swap :
        Input CRS (``wgs84``, ``cgcs2000``, ``gcj02``) and the swapped-coordinate policy.
    rules : optional
        Compliance rules (default ``geoeco/data/compliance.toml``).
    zonal, map_data : bool
        Compute zonal statistics / the report map's GeoJSON.
    max_vertices, max_area_km2 :
        Input limits; the area limit applies to the footprint and to the buffered site.

    Returns
    -------
    ScreeningResult
    """
    from .errors import OversizeRequest

    rs = load_compliance(rules)  # type: ignore[arg-type]
    types = [project_type] if isinstance(project_type, str) else project_type
    for t in types or []:
        rs.project(t)
    if not (isinstance(buffer_m, int | float) and 0 <= buffer_m <= MAX_BUFFER_M):
        raise InvalidInput(f"buffer_m must be between 0 and {MAX_BUFFER_M:g} m, got {buffer_m!r}")
    p = parse_geometry(
        geometry,
        crs=crs,
        swap=swap,
        max_vertices=max_vertices,
        max_area_km2=max_area_km2,
    )
    notes = list(p.notes)
    site_al = to_albers(p.geometry)
    buffer_al = site_al.buffer(buffer_m, quad_segs=16) if buffer_m > 0 else None
    if buffer_al is not None and max_area_km2 is not None and buffer_al.area / 1e6 > max_area_km2:
        raise OversizeRequest(
            f"the site with its {buffer_m:g} m buffer covers {buffer_al.area / 1e6:,.0f} km²; "
            f"at most {max_area_km2:,.0f} km² are accepted"
        )
    kind = _kind(site_al)
    total = float(_measure(site_al, kind))
    unit_hits = _overlaps(ctx.units, site_al, kind, total)
    by_class, by_unit = _unit_overlaps(ctx, unit_hits, kind)
    inside_share = sum(o.share for o in by_unit)
    outside = max(0.0, 1.0 - inside_share)
    if outside < 1e-9:
        outside = 0.0
    red = _redline_overlaps(ctx, site_al, kind, total)
    parks = _feature_overlaps(ctx.parks, _overlaps(ctx.parks, site_al, kind, total), kind)
    battles = _feature_overlaps(ctx.battles, _overlaps(ctx.battles, site_al, kind, total), kind)
    if not by_unit:
        notes.append(f"{OUTSIDE}: the site overlaps no control unit of this run")
    elif outside > 0:
        notes.append(
            f"{outside:.1%} of the site lies outside the analysed area; statistics and "
            "verdicts cover the analysed part only"
        )
    touched: dict[str, list[str]] = {}
    if by_unit:
        if red:
            touched["redline"] = [o.key for o in red]
        if parks:
            touched["national_park"] = [o.key for o in parks]
        for o in by_unit:
            touched.setdefault(_CLASS_SCOPE[int(o.extra["unit_class"])], []).append(o.key)
    zstats = []
    if zonal and ctx.rasters:
        area_geom = site_al if kind == "area_km2" else buffer_al
        if area_geom is not None:
            if kind != "area_km2":
                notes.append("zonal statistics are over the buffer (the site has no area)")
            zstats = zonal_stats(area_geom, ctx.rasters, crs=ALBERS_CHINA)
        else:
            notes.append("no zonal statistics: the site has no area; give buffer_m > 0")
    prox = _proximity(ctx, site_al, buffer_al) if buffer_al is not None else []
    length_km = float(site_al.length) / 1e3 if kind == "length_km" else 0.0
    return ScreeningResult(
        site_id=site_id if site_id is not None else p.id,
        site=SiteInfo(
            geometry=shapely.geometry.mapping(p.geometry),
            geometry_type=p.geometry.geom_type,
            area_km2=float(site_al.area) / 1e6,
            length_km=length_km,
            buffer_m=float(buffer_m),
            input_crs=p.input_crs,
            notes=list(p.notes),
        ),
        run=ctx.run,
        inside_analysed_area=bool(by_unit),
        outside_share=outside,
        by_class=by_class,
        by_unit=by_unit,
        redline=red,
        national_parks=parks,
        battles=battles,
        zonal=zstats,
        proximity=prox,
        verdicts=verdicts(touched, types, rules=rs),
        notes=notes,
        map=_map_data(ctx, site_al, buffer_al) if map_data else None,
    )


# --------------------------------------------------------------------------- batch


def _iter_sites(
    sites: Any, *, id_field: str | None, wkt_column: str, crs: str | int | None
) -> Iterator[tuple[str, Any, str | int | None]]:
    """Yield ``(site id, geometry, crs)`` for every site of a batch input."""
    from .io import read_vector

    if isinstance(sites, str | Path) and not str(sites).lstrip().startswith("{"):
        path = Path(sites)
        if path.suffix.lower() in (".csv", ".txt"):
            if not path.exists():
                from .errors import DataSourceError

                raise DataSourceError(f"{path.name}: file not found")
            sites = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            sites = read_vector(path)
    if isinstance(sites, pd.DataFrame):
        geo = hasattr(sites, "geometry") and getattr(sites, "_geometry_column_name", None)
        if geo:
            gcrs = crs
            if sites.crs is not None:
                sites = sites.to_crs(4490)
                gcrs = "cgcs2000" if crs in (None, "wgs84", "cgcs2000", 4326, 4490) else crs
            for n, (i, row) in enumerate(sites.iterrows()):
                yield _row_id(row, id_field, n, i), row.geometry, gcrs
            return
        if wkt_column not in sites.columns:
            raise InvalidInput(
                f"the table has no {wkt_column!r} column with WKT geometries; columns: "
                f"{', '.join(map(str, sites.columns))}"
            )
        for n, (i, row) in enumerate(sites.iterrows()):
            yield _row_id(row, id_field, n, i), row[wkt_column], crs
        return
    for n, (fid, geom, props) in enumerate(iter_features(sites)):
        sid = str(props[id_field]) if id_field and id_field in props else fid
        yield (sid if sid is not None else str(n)), geom, crs


def _row_id(row: Any, id_field: str | None, n: int, index: Any) -> str:
    for f in (id_field, "id", "site_id"):
        if f and f in row.index and str(row[f]) != "":
            return str(row[f])
    return str(n)


def summary_row(result: ScreeningResult) -> dict[str, Any]:
    """One flat row (for a DataFrame or CSV) summarising a :class:`ScreeningResult`."""
    share = {o.key: o.share for o in result.by_class}
    row: dict[str, Any] = {
        "site_id": result.site_id,
        "ok": True,
        "error_type": None,
        "error": None,
        "geometry_type": result.site.geometry_type,
        "area_km2": result.site.area_km2,
        "length_km": result.site.length_km,
        "inside_analysed_area": result.inside_analysed_area,
        "outside_share": result.outside_share,
        "share_priority": share.get("1", 0.0),
        "share_key": share.get("2", 0.0),
        "share_general": share.get("3", 0.0),
        "redline_share": sum(o.share for o in result.redline),
        "redline_types": ",".join(o.key for o in result.redline),
        "unit_codes": ",".join(o.key for o in result.by_unit),
        "national_parks": ",".join(o.key for o in result.national_parks),
        "battles": ",".join(o.key for o in result.battles),
        "within_buffer": len(result.proximity),
    }
    for v in result.verdicts:
        row[f"verdict_{v.project_type}"] = v.verdict
    row["notes"] = "; ".join(result.notes)
    return row


def screen_batch(
    ctx: QueryContext,
    sites: Any,
    *,
    buffer_m: float = 0.0,
    project_type: str | Sequence[str] | None = None,
    crs: str | int | None = "wgs84",
    swap: SwapPolicy = "auto",
    id_field: str | None = None,
    wkt_column: str = "wkt",
    zonal: bool = False,
    rules: ComplianceRules | str | Path | Mapping[str, Any] | None = None,
    max_sites: int = 10_000,
) -> pd.DataFrame:
    """Screen many sites; one row per site, errors in the row (``ok``, ``error_type``, ``error``).

    Parameters
    ----------
    sites : GeoJSON FeatureCollection (dict or string), path, DataFrame or GeoDataFrame
        A vector file (any format :func:`geoeco.io.read_vector` reads; reprojected to
        CGCS2000 when it has a CRS), a CSV with a ``wkt_column``, or frames of the same.
    id_field : str, optional
        Property/column holding the site id (default ``id``/``site_id``, else the row number).
    zonal : bool
        Also compute zonal statistics (off by default: the row has no column for them).

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`summary_row`, including ``verdict_<type>`` per project type.
    """
    from .errors import OversizeRequest

    rs = load_compliance(rules)  # type: ignore[arg-type]
    types = [project_type] if isinstance(project_type, str) else list(project_type or [])
    for t in types:
        rs.project(t)
    rows = []
    for n, (sid, geom, gcrs) in enumerate(
        _iter_sites(sites, id_field=id_field, wkt_column=wkt_column, crs=crs)
    ):
        if n >= max_sites:
            raise OversizeRequest(f"a batch holds at most {max_sites} sites")
        try:
            if geom is None or (isinstance(geom, float) and math.isnan(geom)) or geom == "":
                from .errors import EmptyArea

                raise EmptyArea("the site has no geometry")
            res = screen_site(
                ctx,
                geom,
                buffer_m=buffer_m,
                project_type=types or None,
                crs=gcrs,
                swap=swap,
                rules=rs,
                zonal=zonal,
                map_data=False,
                site_id=sid,
            )
            rows.append(summary_row(res))
        except (GeoecoError, ValueError, shapely.errors.GEOSException) as exc:
            rows.append(
                {"site_id": sid, "ok": False, "error_type": type(exc).__name__, "error": str(exc)}
            )
    cols = list(summary_row(_empty_result(rs, types)).keys())
    return pd.DataFrame(rows, columns=cols)


def _empty_result(rs: ComplianceRules, types: Sequence[str]) -> ScreeningResult:
    return ScreeningResult(
        site=SiteInfo(
            geometry={}, geometry_type="", area_km2=0, length_km=0, buffer_m=0, input_crs=""
        ),
        inside_analysed_area=False,
        outside_share=1.0,
        verdicts=verdicts({}, types or None, rules=rs),
    )


__all__ = [
    "MAX_BUFFER_M",
    "SCOPES",
    "ComplianceRule",
    "ComplianceRules",
    "ProjectType",
    "load_compliance",
    "project_types",
    "screen_batch",
    "screen_site",
    "summary_row",
    "verdicts",
]
