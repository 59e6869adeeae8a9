"""User geometries in: GeoJSON, WKT or shapely, checked, repaired and put into lon-lat.

:func:`parse_geometry` is the one door every query and screening input goes through:

* **Formats**: a GeoJSON geometry, Feature or FeatureCollection (as a dict or a JSON string;
  the features of a collection are united into one site), a shapely geometry, or WKT (also
  ``SRID=4490;POLYGON(...)``).
* **CRS**: ``wgs84`` (EPSG:4326), ``cgcs2000`` (EPSG:4490) or ``gcj02`` (the offset system of
  Amap/Tencent maps). GCJ-02 is converted to WGS 84 first (:func:`geoeco.core.crs.gcj02_to_wgs84`);
  WGS 84 and CGCS2000 differ by centimetres and are used interchangeably (see
  :mod:`geoeco.core.crs`). A legacy GeoJSON ``"crs"`` member naming EPSG:4326/4490 is honoured.
* **Swapped coordinates** (decision): with ``swap="auto"`` (the default) a geometry whose
  coordinates lie outside China's envelope (:data:`geoeco.core.crs.CHINA_BOUNDS`) but inside it
  once x and y are exchanged — e.g. "lon" 38, "lat" 109 — is swapped back and a note says so,
  because a latitude of 109 cannot be meant and a place in China read as (lat, lon) is the
  usual mistake. ``swap="error"`` raises :class:`~geoeco.core.errors.InvalidGeometry` instead, and
  ``swap="never"`` takes coordinates as given (latitudes beyond ±90 are still refused).
* **Invalid geometries** (e.g. a self-intersecting "bow-tie") are repaired with
  :func:`shapely.make_valid` and a note giving GEOS's reason (``repair=True``, the default),
  or refused with that reason (``repair=False``).
* **Limits**: more than ``max_vertices`` vertices or more than ``max_area_km2`` (equal-area)
  raise :class:`~geoeco.core.errors.OversizeRequest`; an empty geometry raises
  :class:`~geoeco.core.errors.EmptyArea`.

Examples
--------
>>> p = parse_geometry({"type": "Point", "coordinates": [38.2, 109.7]})
>>> p.geometry.wkt, p.swapped
('POINT (109.7 38.2)', True)
>>> p = parse_geometry("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))", swap="never")
>>> p.repaired, p.geometry.geom_type
(True, 'MultiPolygon')
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from .crs import ALBERS_CHINA, CGCS2000, in_china_envelope
from .errors import (
    CRSError,
    EmptyArea,
    InvalidGeometry,
    InvalidJSON,
    InvalidJSONValue,
    OversizeRequest,
)
from .json_input import check_json_value, loads_json

InputCRS = Literal["wgs84", "cgcs2000", "gcj02"]
SwapPolicy = Literal["auto", "error", "never"]

#: Default limits (documented in the API): vertices of one site, and its equal-area size.
MAX_VERTICES = 100_000
MAX_AREA_KM2 = 50_000.0
#: Densification step (degrees) before projecting, so lon-lat straight edges stay straight.
SEGMENT_DEG = 0.01

_CRS_ALIASES: dict[str, InputCRS] = {
    "wgs84": "wgs84",
    "wgs 84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "crs84": "wgs84",
    "ogc:crs84": "wgs84",
    "urn:ogc:def:crs:ogc:1.3:crs84": "wgs84",
    "urn:ogc:def:crs:epsg::4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "urn:ogc:def:crs:epsg::4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "mars": "gcj02",
}
_EWKT = re.compile(r"^\s*SRID=(\d+)\s*;\s*(.*)$", re.S | re.I)


def normalise_crs(crs: str | int | None) -> InputCRS:
    """Name of an accepted input CRS: ``wgs84``, ``cgcs2000`` or ``gcj02``.

    >>> normalise_crs("EPSG:4490"), normalise_crs(4326), normalise_crs("GCJ-02")
    ('cgcs2000', 'wgs84', 'gcj02')
    """
    if crs is None:
        return "wgs84"
    key = str(crs).strip().lower()
    if key in _CRS_ALIASES:
        return _CRS_ALIASES[key]
    raise CRSError(
        f"input CRS {crs!r} is not accepted; give longitude-latitude in WGS 84 (EPSG:4326), "
        "CGCS2000 (EPSG:4490) or GCJ-02 (gcj02)"
    )


@dataclass(frozen=True)
class ParsedGeometry:
    """A checked input geometry in WGS 84/CGCS2000 lon-lat, with what was done to it."""

    geometry: BaseGeometry
    input_crs: InputCRS = "wgs84"
    notes: tuple[str, ...] = ()
    swapped: bool = False
    repaired: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


# --------------------------------------------------------------------------- projection


@lru_cache(maxsize=4)
def _to_albers() -> Transformer:
    return Transformer.from_crs(CGCS2000, ALBERS_CHINA, always_xy=True)


@lru_cache(maxsize=4)
def _from_albers() -> Transformer:
    return Transformer.from_crs(ALBERS_CHINA, CGCS2000, always_xy=True)


def _apply(geom: Any, tr: Transformer) -> Any:
    def xy(c: np.ndarray) -> np.ndarray:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, xy)


def to_albers(geom: Any, *, densify: bool = True) -> Any:
    """Lon-lat geometry (scalar or array) to :data:`~geoeco.core.crs.ALBERS_CHINA` metres.

    Edges are first split every :data:`SEGMENT_DEG` degrees so that an edge straight in
    lon-lat (as GeoJSON means it) keeps its shape.
    """
    if densify:
        geom = shapely.segmentize(geom, SEGMENT_DEG)
    return _apply(geom, _to_albers())


def from_albers(geom: Any) -> Any:
    """:data:`~geoeco.core.crs.ALBERS_CHINA` geometry (scalar or array) back to lon-lat."""
    return _apply(geom, _from_albers())


def area_km2(geom: BaseGeometry) -> float:
    """Equal-area size of a lon-lat geometry in km².

    >>> round(area_km2(shapely.box(105, 38, 105.01, 38.01)), 3)
    0.975
    """
    return float(to_albers(geom).area) / 1e6


# --------------------------------------------------------------------------- parsing


#: GeoJSON geometry types (RFC 7946) and how deep their ``coordinates`` nest.
GEOMETRY_DEPTH: dict[str, int] = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}
#: Deepest nesting of GeometryCollections accepted (RFC 7946 advises against any nesting).
MAX_COLLECTION_NESTING = 4
_KINDS = ", ".join([*GEOMETRY_DEPTH, "GeometryCollection", "Feature", "FeatureCollection"])


def _crs_from_geojson(obj: Mapping[str, Any]) -> str | None:
    crs = obj.get("crs")
    if not isinstance(crs, Mapping):
        return None
    props = crs.get("properties")
    name = props.get("name") if isinstance(props, Mapping) else None
    return str(name) if name else None


def _check_positions(coords: Any, depth: int, where: str) -> None:
    """Check that ``coords`` nest ``depth`` levels down to positions of 2 or 3 numbers.

    The position arrays (the last two levels) are checked by one numpy conversion each, so
    a geometry of many vertices costs no Python loop per vertex.
    """
    if not isinstance(coords, list | tuple):
        raise InvalidGeometry(f"{where} must be an array, got {type(coords).__name__}")
    if depth > 2:
        for i, part in enumerate(coords):
            _check_positions(part, depth - 1, f"{where}[{i}]")
        return
    try:
        a = np.asarray(coords)
    except (TypeError, ValueError, OverflowError):
        a = None
    want = "a position [x, y]" if depth == 1 else "an array of positions [[x, y], ...]"
    ok = a is not None and (
        a.size == 0  # empty: EmptyArea later
        or (
            a.ndim == depth
            and a.shape[-1] in (2, 3)
            and a.dtype.kind in "iuf"
            and bool(np.isfinite(a).all())
        )
    )
    if not ok:
        raise InvalidGeometry(f"{where} must be {want} of finite numbers")


def geometry_from_geojson(obj: Any, *, where: str = "the geometry", _nesting: int = 0) -> Any:
    """A shapely geometry from a GeoJSON geometry object, checked first (type, structure).

    >>> geometry_from_geojson({"type": "LineString", "coordinates": [[110, 38], [111, 38]]}).wkt
    'LINESTRING (110 38, 111 38)'
    >>> geometry_from_geojson({"type": "Polygonn", "coordinates": []})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidGeometry: the geometry: unknown GeoJSON type 'Polygonn'; expected ...
    """
    if not isinstance(obj, Mapping):
        raise InvalidGeometry(f"{where} must be a GeoJSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind == "GeometryCollection":
        parts = obj.get("geometries")
        if not isinstance(parts, list | tuple):
            raise InvalidGeometry(f"{where}: a GeometryCollection needs a 'geometries' array")
        if _nesting >= MAX_COLLECTION_NESTING:
            raise InvalidGeometry(
                f"{where}: GeometryCollections nested more than {MAX_COLLECTION_NESTING} deep"
            )
        geoms = [
            geometry_from_geojson(g, where=f"{where}.geometries[{i}]", _nesting=_nesting + 1)
            for i, g in enumerate(parts)
        ]
        return shapely.GeometryCollection(geoms)
    if not isinstance(kind, str) or kind not in GEOMETRY_DEPTH:
        shown = repr(kind)[:60]
        raise InvalidGeometry(f"{where}: unknown GeoJSON type {shown}; expected one of {_KINDS}")
    _check_positions(obj.get("coordinates"), GEOMETRY_DEPTH[kind], f"{where}.coordinates")
    try:
        return shape({"type": kind, "coordinates": obj["coordinates"]})
    except (TypeError, ValueError, shapely.errors.ShapelyError) as exc:
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InvalidGeometry(f"{where}: not a valid {kind}: {msg}") from None


def _properties(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    props = obj.get("properties")
    if props is None:
        return {}
    if not isinstance(props, Mapping):
        raise InvalidGeometry(f"{where}.properties must be an object or null")
    try:
        check_json_value(props, what=f"{where}.properties")
    except InvalidJSONValue as exc:
        raise InvalidGeometry(f"{where}.properties.{exc}" if exc.field else str(exc)) from None
    return dict(props)


def _from_mapping(obj: Mapping[str, Any]) -> tuple[BaseGeometry, dict[str, Any], str | None]:
    kind = obj.get("type")
    if kind == "Feature":
        geom = obj.get("geometry")
        if geom is None:
            raise EmptyArea("the Feature has no geometry")
        props = _properties(obj, "the Feature")
        return geometry_from_geojson(geom, where="the Feature's geometry"), props, _id(obj)
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list | tuple):
            raise InvalidGeometry("a FeatureCollection needs a 'features' array")
        geoms = []
        for i, f in enumerate(feats):
            if not isinstance(f, Mapping):
                raise InvalidGeometry(f"features[{i}] is not a GeoJSON Feature object")
            if f.get("geometry") is not None:
                geoms.append(geometry_from_geojson(f["geometry"], where=f"features[{i}].geometry"))
        if not geoms:
            raise EmptyArea("the FeatureCollection has no geometry")
        return shapely.union_all(geoms) if len(geoms) > 1 else geoms[0], {}, None
    return geometry_from_geojson(obj), {}, None


def _id(feature: Mapping[str, Any]) -> str | None:
    fid = feature.get("id")
    return None if fid is None else str(fid)[:200]


def to_shapely(obj: Any) -> tuple[BaseGeometry, dict[str, Any], str | None, str | None]:
    """Read ``obj`` into ``(geometry, properties, feature id, CRS named by the input)``.

    >>> to_shapely("SRID=4490;POINT (110 38)")[0].wkt, to_shapely("SRID=4490;POINT (110 38)")[3]
    ('POINT (110 38)', '4490')
    """
    if isinstance(obj, BaseGeometry):
        return obj, {}, None, None
    if hasattr(obj, "__geo_interface__") and not isinstance(obj, str | bytes | Mapping):
        obj = obj.__geo_interface__
    if isinstance(obj, bytes):
        obj = obj.decode("utf-8")
    if isinstance(obj, str):
        text = obj.strip()
        if text.startswith("{"):
            obj = _json_geometry(text)
        else:
            srid = None
            m = _EWKT.match(text)
            if m:
                srid, text = m.group(1), m.group(2)
            try:
                return shapely.from_wkt(text), {}, None, srid
            except shapely.errors.GEOSException as exc:
                msg = str(exc).splitlines()[0][:200]
                raise InvalidGeometry(f"not GeoJSON or WKT: {msg}") from None
    if isinstance(obj, Mapping):
        geom, props, fid = _from_mapping(obj)
        return geom, props, fid, _crs_from_geojson(obj)
    raise InvalidGeometry(
        f"expected GeoJSON (dict or string), WKT or a shapely geometry, got {type(obj).__name__}"
    )


def _json_geometry(text: str | bytes) -> Any:
    """GeoJSON text parsed by the bounded reader (:func:`geoeco.core.json_input.loads_json`)."""
    try:
        return loads_json(text, what="the GeoJSON text")
    except (InvalidJSON, InvalidJSONValue) as exc:
        raise InvalidGeometry(str(exc)) from None


def _swap(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda c: c[:, ::-1].copy())


def _check_swap(geom: BaseGeometry, policy: SwapPolicy) -> tuple[BaseGeometry, bool, str | None]:
    xmin, ymin, xmax, ymax = geom.bounds
    if policy == "never":
        if ymin < -90 or ymax > 90 or xmin < -180 or xmax > 180:
            raise InvalidGeometry(
                f"coordinates out of range (x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}); "
                "give longitude first, then latitude"
            )
        return geom, False, None
    inside = bool(np.all(in_china_envelope([xmin, xmax], [ymin, ymax])))
    swapped_inside = bool(np.all(in_china_envelope([ymin, ymax], [xmin, xmax])))
    impossible = ymin < -90 or ymax > 90
    if not inside and (swapped_inside or impossible):
        if swapped_inside:
            msg = (
                f"coordinates look like (latitude, longitude): x {xmin:g}..{xmax:g}, "
                f"y {ymin:g}..{ymax:g} lie outside China but inside it when exchanged"
            )
            if policy == "error":
                raise InvalidGeometry(msg + "; give longitude first, then latitude")
            return _swap(geom), True, msg + "; longitude and latitude were swapped back"
        raise InvalidGeometry(
            f"latitude out of range (y {ymin:g}..{ymax:g}); give longitude first, then latitude"
        )
    if xmin < -180 or xmax > 180:
        raise InvalidGeometry(f"longitude out of range (x {xmin:g}..{xmax:g})")
    return geom, False, None


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """Keep the polygons of a repaired areal geometry (make_valid may add lines)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geom


def parse_geometry(
    obj: Any,
    *,
    crs: str | int | None = "wgs84",
    swap: SwapPolicy = "auto",
    repair: bool = True,
    max_vertices: int | None = MAX_VERTICES,
    max_area_km2: float | None = MAX_AREA_KM2,
) -> ParsedGeometry:
    """Parse, check and normalise a user geometry (see the module docstring).

    Parameters
    ----------
    obj : dict, str, shapely geometry
        GeoJSON (geometry, Feature, FeatureCollection), WKT/EWKT, or shapely.
    crs : str or int
        CRS of the coordinates: ``wgs84``/4326, ``cgcs2000``/4490 or ``gcj02``. A CRS named in
        the input itself (EWKT ``SRID=``, GeoJSON ``crs``) must agree with it or be the only one.
    swap : {"auto", "error", "never"}
        What to do with coordinates that look like (lat, lon).
    repair : bool
        Repair invalid geometries with :func:`shapely.make_valid` (a note says so) or refuse.
    max_vertices, max_area_km2 : optional
        Limits; ``None`` disables one.

    Returns
    -------
    ParsedGeometry
        Geometry in WGS 84/CGCS2000 lon-lat plus notes.

    Raises
    ------
    InvalidGeometry, EmptyArea, OversizeRequest, CRSError

    Examples
    --------
    >>> p = parse_geometry({"type": "Point", "coordinates": [110.0, 38.0]}, crs="gcj02")
    >>> [round(c, 4) for c in p.geometry.coords[0]], p.notes[0][:28]
    ([109.9945, 37.9994], 'converted from GCJ-02 to WGS')
    """
    geom, props, fid, named = to_shapely(obj)
    in_crs = _input_crs(crs, named)
    if geom is None or geom.is_empty:
        raise EmptyArea("the geometry is empty; give at least one coordinate")
    _check_coordinates(geom, max_vertices)
    notes: list[str] = []
    geom, swapped, msg = _check_swap(geom, swap)
    if msg:
        notes.append(msg)
    if in_crs == "gcj02":
        from .crs import geoms_gcj02_to_wgs84

        geom = geoms_gcj02_to_wgs84(geom)
        notes.append("converted from GCJ-02 to WGS 84 before analysis")
    repaired = not geom.is_valid
    if repaired:
        geom, note = _repaired(geom, repair)
        notes.append(note)
    if max_area_km2 is not None and geom.geom_type in ("Polygon", "MultiPolygon"):
        a = area_km2(geom)
        if a > max_area_km2:
            raise OversizeRequest(
                f"the geometry covers {a:,.6g} km²; at most {max_area_km2:,.6g} km² are "
                "accepted in one request (split it, or run a zoning job for large areas)"
            )
    return ParsedGeometry(geom, in_crs, tuple(notes), swapped, repaired, props, fid)


def _input_crs(crs: str | int | None, named: str | int | None) -> InputCRS:
    """The CRS of the coordinates: ``crs``, or the one the input names when ``crs`` is the
    default WGS 84; a named CRS that disagrees about GCJ-02 raises :class:`CRSError`."""
    in_crs = normalise_crs(crs)
    if named is None:
        return in_crs
    named_crs = normalise_crs(named)
    if "gcj02" in (named_crs, in_crs):
        raise CRSError(f"the input names CRS {named!r} but crs={crs!r} was given")
    return named_crs if in_crs == "wgs84" else in_crs


def _check_coordinates(geom: BaseGeometry, max_vertices: int | None) -> None:
    """Refuse more than ``max_vertices`` vertices, and non-finite coordinates."""
    n = int(shapely.get_num_coordinates(geom))
    if max_vertices is not None and n > max_vertices:
        raise OversizeRequest(
            f"the geometry has {n} vertices; at most {max_vertices} are accepted "
            "(simplify it, or split it and screen the parts as a batch)"
        )
    if not np.all(np.isfinite(shapely.get_coordinates(geom))):
        raise InvalidGeometry("the geometry has non-finite coordinates (NaN or infinity)")


def _repaired(geom: BaseGeometry, repair: bool) -> tuple[BaseGeometry, str]:
    """An invalid geometry made valid (an areal one keeps its polygons), with a note giving
    GEOS's reason; :class:`InvalidGeometry` when ``repair`` is off, :class:`EmptyArea` when
    nothing is left."""
    reason = shapely.is_valid_reason(geom)
    if not repair:
        raise InvalidGeometry(f"invalid geometry: {reason}; repair it or pass repair=True")
    areal = geom.geom_type in ("Polygon", "MultiPolygon")
    fixed = shapely.make_valid(geom)
    geom = _polygonal_part(fixed) if areal else fixed
    note = f"invalid geometry ({reason}) repaired with make_valid into a {geom.geom_type}"
    if geom.is_empty:
        raise EmptyArea(f"the geometry is empty after repairing it ({reason})")
    return geom, note


def parse_point(
    lon: float, lat: float, *, crs: str | int | None = "wgs84", swap: SwapPolicy = "auto"
) -> ParsedGeometry:
    """A point from longitude and latitude, with the same checks as :func:`parse_geometry`.

    >>> parse_point(38.2, 109.7).geometry.wkt
    'POINT (109.7 38.2)'
    """
    try:
        pt = shapely.Point(float(lon), float(lat))
    except (TypeError, ValueError):
        raise InvalidGeometry(
            f"longitude and latitude must be numbers, got {lon!r}, {lat!r}"
        ) from None
    return parse_geometry(pt, crs=crs, swap=swap, max_vertices=None, max_area_km2=None)


def iter_features(obj: Any) -> Iterator[tuple[str | None, Any, dict[str, Any]]]:
    """Yield ``(id, geometry GeoJSON, properties)`` for each feature of a GeoJSON collection.

    A single geometry or Feature yields one item. Geometries are not checked here.
    """
    if isinstance(obj, str | bytes):
        obj = _json_geometry(obj)
    if not isinstance(obj, Mapping):
        raise InvalidGeometry("expected a GeoJSON FeatureCollection")
    if obj.get("type") == "FeatureCollection":
        feats = obj.get("features") or []
        if not isinstance(feats, list | tuple):
            raise InvalidGeometry("a FeatureCollection needs a 'features' array")
        for f in feats:
            if not isinstance(f, Mapping):  # its geometry then fails on its own row
                yield None, f, {}
                continue
            props = f.get("properties")
            yield _id(f), f.get("geometry"), dict(props) if isinstance(props, Mapping) else {}
    elif obj.get("type") == "Feature":
        props = obj.get("properties")
        yield _id(obj), obj.get("geometry"), dict(props) if isinstance(props, Mapping) else {}
    else:
        yield None, obj, {}


__all__ = [
    "GEOMETRY_DEPTH",
    "MAX_AREA_KM2",
    "MAX_VERTICES",
    "ParsedGeometry",
    "area_km2",
    "from_albers",
    "geometry_from_geojson",
    "iter_features",
    "normalise_crs",
    "parse_geometry",
    "parse_point",
    "to_albers",
    "to_shapely",
]
