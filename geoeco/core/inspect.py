"""Check a data file before geoeco uses it: readable, a CRS, inside China, nodata declared.

:func:`inspect_layer_file` opens the file through :mod:`geoeco.core.userdata` (formats decided
by content, GDAL driver forced, no network, header limits given as ``limits``) and says what it
holds, or raises the :class:`~geoeco.core.errors.GeoecoError` leaf that names the problem and the
file by the name the user gave. Supported: GeoPackage, Shapefile (also zipped), GeoJSON,
GeoParquet, FlatGeobuf, FileGDB; GeoTIFF and COG. Registering a checked file as a layer is
:mod:`geoeco.catalog.validate`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyproj import CRS, Transformer

from .crs import CHINA_BOUNDS
from .errors import CRSError, DataSourceError, InvalidInput, OutsideChina
from .raster import as_bounds
from .userdata import (
    DEFAULT_LIMITS,
    RASTER_SUFFIXES,
    VECTOR_SUFFIXES,
    UserDataLimits,
    check_path_text,
    data_kind,
    display_name,
    user_raster_info,
    user_vector_info,
)

#: How far (degrees) a layer's lon/lat bounding box may stick out of China's envelope.
CHINA_TOLERANCE_DEG = 0.5


@dataclass(frozen=True)
class LayerFileReport:
    """What :func:`inspect_layer_file` found in a file."""

    name: str
    kind: str
    crs: str
    bounds_lonlat: tuple[float, float, float, float]
    dtype: str | None = None
    nodata: float | None = None
    bands: int | None = None
    feature_count: int | None = None
    geometry_type: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def detect_kind(path: Path, name: str) -> str:
    """``"raster"`` or ``"vector"`` from the file suffix, else :class:`InvalidInput`.

    The suffix only pre-selects: :func:`inspect_layer_file` then requires the content to be
    of the same kind (:func:`geoeco.core.userdata.data_kind`).
    """
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return "raster"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    known = ", ".join(sorted(RASTER_SUFFIXES | VECTOR_SUFFIXES))
    raise InvalidInput(
        f"{name}: unsupported file type {suffix or '(none)'!r}; expected one of {known}"
    )


@lru_cache(maxsize=64)
def _to_wgs84(crs_wkt: str) -> Transformer:
    """One transformer from a CRS (by its WKT) to WGS 84 lon/lat, built once per CRS.

    Building one costs tens of milliseconds (a PROJ database search for the best operation)
    and a data folder holds many files in a few CRSs. ``lru_cache`` is thread-safe, and so is
    a pyproj (>= 3.1) :class:`~pyproj.Transformer` shared between threads (each thread gets its
    own PROJ object).

    >>> _to_wgs84(CRS.from_epsg(4547).to_wkt()) is _to_wgs84(CRS.from_epsg(4547).to_wkt())
    True
    """
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), _WGS84, always_xy=True)


_WGS84 = CRS.from_epsg(4326)


def _lonlat_bounds(bounds: tuple[float, ...], crs: CRS) -> tuple[float, float, float, float]:
    if crs.is_geographic and crs.to_epsg() in (4326, 4490, 4610, 4214):
        return as_bounds(bounds)
    t = _to_wgs84(crs.to_wkt())
    left, bottom, right, top = as_bounds(bounds)
    return as_bounds(t.transform_bounds(left, bottom, right, top, densify_pts=21))


def _check_china(name: str, lonlat: tuple[float, float, float, float]) -> None:
    w, s, e, n = CHINA_BOUNDS
    tol = CHINA_TOLERANCE_DEG
    x0, y0, x1, y1 = lonlat
    if x0 < w - tol or x1 > e + tol or y0 < s - tol or y1 > n + tol:
        raise OutsideChina(
            f"{name}: extent lon {x0:.3f}..{x1:.3f}, lat {y0:.3f}..{y1:.3f} is not inside China "
            f"(lon {w}..{e}, lat {s}..{n}); check the CRS, or allow data outside China explicitly"
        )


def inspect_layer_file(
    path: str | Path,
    *,
    name: str | None = None,
    allow_outside_china: bool = False,
    nodata: float | None = None,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> LayerFileReport:
    """Validate a user file and describe it; raises a :class:`~geoeco.core.errors.GeoecoError` leaf.

    ``nodata`` states the nodata value of a raster whose file declares none; ``limits`` caps
    the file's size (checked from its header, :class:`~geoeco.core.errors.OversizeRequest`).
    """
    shown = display_name(path, name)
    p = Path(check_path_text(path, shown))
    kind = detect_kind(p, shown)
    actual = data_kind(p, name=shown)
    if actual != kind:
        raise DataSourceError(f"{shown}: the content is a {actual}, not what {p.suffix} says")
    if kind == "raster":
        return _inspect_raster(p, shown, allow_outside_china, nodata, limits)
    info = user_vector_info(p, name=shown, limits=limits)
    if not info.crs:
        raise CRSError(f"{shown}: vector file has no CRS (for a Shapefile, the .prj is missing)")
    if info.features == 0 or info.bounds is None:
        raise InvalidInput(f"{shown}: vector file has no features")
    crs = CRS.from_user_input(info.crs)
    lonlat = _lonlat_bounds(info.bounds, crs)
    if not allow_outside_china:
        _check_china(shown, lonlat)
    return LayerFileReport(
        shown,
        "vector",
        crs.to_string(),
        lonlat,
        feature_count=info.features,
        geometry_type=info.geometry_type,
    )


def _inspect_raster(
    p: Path, shown: str, allow_outside_china: bool, nodata: float | None, limits: UserDataLimits
) -> LayerFileReport:
    info = user_raster_info(p, name=shown, limits=limits)
    if info.grid is None:
        raise CRSError(f"{shown}: raster has no CRS; assign one (e.g. gdal_edit.py -a_srs)")
    file_nodata = info.nodata
    if file_nodata is None and nodata is None:
        raise InvalidInput(
            f"{shown}: raster declares no nodata value; state it (--nodata / nodata=...) so "
            "that missing pixels are never read as real values"
        )
    crs = info.grid.crs
    lonlat = _lonlat_bounds(info.bounds, crs)
    if not allow_outside_china:
        _check_china(shown, lonlat)
    return LayerFileReport(
        shown,
        "raster",
        crs.to_string(),
        lonlat,
        dtype=info.dtype,
        nodata=file_nodata if file_nodata is not None else nodata,
        bands=info.count,
    )
