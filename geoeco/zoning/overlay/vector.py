"""Exact vector mode of the zoning overlay: the same rules evaluated with shapely on polygons.

:func:`compute_zones_vector` does what :func:`geoeco.zoning.overlay.run.compute_zones` does, on
polygon
layers, for small areas and for checking the raster mode. Inputs are bound and validated by the
same code as in raster mode (CRS, ``select``, class ``column`` and code range, overlap). Patches
are polygon parts, so corner contact does not join them (unlike the 8-connected raster
patches), and holes are interior rings. It returns polygons with ``zone_class`` and
``redline`` and the class areas, but no flags.

Examples
--------
The three pixels of the :mod:`geoeco.zoning.overlay.run` example as 1 km² squares: the first is red
line
(importance class 3, code 11), the second key control (erosion class 4), the third general.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import shapely

from geoeco.core.errors import EmptyArea, InvalidInput, LayerNotFound
from geoeco.core.raster import Grid
from geoeco.zoning.rules import ClassInput, Criterion, MaskInput, RuleSet, load_rule_set

from .inputs import LayerInput, _aoi_geometry, _as_layer_input, _bind_frame, _Bound, _is_frame


@dataclass(frozen=True)
class VectorZoning:
    """Outputs of :func:`compute_zones_vector`: polygons by class and red-line code."""

    frame: Any  # GeoDataFrame: zone_class, redline, area_km2, geometry
    summary: dict[str, Any]


def compute_zones_vector(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    *,
    crs: Any,
    aoi: Any = None,
) -> VectorZoning:
    """Exact polygon version of :func:`compute_zones` for small areas (all inputs polygons).

    Class inputs must be :class:`LayerInput` with a ``column``. Areas are planar in ``crs``
    (use ALBERS_CHINA). Patches are polygon parts; holes are interior rings. Without ``aoi`` the
    extent is the union of the class inputs.
    """
    import geopandas as gpd

    rs = load_rule_set(rules)
    frames: dict[str, _Bound] = {}
    used = set().union(*rs.referenced_inputs().values())
    missing = [n for n in sorted(used) if n not in layers and rs.inputs[n].required]
    if missing:
        raise LayerNotFound(
            f"rule set {rs.name!r} needs input(s) {', '.join(missing)}; given: "
            f"{', '.join(sorted(layers)) or 'none'}"
        )
    extra = sorted(set(layers) - set(rs.inputs))
    extra_prot = [n for n in extra if _as_layer_input(layers[n]).role in rs.redline.protected.roles]
    extra_dev = [n for n in extra if _as_layer_input(layers[n]).role in rs.key.roles]
    for n in sorted(used & set(layers)) + extra_prot + extra_dev:
        li = _as_layer_input(layers[n])
        if not _is_frame(li.data):
            raise InvalidInput(f"vector mode: input {n!r} must be a GeoDataFrame")
        frames[n] = _vector_bound(n, li, rs.inputs.get(n, MaskInput()), crs)

    def union(gdf: Any) -> Any:
        return shapely.union_all(gdf.geometry.values) if len(gdf) else shapely.Polygon()

    cover = {n: union(b.frame) for n, b in frames.items() if b.kind == "class"}
    if aoi is None:
        area = shapely.union_all(list(cover.values()))
    else:
        area = _aoi_geometry(aoi, _WORLD(crs))
    if area.is_empty:
        raise EmptyArea("the area of interest is empty")

    def crit(c: Criterion) -> tuple[Any, Any]:
        b = frames[c.input]
        v = b.frame[b.column].to_numpy()
        top = c.max_class if c.max_class is not None else 255
        t = union(b.frame[(v >= c.min_class) & (v <= top)])
        return t.intersection(area), area.difference(cover[c.input])

    def masks(names: list[str]) -> Any:
        gs = [union(frames[n].frame) for n in names if n in frames]
        return shapely.union_all(gs).intersection(area) if gs else shapely.Polygon()

    reasons, unknown = [], []
    for r in rs.redline.reasons:
        if r.input in frames:
            t, u = crit(r)
            reasons.append((r.code, t))
            unknown.append(u)
    prot_names = [n for n in rs.redline.protected.inputs if n in frames] + extra_prot
    protected = masks(prot_names)
    cand = shapely.union_all([t for _, t in reasons] + [protected])
    red = _clean_polygons(cand, rs.redline.min_patch_km2 * 1e6, rs.redline.max_hole_km2 * 1e6)
    voters = list(reasons)
    if rs.redline.protected.mode == "fixed":
        voters.append((rs.redline.protected.code, protected))
    order = list(dict.fromkeys(c for c, _ in voters))
    patches = []
    for part in shapely.get_parts(red):
        if part.geom_type != "Polygon":
            continue
        votes = dict.fromkeys(order, 0.0)
        for c, g in voters:
            votes[c] += part.intersection(g).area
        best = max(order, key=lambda c: (votes[c], -order.index(c))) if order else None
        code = best if best is not None and votes[best] > 0 else rs.redline.protected.code
        patches.append((code, part))
    p_true = red
    for c in rs.priority.criteria:
        if c.input in frames:
            t, u = crit(c)
            p_true = p_true.union(t)
            unknown.append(u)
    p_true = p_true.union(masks([m for m in rs.priority.masks if m in frames]))
    p_unknown = shapely.union_all(unknown).difference(p_true) if unknown else shapely.Polygon()
    rest = area.difference(p_true).difference(p_unknown)
    k_t, k_u = [], []
    for c in rs.key.criteria:
        if c.input in frames:
            t, u = crit(c)
            k_t.append(t)
            k_u.append(u)
    dev = masks([m for m in rs.key.masks if m in frames] + extra_dev)
    k_true = shapely.union_all(k_t + [dev]).intersection(rest)
    k_unknown = (
        shapely.union_all(k_u).intersection(rest).difference(k_true) if k_u else shapely.Polygon()
    )
    general = rest.difference(k_true).difference(k_unknown)
    rows = [(1, code, g) for code, g in patches]
    rows.append((1, 0, p_true.difference(red)))
    rows += [(2, 0, k_true), (3, 0, general)]
    rows = [(z, c, g) for z, c, g in rows if not g.is_empty and g.area > 0]
    frame = gpd.GeoDataFrame(
        {"zone_class": [r[0] for r in rows], "redline": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=crs,
    )
    frame = frame.dissolve(by=["zone_class", "redline"], as_index=False)
    frame["area_km2"] = frame.geometry.area / 1e6
    areas = frame.groupby("zone_class")["area_km2"].sum()
    summary = {
        "rule_set": rs.describe(),
        "area_km2": {
            "priority": float(areas.get(1, 0.0)),
            "key": float(areas.get(2, 0.0)),
            "general": float(areas.get(3, 0.0)),
            "zoned": float(areas.sum()),
            "nodata": float(p_unknown.area / 1e6 + k_unknown.area / 1e6),
        },
        "redline_km2": {
            int(k): float(v)
            for k, v in frame[frame.redline > 0].groupby("redline")["area_km2"].sum().items()
        },
    }
    return VectorZoning(frame=frame, summary=summary)


def _vector_bound(n: str, li: LayerInput, spec: Any, crs: Any) -> _Bound:
    kind: Literal["class", "mask"] = "class" if isinstance(spec, ClassInput) else "mask"
    common = {
        "name": n,
        "kind": kind,
        "status": li.status,
        "n_classes": getattr(spec, "n_classes", None) or 255,
        "role": li.role,
        "version": li.version,
    }
    return _bind_frame(n, li, spec, _WORLD(crs), common)


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


__all__ = ["VectorZoning", "compute_zones_vector"]
