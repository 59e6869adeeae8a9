"""Exact vector mode of the zoning overlay: the same rules evaluated with shapely on polygons.

:func:`compute_zones_vector` does what :func:`geoeco.zoning.overlay.run.compute_zones` does, on
polygon layers, for small areas and for checking the raster mode. Inputs are bound and
validated by the same code as in raster mode (CRS, ``select``, class ``column`` and code range,
overlap). Patches are polygon parts, so corner contact does not join them (unlike the
8-connected raster patches), and holes are interior rings. It returns polygons with
``zone_class`` and ``redline`` and the class areas, but no flags.

Examples
--------
The three pixels of the :mod:`geoeco.zoning.overlay.run` example as 1 km² squares: the first is
red line (importance class 3, code 11), the second key control (erosion class 4), the third
general.

>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> from geoeco.core.crs import ALBERS_CHINA
>>> from geoeco.zoning.rules import parse_rule_set
>>> rs = parse_rule_set({"name": "tiny", "version": "1", "title_en": "tiny",
...     "inputs": {"imp": {"table": "CumShare(0.5,0.8)"}, "ero": {"table": "SL190-2007/water"}},
...     "redline": {"reasons": [{"input": "imp", "min_class": 3, "code": 11}]},
...     "key": {"criteria": [{"input": "ero", "min_class": 3}]}})
>>> sq = [box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(2000, 0, 3000, 1000)]
>>> imp = gpd.GeoDataFrame({"c": [3, 1, 1]}, geometry=sq, crs=ALBERS_CHINA)
>>> ero = gpd.GeoDataFrame({"c": [1, 4, 1]}, geometry=sq, crs=ALBERS_CHINA)
>>> res = compute_zones_vector(rs, {"imp": LayerInput(imp, column="c"),
...     "ero": LayerInput(ero, column="c")}, crs=ALBERS_CHINA)
>>> res.frame.zone_class.tolist(), res.frame.redline.tolist(), res.frame.area_km2.tolist()
([1, 2, 3], [11, 0, 0], [1.0, 1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from geoeco.core.errors import EmptyArea, InvalidInput
from geoeco.core.raster import Grid
from geoeco.zoning.rules import ClassInput, Criterion, MaskInput, RuleSet, load_rule_set

from .inputs import (
    LayerInput,
    _aoi_geometry,
    _as_layer_input,
    _bind_frame,
    _Bound,
    _common,
    _is_frame,
    _used_inputs,
)

#: A red-line code (LXBM) and the polygons that give it, or one red-line patch and its code.
_Coded = tuple[int, Any]


@dataclass(frozen=True)
class VectorAreas:
    """Area (km²) of each zone class, zoned in total, and left unzoned because an input had no
    data there."""

    priority: float
    key: float
    general: float
    zoned: float
    nodata: float

    def to_dict(self) -> dict[str, float]:
        """The ``area_km2`` record of the summary."""
        return {
            "priority": self.priority,
            "key": self.key,
            "general": self.general,
            "zoned": self.zoned,
            "nodata": self.nodata,
        }


@dataclass(frozen=True)
class VectorSummary:
    """The rule set, class areas and red-line area (km²) by code (LXBM) of a vector run."""

    rule_set: dict[str, Any]
    area_km2: VectorAreas
    redline_km2: dict[int, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary."""
        return {
            "rule_set": self.rule_set,
            "area_km2": self.area_km2.to_dict(),
            "redline_km2": dict(self.redline_km2),
        }


@dataclass(frozen=True)
class VectorZoning:
    """Outputs of :func:`compute_zones_vector`: polygons by class and red-line code."""

    frame: Any  # GeoDataFrame: zone_class, redline, area_km2, geometry
    summary: VectorSummary


def compute_zones_vector(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    *,
    crs: Any,
    aoi: Any = None,
) -> VectorZoning:
    """Exact polygon version of :func:`~geoeco.zoning.overlay.run.compute_zones` for small areas
    (all inputs polygons).

    Class inputs must be :class:`LayerInput` with a ``column``. Areas are planar in ``crs``
    (use ALBERS_CHINA). Patches are polygon parts; holes are interior rings. Without ``aoi`` the
    extent is the union of the class inputs.
    """
    rs = load_rule_set(rules)
    frames, extra_prot, extra_dev = _bind_polygons(rs, layers, crs)
    ev = _Evidence(frames, aoi, crs)
    red, patches, unknown = _red_line(rs, ev, extra_prot)
    p_true = red
    for c in rs.priority.criteria:
        if c.input in frames:
            t, u = ev.criterion(c)
            p_true = p_true.union(t)
            unknown.append(u)
    p_true = p_true.union(ev.masks([m for m in rs.priority.masks if m in frames]))
    p_unknown = shapely.union_all(unknown).difference(p_true) if unknown else shapely.Polygon()
    rest = ev.area.difference(p_true).difference(p_unknown)
    k_true, k_unknown = _key_control(rs, ev, rest, extra_dev)
    general = rest.difference(k_true).difference(k_unknown)
    rows = [(1, code, g) for code, g in patches]
    rows += [(1, 0, p_true.difference(red)), (2, 0, k_true), (3, 0, general)]
    frame = _zone_frame(rows, crs)
    nodata_km2 = p_unknown.area / 1e6 + k_unknown.area / 1e6
    return VectorZoning(frame=frame, summary=_vector_summary(rs, frame, nodata_km2))


def _bind_polygons(
    rs: RuleSet, layers: Mapping[str, Any], crs: Any
) -> tuple[dict[str, _Bound], list[str], list[str]]:
    """The polygon inputs the rules use, bound in ``crs``, and the extra layers joining the red
    line (role protected) and key control (role development)."""
    used = _used_inputs(rs, layers)
    extra = sorted(set(layers) - set(rs.inputs))
    extra_prot = [n for n in extra if _as_layer_input(layers[n]).role in rs.redline.protected.roles]
    extra_dev = [n for n in extra if _as_layer_input(layers[n]).role in rs.key.roles]
    frames: dict[str, _Bound] = {}
    for n in sorted(used & set(layers)) + extra_prot + extra_dev:
        li = _as_layer_input(layers[n])
        if not _is_frame(li.data):
            raise InvalidInput(f"vector mode: input {n!r} must be a GeoDataFrame")
        frames[n] = _vector_bound(n, li, rs.inputs.get(n, MaskInput()), crs)
    return frames, extra_prot, extra_dev


def _union(gdf: Any) -> Any:
    """The union of a frame's polygons (an empty polygon for an empty frame)."""
    return shapely.union_all(gdf.geometry.values) if len(gdf) else shapely.Polygon()


class _Evidence:
    """The bound polygon inputs over the extent zoned: the AOI, else the union of the class
    inputs (:class:`~geoeco.core.errors.EmptyArea` if that is empty)."""

    def __init__(self, frames: dict[str, _Bound], aoi: Any, crs: Any) -> None:
        self.frames = frames
        self.cover = {n: _union(b.frame) for n, b in frames.items() if b.kind == "class"}
        if aoi is None:
            self.area = shapely.union_all(list(self.cover.values()))
        else:
            self.area = _aoi_geometry(aoi, _WORLD(crs))
        if self.area.is_empty:
            raise EmptyArea("the area of interest is empty")

    def criterion(self, c: Criterion) -> tuple[Any, Any]:
        """``(true, unknown)`` polygons of a threshold criterion inside the extent."""
        b = self.frames[c.input]
        v = b.frame[b.column].to_numpy()
        top = c.max_class if c.max_class is not None else 255
        t = _union(b.frame[(v >= c.min_class) & (v <= top)])
        return t.intersection(self.area), self.area.difference(self.cover[c.input])

    def masks(self, names: Sequence[str]) -> Any:
        """The union of mask inputs inside the extent."""
        gs = [_union(self.frames[n].frame) for n in names if n in self.frames]
        return shapely.union_all(gs).intersection(self.area) if gs else shapely.Polygon()


def _red_line(
    rs: RuleSet, ev: _Evidence, extra_prot: list[str]
) -> tuple[Any, list[_Coded], list[Any]]:
    """The cleaned red line, its patches with their codes, and where the red-line reasons are
    unknown (one geometry per reason)."""
    reasons: list[_Coded] = []
    unknown = []
    for r in rs.redline.reasons:
        if r.input in ev.frames:
            t, u = ev.criterion(r)
            reasons.append((r.code, t))
            unknown.append(u)
    prot = rs.redline.protected
    protected = ev.masks([n for n in prot.inputs if n in ev.frames] + extra_prot)
    cand = shapely.union_all([t for _, t in reasons] + [protected])
    red = _clean_polygons(cand, rs.redline.min_patch_km2 * 1e6, rs.redline.max_hole_km2 * 1e6)
    voters = reasons + ([(prot.code, protected)] if prot.mode == "fixed" else [])
    return red, _patch_codes(red, voters, prot.code), unknown


def _patch_codes(red: Any, voters: list[_Coded], fallback: int) -> list[_Coded]:
    """Each polygon patch of ``red`` with the code covering most of it (ties: the code listed
    first); ``fallback`` where no voter covers it."""
    order = list(dict.fromkeys(code for code, _ in voters))
    patches = []
    for part in shapely.get_parts(red):
        if part.geom_type != "Polygon":
            continue
        votes = dict.fromkeys(order, 0.0)
        for code, g in voters:
            votes[code] += part.intersection(g).area
        best = max(order, key=lambda c: (votes[c], -order.index(c))) if order else None
        patches.append((best if best is not None and votes[best] > 0 else fallback, part))
    return patches


def _key_control(rs: RuleSet, ev: _Evidence, rest: Any, extra_dev: list[str]) -> tuple[Any, Any]:
    """Key control, true and unknown, within ``rest`` (the extent outside priority)."""
    k_t, k_u = [], []
    for c in rs.key.criteria:
        if c.input in ev.frames:
            t, u = ev.criterion(c)
            k_t.append(t)
            k_u.append(u)
    dev = ev.masks([m for m in rs.key.masks if m in ev.frames] + extra_dev)
    k_true = shapely.union_all(k_t + [dev]).intersection(rest)
    k_unknown = (
        shapely.union_all(k_u).intersection(rest).difference(k_true) if k_u else shapely.Polygon()
    )
    return k_true, k_unknown


def _zone_frame(rows: list[tuple[int, int, Any]], crs: Any) -> Any:
    """``(zone class, red-line code, geometry)`` rows as a GeoDataFrame, dissolved by class and
    code, with ``area_km2`` (planar in ``crs``); empty rows left out."""
    import geopandas as gpd

    rows = [(z, c, g) for z, c, g in rows if not g.is_empty and g.area > 0]
    frame = gpd.GeoDataFrame(
        {"zone_class": [r[0] for r in rows], "redline": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=crs,
    )
    frame = frame.dissolve(by=["zone_class", "redline"], as_index=False)
    frame["area_km2"] = frame.geometry.area / 1e6
    return frame


def _vector_summary(rs: RuleSet, frame: Any, nodata_km2: float) -> VectorSummary:
    """Class areas and red-line areas by code of the zone frame."""
    areas = frame.groupby("zone_class")["area_km2"].sum()
    red = frame[frame.redline > 0].groupby("redline")["area_km2"].sum()
    return VectorSummary(
        rule_set=rs.describe(),
        area_km2=VectorAreas(
            priority=float(areas.get(1, 0.0)),
            key=float(areas.get(2, 0.0)),
            general=float(areas.get(3, 0.0)),
            zoned=float(areas.sum()),
            nodata=float(nodata_km2),
        ),
        redline_km2={int(k): float(v) for k, v in red.items()},
    )


def _vector_bound(n: str, li: LayerInput, spec: ClassInput | MaskInput, crs: Any) -> _Bound:
    return _bind_frame(n, li, spec, _WORLD(crs), _common(n, li, spec))


def _WORLD(crs: Any) -> Grid:  # noqa: N802 - a grid covering any projected extent
    return Grid.from_bounds((-1e9, -1e9, 1e9, 1e9), 1e6, crs)


def _clean_polygons(geom: Any, min_area: float, max_hole: float) -> Any:
    """Parts of ``geom`` of at least ``min_area``; interior rings up to ``max_hole`` filled."""
    keep = []
    for part in shapely.get_parts(shapely.make_valid(geom)):
        if part.geom_type != "Polygon" or part.area < min_area - 1e-6:
            continue
        rings = [r for r in part.interiors if shapely.Polygon(r).area > max_hole + 1e-6]
        keep.append(shapely.Polygon(part.exterior, rings))
    return shapely.union_all(keep) if keep else shapely.Polygon()


__all__ = ["VectorAreas", "VectorSummary", "VectorZoning", "compute_zones_vector"]
