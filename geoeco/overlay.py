"""The zoning overlay engine: rule set + aligned inputs → zone class, red line and flag rasters.

Raster mode (:func:`compute_zones`) works on one equal-area grid (normally
:data:`geoeco.crs.ALBERS_CHINA`; any projected grid is accepted and its planar areas used).
Inputs are given per rule-set input name, each as

* a :class:`~geoeco.raster.Raster` already on the grid,
* a reader: an object with ``read(window) -> MaskedArray`` (e.g. what
  :func:`geoeco.align.aligned_source` yields) or a plain callable ``f(window)``,
* a GeoDataFrame of polygons (class inputs name their class ``column``), rasterised per window
  at pixel centres (``rasterio.features.rasterize``, ``all_touched=False``),

optionally wrapped in :class:`LayerInput` to state the layer's ``status`` (``real``,
``approximation``, ``synthetic``) and ``role``. Layers passed under names the rule set does not
declare join the red line if their role is in ``redline.protected.roles`` and key control if it
is in ``key.roles``.

**Everything is validated before any pixel is read** (:func:`prepare`): unknown or missing
inputs (:class:`~geoeco.errors.LayerNotFound`), grids that do not match
(:class:`~geoeco.errors.GridMismatch`), an empty area of interest or class layers that do not
overlap the grid (:class:`~geoeco.errors.EmptyArea`), vectors without CRS or class column.

Windows and memory. The grid is processed block by block (:meth:`Grid.blocks`); inputs are read
one window at a time, so memory follows the window size, except for two things:

* the **red-line patch stage** (minimum patch area, hole filling, dominant code per patch) needs
  whole patches, which cross window edges. geoeco does not approximate this with overlapping
  windows. Pass 1 reads every input once, window by window (a worker thread reads the next
  window while one is computed), and condenses it into a per-pixel reason bitmask (uint16)
  and a uint16 "pre" code holding everything else the classes and flags need (one numba pass
  over the window's uint8 inputs: each input's code looks up its contribution in a table, the
  contributions are OR-ed and decoded; inputs of other types take a plain numpy path with the
  same result); patches are labelled on the bitmask (``scipy.ndimage.label``, 8-connected
  patches, 4-connected holes); pass 2 turns pre code + cleaned red line into the outputs and
  their histograms with lookup tables in one numba pass, reading no input again. Small grids
  (up to :data:`WHOLE_GRID_PATCH_PIXELS`) keep both in memory and label the whole grid
  (about 14 bytes per pixel). Larger grids use exact **windowed
  connected components** (:func:`geoeco.patches.tiled_redline`): bitmask and pre code are
  spooled block by block to an anonymous temporary file in ``scratch_dir`` (with the blocks'
  labels, about 10 bytes per pixel on disk at most, deleted at the end), each block is
  labelled on its own, and labels facing each other across block edges are joined as graph
  components; three sweeps resolve patch sizes (run on each block as pass 1 produces it),
  holes and dominant codes. Memory is a few block-sized arrays plus a few numbers per patch
  touching a block edge, independent of the grid size, and results are identical to the
  whole-grid labelling. ``max_patch_pixels``
  (default 4 billion) only bounds the spool and the run time
  (:class:`~geoeco.errors.OversizeRequest`). With ``min_patch_km2 = max_hole_km2 = 0`` and
  ``code_by = "pixel"`` the engine is single-pass.
* results returned in memory are whole-grid arrays; give ``out_dir`` to stream them into COGs
  through :func:`geoeco.io.open_raster_writer` instead.

Engines. ``engine="dask"`` (or any :class:`~geoeco.engine.Engine`) runs pass 1 window by window
as tasks that read their inputs themselves (picklable, file-backed readers; otherwise pass 1
runs here and ``summary["compute"]["note"]`` says why). The driver consumes the results in
window order and runs the patch stage and pass 2 itself, so the outputs are identical.

Outputs (uint8):

* ``zone_class``: 1 priority protection, 2 key control, 3 general control, 0 nodata (outside the
  AOI, or a stage undecided because an input is nodata there);
* ``redline``: LXBM type code 11–25, 0 = not red line (see :mod:`geoeco.rules`);
* ``flags`` bitmask: **1** the class depends on an ``approximation`` layer, **2** on a
  ``synthetic`` layer, **4** inside the Three-North programme area, **8** battle ``ji_bend``,
  **16** battle ``horqin_hunshandake``, **32** battle ``hexi_taklimakan``.

  "Depends on": a class decided by positive evidence (priority or key criteria that are true)
  depends on the *most reliable* layer that is true there (a real layer that already decides
  the class makes an approximate one irrelevant); a class decided by negative evidence (key:
  no priority criterion true; general: nothing true) depends on *every* layer consulted. A
  red-line pixel that is there only because a hole was filled depends on every red-line layer.

In files, ``zone_class`` has nodata 0 and ``redline`` and ``flags`` have nodata 255 where
``zone_class`` is 0. In memory, all three are masked where ``zone_class`` is 0.

The exact vector mode (:func:`compute_zones_vector`, :class:`VectorZoning`) lives in
:mod:`geoeco.overlay_vector` and the patch clean-up (:func:`clean_patches`,
:func:`patch_codes`) in :mod:`geoeco.patches`; both are re-exported here.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> from geoeco.crs import ALBERS_CHINA
>>> from geoeco.rules import parse_rule_set
>>> rs = parse_rule_set({"name": "tiny", "version": "1", "title_en": "tiny",
...     "inputs": {"imp": {"table": "CumShare(0.5,0.8)"}, "ero": {"table": "SL190-2007/water"}},
...     "redline": {"reasons": [{"input": "imp", "min_class": 3, "code": 11}]},
...     "key": {"criteria": [{"input": "ero", "min_class": 3}]}})
>>> g = Grid(Affine(1000, 0, 0, 0, -1000, 4_000_000), 3, 1, ALBERS_CHINA)
>>> imp = Raster.from_array(np.array([[3, 1, 1]], "uint8"), g, nodata=0)
>>> ero = Raster.from_array(np.array([[1, 4, 1]], "uint8"), g, nodata=0)
>>> res = compute_zones(rs, {"imp": imp, "ero": LayerInput(ero, status="approximation")}, g)
>>> res.zone_class.array.tolist(), res.redline.array.tolist(), res.flags.array.tolist()
([[1, 2, 3]], [[11, 0, 0]], [[0, 1, 1]])
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from numba import njit
from rasterio.features import rasterize
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .engine import Engine, LocalEngine, get_engine
from .errors import (
    CRSError,
    EmptyArea,
    GridMismatch,
    InvalidInput,
    LayerNotFound,
    OversizeRequest,
)
from .patches import (
    MemoryTileStore,
    SpoolTileStore,
    TiledRedline,
    TileStore,
    _bit_codes,
    _pixel_codes,
    clean_patches,
    patch_codes,
)
from .raster import Grid, Raster
from .rules import ClassInput, Criterion, MaskInput, RuleSet, load_rule_set

if TYPE_CHECKING:  # re-exported lazily below: overlay_vector imports this module
    from .overlay_vector import VectorZoning, compute_zones_vector

Status = Literal["real", "approximation", "synthetic"]
Window = tuple[int, int, int, int]
_RANK = {"real": 0, "approximation": 1, "synthetic": 2}
_RANK_BITS = np.array([0, 1, 2, 0], dtype=np.uint8)  # rank -> flag bit; 3 = "no trigger"
FLAG_APPROXIMATION, FLAG_SYNTHETIC, FLAG_THREE_NORTH = 1, 2, 4
FLAG_BATTLES = {"ji_bend": 8, "horqin_hunshandake": 16, "hexi_taklimakan": 32}
FLAG_BITS: dict[int, str] = {
    1: "depends on an approximation layer",
    2: "depends on a synthetic layer",
    4: "inside the Three-North programme area",
    8: "inside battle ji_bend",
    16: "inside battle horqin_hunshandake",
    32: "inside battle hexi_taklimakan",
}
NODATA_REDLINE_FLAGS = 255
DEFAULT_MAX_PATCH_PIXELS = 4_000_000_000
#: Grids up to this many pixels run the patch stage on the whole grid in memory (~14 B/pixel).
WHOLE_GRID_PATCH_PIXELS = 4_194_304


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


@dataclass(frozen=True)
class ZoningResult:
    """Outputs of :func:`compute_zones`: Rasters (or COG paths when ``out_dir`` is given)."""

    zone_class: Raster | Path
    redline: Raster | Path
    flags: Raster | Path
    summary: dict[str, Any]


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
        return _RANK[self.status]


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


def _bind(name: str, li: LayerInput, spec: ClassInput | MaskInput | None, grid: Grid) -> _Bound:
    kind: Literal["class", "mask"] = "class" if isinstance(spec, ClassInput) else "mask"
    n = spec.n_classes if isinstance(spec, ClassInput) and spec.n_classes else 255
    common = {
        "name": name,
        "kind": kind,
        "status": li.status,
        "n_classes": n,
        "role": li.role,
        "version": li.version,
    }
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


def _bind_frame(name: str, li: LayerInput, spec: Any, grid: Grid, common: dict) -> _Bound:
    gdf = li.data
    if gdf.crs is None:
        raise CRSError(f"input {name!r}: vector layer has no CRS")
    notes = []
    if isinstance(spec, MaskInput) and spec.select:
        for col, val in spec.select.items():
            if col not in gdf.columns:
                raise InvalidInput(f"input {name!r}: column {col!r} (from `select`) not found")
            gdf = gdf[gdf[col] == val]
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


def prepare(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    grid: Grid,
    *,
    aoi: Any = None,
    max_patch_pixels: int = DEFAULT_MAX_PATCH_PIXELS,
) -> _Plan:
    """Validate a rule set against its inputs, grid and AOI without reading any pixel.

    Raises :class:`LayerNotFound` (a required input is missing), :class:`GridMismatch`,
    :class:`EmptyArea` (empty AOI, class layer outside the grid), :class:`CRSError`,
    :class:`InvalidInput` or :class:`OversizeRequest` (patch stage above ``max_patch_pixels``).
    """
    rs = load_rule_set(rules)
    if not grid.crs.is_projected:
        raise CRSError("the overlay grid must be projected (equal-area, e.g. ALBERS_CHINA)")
    aoi_geom = _aoi_geometry(aoi, grid)
    used = set().union(*rs.referenced_inputs().values())
    bound: dict[str, _Bound] = {}
    skipped: list[str] = []
    missing = [n for n in sorted(used) if n not in layers and _required(rs.inputs[n])]
    if missing:
        raise LayerNotFound(
            f"rule set {rs.name!r} needs input(s) {', '.join(missing)}; given: "
            f"{', '.join(sorted(layers)) or 'none'}"
        )
    for n in sorted(used):
        if n in layers:
            bound[n] = _bind(n, _as_layer_input(layers[n]), rs.inputs[n], grid)
        else:
            skipped.append(n)
    protected, development, ignored = [], [], []
    for n in sorted(set(layers) - set(rs.inputs)):
        li = _as_layer_input(layers[n])
        if li.role in rs.redline.protected.roles:
            protected.append(n)
        elif li.role in rs.key.roles:
            development.append(n)
        else:
            ignored.append(n)
            continue
        bound[n] = _bind(n, li, MaskInput(role=li.role), grid)  # type: ignore[arg-type]
    ignored += sorted(n for n in set(layers) & set(rs.inputs) if n not in used)
    rl = rs.redline
    patch_stage = rl.min_patch_km2 > 0 or rl.max_hole_km2 > 0 or rl.code_by == "patch"
    if patch_stage and grid.width * grid.height > max_patch_pixels:
        raise OversizeRequest(
            f"the red-line patch stage spools up to 10 bytes per pixel to disk and sweeps the "
            f"grid four times; {grid.width}x{grid.height} pixels exceed the limit of "
            f"{max_patch_pixels}. Use a coarser grid, a smaller AOI, or min_patch_km2 = "
            "max_hole_km2 = 0 with code_by = 'pixel'"
        )
    return _Plan(
        rules=rs,
        grid=grid,
        layers=bound,
        aoi=aoi_geom,
        protected=[n for n in rl.protected.inputs if n in bound] + protected,
        development=[n for n in rs.key.masks if n in bound] + development,
        skipped=skipped,
        ignored=ignored,
        patch_stage=patch_stage,
        min_patch_px=rl.min_patch_km2 * 1e6 / grid.cell_area,
        max_hole_px=rl.max_hole_km2 * 1e6 / grid.cell_area,
    )


def _required(spec: ClassInput | MaskInput) -> bool:
    return spec.required


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
    return rasterize(
        zip(geoms, vals.astype(np.uint8).tolist(), strict=True),
        out_shape=out_shape,
        transform=wgrid.transform,
        fill=0,
        all_touched=False,
        dtype="uint8",
    )


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
                a = self._reads[name] if name in self._reads else b.read(self.win)  # type: ignore[misc]
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
            return (
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
        r0, c0, h, w = self.win
        arr = a.array[r0 : r0 + h, c0 : c0 + w] if isinstance(a, Raster) else a.read(self.win)
        return np.ma.filled(arr, 0).astype(bool)


# Pass 1 condenses every input of a window into one uint16 "pre" code per pixel: everything
# the classes and flags need except the cleaned red line, which the patch stage decides later.
_PRE_POS_RED = 0  # 2 bits: rank of the most reliable red-line trigger at the pixel (3: none)
_PRE_POS_PRI = 2  # 2 bits: ... of the other priority criteria and masks
_PRE_POS_KEY = 4  # 2 bits: ... of the key criteria and development masks
_PRE_UNKNOWN = 1 << 6  # a red-line or priority input is nodata (inside the AOI)
_PRE_K_UNKNOWN = 1 << 7  # a key input is nodata
_PRE_AOI = 1 << 8
_PRE_CAND = 1 << 9  # some red-line reason bit is set (before the patch stage)
_PRE_ATTR_SHIFT = 8  # flag bits 4..32 (Three-North, battles) sit at pre bits 10..13
_PRE_IN_RED = 1 << 14  # added in pass 2: the pixel is in the cleaned red line


def _rank_pos(trig: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Per pixel, the lowest rank whose trigger is true (3 where none)."""
    pos = np.full(shape, 3, np.uint16)
    for rank in sorted(trig, reverse=True):
        np.copyto(pos, np.uint16(rank), where=trig[rank])
    return pos


def _or_into(trig: dict[int, np.ndarray], rank: int, t: np.ndarray, *, owned: bool) -> None:
    """OR ``t`` into the trigger of ``rank`` (``owned``: ``t`` may be kept and modified)."""
    if rank in trig:
        trig[rank] |= t
    else:
        trig[rank] = t if owned else t.copy()


_Stacked = tuple[np.ndarray, np.ndarray, np.ndarray]  # planes, masks, has_mask


def _read_all(
    plan: _Plan,
    win: Window,
    tables: _PreTables | None = None,
    buffers: dict[Any, np.ndarray] | None = None,
) -> tuple[dict[str, Any], _Stacked | None]:
    """Read every raster/reader input of a window (run in the prefetch thread); with
    ``tables``, also stack them as the kernel's uint8 planes (``None`` if one is not uint8)."""
    reads = {n: b.read(win) for n, b in plan.layers.items() if b.source != "vector"}  # type: ignore[misc]
    if tables is None:
        return reads, None
    return reads, _stack(tables, win, reads, {} if buffers is None else buffers)


def _buffer(buffers: dict[Any, np.ndarray], key: Any, shape: tuple[int, ...], dtype: Any):  # type: ignore[no-untyped-def]
    """An array of ``shape`` kept in ``buffers`` for reuse (no page faults for each window)."""
    a = buffers.get((key, shape))
    if a is None:
        a = buffers[key, shape] = np.empty(shape, dtype)
    return a


def _stack(
    tables: _PreTables, win: Window, reads: dict[str, Any], buffers: dict[Any, np.ndarray]
) -> _Stacked | None:
    """Input planes ``(k, h, w)`` uint8 and their nodata masks; vector planes left empty."""
    h, w = win[2], win[3]
    k = len(tables.names)
    data = _buffer(buffers, "data", (k, h, w), np.uint8)
    masks: np.ndarray | None = None
    has_mask = np.zeros(k, bool)
    for i, n in enumerate(tables.names):
        if n not in reads:
            continue
        a = reads[n]
        d = np.ma.getdata(a)
        if d.dtype != np.uint8 or d.shape != (h, w):
            return None  # the general path of _Window.classes
        data[i] = d
        m = np.ma.getmask(a)
        if m is not np.ma.nomask:
            if masks is None:
                masks = _buffer(buffers, "masks", (k, h, w), bool)
            masks[i] = m
            has_mask[i] = True
    return data, (np.zeros((1, 1, 1), bool) if masks is None else masks), has_mask


def _pre_fast(
    plan: _Plan, tables: _PreTables, win: Window, reads: dict[str, Any], stacked: _Stacked
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_pre` through :func:`_pre_kernel` (identical results, one pass over the pixels)."""
    data, masks, has_mask = stacked
    w: _Window | None = None
    for i, n in enumerate(tables.names):
        b = plan.layers[n]
        if b.source == "vector":
            w = w or _Window(plan, win, reads)
            data[i] = w.classes(n)[0] if b.kind == "class" else w.mask(n)
    aoi, has_aoi = np.ones((1, 1), bool), False
    if plan.aoi is not None:
        w = w or _Window(plan, win, reads)
        aoi, has_aoi = w.aoi(), True
    pre, bits = (np.empty(data.shape[1:], np.uint16) for _ in range(2))
    if _pre_kernel(data, masks, has_mask, tables.luts, aoi, has_aoi, tables.dec, pre, bits):
        for i, n in enumerate(tables.names):
            b = plan.layers[n]
            codes = np.where(masks[i], np.uint8(0), data[i]) if has_mask[i] else data[i]
            top = int(codes.max())
            if b.kind == "class" and top > b.n_classes:
                raise InvalidInput(
                    f"input {n!r}: class codes must be 1..{b.n_classes}, found {top}"
                )
    return pre, bits


def _pre_windows(
    plan: _Plan, windows: list[Window], *, kernel: bool = True, engine: Engine | None = None
) -> Iterator[tuple[int, Window, np.ndarray, np.ndarray]]:
    """``(t, window, pre, bits)`` of every window; a worker thread reads window t + 1 while
    window t is computed (one reader at a time, so readers need not be thread-safe).

    ``kernel``: use :func:`_pre_kernel` where every input is uint8 (or a vector), else
    :func:`_pre` (plain numpy, the reference). ``engine``: run :func:`_pass_one_window` there
    instead (results still come in window order)."""
    from concurrent.futures import ThreadPoolExecutor

    tables = _pre_tables(plan) if kernel else None
    if engine is not None:
        spec = _PassOneSpec(plan, tables)
        spec = _PassOneSpec(plan, tables, len(pickle.dumps(spec)))
        for t, (win, (pre, bits)) in enumerate(engine.map_windows(_pass_one_window, windows, spec)):
            yield t, win, pre, bits
        return
    slots: list[dict[Any, np.ndarray]] = [{}, {}]  # window t stacks into slots[t % 2]
    with ThreadPoolExecutor(1, thread_name_prefix="geoeco-read") as pool:
        nxt = pool.submit(_read_all, plan, windows[0], tables, slots[0]) if windows else None
        for t, win in enumerate(windows):
            reads, stacked = nxt.result()  # type: ignore[union-attr]
            nxt = (
                pool.submit(_read_all, plan, windows[t + 1], tables, slots[(t + 1) % 2])
                if t + 1 < len(windows)
                else None
            )
            try:
                if stacked is not None:
                    yield (t, win, *_pre_fast(plan, tables, win, reads, stacked))  # type: ignore[arg-type]
                else:
                    yield (t, win, *_pre(plan, win, reads))
            except BaseException:
                if nxt is not None:
                    nxt.cancel()
                raise


def _pre(
    plan: _Plan, win: Window, reads: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 for one window: ``(pre, bits)``, the pre code and the red-line reason bitmask
    (bit i = reason i, bit n = protected), both uint16."""
    rs = plan.rules
    w = _Window(plan, win, reads)
    aoi = w.aoi()
    everywhere = plan.aoi is None  # aoi is all True: skip the ANDs
    shape = w.wgrid.shape
    layers = plan.layers
    bits = np.zeros(shape, np.uint16)
    red_t: dict[int, np.ndarray] = {}
    pri_t: dict[int, np.ndarray] = {}
    key_t: dict[int, np.ndarray] = {}
    unknown_in: set[str] = set()
    k_unknown_in: set[str] = set()
    for i, r in enumerate(rs.redline.reasons):
        if r.input in layers:
            t, _ = w.criterion(r)
            if not everywhere:
                t &= aoi
            np.bitwise_or(bits, np.uint16(1 << i), out=bits, where=t)
            unknown_in.add(r.input)
            _or_into(red_t, layers[r.input].rank, t, owned=True)
    n = len(rs.redline.reasons)
    for name in plan.protected:
        m = w.mask(name) if everywhere else w.mask(name) & aoi
        np.bitwise_or(bits, np.uint16(1 << n), out=bits, where=m)
        _or_into(red_t, layers[name].rank, m, owned=not everywhere)
    for c in rs.priority.criteria:
        if c.input in layers:
            t, _ = w.criterion(c)
            if not everywhere:
                t &= aoi
            unknown_in.add(c.input)
            _or_into(pri_t, layers[c.input].rank, t, owned=True)
    for m_ in rs.priority.masks:
        if m_ in layers:
            m = w.mask(m_) if everywhere else w.mask(m_) & aoi
            _or_into(pri_t, layers[m_].rank, m, owned=not everywhere)
    for c in rs.key.criteria:
        if c.input in layers:
            t, _ = w.criterion(c)
            k_unknown_in.add(c.input)
            _or_into(key_t, layers[c.input].rank, t, owned=True)
    for m_ in plan.development:
        _or_into(key_t, layers[m_].rank, w.mask(m_), owned=False)
    pre = _rank_pos(red_t, shape)
    pre |= _rank_pos(pri_t, shape) << np.uint16(_PRE_POS_PRI)
    pre |= _rank_pos(key_t, shape) << np.uint16(_PRE_POS_KEY)
    for flag, names in ((_PRE_UNKNOWN, unknown_in), (_PRE_K_UNKNOWN, k_unknown_in)):
        for name in sorted(names):
            np.bitwise_or(pre, np.uint16(flag), out=pre, where=w.invalid(name))
    if everywhere:
        pre |= np.uint16(_PRE_AOI)
    else:
        np.bitwise_and(pre, np.uint16(~_PRE_UNKNOWN & 0xFFFF), out=pre, where=~aoi)
        np.bitwise_or(pre, np.uint16(_PRE_AOI), out=pre, where=aoi)
    np.bitwise_or(pre, np.uint16(_PRE_CAND), out=pre, where=bits != 0)
    att = rs.attributes
    attrs = [(FLAG_THREE_NORTH, att.three_north)] + [
        (FLAG_BATTLES[b], name) for b, name in att.battles.items()
    ]
    for flag, name in attrs:
        if name and name in layers:
            np.bitwise_or(pre, np.uint16(flag << _PRE_ATTR_SHIFT), out=pre, where=w.mask(name))
    return pre, bits


# The pass-1 kernel. Every criterion, mask and attribute depends on one input's code at the
# pixel, so each input gets a table code -> uint32 "contribution"; a pixel's contributions are
# OR-ed and decoded into (pre, bits) with one more table. Layout of a contribution:
_K_RED, _K_PRI, _K_KEY = 16, 19, 22  # 3 bits each: bit r set = a trigger of rank r is true
_K_UNK, _K_KUNK, _K_ATTR = 25, 26, 27  # unknown, key unknown, 4 attribute flags (flag >> 2)
_K_BAD = 31  # a class code above the input's n_classes
# outside the AOI only the key triggers, key unknown and attributes count (as in _pre)
_K_KEEP_OUTSIDE = (7 << _K_KEY) | (1 << _K_KUNK) | (15 << _K_ATTR) | (1 << _K_BAD)


@dataclass(frozen=True)
class _PreTables:
    """Lookup tables of the pass-1 kernel (see :func:`_pre_tables`)."""

    names: tuple[str, ...]  # input order of the stacked planes
    luts: np.ndarray  # (k, 256) uint32: code -> contribution
    dec: np.ndarray  # (32768,) uint16: contribution >> 16 -> pre code (without AOI, CAND)


def _pre_tables(plan: _Plan) -> _PreTables | None:
    """The kernel's tables for ``plan``; ``None`` if its reason bits do not fit 16 bits."""
    rs, layers = plan.rules, plan.layers
    n = len(rs.redline.reasons)
    if n + 1 > 16:
        return None
    names = tuple(layers)
    col = {name: i for i, name in enumerate(names)}
    v = np.arange(256)
    nz = v != 0
    luts = np.zeros((len(names), 256), np.uint32)

    def crit(c: Criterion) -> np.ndarray:
        t = nz & (v >= c.min_class)
        return t & (v <= c.max_class) if c.max_class is not None else t

    def add(name: str, sel: np.ndarray, value: int) -> None:
        luts[col[name], sel] |= np.uint32(value)

    def rank(name: str) -> int:
        return layers[name].rank

    for i, r in enumerate(rs.redline.reasons):
        if r.input in layers:
            add(r.input, crit(r), (1 << i) | (1 << (_K_RED + rank(r.input))))
            add(r.input, ~nz, 1 << _K_UNK)
    for name in plan.protected:
        add(name, nz, (1 << n) | (1 << (_K_RED + rank(name))))
    for c in rs.priority.criteria:
        if c.input in layers:
            add(c.input, crit(c), 1 << (_K_PRI + rank(c.input)))
            add(c.input, ~nz, 1 << _K_UNK)
    for m in rs.priority.masks:
        if m in layers:
            add(m, nz, 1 << (_K_PRI + rank(m)))
    for c in rs.key.criteria:
        if c.input in layers:
            add(c.input, crit(c), 1 << (_K_KEY + rank(c.input)))
            add(c.input, ~nz, 1 << _K_KUNK)
    for m in plan.development:
        add(m, nz, 1 << (_K_KEY + rank(m)))
    att = rs.attributes
    attrs = [(FLAG_THREE_NORTH, att.three_north)] + [
        (FLAG_BATTLES[b], name) for b, name in att.battles.items()
    ]
    for flag, name in attrs:
        if name and name in layers:
            add(name, nz, (flag >> 2) << _K_ATTR)
    for name, b in layers.items():
        if b.kind == "class":
            add(name, v > b.n_classes, 1 << _K_BAD)
    u = np.arange(1 << 15, dtype=np.int64)
    first = np.array([3, 0, 1, 0, 2, 0, 1, 0], np.int64)  # lowest set bit of 3 bits, 3 if none
    dec = (
        first[u & 7]
        | (first[(u >> 3) & 7] << _PRE_POS_PRI)
        | (first[(u >> 6) & 7] << _PRE_POS_KEY)
        | (((u >> 9) & 1) * _PRE_UNKNOWN)
        | (((u >> 10) & 1) * _PRE_K_UNKNOWN)
        | (((u >> 11) & 15) << (_PRE_ATTR_SHIFT + 2))
    ).astype(np.uint16)
    return _PreTables(names, luts, dec)


@njit(cache=True, nogil=True)
def _pre_kernel(data, masks, has_mask, luts, aoi, has_aoi, dec, pre, bits):  # type: ignore[no-untyped-def]  # pragma: no cover - numba
    """Pass 1 of one window from stacked uint8 planes; returns 1 if a class code is too high."""
    k, h, w = data.shape
    acc = np.zeros(w, np.uint32)
    bad = 0
    keep = _K_KEEP_OUTSIDE
    for y in range(h):
        acc[:] = 0
        for i in range(k):
            lut = luts[i]
            row = data[i, y]
            if has_mask[i]:
                mrow = masks[i, y]
                for x in range(w):
                    acc[x] |= lut[0 if mrow[x] else row[x]]
            else:
                for x in range(w):
                    acc[x] |= lut[row[x]]
        for x in range(w):
            a = np.int64(acc[x])
            p = _PRE_AOI
            if has_aoi and not aoi[y, x]:
                p = 0
                a &= keep
            bad |= a
            b = a & 0xFFFF
            p |= np.int64(dec[(a >> 16) & 0x7FFF])
            if b:
                p |= _PRE_CAND
            pre[y, x] = p
            bits[y, x] = b
    return (bad >> 31) & 1


@njit(cache=True, nogil=True)
def _finish_kernel(pre, red, zlut, flut, nd, zone, red_out, flags, zone_px, red_px, flag_px):  # type: ignore[no-untyped-def]  # pragma: no cover - numba
    """Pass 2 of one window: outputs through the lookup tables, plus their histograms.

    ``red``/``flags`` get ``nd`` where the zone is 0; the red and flag histograms count only
    zoned pixels.
    """
    h, w = pre.shape
    for y in range(h):
        for x in range(w):
            r = np.int64(red[y, x])
            idx = np.int64(pre[y, x])
            if r != 0:
                idx |= _PRE_IN_RED
            z = zlut[idx]
            zone[y, x] = z
            zone_px[z] += 1
            if z == 0:
                red_out[y, x] = nd
                flags[y, x] = nd
            else:
                f = flut[idx]
                if z != 1:
                    r = 0
                red_out[y, x] = r
                flags[y, x] = f
                red_px[r] += 1
                flag_px[f] += 1


def warm_up() -> None:
    """Load the raster engine's numba kernels now (from numba's on-disk cache, compiling them
    the first time), so that the first :func:`compute_zones` does not pay for it (about 0.3 s
    from the cache). Services call this at start-up.

    >>> warm_up()
    """
    from .patches import _label_sizes, _label_votes

    u8, u16 = np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint16)
    lut = np.zeros(1 << 15, np.uint8)
    px = np.zeros(256, np.int64)
    _pre_kernel(
        np.zeros((1, 1, 1), np.uint8),
        np.zeros((1, 1, 1), bool),
        np.zeros(1, bool),
        np.zeros((1, 256), np.uint32),
        np.ones((1, 1), bool),
        False,
        np.zeros(1 << 15, np.uint16),
        u16.copy(),
        u16.copy(),
    )
    _finish_kernel(u16, u8, lut, lut, 0, u8.copy(), u8.copy(), u8.copy(), px, px.copy(), px.copy())
    lab = np.zeros((1, 1), np.int32)
    _label_sizes(lab, 0)
    _label_votes(lab, u16, 0, np.zeros(1, np.int64), np.zeros(1, np.int64), 1)


def _stage_layers(plan: _Plan) -> tuple[list[str], list[str], list[str]]:
    rs = plan.rules
    red = [r.input for r in rs.redline.reasons if r.input in plan.layers] + plan.protected
    pri = (
        red
        + [c.input for c in rs.priority.criteria if c.input in plan.layers]
        + [m for m in rs.priority.masks if m in plan.layers]
    )
    key = [c.input for c in rs.key.criteria if c.input in plan.layers] + plan.development
    return red, pri, key


def _bits_of(plan: _Plan, names: list[str]) -> int:
    out = 0
    for n in set(names):
        out |= int(_RANK_BITS[plan.layers[n].rank])
    return out


def _finish_luts(plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables ``pre | in_red`` → ``zone_class`` and ``flags`` (see :func:`_pre`)."""
    idx = np.arange(1 << 15, dtype=np.int64)
    pos_red, pos_pri, pos_key = idx & 3, (idx >> _PRE_POS_PRI) & 3, (idx >> _PRE_POS_KEY) & 3
    on = {f: (idx & f) != 0 for f in (_PRE_UNKNOWN, _PRE_K_UNKNOWN, _PRE_AOI, _PRE_CAND)}
    in_red = (idx & _PRE_IN_RED) != 0
    red_layers, pri_layers, key_layers = _stage_layers(plan)
    # a red-line pixel counts its triggers; one there only because a hole was filled depends
    # on every red-line layer (the least reliable one)
    worst = max((plan.layers[n].rank for n in red_layers), default=0)
    pos_p = np.where(in_red, np.where(on[_PRE_CAND], pos_red, worst), 3)
    pos_p = np.minimum(pos_p, pos_pri)
    p_true = in_red | (pos_pri < 3)
    p_unknown = ~p_true & on[_PRE_UNKNOWN]
    k_true = pos_key < 3
    zone = np.full(idx.shape, 3, np.uint8)
    zone[on[_PRE_K_UNKNOWN] & ~k_true] = 0
    zone[k_true] = 2
    zone[p_unknown] = 0
    zone[p_true] = 1
    zone[~on[_PRE_AOI]] = 0
    const_p, const_k = _bits_of(plan, pri_layers), _bits_of(plan, key_layers)
    flags = np.zeros(idx.shape, np.uint8)
    flags[zone == 1] = _RANK_BITS[pos_p[zone == 1]]
    flags[zone == 2] = const_p | _RANK_BITS[pos_key[zone == 2]]
    flags[zone == 3] = const_p | const_k
    flags |= ((idx >> _PRE_ATTR_SHIFT) & 0b111100).astype(np.uint8)
    flags[zone == 0] = 0
    return zone, flags


def _finish(
    luts: tuple[np.ndarray, np.ndarray], pre: np.ndarray, red: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass 2 for one window: ``(zone_class, redline, flags)`` from the pre code and the red
    line after the patch stage (plain numpy; the reference of :func:`_finish_kernel`)."""
    idx = np.bitwise_or(pre, np.uint16(_PRE_IN_RED), where=red != 0, out=pre.copy())
    zone = luts[0].take(idx)
    flags = luts[1].take(idx)
    red = np.where(zone == 1, red, np.uint8(0))
    return zone, red, flags


def _pixel_red(plan: _Plan, bits: np.ndarray) -> np.ndarray:
    rl = plan.rules.redline
    return _pixel_codes(bits, _bit_codes(plan.rules), rl.protected.code)


def _whole_grid_red(
    plan: _Plan, bits: np.ndarray, outside: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """The red line after patch clean-up, coded per patch, on the whole grid (small grids)."""
    rs = plan.rules
    rl = rs.redline
    mask, stats = clean_patches(
        bits != 0,
        min_patch_px=plan.min_patch_px,
        max_hole_px=plan.max_hole_px,
        connectivity=rl.connectivity,
        barrier=outside,
    )
    codes = _bit_codes(rs)
    if rl.code_by == "patch":
        red = patch_codes(
            mask, bits, codes, fallback=rl.protected.code, connectivity=rl.connectivity
        )
    else:
        red = np.where(mask, _pixel_codes(bits, codes, rl.protected.code), np.uint8(0))
        red[mask & (red == 0)] = rl.protected.code  # filled holes: fallback code
    return red, stats


def compute_zones(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    grid: Grid,
    *,
    aoi: Any = None,
    block_size: int = 1024,
    out_dir: str | Path | None = None,
    max_patch_pixels: int = DEFAULT_MAX_PATCH_PIXELS,
    patch_mode: Literal["auto", "whole", "windowed"] = "auto",
    scratch_dir: str | Path | None = None,
    engine: Engine | str | None = None,
) -> ZoningResult:
    """Zone ``grid`` with ``rules`` (a :class:`RuleSet` or built-in name) from ``layers``.

    Parameters
    ----------
    rules : RuleSet or str
    layers : mapping of input name → Raster, reader, callable or GeoDataFrame or LayerInput
    grid : Grid
        The equal-area analysis grid every raster input is aligned to.
    aoi : shapely geometry (grid CRS), GeoDataFrame, or boolean mask Raster, optional
        Pixels whose centre is outside are nodata (0). Default: the whole grid.
    block_size : int
        Window size for reading and writing, and tile size of the windowed patch stage.
    out_dir : path, optional
        Write ``zone_class.tif``, ``redline.tif`` and ``flags.tif`` (COGs) there instead of
        returning in-memory Rasters.
    max_patch_pixels : int
        Size limit of the red-line patch stage (see the module docstring).
    patch_mode : {"auto", "whole", "windowed"}
        How the patch stage runs: on the whole grid in memory, or tile by tile with the per-pixel
        state spooled to a temporary file. ``auto``: whole grid up to
        :data:`WHOLE_GRID_PATCH_PIXELS` pixels, windowed above. Both give identical results.
    scratch_dir : path, optional
        Folder of the windowed patch stage's temporary spool file (up to about 10 bytes per
        pixel, deleted at the end). Default: ``out_dir``, else the system's temporary folder.
    engine : Engine or {"local", "dask"}, optional
        Where pass 1 (reading the inputs and condensing them into pre codes and red-line
        reason bits) runs, window by window (see :mod:`geoeco.engine`); default local. With
        ``"dask"`` each window is a task that reads its inputs itself, so every input (and a
        reader AOI) must be a picklable reader that opens its file in the worker, or a
        GeoDataFrame; with an in-memory Raster or an unpicklable reader/closure, pass 1 runs
        locally and ``summary["compute"]["note"]`` says why. The patch stage and pass 2 (the
        outputs and their writing) always run here, fed in window order, so the results are
        identical whichever engine ran. An engine made here from a name is closed here.

    Returns
    -------
    ZoningResult
        The three outputs and a JSON-ready ``summary``.
    """
    plan = prepare(rules, layers, grid, aoi=aoi, max_patch_pixels=max_patch_pixels)
    if patch_mode not in ("auto", "whole", "windowed"):
        raise InvalidInput(f"patch_mode must be auto, whole or windowed, got {patch_mode!r}")
    windowed = plan.patch_stage and (
        patch_mode == "windowed"
        or (patch_mode == "auto" and grid.width * grid.height > WHOLE_GRID_PATCH_PIXELS)
    )
    zlut, flut = _finish_luts(plan)
    nd = NODATA_REDLINE_FLAGS if out_dir is not None else 0
    zone_px = np.zeros(4, np.int64)
    red_px = np.zeros(256, np.int64)
    flag_px = np.zeros(256, np.int64)
    stats = {"removed_px": 0, "filled_px": 0}
    windows = list(grid.blocks(block_size))
    if engine is not None and not isinstance(engine, str | Engine):
        raise InvalidInput(f"engine must be 'local', 'dask' or an Engine; got {engine!r}")
    with contextlib.ExitStack() as stack:
        eng = get_engine(engine)
        if eng is not engine:  # made here from a name: closed here too
            stack.enter_context(eng)
        runner, compute = _pass_one_runner(plan, eng)
        compute.update(windows=len(windows), window_px=block_size)
        sink = _Sink(grid, out_dir, stack, plan)

        slots: list[dict[Any, np.ndarray]] = [{}, {}]  # the sink writes one window at a time
        count = [0]

        def emit(win: Window, pre: np.ndarray, red: np.ndarray) -> None:
            slot = slots[count[0] % 2]
            count[0] += 1
            zone, red_o, flags = (_buffer(slot, i, pre.shape, np.uint8) for i in range(3))
            _finish_kernel(pre, red, zlut, flut, nd, zone, red_o, flags, zone_px, red_px, flag_px)
            sink.write(win, zone, red_o, flags)

        if not plan.patch_stage:  # single pass, per-pixel codes
            for _, win, pre, bits in _pre_windows(plan, windows, engine=runner):
                emit(win, pre, _pixel_red(plan, bits))
        else:
            if windowed:
                if out_dir is not None:
                    Path(out_dir).mkdir(parents=True, exist_ok=True)
                store: TileStore = stack.enter_context(SpoolTileStore(scratch_dir or out_dir))
                red_of = _patch_stage_tiled(plan, windows, block_size, store, runner)
            else:
                store = MemoryTileStore()
                red_of = _patch_stage_whole(plan, windows, store, runner)
            for t, win in enumerate(windows):
                emit(win, store.get("pre", t), red_of(win))  # type: ignore[arg-type]
            stats = red_of.stats  # type: ignore[attr-defined]
        outputs = sink.finish()
    if zone_px[1:].sum() == 0:
        raise EmptyArea("no pixel of the area of interest could be zoned (all nodata)")
    summary = _summary(plan, zone_px, red_px, flag_px, stats, windowed)
    summary["compute"] = compute
    return ZoningResult(*outputs, summary=summary)


def _unshippable(plan: _Plan) -> list[str]:
    """Inputs (and the AOI) a worker process could not read by itself: in-memory Rasters,
    and readers or callables that do not pickle (open datasets, closures)."""
    readers: list[tuple[str, Any]] = []
    out = []
    for n, b in plan.layers.items():
        if b.source == "raster":
            out.append(f"{n} (in-memory Raster)")
        elif b.source == "reader":
            readers.append((n, b.read))
    if isinstance(plan.aoi, Raster):
        out.append("aoi (in-memory Raster)")
    elif plan.aoi is not None and not isinstance(plan.aoi, BaseGeometry):
        readers.append(("aoi", plan.aoi))
    for n, read in readers:
        try:
            pickle.dumps(read)
        except Exception:  # any pickling failure means "not shippable"
            out.append(f"{n} (reader that does not pickle)")
    return out


@dataclass(frozen=True)
class _PassOneSpec:
    """What :func:`_pass_one_window` needs: the plan (rules, grid, picklable readers, vector
    frames, AOI geometry) and the kernel tables. ``nbytes`` is its pickled size, so that an
    engine ships a large one (big vector inputs) to each worker once instead of per task."""

    plan: _Plan
    tables: _PreTables | None
    nbytes: int = 0


def _pass_one_window(spec: _PassOneSpec, win: Window) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 of one window, ``(pre, bits)`` (uint16 each): the task an engine runs. Reads
    the inputs itself, writes nothing."""
    reads, stacked = _read_all(spec.plan, win, spec.tables, {})
    if stacked is not None:
        return _pre_fast(spec.plan, spec.tables, win, reads, stacked)  # type: ignore[arg-type]
    return _pre(spec.plan, win, reads)


def _pass_one_runner(plan: _Plan, eng: Engine) -> tuple[Engine | None, dict[str, Any]]:
    """The engine pass 1 runs on (``None``: here, with the prefetch thread) and the summary's
    ``compute`` record."""
    if isinstance(eng, LocalEngine) or eng.name == "local":
        return None, {**eng.describe(), "pass1": "local"}
    bad = _unshippable(plan)
    if bad:
        return None, {
            **LocalEngine().describe(),
            "requested": eng.name,
            "pass1": "local",
            "note": f"engine {eng.name!r} not used: workers cannot read "
            f"{', '.join(bad)}; give file-backed picklable readers to run pass 1 on it",
        }
    return eng, {**eng.describe(), "pass1": eng.name}


class _WholeRed:
    """Slices of a whole-grid red line, for the small-grid path."""

    def __init__(self, red: np.ndarray, stats: dict[str, int]) -> None:
        self.full, self.stats = red, stats

    def __call__(self, win: Window) -> np.ndarray:
        return self.full[win[0] : win[0] + win[2], win[1] : win[1] + win[3]]


def _patch_stage_whole(
    plan: _Plan, windows: list[Window], store: TileStore, engine: Engine | None = None
) -> _WholeRed:
    """Pass 1 keeping the reason bits of the whole grid in memory (about 12 bytes/pixel)."""
    bits = np.zeros(plan.grid.shape, np.uint16)
    outside = np.zeros(plan.grid.shape, bool)
    for t, win, pre, b in _pre_windows(plan, windows, engine=engine):
        store.put("pre", t, pre)
        sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
        bits[sl] = b
        outside[sl] = (pre & _PRE_AOI) == 0
    return _WholeRed(*_whole_grid_red(plan, bits, outside))


class _TiledRed:
    def __init__(self, tiled: TiledRedline) -> None:
        self.tiled, self.stats = tiled, tiled.stats

    def __call__(self, win: Window) -> np.ndarray:
        return self.tiled.red(win)


def _patch_stage_tiled(
    plan: _Plan,
    windows: list[Window],
    block_size: int,
    store: TileStore,
    engine: Engine | None = None,
) -> _TiledRed:
    """Pass 1 spooling the pre codes and reason bits (sweep 1 of the patch stage runs on each
    tile as it comes), then the rest of the tiled patch stage."""
    rs = plan.rules
    rl = rs.redline
    tiled = TiledRedline(
        plan.grid.shape,
        block_size,
        store,
        _bit_codes(rs),
        fallback=rl.protected.code,
        min_patch_px=plan.min_patch_px,
        max_hole_px=plan.max_hole_px,
        connectivity=rl.connectivity,
        code_by=rl.code_by,
        defer=True,
    )
    for t, _, pre, bits in _pre_windows(plan, windows, engine=engine):
        store.put("pre", t, pre)
        tiled.add_tile(t, bits, None if plan.aoi is None else (pre & _PRE_AOI) == 0)
    return _TiledRed(tiled.finish())


class _Sink:
    """Collects output windows in memory or streams them to COG writers."""

    def __init__(self, grid: Grid, out_dir: Any, stack: contextlib.ExitStack, plan: _Plan):
        self.grid, self.out_dir = grid, out_dir
        self.paths: list[Path] = []
        if out_dir is None:
            self.arrays = [np.zeros(grid.shape, np.uint8) for _ in range(3)]
            return
        from .io import open_raster_writer

        tags = {"rule_set": plan.rules.name, "rule_set_sha256": plan.rules.sha256()}
        self.writers = []
        for name, nodata in (("zone_class", 0), ("redline", 255), ("flags", 255)):
            p = Path(out_dir) / f"{name}.tif"
            self.paths.append(p)
            self.writers.append(
                stack.enter_context(
                    open_raster_writer(
                        p,
                        grid,
                        dtype="uint8",
                        nodata=nodata,
                        units="class",
                        band_names=[name],
                        tags=tags,
                    )
                )
            )
        from concurrent.futures import ThreadPoolExecutor

        self._pending: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="geoeco-write")
        stack.callback(self._pool.shutdown)
        stack.callback(self._drain_quietly)  # runs first: no writer closes mid-write

    def write(self, win: Window, zone: np.ndarray, red: np.ndarray, flags: np.ndarray) -> None:
        """Store or write one window (``red``/``flags`` hold the file nodata where ``zone``
        is 0); the arrays must stay untouched until the next call."""
        if self.out_dir is None:
            sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
            for arr, v in zip(self.arrays, (zone, red, flags), strict=True):
                arr[sl] = v
            return
        self.drain()  # at most one window in flight: compression overlaps the next window
        self._pending = self._pool.submit(self._write, win, zone, red, flags)

    def _write(self, win: Window, *arrays: np.ndarray) -> None:
        for wr, a in zip(self.writers, arrays, strict=True):
            wr.write(win, a)

    def drain(self) -> None:
        """Wait for the window being written (re-raising its error)."""
        if self._pending is not None:
            p, self._pending = self._pending, None
            p.result()

    def _drain_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.drain()

    def finish(self) -> list[Any]:
        if self.out_dir is not None:
            self.drain()
            return list(self.paths)
        zone = self.arrays[0]
        nd = zone == 0
        names = ("zone_class", "redline", "flags")
        return [
            Raster(np.ma.MaskedArray(a, mask=nd), self.grid, "class", n)
            for a, n in zip(self.arrays, names, strict=True)
        ]


def _summary(
    plan: _Plan,
    zone_px: np.ndarray,
    red_px: np.ndarray,
    flag_px: np.ndarray,
    stats: dict[str, int],
    windowed: bool = False,
) -> dict[str, Any]:
    rs, grid = plan.rules, plan.grid
    km2 = grid.cell_area / 1e6
    _, pri, key = _stage_layers(plan)
    consulted = set(pri) | set(key)
    inputs = {
        n: {
            "kind": b.kind,
            "source": b.source,
            "status": b.status,
            "role": b.role,
            "version": b.version,
            "notes": b.notes,
        }
        for n, b in sorted(plan.layers.items())
    }
    bits = np.arange(256)
    return {
        "rule_set": rs.describe(),
        "class_tables": rs.class_tables(),
        "grid": {
            "crs": grid.crs.to_string(),
            "shape": list(grid.shape),
            "res": list(grid.res),
            "cell_area_m2": grid.cell_area,
        },
        "inputs": inputs,
        "skipped_inputs": plan.skipped,
        "ignored_inputs": plan.ignored,
        "approximation_layers": sorted(
            n for n in consulted if plan.layers[n].status == "approximation"
        ),
        "synthetic_layers": sorted(n for n in consulted if plan.layers[n].status == "synthetic"),
        "attribute_layers": sorted(
            n for n, b in plan.layers.items() if n not in consulted and b.kind == "mask"
        ),
        "area_km2": {
            "priority": float(zone_px[1] * km2),
            "key": float(zone_px[2] * km2),
            "general": float(zone_px[3] * km2),
            "nodata_in_grid": float(zone_px[0] * km2),
            "zoned": float(zone_px[1:].sum() * km2),
        },
        "redline_km2": {int(c): float(red_px[c] * km2) for c in np.nonzero(red_px)[0] if c},
        "flag_km2": {int(b): float(flag_px[(bits & b) > 0].sum() * km2) for b in FLAG_BITS},
        "flag_bits": FLAG_BITS,
        "redline_cleanup": {
            "min_patch_km2": rs.redline.min_patch_km2,
            "max_hole_km2": rs.redline.max_hole_km2,
            "removed_km2": stats["removed_px"] * km2,
            "filled_km2": stats["filled_px"] * km2,
            "code_by": rs.redline.code_by,
            "method": (
                f"{'tiled' if windowed else 'whole-grid'} connected components "
                f"(scipy.ndimage), {rs.redline.connectivity}-connected patches, "
                f"{12 - rs.redline.connectivity}-connected holes"
            )
            if plan.patch_stage
            else "per pixel, windowed",
        },
    }


_VECTOR_NAMES = frozenset({"VectorZoning", "compute_zones_vector"})


def __getattr__(name: str) -> Any:
    """Re-export the vector mode on first use (an eager import would be circular)."""
    if name in _VECTOR_NAMES:
        from . import overlay_vector

        return getattr(overlay_vector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FLAG_BITS",
    "LayerInput",
    "VectorZoning",
    "ZoningResult",
    "clean_patches",
    "compute_zones",
    "compute_zones_vector",
    "patch_codes",
    "prepare",
]
