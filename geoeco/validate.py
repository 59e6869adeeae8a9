"""Check a user's own data file before it joins the catalogue.

A file is accepted when it can be read, has a CRS, lies inside China (unless the caller allows
otherwise) and, for a raster, has a nodata value (in the file or stated by the caller). Every
failure names the file by the name the user gave and says what is wrong.

Supported: GeoPackage, Shapefile (also zipped), GeoJSON, GeoParquet, FlatGeobuf, FileGDB;
GeoTIFF and COG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyproj import CRS, Transformer

from .crs import CHINA_BOUNDS
from .errors import CRSError, DataSourceError, InvalidInput, OutsideChina
from .io import RASTER_SUFFIXES, VECTOR_SUFFIXES, display_name, raster_info
from .layers import FileSource, LayerSpec, dump_manifest, slugify

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
    """``"raster"`` or ``"vector"`` from the file suffix, else :class:`InvalidInput`."""
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return "raster"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    known = ", ".join(sorted(RASTER_SUFFIXES | VECTOR_SUFFIXES))
    raise InvalidInput(
        f"{name}: unsupported file type {suffix or '(none)'!r}; expected one of {known}"
    )


def _lonlat_bounds(bounds: tuple[float, ...], crs: CRS) -> tuple[float, float, float, float]:
    if crs.is_geographic and crs.to_epsg() in (4326, 4490, 4610, 4214):
        return tuple(float(b) for b in bounds)  # type: ignore[return-value]
    t = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    return tuple(float(b) for b in t.transform_bounds(*bounds, densify_pts=21))  # type: ignore[return-value]


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
) -> LayerFileReport:
    """Validate a user file and describe it; raises a :class:`~geoeco.errors.GeoecoError` leaf.

    ``nodata`` states the nodata value of a raster whose file declares none.
    """
    p = Path(path)
    shown = display_name(p, name)
    kind = detect_kind(p, shown)
    if not p.exists():
        raise DataSourceError(f"{shown}: file not found")
    if kind == "raster":
        info = raster_info(p, name=shown)
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
    import pyogrio

    try:
        meta = pyogrio.read_info(p) if p.suffix.lower() not in {".parquet", ".geoparquet"} else None
    except Exception as exc:
        raise DataSourceError(f"{shown}: not a readable vector file") from exc
    if meta is None:  # GeoParquet: read it (pyogrio here has no Parquet driver)
        from .io import read_vector

        gdf = read_vector(p, name=shown)
        crs_in = gdf.crs
        count = len(gdf)
        bounds = tuple(gdf.total_bounds) if count else (0.0, 0.0, 0.0, 0.0)
        gtype = ",".join(sorted(set(gdf.geom_type.dropna()))) or None
    else:
        crs_in = meta["crs"]
        count = int(meta["features"])
        bounds = tuple(meta["total_bounds"]) if meta.get("total_bounds") is not None else None
        gtype = meta.get("geometry_type")
    if not crs_in:
        raise CRSError(f"{shown}: vector file has no CRS (for a Shapefile, the .prj is missing)")
    if count == 0 or bounds is None:
        raise InvalidInput(f"{shown}: vector file has no features")
    crs = CRS.from_user_input(crs_in)
    lonlat = _lonlat_bounds(bounds, crs)
    if not allow_outside_china:
        _check_china(shown, lonlat)
    return LayerFileReport(
        shown, "vector", crs.to_string(), lonlat, feature_count=count, geometry_type=gtype
    )


def user_layer_spec(
    path: str | Path,
    *,
    role: str,
    layer_id: str | None = None,
    title_zh: str | None = None,
    title_en: str | None = None,
    status: str = "real",
    licence: str = "user-supplied",
    provenance: str | None = None,
    version: str = "1",
    nodata: float | None = None,
    units: str | None = None,
    allow_outside_china: bool = False,
    name: str | None = None,
) -> LayerSpec:
    """Validate ``path`` and build its manifest (the file is referenced by absolute path)."""
    p = Path(path)
    shown = display_name(p, name)
    rep = inspect_layer_file(p, name=shown, allow_outside_china=allow_outside_china, nodata=nodata)
    lid = layer_id or f"user.{slugify(p.name)}"
    data: dict[str, Any] = {
        "id": lid,
        "title_zh": title_zh or p.stem,
        "title_en": title_en or p.stem,
        "kind": rep.kind,
        "role": role,
        "status": status,
        "version": version,
        "crs": rep.crs,
        "licence": licence,
        "provenance": provenance or f"user file {shown}",
        "source": FileSource(path=str(p.resolve())).model_dump(),
        "expect": {"feature_count": rep.feature_count}
        if rep.kind == "vector"
        else {"dtype": rep.dtype, "bands": rep.bands},
    }
    if rep.kind == "raster":
        data["nodata"] = rep.nodata
        data["units"] = units
    from pydantic import ValidationError

    try:
        return LayerSpec.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        from .errors import ManifestError

        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ManifestError(f"{shown}: cannot register it ({problems})") from None


def write_user_manifest(
    spec: LayerSpec, layers_dir: str | Path, *, overwrite: bool = False
) -> Path:
    """Write ``spec`` as ``<layers_dir>/<id>.toml`` atomically; refuses to overwrite by default."""
    from .errors import LayerExists
    from .io import atomic_path

    d = Path(layers_dir)
    dest = d / f"{spec.id}.toml"
    if dest.exists() and not overwrite:
        raise LayerExists(f"layer id {spec.id!r} already has a manifest; choose another id")
    with atomic_path(dest) as tmp:
        tmp.write_text(dump_manifest(spec), encoding="utf-8")
    return dest
