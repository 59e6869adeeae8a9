"""Restoration score of candidate cells, need masks and nearness to protected areas [I].

Score (float32, 0–1, NaN outside candidates) = ``Σ w_c·x_c / Σ w_c`` over the components that
have inputs and a weight > 0 (:func:`geoeco.restoration.config.active_weights`; each ``x_c`` is
described in ``geoeco/data/restoration.toml``). Candidates are cells whose control class is in
``eligible_classes`` and whose scored inputs all have data: a missing input never becomes a
zero. :class:`_Scorer` works window by window (the protected-mask distance with a ``d_max``
halo), so :func:`geoeco.restoration.run.prioritise_windows` can stream a large grid. The rule,
candidates and outputs are described in :mod:`geoeco.restoration.run`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from geoeco.core.arrays import as_float
from geoeco.core.errors import GridMismatch, InvalidInput, UnitsError
from geoeco.core.raster import Grid, Raster

from .config import Need, RestorationConfig, _builtin, active_weights
from .ranking import score_keys

#: Input names understood by :func:`geoeco.restoration.run.prioritise` (``zone_class`` required).
INPUTS: tuple[str, ...] = (
    "zone_class",
    "erosion",
    "desertification",
    "sanding_sensitivity",
    "water_sensitivity",
    "importance",
    "fvc",
    "protected",
    "protected_distance",
    "battle",
)
_CLASS_INPUTS = ("erosion", "desertification", "sanding_sensitivity", "water_sensitivity")
_TILE = 1024  # column tile of the windowed distance transform


# ------------------------------------------------------------------------------------------
# input conversion
# ------------------------------------------------------------------------------------------


def _plain(a: Any) -> Any:
    return a.array if isinstance(a, Raster) else a


def _codes(a: Any, name: str) -> np.ndarray:
    """Class codes as int64 with 0 = nodata (masked, NaN and 0 all mean nodata)."""
    a = _plain(a)
    if isinstance(a, np.ma.MaskedArray):
        a = a.filled(0)
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        arr = np.where(np.isnan(arr), 0, arr)
        if np.any(arr != np.round(arr)):
            raise InvalidInput(f"{name} must hold integer class codes, found fractions")
    if arr.dtype.kind not in "iufb":
        raise InvalidInput(f"{name} must be a numeric class raster, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    if out.size and out.min() < 0:
        raise InvalidInput(f"{name} class codes must be >= 0 (0 = nodata), found {out.min()}")
    return out


def _flag(a: Any) -> np.ndarray:
    """A 0/1 mask as bool; nodata (masked or NaN) counts as outside."""
    a = _plain(a)
    if isinstance(a, np.ma.MaskedArray):
        a = a.filled(0)
    arr = np.asarray(a)
    flag: np.ndarray = (np.nan_to_num(arr, nan=0.0) if arr.dtype.kind == "f" else arr) != 0
    return flag


def _lookup(codes: np.ndarray, levels: tuple[float, ...], name: str) -> np.ndarray:
    if codes.size and codes.max() > len(levels):
        raise InvalidInput(
            f"{name} has class code {int(codes.max())} but its levels list has {len(levels)} "
            f"classes; set levels.{name} in the restoration config"
        )
    lut = np.array((np.nan, *levels), dtype=np.float64)
    values: np.ndarray = lut[codes]
    return values


def _edt(mask: np.ndarray, sampling: tuple[float, float]) -> np.ndarray:
    """Distance (m) from each cell centre to the nearest True cell; inf when there is none."""
    if not mask.any():
        return np.full(mask.shape, np.inf)
    from scipy.ndimage import distance_transform_edt

    return np.asarray(distance_transform_edt(~mask, sampling=sampling), dtype=np.float64)


def _nearness_from_distance(d: np.ndarray, d0: float, d_max: float) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.exp(-d / d0)
    return np.where(d <= d_max, x, np.where(np.isnan(d), np.nan, 0.0))


def nearness(
    protected: Any,
    res: tuple[float, float],
    *,
    d0_m: float = 5000.0,
    d_max_m: float = 20000.0,
) -> np.ndarray:
    """Nearness to protected areas: exp(−d/d0) for d ≤ d_max, else 0 (1 inside a protected cell).

    ``d`` is the Euclidean distance in metres between cell centres
    (``scipy.ndimage.distance_transform_edt`` with ``sampling`` = pixel size), so ``res`` is the
    pixel size ``(x, y)`` in metres. The cut at ``d_max`` bounds the halo of the windowed path.

    >>> p = np.array([[1, 0, 0, 0]])
    >>> nearness(p, (1000.0, 1000.0), d0_m=1000.0, d_max_m=2000.0).round(4).tolist()
    [[1.0, 0.3679, 0.1353, 0.0]]
    """
    d = _edt(_flag(protected), (float(res[1]), float(res[0])))
    return _nearness_from_distance(d, d0_m, d_max_m)


# ------------------------------------------------------------------------------------------
# per-window score
# ------------------------------------------------------------------------------------------

Window = tuple[int, int, int, int]


class WindowReader(Protocol):
    """Anything with ``read(window) -> array`` on the target grid (e.g. ``aligned_source``)."""

    def read(self, window: Window) -> Any:  # pragma: no cover
        """Values of ``window`` = (row_off, col_off, height, width): array or MaskedArray."""
        ...


Reader = Callable[[Window], Any]


def _as_reader(src: Any, shape: tuple[int, int], name: str, grid: Grid | None) -> Reader:
    if isinstance(src, Raster):
        if grid is not None:
            grid.check_aligned(src.grid, what=f"{name} and the grid")
        arr: Any = src.array
    elif isinstance(src, np.ndarray):
        arr = src
    elif hasattr(src, "read"):
        return lambda w: _plain(src.read(w))
    else:
        raise InvalidInput(f"{name} must be a Raster, an array or a window reader")
    if arr.ndim != 2 or arr.shape != shape:
        raise GridMismatch(f"{name} has shape {arr.shape}, expected {shape}")
    return lambda w: arr[w[0] : w[0] + w[2], w[1] : w[1] + w[3]]


@dataclass
class _Strip:
    score: np.ndarray  # float32, NaN outside candidates
    keys: np.ndarray  # int64, -1 outside candidates
    zone_ok: np.ndarray  # bool: control class eligible
    needs: list[np.ndarray]  # bool per need (any cell, candidate or not)


class _Scorer:
    """Reads a window of every input and computes score, keys and need masks."""

    def __init__(
        self,
        readers: Mapping[str, Reader],
        shape: tuple[int, int],
        res: tuple[float, float] | None,
        config: RestorationConfig,
        weights: Mapping[str, float],
        needs: list[Need],
    ) -> None:
        self.r = readers
        self.shape = shape
        self.res = res
        self.cfg = config
        self.w = weights
        self.needs = needs

    def _distance(self, win: Window) -> np.ndarray:
        r0, c0, h, w = win
        if "protected_distance" in self.r:
            d = as_float(_plain(self.r["protected_distance"](win)), np.float64)
            if np.any(d < 0):
                raise InvalidInput("protected_distance must be >= 0 (metres)")
            return d
        if self.res is None:
            raise InvalidInput("the protected mask needs the pixel size (res=) to measure distance")
        rx, ry = self.res
        hy = math.ceil(self.cfg.d_max_m / ry)
        hx = math.ceil(self.cfg.d_max_m / rx)
        H, W = self.shape
        a0, a1 = max(0, r0 - hy), min(H, r0 + h + hy)
        out = np.empty((h, w))
        for t0 in range(c0, c0 + w, _TILE):
            t1 = min(c0 + w, t0 + _TILE)
            b0, b1 = max(0, t0 - hx), min(W, t1 + hx)
            m = _flag(self.r["protected"]((a0, b0, a1 - a0, b1 - b0)))
            d = _edt(m, (ry, rx))
            out[:, t0 - c0 : t1 - c0] = d[r0 - a0 : r0 - a0 + h, t0 - b0 : t1 - b0]
        return out

    def codes(self, name: str, win: Window) -> np.ndarray | None:
        if name not in self.r:
            return None
        if name == "battle":
            return _flag(self.r[name](win)).astype(np.int64)
        return _codes(self.r[name](win), name)

    def strip(self, win: Window) -> _Strip:
        cfg, lv = self.cfg, self.cfg.levels
        zone = _codes(self.r["zone_class"](win), "zone_class")
        zone_ok = np.isin(zone, cfg.eligible_classes)
        read = {n: self.codes(n, win) for n in (*_CLASS_INPUTS, "importance", "battle")}
        codes = {n: c for n, c in read.items() if c is not None}  # the inputs given
        total = np.zeros(zone.shape)
        ok = zone_ok.copy()
        for comp, wt in self.w.items():
            if comp in ("erosion", "desertification"):
                x = _lookup(codes[comp], getattr(lv, comp), comp)
            elif comp == "sensitivity":
                parts = [
                    _lookup(codes[n], getattr(lv, n), n)
                    for n in ("sanding_sensitivity", "water_sensitivity")
                    if n in codes
                ]
                x = parts[0] if len(parts) == 1 else np.fmax(parts[0], parts[1])
            elif comp == "importance_gain":
                imp = _lookup(codes["importance"], lv.importance, "importance")
                fvc = as_float(_plain(self.r["fvc"](win)), np.float64)
                with np.errstate(invalid="ignore"):
                    bad = (fvc < 0) | (fvc > cfg.fvc_max * (1 + 1e-6))
                if np.any(bad & zone_ok):
                    lo, hi = float(np.nanmin(fvc)), float(np.nanmax(fvc))
                    raise UnitsError(
                        f"fvc must be in 0..{cfg.fvc_max:g} (percent by default; set fvc_max=1 "
                        f"for fractions), found {lo:g}..{hi:g}"
                    )
                x = imp * (1.0 - np.clip(fvc / cfg.fvc_max, 0.0, 1.0))
            elif comp == "protected_nearness":
                x = _nearness_from_distance(self._distance(win), cfg.d0_m, cfg.d_max_m)
            else:  # battle
                x = codes["battle"].astype(np.float64)
            ok &= ~np.isnan(x)
            total += wt * np.nan_to_num(x)
        score = np.where(ok, np.clip(total, 0.0, 1.0), np.nan).astype(np.float32)
        needs: list[np.ndarray] = []
        for nd in self.needs:
            c = codes[nd.input]
            hi = nd.max_code if nd.max_code is not None else np.iinfo(np.int64).max
            needs.append((c >= nd.min_code) & (c <= hi))
        return _Strip(score, score_keys(score), zone_ok, needs)


def _prepare(
    inputs: Mapping[str, Any], config: RestorationConfig | None
) -> tuple[RestorationConfig, dict[str, float], list[Need]]:
    config = config or _builtin()
    unknown = set(inputs) - set(INPUTS)
    if unknown:
        raise InvalidInput(f"unknown inputs {sorted(unknown)}; known: {', '.join(INPUTS)}")
    if "zone_class" not in inputs:
        raise InvalidInput("zone_class (control-unit class raster) is required")
    weights = active_weights(config, inputs)
    needs = [n for n in config.needs if n.input in inputs]
    return config, weights, needs


def restoration_score(
    inputs: Mapping[str, Any],
    config: RestorationConfig | None = None,
    *,
    res: tuple[float, float] | None = None,
) -> np.ndarray:
    """Restoration score (float32, 0–1) of candidate cells; NaN elsewhere.

    ``inputs`` maps names of :data:`INPUTS` to 2-D arrays or Rasters of one shape:
    ``zone_class`` (required), class codes ``erosion`` (SL 190, 1..6), ``desertification``
    (1..5), ``sanding_sensitivity`` / ``water_sensitivity`` (1..5, or 1..3 with matching
    levels), ``importance`` (1..3) with ``fvc`` (%), a ``protected`` mask (give ``res``, the
    pixel size in metres) or a ``protected_distance`` raster (m), and a ``battle`` mask.
    Score = ``Σ w_c·x_c / Σ w_c`` over components with inputs (module docstring, TOML file).

    >>> z = np.array([[2, 2]]); e = np.array([[6, 1]]); d = np.array([[1, 5]])
    >>> restoration_score({"zone_class": z, "erosion": e, "desertification": d}).tolist()
    [[0.5, 0.5]]
    """
    config, weights, needs = _prepare(inputs, config)
    shape = np.shape(_plain(inputs["zone_class"]))
    if len(shape) != 2:
        raise InvalidInput(f"zone_class must be 2-D, got shape {shape}")
    readers = {k: _as_reader(v, shape, k, None) for k, v in inputs.items()}
    sc = _Scorer(readers, shape, res, config, weights, [])
    return sc.strip((0, 0, shape[0], shape[1])).score


def need_masks(
    inputs: Mapping[str, Any], config: RestorationConfig | None = None
) -> dict[str, np.ndarray]:
    """Boolean mask of each configured need whose input is given (see the TOML ``[[need]]``).

    >>> m = need_masks({"zone_class": np.array([[2, 2]]), "erosion": np.array([[6, 3]])})
    >>> {k: v.tolist() for k, v in m.items()}["erosion_severe"]
    [[True, False]]
    """
    config, weights, needs = _prepare(inputs, config)
    shape = np.shape(_plain(inputs["zone_class"]))
    readers = {k: _as_reader(v, shape, k, None) for k, v in inputs.items()}
    sc = _Scorer(readers, shape, None, config, weights, needs)
    win = (0, 0, shape[0], shape[1])
    return {n.id: m for n, m in zip(needs, sc.strip(win).needs, strict=True)}


__all__ = [
    "INPUTS",
    "Window",
    "WindowReader",
    "nearness",
    "need_masks",
    "restoration_score",
]
