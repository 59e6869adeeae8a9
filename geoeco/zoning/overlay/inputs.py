"""Inputs of the zoning overlay (:mod:`geoeco.zoning.overlay.run`): :class:`LayerInput`, binding
inputs to
the grid, and reading them window by window.

Each input given to :func:`geoeco.zoning.overlay.run.compute_zones` is bound once (validated,
vectors
reprojected to the grid CRS) into a ``_Bound``; ``_Window`` then reads each input at most once
per window, rasterising polygon inputs at pixel centres.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np
import shapely
from rasterio.features import rasterize
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geoeco.core.errors import CRSError, EmptyArea, GridMismatch, InvalidInput, LayerNotFound
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.aoi import AOI
from geoeco.zoning.rules import ClassInput, Criterion, MaskInput, RuleSet

Status = Literal["real", "approximation", "synthetic"]
Window = tuple[int, int, int, int]
_RANK = {"real": 0, "approximation": 1, "synthetic": 2}


@dataclass(frozen=True)
class LayerInput:
    """An overlay input with what the engine must know about it.

    Parameters
    ----------
    data : Raster, reader, callable or GeoDataFrame
        See the module docstring.
    status : {"real", "approximation", "synthetic"}
        Trust level from the layer manifest; drives flag bits 1 and 2.
    role : str, optional
        Manifest role; extra layers with role ``protected``/``development`` join the rules.
    column : str, optional
        Class column of a polygon layer used as a class input.
    version : str, optional
        Layer version, copied into the summary.
    """

    data: Any
    status: Status = "real"
    role: str | None = None
    column: str | None = None
    version: str | None = None


# ------------------------------------------------------------------------------------------
# binding inputs
# ------------------------------------------------------------------------------------------


@dataclass
class _Bound:
    name: str
    kind: Literal["class", "mask"]
    status: Status
    source: Literal["raster", "reader", "vector"]
    read: Callable[[Window], Any] | None = None
    frame: Any = None  # GeoDataFrame in the grid CRS (vector sources)
    column: str | None = None
    n_classes: int = 255
    role: str | None = None
    version: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rank(self) -> int:
        """Trust rank of the input's status: 0 real, 1 approximation, 2 synthetic."""
        return _RANK[self.status]

    def read_window(self, win: Window) -> Any:
        """The input's values in window ``win`` (raster and reader sources; a vector source is
        rasterised instead)."""
        if self.read is None:
            raise TypeError(f"input {self.name!r} is a vector layer: rasterise it, do not read it")
        return self.read(win)


@dataclass
class _Plan:
    rules: RuleSet
    grid: Grid
    layers: dict[str, _Bound]
    aoi: Any  # shapely geometry in the grid CRS, a boolean Raster/reader, or None
    protected: list[str]
    development: list[str]
    skipped: list[str]
    ignored: list[str]
    patch_stage: bool
    min_patch_px: float
    max_hole_px: float


def _as_layer_input(v: Any) -> LayerInput:
    return v if isinstance(v, LayerInput) else LayerInput(v)


def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "geometry") and hasattr(obj, "crs") and hasattr(obj, "iloc")


class _Common(TypedDict):
    """The fields of a :class:`_Bound` that do not depend on the kind of source."""

    name: str
    kind: Literal["class", "mask"]
    status: Status
    n_classes: int
    role: str | None
    version: str | None


def _common(name: str, li: LayerInput, spec: ClassInput | MaskInput) -> _Common:
    """What input ``name`` is (class or mask, number of classes) and what it says of itself."""
    return {
        "name": name,
        "kind": "class" if isinstance(spec, ClassInput) else "mask",
        "status": li.status,
        "n_classes": (spec.n_classes if isinstance(spec, ClassInput) else None) or 255,
        "role": li.role,
        "version": li.version,
    }


def _used_inputs(rs: RuleSet, layers: Mapping[str, Any]) -> set[str]:
    """The inputs the rule set uses; :class:`LayerNotFound` if a required one is not given."""
    used: set[str] = set().union(*rs.referenced_inputs().values())
    missing = [n for n in sorted(used) if n not in layers and rs.inputs[n].required]
    if missing:
        raise LayerNotFound(
            f"rule set {rs.name!r} needs input(s) {', '.join(missing)}; given: "
            f"{', '.join(sorted(layers)) or 'none'}"
        )
    return used


def _bind(name: str, li: LayerInput, spec: ClassInput | MaskInput, grid: Grid) -> _Bound:
    common = _common(name, li, spec)
    kind = common["kind"]
    d = li.data
    if li.status not in _RANK:
        raise InvalidInput(f"input {name!r}: status must be real, approximation or synthetic")
    if isinstance(d, Raster):
        d.grid.check_aligned(grid, what=f"input {name!r} and the overlay grid")
        if d.array.ndim != 2:
            raise GridMismatch(f"input {name!r} must be single-band, got {d.array.shape[0]} bands")
        if kind == "class" and d.array.count() == 0:
            raise EmptyArea(f"input {name!r} has no valid pixel on the overlay grid")
        arr = d.array
        return _Bound(
            **common, source="raster", read=lambda w: arr[w[0] : w[0] + w[2], w[1] : w[1] + w[3]]
        )
    if _is_frame(d):
        return _bind_frame(name, li, spec, grid, common)
    if hasattr(d, "read") and callable(d.read):
        g = getattr(d, "grid", None)
        if isinstance(g, Grid):
            g.check_aligned(grid, what=f"input {name!r} and the overlay grid")
        return _Bound(**common, source="reader", read=d.read)
    if callable(d):
        return _Bound(**common, source="reader", read=d)
    raise InvalidInput(
        f"input {name!r}: expected a Raster, a reader, a callable or a GeoDataFrame, "
        f"got {type(d).__name__}"
    )


def _bind_frame(
    name: str, li: LayerInput, spec: ClassInput | MaskInput, grid: Grid, common: _Common
) -> _Bound:
    gdf = li.data
    if gdf.crs is None:
        raise CRSError(f"input {name!r}: vector layer has no CRS")
    notes = []
    if isinstance(spec, MaskInput) and spec.select:
        for key, val in spec.select.items():
            if key not in gdf.columns:
                raise InvalidInput(f"input {name!r}: column {key!r} (from `select`) not found")
            gdf = gdf[gdf[key] == val]
    if common["kind"] == "class":
        col = li.column
        if col is None or col not in gdf.columns:
            raise InvalidInput(
                f"input {name!r}: a polygon class layer needs `column` naming its class codes "
                f"(columns: {', '.join(map(str, gdf.columns))})"
            )
        vals = gdf[col].to_numpy()
        if len(vals) and (np.nanmin(vals) < 1 or np.nanmax(vals) > common["n_classes"]):
            raise InvalidInput(
                f"input {name!r}: class codes must be 1..{common['n_classes']}, found "
                f"{np.nanmin(vals)}..{np.nanmax(vals)}"
            )
    if not grid.crs.equals(gdf.crs):
        gdf = gdf.to_crs(grid.crs)
        notes.append("reprojected to the grid CRS")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if len(gdf):
        gdf = gdf.assign(geometry=shapely.make_valid(gdf.geometry.values))
    overlaps = len(gdf) and box(*gdf.total_bounds).intersects(box(*grid.bounds))
    if not overlaps:
        if common["kind"] == "class" or (isinstance(spec, MaskInput) and spec.required):
            raise EmptyArea(f"input {name!r} does not overlap the overlay grid")
        notes.append("no feature overlaps the grid")
    return _Bound(**common, source="vector", frame=gdf, column=li.column, notes=notes)


def _aoi_geometry(aoi: Any, grid: Grid) -> Any:
    if isinstance(aoi, AOI):  # resolved once (geoeco.zoning.aoi): valid, not empty
        geom = aoi.to_crs(grid.crs)
        if not geom.intersects(box(*grid.bounds)):
            raise EmptyArea(f"{aoi.label}: the area of interest does not overlap the grid")
        return geom
    if aoi is None or isinstance(aoi, Raster) or (hasattr(aoi, "read") and not _is_frame(aoi)):
        if isinstance(aoi, Raster):
            aoi.grid.check_aligned(grid, what="AOI mask and the overlay grid")
            if not np.any(aoi.array.filled(0)):
                raise EmptyArea("the area of interest covers no pixel of the grid")
        return aoi
    if _is_frame(aoi):
        if aoi.crs is None:
            raise CRSError("the area of interest has no CRS")
        geom = shapely.union_all(shapely.make_valid(aoi.to_crs(grid.crs).geometry.values))
    elif isinstance(aoi, BaseGeometry):
        geom = shapely.make_valid(aoi)  # assumed in the grid CRS
    else:
        raise InvalidInput(f"aoi: expected a geometry, GeoDataFrame or mask Raster, got {aoi!r}")
    if geom.is_empty or geom.area <= 0:
        raise EmptyArea("the area of interest is empty")
    if not geom.intersects(box(*grid.bounds)):
        raise EmptyArea("the area of interest does not overlap the grid")
    return geom


# ------------------------------------------------------------------------------------------
# per-window evaluation
# ------------------------------------------------------------------------------------------


def _rasterize(frame: Any, values: Any, wgrid: Grid) -> np.ndarray:
    """Burn ``frame`` polygons (value per feature, later wins) into a window; 0 elsewhere."""
    out_shape = wgrid.shape
    if frame is None or not len(frame):
        return np.zeros(out_shape, np.uint8)
    idx = frame.sindex.query(box(*wgrid.bounds), predicate="intersects")
    if not len(idx):
        return np.zeros(out_shape, np.uint8)
    geoms = frame.geometry.values[np.sort(idx)]
    vals = np.ones(len(geoms), np.uint8) if values is None else np.asarray(values)[np.sort(idx)]
    burnt: np.ndarray = rasterize(
        zip(geoms, vals.astype(np.uint8).tolist(), strict=True),
        out_shape=out_shape,
        transform=wgrid.transform,
        fill=0,
        all_touched=False,
        dtype="uint8",
    )
    return burnt


class _Window:
    """Reads each input at most once for one window."""

    def __init__(self, plan: _Plan, win: Window, reads: dict[str, Any] | None = None) -> None:
        self.plan, self.win = plan, win
        self.wgrid = plan.grid.window(*win)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._reads = reads or {}  # inputs already read (by the prefetch thread)

    def classes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(codes uint8, valid bool)`` of a class input; codes are 0 where not valid."""
        if name not in self._cache:
            b = self.plan.layers[name]
            if b.source == "vector":
                codes = _rasterize(b.frame, b.frame[b.column].to_numpy(), self.wgrid)
                valid = codes > 0
            else:
                a = self._reads[name] if name in self._reads else b.read_window(self.win)
                data = np.ma.getdata(a)
                if data.dtype == np.uint8:  # the usual case, in as few passes as possible
                    mask = np.ma.getmask(a)
                    if mask is np.ma.nomask:
                        codes = np.array(data, copy=True)
                    else:  # nodata and 0 both become 0 (not valid)
                        codes = np.where(mask, np.uint8(0), data)
                    valid = codes != 0
                    top = int(codes.max()) if codes.size else 0
                    if b.kind == "class" and top > b.n_classes:
                        raise InvalidInput(
                            f"input {name!r}: class codes must be 1..{b.n_classes}, found {top}"
                        )
                else:
                    codes, valid = self._classes_general(name, a)
            self._cache[name] = (codes, valid)
        return self._cache[name]

    def _classes_general(self, name: str, a: Any) -> tuple[np.ndarray, np.ndarray]:
        b = self.plan.layers[name]
        data = np.ma.getdata(a)
        valid = ~np.ma.getmaskarray(a)
        if data.dtype.kind == "f":
            valid &= np.isfinite(data)
            data = np.where(valid, data, 0)
            if np.any(data != np.round(data)):
                raise InvalidInput(f"input {name!r} must hold integer class codes")
        valid &= data != 0
        if b.kind == "class" and np.any(valid & (data > b.n_classes)):
            raise InvalidInput(
                f"input {name!r}: class codes must be 1..{b.n_classes}, found "
                f"{int(data[valid].max())}"
            )
        return np.where(valid, data, 0).astype(np.uint8), valid

    def invalid(self, name: str) -> np.ndarray:
        """Where a class input is nodata (or 0)."""
        key = "invalid:" + name
        if key not in self._cache:
            inv = ~self.classes(name)[1]
            self._cache[key] = (inv, inv)
        return self._cache[key][1]

    def mask(self, name: str) -> np.ndarray:
        """Boolean membership of a mask input."""
        b = self.plan.layers[name]
        if b.source != "vector":
            return self.classes(name)[1]
        key = "mask:" + name
        if key not in self._cache:
            m = _rasterize(b.frame, None, self.wgrid) > 0
            self._cache[key] = (m, m)
        return self._cache[key][1]

    def criterion(self, c: Criterion) -> tuple[np.ndarray, np.ndarray]:
        """``(true, unknown)`` of a threshold criterion (``unknown`` is shared: do not modify)."""
        codes, _ = self.classes(c.input)
        t = codes >= np.uint8(c.min_class)  # codes are 0 where not valid, min_class >= 1
        if c.max_class is not None:
            t &= codes <= np.uint8(c.max_class)
        return t, self.invalid(c.input)

    def aoi(self) -> np.ndarray:
        """Boolean AOI membership (pixel centres)."""
        a = self.plan.aoi
        if a is None:
            return np.ones(self.wgrid.shape, bool)
        if isinstance(a, BaseGeometry):
            inside: np.ndarray = (
                rasterize(
                    [(a, 1)],
                    out_shape=self.wgrid.shape,
                    transform=self.wgrid.transform,
                    fill=0,
                    all_touched=False,
                    dtype="uint8",
                )
                > 0
            )
            return inside
        r0, c0, h, w = self.win
        arr = a.array[r0 : r0 + h, c0 : c0 + w] if isinstance(a, Raster) else a.read(self.win)
        return np.ma.filled(arr, 0).astype(bool)
