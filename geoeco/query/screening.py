"""Site screening: overlaps, zonal statistics, proximity and compliance verdicts for a site.

:func:`screen_site` answers, for one geometry on an opened zoning run
(:class:`~geoeco.query.point.QueryContext`):

* **Overlaps** of the site's footprint with control units (per unit and per class), red-line
  types (LXBM), national parks and battle areas: equal-area km² and share of the site
  (:data:`~geoeco.core.crs.ALBERS_CHINA`); a line site is measured in km of length, a point site
  in points. The share outside every unit is ``outside_share``. Overlaps under 1 m² (1 m for
  lines) are slivers of shared edges and are ignored (:data:`SLIVER`), so a site drawn along a
  unit's boundary does not "touch" the neighbour.
* **Zonal statistics** of every raster of the run with exact coverage fractions
  (:func:`geoeco.query.zonal.zonal_stats`) over the footprint, or over the buffer when the
  footprint has no area (a point or a line). For sites above :data:`PARALLEL_KM2` the
  overlaps are computed in a worker thread meanwhile (GEOS releases the GIL), with the same
  answer.
* **Proximity** (IBAT style): every unit, red-line patch, national park and battle area within
  ``buffer_m`` of the footprint, with its distance (0 when it overlaps).
* **Verdicts** per project type from structured rules (``geoeco/data/compliance.toml``, see
  its header for sources and tags): each scope the footprint touches (red line, national park,
  unit class priority/key/general) gives ``allowed`` < ``conditional`` < ``restricted`` <
  ``forbidden`` with reasons and the access-list text beside it; the project's verdict is the
  most severe. A site outside the analysed area gets no verdict (``None``) and a note.

:func:`screen_batch` screens many sites (GeoJSON FeatureCollection, vector file, CSV or
DataFrame with WKT) into one row per site; a bad site's error is reported in its row.
:func:`iter_screenings` yields the same sites' full results one by one (for a report of every
site, :func:`geoeco.query.report.render_batch_report`).

The compliance rules and verdicts live in :mod:`geoeco.query.compliance` and the overlap,
proximity and map helpers in :mod:`geoeco.query.overlaps`.

Examples
--------
>>> from geoeco.query.compliance import project_types
>>> rules = load_compliance()
>>> project_types(rules)[:3]
['industry', 'mining', 'wind_energy']
>>> rules.rule("redline", "linear_infrastructure").verdict
'restricted'
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import shapely

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import GeoecoError, InvalidInput, OversizeRequest
from geoeco.core.geometry import (
    MAX_AREA_KM2,
    MAX_VERTICES,
    ParsedGeometry,
    SwapPolicy,
    iter_features,
    parse_geometry,
    to_albers,
)

from .compliance import (
    _CLASS_SCOPE,
    ComplianceRules,
    load_compliance,
    verdicts,
)
from .context import OUTSIDE, QueryContext
from .models import Measure, Overlap, ScreeningResult, SiteInfo, ZonalStat
from .overlaps import (
    _feature_overlaps,
    _kind,
    _map_data,
    _measure,
    _overlaps,
    _proximity,
    _redline_overlaps,
    _unit_overlaps,
)
from .zonal import zonal_stats

#: Largest buffer accepted (metres).
MAX_BUFFER_M = 50_000.0


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
        The opened run (:meth:`geoeco.query.point.QueryContext.open`).
    geometry : GeoJSON, WKT or shapely
        The site (:func:`geoeco.core.geometry.parse_geometry`).
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
    rs = load_compliance(rules)
    types = [project_type] if isinstance(project_type, str) else project_type
    for t in types or []:
        rs.project(t)
    p, site_al, buffer_al = _footprint(
        geometry, buffer_m, crs=crs, swap=swap, max_vertices=max_vertices, max_area_km2=max_area_km2
    )
    kind = _kind(site_al)
    ov, zstats, zonal_notes = _overlaps_and_zonal(ctx, site_al, buffer_al, kind, zonal)
    notes = list(p.notes) + ov.notes() + zonal_notes
    return ScreeningResult(
        site_id=site_id if site_id is not None else p.id,
        site=SiteInfo(
            geometry=shapely.geometry.mapping(p.geometry),
            geometry_type=p.geometry.geom_type,
            area_km2=float(site_al.area) / 1e6,
            length_km=float(site_al.length) / 1e3 if kind == "length_km" else 0.0,
            buffer_m=float(buffer_m),
            input_crs=p.input_crs,
            notes=list(p.notes),
        ),
        run=ctx.run,
        inside_analysed_area=bool(ov.by_unit),
        outside_share=ov.outside,
        coverage_share=round(1.0 - ov.outside, 6),
        coverage_missing_km2=ov.missing_km2(site_al, kind),
        by_class=ov.by_class,
        by_unit=ov.by_unit,
        redline=ov.redline,
        national_parks=ov.parks,
        battles=ov.battles,
        zonal=zstats,
        proximity=_proximity(ctx, site_al, buffer_al) if buffer_al is not None else [],
        verdicts=verdicts(ov.touched(), types, rules=rs),
        notes=notes,
        map=_map_data(ctx, site_al, buffer_al) if map_data else None,
    )


def _footprint(
    geometry: Any,
    buffer_m: float,
    *,
    crs: str | int | None,
    swap: SwapPolicy,
    max_vertices: int | None,
    max_area_km2: float | None,
) -> tuple[ParsedGeometry, Any, Any | None]:
    """The parsed site, its footprint in Albers metres and the buffer around it (``None`` for
    ``buffer_m = 0``); the buffer's area must stay under ``max_area_km2`` too."""
    if not (isinstance(buffer_m, int | float) and 0 <= buffer_m <= MAX_BUFFER_M):
        raise InvalidInput(f"buffer_m must be between 0 and {MAX_BUFFER_M:g} m, got {buffer_m!r}")
    p = parse_geometry(
        geometry, crs=crs, swap=swap, max_vertices=max_vertices, max_area_km2=max_area_km2
    )
    site_al = to_albers(p.geometry)
    buffer_al = site_al.buffer(buffer_m, quad_segs=16) if buffer_m > 0 else None
    if buffer_al is not None and max_area_km2 is not None and buffer_al.area / 1e6 > max_area_km2:
        raise OversizeRequest(
            f"the site with its {buffer_m:g} m buffer covers {buffer_al.area / 1e6:,.0f} km²; "
            f"at most {max_area_km2:,.0f} km² are accepted"
        )
    return p, site_al, buffer_al


@dataclass(frozen=True)
class _SiteOverlaps:
    """What the site's footprint overlaps: units (by class and one by one), the share outside
    every unit, red-line types, national parks and battle areas."""

    by_class: list[Overlap]
    by_unit: list[Overlap]
    outside: float
    redline: list[Overlap]
    parks: list[Overlap]
    battles: list[Overlap]

    @classmethod
    def of(cls, ctx: QueryContext, site_al: Any, kind: Measure) -> _SiteOverlaps:
        """The overlaps of ``site_al`` (Albers metres; ``kind`` says how it is measured)."""
        total = float(_measure(site_al, kind))
        by_class, by_unit = _unit_overlaps(ctx, _overlaps(ctx.units, site_al, kind, total), kind)
        outside = max(0.0, 1.0 - sum(o.share for o in by_unit))
        return cls(
            by_class=by_class,
            by_unit=by_unit,
            outside=0.0 if outside < 1e-9 else outside,
            redline=_redline_overlaps(ctx, site_al, kind, total),
            parks=_feature_overlaps(ctx.parks, _overlaps(ctx.parks, site_al, kind, total), kind),
            battles=_feature_overlaps(
                ctx.battles, _overlaps(ctx.battles, site_al, kind, total), kind
            ),
        )

    def missing_km2(self, site_al: Any, kind: Measure) -> dict[str, float]:
        """The area of an areal site outside the run (``{}`` when none, or not areal)."""
        if kind != "area_km2" or self.outside <= 0:
            return {}
        return {"zoning run": round(self.outside * float(site_al.area) / 1e6, 6)}

    def notes(self) -> list[str]:
        """What a reader must know: the site is outside the run, or partly."""
        if not self.by_unit:
            return [f"{OUTSIDE}: the site overlaps no control unit of this run"]
        if self.outside > 0:
            return [
                f"{self.outside:.1%} of the site lies outside the analysed area; statistics and "
                "verdicts cover the analysed part only"
            ]
        return []

    def touched(self) -> dict[str, list[str]]:
        """The compliance scopes the site touches (red line, national park, unit classes),
        each with the keys of what it touches; nothing outside the analysed area."""
        touched: dict[str, list[str]] = {}
        if self.by_unit:
            if self.redline:
                touched["redline"] = [o.key for o in self.redline]
            if self.parks:
                touched["national_park"] = [o.key for o in self.parks]
            for o in self.by_unit:
                touched.setdefault(_CLASS_SCOPE[int(o.extra["unit_class"])], []).append(o.key)
        return touched


#: Sites above this area (km²) compute their overlaps in a worker thread while the zonal
#: statistics run in the caller's (GEOS releases the GIL; a county: 0.23 s of work in 0.16 s).
PARALLEL_KM2 = 100.0
_POOL: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The worker threads of this process (made on first use; a forked child, which inherits
    the parent's pool but not its threads, makes its own)."""
    pid = os.getpid()
    with _POOL_LOCK:
        pool = _POOL.get(pid)
        if pool is None:
            _POOL.clear()
            pool = _POOL[pid] = ThreadPoolExecutor(2, thread_name_prefix="geoeco-screen")
        return pool


def _overlaps_and_zonal(
    ctx: QueryContext, site_al: Any, buffer_al: Any | None, kind: Measure, zonal: bool
) -> tuple[_SiteOverlaps, list[ZonalStat], list[str]]:
    """The site's overlaps, its zonal statistics (if ``zonal``) and the notes of the latter;
    a large areal site computes both at once (:data:`PARALLEL_KM2`)."""
    notes: list[str] = []
    if not zonal or not ctx.rasters or kind != "area_km2" or site_al.area / 1e6 < PARALLEL_KM2:
        ov = _SiteOverlaps.of(ctx, site_al, kind)
        return ov, _zonal(ctx, site_al, buffer_al, kind, notes) if zonal else [], notes
    own = shapely.from_wkb(shapely.to_wkb(site_al))  # the worker's own copy of the site
    job = _pool().submit(_SiteOverlaps.of, ctx, own, kind)
    try:
        zstats = _zonal(ctx, site_al, buffer_al, kind, notes)
    finally:
        ov = job.result()  # waits even when the zonal statistics failed: nothing left running
    return ov, zstats, notes


def _zonal(
    ctx: QueryContext, site_al: Any, buffer_al: Any | None, kind: Measure, notes: list[str]
) -> list[ZonalStat]:
    """Zonal statistics of the run's rasters over the footprint, or over the buffer of a site
    without area (``notes`` says so, or that there is neither)."""
    if not ctx.rasters:
        return []
    area_geom = site_al if kind == "area_km2" else buffer_al
    if area_geom is None:
        notes.append("no zonal statistics: the site has no area; give buffer_m > 0")
        return []
    if kind != "area_km2":
        notes.append("zonal statistics are over the buffer (the site has no area)")
    return zonal_stats(area_geom, ctx.rasters, crs=ALBERS_CHINA)


# --------------------------------------------------------------------------- batch


def _iter_sites(
    sites: Any, *, id_field: str | None, wkt_column: str, crs: str | int | None
) -> Iterator[tuple[str, Any, str | int | None]]:
    """Yield ``(site id, geometry, crs)`` for every site of a batch input."""
    from geoeco.core.io import read_vector

    if isinstance(sites, str | Path) and not str(sites).lstrip().startswith("{"):
        path = Path(sites)
        if path.suffix.lower() in (".csv", ".txt"):
            if not path.exists():
                from geoeco.core.errors import DataSourceError

                raise DataSourceError(f"{path.name}: file not found")
            sites = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            sites = read_vector(path)
    if isinstance(sites, pd.DataFrame):
        geo = hasattr(sites, "geometry") and getattr(sites, "_geometry_column_name", None)
        if geo:
            yield from _geo_rows(sites, id_field=id_field, crs=crs)
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


def _geo_rows(
    gdf: Any, *, id_field: str | None, crs: str | int | None
) -> Iterator[tuple[str, Any, str | int | None]]:
    """``(site id, geometry, crs)`` of every row of a GeoDataFrame; one with a CRS is
    reprojected to CGCS2000 lon-lat first."""
    gcrs = crs
    if gdf.crs is not None:
        gdf = gdf.to_crs(4490)
        gcrs = "cgcs2000" if crs in (None, "wgs84", "cgcs2000", 4326, 4490) else crs
    for n, (i, row) in enumerate(gdf.iterrows()):
        yield _row_id(row, id_field, n, i), row.geometry, gcrs


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
        "coverage_share": result.coverage_share,
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


@dataclass(frozen=True)
class SiteScreening:
    """One site of a batch: its id and its result, or the error that stopped it."""

    site_id: str
    result: ScreeningResult | None
    error_type: str | None = None
    error: str | None = None

    def row(self) -> dict[str, Any]:
        """The site's batch row (:func:`summary_row`, or its id and error)."""
        if self.result is not None:
            return summary_row(self.result)
        return {
            "site_id": self.site_id,
            "ok": False,
            "error_type": self.error_type,
            "error": self.error,
        }


def iter_screenings(
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
    map_data: bool = False,
    rules: ComplianceRules | str | Path | Mapping[str, Any] | None = None,
    max_sites: int = 10_000,
) -> Iterator[SiteScreening]:
    """Screen the sites of a batch one by one (arguments as :func:`screen_batch`'s;
    ``map_data`` keeps each result's map, for reports); a bad site yields its error."""
    rs = load_compliance(rules)
    types = [project_type] if isinstance(project_type, str) else list(project_type or [])
    for t in types:
        rs.project(t)
    for n, (sid, geom, gcrs) in enumerate(
        _iter_sites(sites, id_field=id_field, wkt_column=wkt_column, crs=crs)
    ):
        if n >= max_sites:
            raise OversizeRequest(f"a batch holds at most {max_sites} sites")
        try:
            if geom is None or (isinstance(geom, float) and math.isnan(geom)) or geom == "":
                from geoeco.core.errors import EmptyArea

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
                map_data=map_data,
                site_id=sid,
            )
            yield SiteScreening(sid, res)
        except (GeoecoError, ValueError, shapely.errors.GEOSException) as exc:
            yield SiteScreening(sid, None, type(exc).__name__, str(exc))


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
        A vector file (any format :func:`geoeco.core.io.read_vector` reads; reprojected to
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
    rs = load_compliance(rules)
    types = [project_type] if isinstance(project_type, str) else list(project_type or [])
    found = iter_screenings(
        ctx,
        sites,
        buffer_m=buffer_m,
        project_type=types,
        crs=crs,
        swap=swap,
        id_field=id_field,
        wkt_column=wkt_column,
        zonal=zonal,
        rules=rs,
        max_sites=max_sites,
    )
    return batch_table(found, types, rs)


def batch_table(
    sites: Iterable[SiteScreening],
    project_type: Sequence[str] = (),
    rules: ComplianceRules | None = None,
) -> pd.DataFrame:
    """The rows of ``sites`` as :func:`screen_batch` returns them (its columns, in order,
    with a ``verdict_<type>`` column per type of ``project_type``)."""
    rows = [s.row() for s in sites]
    cols = list(summary_row(_empty_result(rules or load_compliance(), project_type)).keys())
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
    "PARALLEL_KM2",
    "SiteScreening",
    "batch_table",
    "iter_screenings",
    "screen_batch",
    "screen_site",
    "summary_row",
]
