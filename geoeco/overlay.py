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
  windows: pass 1 reads only the red-line inputs window by window and keeps a per-pixel reason
  bitmask (uint16) of the whole grid; patches are labelled on it (``scipy.ndimage.label``, 8-
  connected patches, 4-connected holes); pass 2 reads every input again window by window. The
  peak is about 12 bytes per pixel, so it is refused above ``max_patch_pixels`` (default 200
  million pixels, about 2.4 GB: China's land at 250 m is about 154 million) with
  :class:`~geoeco.errors.OversizeRequest`. With ``min_patch_km2 = max_hole_km2 = 0`` and
  ``code_by = "pixel"`` the engine is single-pass and fully windowed.
* results returned in memory are whole-grid arrays; give ``out_dir`` to stream them into COGs
  through :func:`geoeco.io.open_raster_writer` instead.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from rasterio.features import rasterize
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .errors import (
    CRSError,
    EmptyArea,
    GridMismatch,
    InvalidInput,
    LayerNotFound,
    OversizeRequest,
)
from .patches import _bit_codes, _pixel_codes, clean_patches, patch_codes
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
DEFAULT_MAX_PATCH_PIXELS = 200_000_000


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
            f"the red-line patch stage keeps the whole grid in memory; {grid.width}x{grid.height}"
            f" pixels exceed the limit of {max_patch_pixels}. Use a coarser grid, a smaller AOI,"
            " or min_patch_km2 = max_hole_km2 = 0 with code_by = 'pixel'"
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

    def __init__(self, plan: _Plan, win: Window) -> None:
        self.plan, self.win = plan, win
        self.wgrid = plan.grid.window(*win)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def classes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(codes uint8, valid bool)`` of a class input."""
        if name not in self._cache:
            b = self.plan.layers[name]
            if b.source == "vector":
                codes = _rasterize(b.frame, b.frame[b.column].to_numpy(), self.wgrid)
                valid = codes > 0
            else:
                a = b.read(self.win)  # type: ignore[misc]
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
                codes = np.where(valid, data, 0).astype(np.uint8)
            self._cache[name] = (codes, valid)
        return self._cache[name]

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
        """``(true, unknown)`` of a threshold criterion."""
        codes, valid = self.classes(c.input)
        top = c.max_class if c.max_class is not None else 255
        return valid & (codes >= c.min_class) & (codes <= top), ~valid

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


def _reason_bits(w: _Window, aoi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Red-line reason bitmask (bit i = reason i, bit n = protected), candidate, unknown."""
    plan = w.plan
    bits = np.zeros(w.wgrid.shape, np.uint16)
    unknown = np.zeros(w.wgrid.shape, bool)
    for i, r in enumerate(plan.rules.redline.reasons):
        if r.input in plan.layers:
            t, u = w.criterion(r)
            bits |= (t & aoi).astype(np.uint16) << i
            unknown |= u
    n = len(plan.rules.redline.reasons)
    for name in plan.protected:
        bits |= (w.mask(name) & aoi).astype(np.uint16) << n
    return bits, bits != 0, unknown & aoi


# ------------------------------------------------------------------------------------------
# the engine
# ------------------------------------------------------------------------------------------


def _redline_pass(plan: _Plan, block_size: int) -> tuple[np.ndarray, dict[str, int]]:
    """Pass 1: the whole-grid red line after patch clean-up, coded per patch."""
    grid, rs = plan.grid, plan.rules
    bits = np.zeros(grid.shape, np.uint16)
    outside = np.zeros(grid.shape, bool)
    for win in grid.blocks(block_size):
        w = _Window(plan, win)
        aoi = w.aoi()
        sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
        bits[sl] = _reason_bits(w, aoi)[0]
        outside[sl] = ~aoi
    rl = rs.redline
    mask, stats = clean_patches(
        bits != 0,
        min_patch_px=plan.min_patch_px,
        max_hole_px=plan.max_hole_px,
        connectivity=rl.connectivity,
        barrier=outside,
    )
    del outside
    codes = _bit_codes(rs)
    if rl.code_by == "patch":
        red = patch_codes(
            mask, bits, codes, fallback=rl.protected.code, connectivity=rl.connectivity
        )
    else:
        red = np.where(mask, _pixel_codes(bits, codes, rl.protected.code), np.uint8(0))
        red[mask & (red == 0)] = rl.protected.code  # filled holes: fallback code
    return red, stats


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


def _evaluate(plan: _Plan, win: Window, red_full: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Pass 2 for one window: ``(zone_class, redline, flags)``."""
    rs = plan.rules
    w = _Window(plan, win)
    aoi = w.aoi()
    shape = w.wgrid.shape
    bits, _, unknown = _reason_bits(w, aoi)
    if red_full is not None:
        red = red_full[win[0] : win[0] + win[2], win[1] : win[1] + win[3]]
    else:
        red = _pixel_codes(bits, _bit_codes(rs), rs.redline.protected.code)
    in_red = red != 0
    # positive evidence rank (3 = none): red-line triggers count only where the red line is
    pos_p = np.full(shape, 3, np.uint8)
    for i, r in enumerate(rs.redline.reasons):
        if r.input in plan.layers:
            hit = in_red & ((bits >> np.uint16(i)) & 1).astype(bool)
            pos_p[hit] = np.minimum(pos_p[hit], plan.layers[r.input].rank)
    n = len(rs.redline.reasons)
    prot_hit = in_red & ((bits >> np.uint16(n)) & 1).astype(bool)
    for p in plan.protected:  # the most reliable protected layer present at the pixel
        hit = prot_hit & w.mask(p)
        pos_p[hit] = np.minimum(pos_p[hit], plan.layers[p].rank)
    red_layers, pri_layers, key_layers = _stage_layers(plan)
    filled = in_red & (bits == 0)
    if filled.any():
        worst = max((plan.layers[n_].rank for n_ in red_layers), default=0)
        pos_p[filled] = worst
    p_true = in_red.copy()
    for c in rs.priority.criteria:
        if c.input in plan.layers:
            t, u = w.criterion(c)
            t &= aoi
            p_true |= t
            unknown |= u & aoi
            pos_p[t] = np.minimum(pos_p[t], plan.layers[c.input].rank)
    for m in rs.priority.masks:
        if m in plan.layers:
            t = w.mask(m) & aoi
            p_true |= t
            pos_p[t] = np.minimum(pos_p[t], plan.layers[m].rank)
    p_unknown = ~p_true & unknown
    k_true = np.zeros(shape, bool)
    k_unknown = np.zeros(shape, bool)
    pos_k = np.full(shape, 3, np.uint8)
    for c in rs.key.criteria:
        if c.input in plan.layers:
            t, u = w.criterion(c)
            k_true |= t
            k_unknown |= u
            pos_k[t] = np.minimum(pos_k[t], plan.layers[c.input].rank)
    for m in plan.development:
        t = w.mask(m)
        k_true |= t
        pos_k[t] = np.minimum(pos_k[t], plan.layers[m].rank)
    zone = np.full(shape, 3, np.uint8)
    zone[k_unknown & ~k_true] = 0
    zone[k_true] = 2
    zone[p_unknown] = 0
    zone[p_true] = 1
    zone[~aoi] = 0
    const_p, const_k = _bits_of(plan, pri_layers), _bits_of(plan, key_layers)
    flags = np.zeros(shape, np.uint8)
    flags[zone == 1] = _RANK_BITS[pos_p[zone == 1]]
    flags[zone == 2] = const_p | _RANK_BITS[pos_k[zone == 2]]
    flags[zone == 3] = const_p | const_k
    att = rs.attributes
    if att.three_north and att.three_north in plan.layers:
        flags[w.mask(att.three_north)] |= FLAG_THREE_NORTH
    for b, name in att.battles.items():
        if name in plan.layers:
            flags[w.mask(name)] |= FLAG_BATTLES[b]
    flags[zone == 0] = 0
    red = np.where(zone == 1, red, np.uint8(0))
    return zone, red, flags


def compute_zones(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    grid: Grid,
    *,
    aoi: Any = None,
    block_size: int = 1024,
    out_dir: str | Path | None = None,
    max_patch_pixels: int = DEFAULT_MAX_PATCH_PIXELS,
) -> ZoningResult:
    """Zone ``grid`` with ``rules`` (a :class:`RuleSet` or built-in name) from ``layers``.

    Parameters
    ----------
    rules : RuleSet or str
    layers : mapping of input name → Raster, reader, callable, GeoDataFrame or LayerInput
    grid : Grid
        The equal-area analysis grid every raster input is aligned to.
    aoi : shapely geometry (grid CRS), GeoDataFrame, or boolean mask Raster, optional
        Pixels whose centre is outside are nodata (0). Default: the whole grid.
    block_size : int
        Window size for reading and writing.
    out_dir : path, optional
        Write ``zone_class.tif``, ``redline.tif`` and ``flags.tif`` (COGs) there instead of
        returning in-memory Rasters.
    max_patch_pixels : int
        Size limit of the whole-grid red-line patch stage (see the module docstring).

    Returns
    -------
    ZoningResult
        The three outputs and a JSON-ready ``summary``.
    """
    plan = prepare(rules, layers, grid, aoi=aoi, max_patch_pixels=max_patch_pixels)
    red_full, stats = (None, {"removed_px": 0, "filled_px": 0})
    if plan.patch_stage:
        red_full, stats = _redline_pass(plan, block_size)
    zone_px = np.zeros(4, np.int64)
    red_px = np.zeros(256, np.int64)
    flag_px = np.zeros(256, np.int64)
    with contextlib.ExitStack() as stack:
        sink = _Sink(grid, out_dir, stack, plan)
        for win in grid.blocks(block_size):
            zone, red, flags = _evaluate(plan, win, red_full)
            zone_px += np.bincount(zone.ravel(), minlength=4)
            red_px += np.bincount(red[zone > 0], minlength=256)
            flag_px += np.bincount(flags[zone > 0], minlength=256)
            sink.write(win, zone, red, flags)
        outputs = sink.finish()
    if zone_px[1:].sum() == 0:
        raise EmptyArea("no pixel of the area of interest could be zoned (all nodata)")
    summary = _summary(plan, zone_px, red_px, flag_px, stats)
    return ZoningResult(*outputs, summary=summary)


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

    def write(self, win: Window, zone: np.ndarray, red: np.ndarray, flags: np.ndarray) -> None:
        if self.out_dir is None:
            sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
            for arr, v in zip(self.arrays, (zone, red, flags), strict=True):
                arr[sl] = v
            return
        nd = zone == 0
        self.writers[0].write(win, zone)
        self.writers[1].write(win, np.where(nd, np.uint8(255), red))
        self.writers[2].write(win, np.where(nd, np.uint8(255), flags))

    def finish(self) -> list[Any]:
        if self.out_dir is not None:
            return list(self.paths)
        zone = self.arrays[0]
        nd = zone == 0
        names = ("zone_class", "redline", "flags")
        return [
            Raster(np.ma.MaskedArray(a, mask=nd), self.grid, "class", n)
            for a, n in zip(self.arrays, names, strict=True)
        ]


def _summary(
    plan: _Plan, zone_px: np.ndarray, red_px: np.ndarray, flag_px: np.ndarray, stats: dict[str, int]
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
            "method": "whole-grid connected components (scipy.ndimage), 8-connected patches, "
            "4-connected holes"
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
