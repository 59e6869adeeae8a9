"""Sites as users send them: a GeoJSON body, a file, or a FeatureCollection of many.

The CLI (``geoeco screen``) and the service (``POST /screen``, ``POST /screen/batch``) read
sites through these functions, so a site is checked the same way everywhere:

* :func:`check_geojson` accepts a GeoJSON geometry or Feature that shapely can read;
* :func:`screen_file` screens the site of a file: WKT text, a GeoJSON file holding one
  site (:func:`~geoeco.query.screening.screen_site`, checked as screening checks it, every
  error naming the file), or a file of several features (a batch,
  :func:`~geoeco.query.screening.screen_batch`);
* :func:`screen_features` screens the features of a FeatureCollection, one row per feature:
  a feature that is not a readable GeoJSON Feature gets its error in its row, in place.

Examples
--------
>>> check_geojson({"type": "Point", "coordinates": [109.7, 38.3]})
>>> check_geojson({"type": "Polygonn", "coordinates": []})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.InvalidGeometry: type must be a GeoJSON geometry type or 'Feature', got ...
>>> site_id({"properties": {"name": "A"}, "id": 7}, "name", 0), site_id({}, None, 3)
('A', '3')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from shapely.geometry import shape

from geoeco.core.errors import DataSourceError, GeoecoError, InvalidGeometry

from .context import QueryContext
from .models import ScreeningResult
from .screening import screen_batch, screen_site

#: GeoJSON object types a site may be (a geometry, or a Feature holding one).
GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
        "Feature",
    }
)
#: Columns of a batch row of a site that could not be read.
ERROR_COLUMNS = ("site_id", "ok", "error_type", "error")


def check_geojson(g: Any) -> None:
    """Raise :class:`InvalidGeometry` unless ``g`` is a GeoJSON geometry or Feature that
    shapely can read."""
    if not isinstance(g, dict):
        raise InvalidGeometry("must be a GeoJSON object")
    kind = g.get("type")
    if kind not in GEOMETRY_TYPES:
        raise InvalidGeometry(
            f"type must be a GeoJSON geometry type or 'Feature', got {kind!r}"[:200]
        )
    geom = g.get("geometry") if kind == "Feature" else g
    if kind == "Feature" and geom is None:
        raise InvalidGeometry("the Feature has no geometry")
    if not isinstance(geom, dict) or geom.get("type") not in GEOMETRY_TYPES - {"Feature"}:
        raise InvalidGeometry("the Feature's geometry is not a GeoJSON geometry")
    try:
        shape(geom)
    except Exception as exc:  # shapely raises many kinds on malformed coordinates
        raise InvalidGeometry(f"not a valid GeoJSON geometry: {str(exc)[:200]}") from None


def _geojson_site(path: Path, crs: str) -> dict[str, Any] | Path:
    """The site in a GeoJSON file, checked as screening checks it (the file itself when it
    holds several features: a batch); every error names the file."""
    from geoeco.core.geometry import parse_geometry
    from geoeco.core.json_input import loads_json

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataSourceError(f"{path.name}: cannot read ({exc.strerror})") from None
    try:
        site = loads_json(raw, what="the file")
        if not isinstance(site, dict):
            raise InvalidGeometry(f"expected a GeoJSON object, found {type(site).__name__}")
        feats = site.get("features")
        if feats is not None and not isinstance(feats, list):
            raise InvalidGeometry("'features' must be an array of GeoJSON Features")
        if feats is not None and len(feats) > 1:
            return path
        parse_geometry(site, crs=crs)
    except GeoecoError as exc:
        raise type(exc)(f"{path.name}: {exc}") from None
    return site


def screen_file(
    run: QueryContext | Callable[[], QueryContext],
    site: str | Path,
    *,
    buffer_m: float = 0.0,
    project_type: str | Sequence[str] | None = None,
    crs: str = "wgs84",
) -> ScreeningResult | pd.DataFrame:
    """Screen ``site`` on ``run`` (an opened run, or a function opening it: it is called once
    the site is read, so a bad file is reported first).

    ``site`` is WKT text or a vector file. A GeoJSON file (``.geojson``/``.json``) holding one
    site gives its :class:`ScreeningResult`; any other file, or a GeoJSON of several
    features, is a batch (a DataFrame of :func:`~geoeco.query.screening.screen_batch` rows).
    """
    one: Any = site
    if isinstance(site, Path):
        is_json = site.suffix.lower() in (".geojson", ".json")
        one = _geojson_site(site, crs) if is_json else site
    ctx = run if isinstance(run, QueryContext) else run()
    if isinstance(one, Path):
        return screen_batch(ctx, one, buffer_m=buffer_m, project_type=project_type, crs=crs)
    return screen_site(ctx, one, buffer_m=buffer_m, project_type=project_type, crs=crs)


def site_id(feature: Any, id_field: str | None, index: int) -> str:
    """A feature's id: its ``properties[id_field]``, else its ``id``, else its index."""
    if isinstance(feature, dict):
        raw = feature.get("properties")
        props: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if id_field and id_field in props:
            return str(props[id_field])
        if feature.get("id") is not None:
            return str(feature["id"])
    return str(index)


def _finite(record: Mapping[Any, Any]) -> dict[str, Any]:
    """A row with non-finite numbers (NaN, infinity) as ``None`` (JSON has no NaN)."""
    return {
        str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in record.items()
    }


def screen_features(
    ctx: QueryContext,
    features: Sequence[Any],
    *,
    buffer_m: float = 0.0,
    project_type: Sequence[str] | None = None,
    crs: str = "wgs84",
    id_field: str | None = None,
) -> list[dict[str, Any]]:
    """One summary row per feature, in order (:func:`~geoeco.query.screening.screen_batch`
    on the readable ones); a feature that is not a readable GeoJSON Feature gets
    ``ok`` false and its error in its row. Every row has the same columns, first."""
    rows: list[dict[str, Any] | None] = [None] * len(features)
    good: list[int] = []
    for i, f in enumerate(features):
        try:
            if not isinstance(f, dict) or f.get("type") != "Feature":
                raise InvalidGeometry("not a GeoJSON Feature")
            check_geojson(f)
        except InvalidGeometry as exc:
            error = (site_id(f, id_field, i), False, "InvalidGeometry", str(exc))
            rows[i] = dict(zip(ERROR_COLUMNS, error, strict=True))
            continue
        good.append(i)
    if good:
        feats = []
        for i in good:
            f = dict(features[i])
            if f.get("id") is None:
                f["id"] = site_id(f, id_field, i)
            feats.append(f)
        df = screen_batch(
            ctx,
            {"type": "FeatureCollection", "features": feats},
            buffer_m=buffer_m,
            project_type=project_type,
            crs=crs,
            id_field=id_field,
        )
        for i, rec in zip(good, df.to_dict(orient="records"), strict=True):
            rows[i] = _finite(rec)
    done = [r for r in rows if r is not None]
    cols = list(rows[good[0]] or {}) if good else list(ERROR_COLUMNS)
    return [{c: r.get(c) for c in cols} | r for r in done]


__all__ = [
    "ERROR_COLUMNS",
    "GEOMETRY_TYPES",
    "check_geojson",
    "screen_features",
    "screen_file",
    "site_id",
]
