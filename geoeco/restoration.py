"""Restoration priorities inside control areas: score, Zonation-style rank, selection, coverage.

Methodology §3.5 lists the signals (erosion grade, desertification degree, sensitivity, battle
areas, importance high but cover low) and says no national standard combines them, so the rule
must be configurable. Everything here is tagged **[I]**; the defaults are in
``geoeco/data/restoration.toml`` and every result records the weights it used.

Three outputs, as Marxan / Zonation / prioritizr give them (anchors §(e)):

* **score** (float32, 0–1, NaN outside candidates): a weighted sum of normalised components,
  ``Σ w_c·x_c / Σ w_c`` (see :func:`restoration_score` and the TOML file for each ``x_c``);
* **rank** (float32, 0–1, NaN outside candidates), Zonation style: the share of candidate cells
  that have a *lower* priority, so the lowest cell has rank 0, the highest ``(N−1)/N``, and the
  top share ``f`` of the candidate area is exactly ``rank >= 1 − f`` (up to ``f·N`` rounding);
* **selection** (uint8: 0 not a candidate, 1 candidate not selected, 2 selected) under an area
  budget and/or coverage targets, plus a **target-coverage table** (:func:`coverage_table`).

Candidates are cells whose control class (``zone_class``: 1 priority protection, 2 key control,
3 general control, 0 nodata) is in ``eligible_classes`` (default key control only) and whose
active inputs all have data. A missing input never becomes a zero: such cells are left out and
counted in ``params["missing_cells"]``. The protected-area and battle masks are flags: nodata
there means "outside".

Ranking [I]. Zonation removes the least valuable cell again and again and ranks cells by removal
order. With an additive score and no connectivity term (no boundary-length modifier, no
neighbourhood smoothing, no feature-specific curves) a cell's value never changes when other
cells go, so the removal order *is* the ascending score order and ranking by score reproduces
it. Connectivity and boundary penalties (Marxan BLM) are **not** modelled.

Order and ties. The score is quantised to a 16-bit key ``round(score · 65535)`` (resolution
1.5e-5; the float32 score, not the float64 one, is quantised, so anyone re-reading the score
raster gets the same keys). Cells are ordered by key (high first), then by pixel order
(row-major on the whole grid: the upper-left cell wins a tie). With 65 536 keys the ranking
needs only a histogram of keys (exact, not approximate, at this resolution) plus, per full-width
strip of rows, counts of equal keys further down: :func:`prioritise_windows` reads the grid in
strips twice and holds O(65 536 + strip) memory, and its result does not depend on the strip
height (tested).

Selection [I]. *Budget*: the top ``floor(budget / cell area)`` cells in that order (a key
threshold from the histogram, and at the threshold key the first cells in pixel order).
*Targets* (``{need_id: share}``, e.g. ``{"erosion_severe": 0.3}``): a greedy heuristic. Each
step takes the cell with the largest marginal contribution to unmet targets, ``Σ_j 1/n_j`` over
the unmet targets j the cell helps (``n_j`` = cells the target needs: the contribution of its
area as a share of the target), ties going to the higher score key, then to the lower
need-combination id. Cells with the same combination of target needs are interchangeable for the
targets, so they are taken in rank order, and the greedy works on per-combination histograms
(at most 8 targets: 2^8 histograms of 0.5 MB). It stops when all targets are met or the budget
(if also given) is spent; budget left after the targets are met is not used (minimum-set
style). Why no integer-programming solver (anchors B7): prioritizr users report problems of
1e5–1e6 planning units running for more than 15 days, running out of 16 GB (and a CBC request
for 64.9 GB) once boundary penalties are added, and refused Gurobi licences; our grids have
1e6–1e9 cells. The greedy is not guaranteed minimal, but it always meets feasible targets (a
share of the candidate area of a need always is), needs one streaming pass plus a loop that
takes whole batches of cells (one step per met target or exhausted combination, plus one when
equal-gain combinations swap the lead by score), and its memory is bounded. A test checks it
against a plain cell-by-cell greedy.

Areas: all cells have the same area (an equal-area grid such as ``ALBERS_CHINA``). ``cell
area`` is the grid's pixel area times :func:`geoeco.pipeline.equal_area_factor` (1 on Albers)
unless given.

Examples
--------
>>> import numpy as np
>>> zone = np.array([[2, 2], [2, 3]])
>>> eros = np.array([[6, 3], [1, 6]])
>>> s = restoration_score({"zone_class": zone, "erosion": eros})
>>> s.tolist()                      # erosion alone: (grade − 1)/5; cell (1, 1) is general control
[[1.0, 0.4000000059604645], [0.0, nan]]
>>> (rank_map(s) * 3).tolist()      # rank × N = number of candidates with a lower score
[[2.0, 1.0], [0.0, nan]]
>>> select_budget(s, cell_area_km2=1.0, budget_km2=2.0).tolist()
[[2, 2], [1, 0]]
"""

from __future__ import annotations

import math
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .classes import as_float
from .errors import (
    CRSError,
    EmptyArea,
    GeoecoWarning,
    GridMismatch,
    InvalidInput,
    ManifestError,
    UnitsError,
)
from .raster import Grid, Raster

#: Number of score keys: the score is quantised to round(score · 65535).
SCORE_LEVELS = 65536
_KMAX = SCORE_LEVELS - 1
#: Codes of the selection raster.
SELECTION_CODES: dict[int, str] = {
    0: "not a candidate",
    1: "candidate, not selected",
    2: "selected",
}
#: Input names understood by :func:`prioritise` (only ``zone_class`` is required).
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
COMPONENTS: tuple[str, ...] = (
    "erosion",
    "desertification",
    "sensitivity",
    "importance_gain",
    "protected_nearness",
    "battle",
)
_CLASS_INPUTS = ("erosion", "desertification", "sanding_sensitivity", "water_sensitivity")
_MAX_TARGETS = 8
_TILE = 1024  # column tile of the windowed distance transform

NeedInput = Literal[
    "erosion", "desertification", "sanding_sensitivity", "water_sensitivity", "importance", "battle"
]


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


class Weights(BaseModel):
    """Component weights (≥ 0); they are divided by their sum over the components used."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    erosion: float = Field(0.25, ge=0)
    desertification: float = Field(0.25, ge=0)
    sensitivity: float = Field(0.15, ge=0)
    importance_gain: float = Field(0.15, ge=0)
    protected_nearness: float = Field(0.10, ge=0)
    battle: float = Field(0.10, ge=0)


def _lin(n: int) -> tuple[float, ...]:
    return tuple(i / (n - 1) for i in range(n))


class Levels(BaseModel):
    """Normalised value (0–1) of class codes 1..N of each class input, non-decreasing."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    erosion: tuple[float, ...] = _lin(6)
    desertification: tuple[float, ...] = _lin(5)
    sanding_sensitivity: tuple[float, ...] = _lin(5)
    water_sensitivity: tuple[float, ...] = _lin(5)
    importance: tuple[float, ...] = _lin(3)

    @field_validator("*")
    @classmethod
    def _check(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        a = np.asarray(v, dtype=np.float64)
        if a.size < 2 or np.any(~np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError(f"levels need at least two values in [0, 1], got {list(v)}")
        if np.any(np.diff(a) < 0):
            raise ValueError(f"levels must not decrease with the class code, got {list(v)}")
        return v


class Need(BaseModel):
    """A need of the coverage table: cells whose ``input`` code is in [min_code, max_code]."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    input: NeedInput
    min_code: int = Field(1, ge=1)
    max_code: int | None = None
    name_zh: str = ""
    name_en: str = ""

    @model_validator(mode="after")
    def _range(self) -> Need:
        if self.max_code is not None and self.max_code < self.min_code:
            raise ValueError(f"need {self.id}: max_code < min_code")
        return self


class RestorationConfig(BaseModel):
    """The restoration-priority rule: weights, class levels, nearness scale, needs [I].

    Load the built-in rule with :func:`load_restoration_config`; change a field with
    ``model_copy(update=...)`` or load a TOML file / dict of the same shape.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = "1"
    tag: Literal["V", "R", "I"] = "I"
    source: str = ""
    eligible_classes: tuple[int, ...] = (2,)
    weights: Weights = Weights()
    levels: Levels = Levels()
    d0_m: float = Field(5000.0, gt=0)
    d_max_m: float = Field(20000.0, gt=0)
    fvc_max: float = Field(100.0, gt=0)
    needs: tuple[Need, ...] = ()

    @field_validator("eligible_classes")
    @classmethod
    def _classes(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(c not in (1, 2, 3) for c in v):
            raise ValueError(f"eligible_classes must be a non-empty subset of 1, 2, 3; got {v}")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _unique_needs(self) -> RestorationConfig:
        ids = [n.id for n in self.needs]
        if len(ids) != len(set(ids)):
            raise ValueError(f"need ids must be unique, got {ids}")
        return self


def _config_from_toml(
    data: Mapping[str, Any], what: str, builtin: RestorationConfig | None = None
) -> RestorationConfig:
    flat = {k: v for k, v in data.items() if k not in ("nearness", "fvc", "need")}
    flat.update(data.get("nearness", {}))
    flat.update(data.get("fvc", {}))
    if "need" in data or "needs" in data:
        flat["needs"] = data.get("need", data.get("needs"))
    elif builtin is not None:
        flat["needs"] = builtin.needs
    if builtin is not None and "source" not in data:
        flat["source"] = f"{what} over the built-in rule v{builtin.version}"
    try:
        return RestorationConfig.model_validate(flat)
    except ValidationError as exc:
        raise ManifestError(f"{what}: invalid restoration config: {exc}") from None


@lru_cache(maxsize=1)
def _builtin() -> RestorationConfig:
    text = files("geoeco").joinpath("data/restoration.toml").read_text(encoding="utf-8")
    return _config_from_toml(tomllib.loads(text), "built-in restoration.toml")


def load_restoration_config(
    source: str | Path | Mapping[str, Any] | None = None,
) -> RestorationConfig:
    """The built-in rule (``geoeco/data/restoration.toml``) or a user TOML file / dict of its shape.

    Anything a user file leaves out takes the built-in default, the ``[[need]]`` list included;
    a weight left out keeps its default, so set it to 0 to drop a component.

    >>> cfg = load_restoration_config()
    >>> cfg.eligible_classes, cfg.weights.erosion, cfg.d0_m, cfg.tag
    ((2,), 0.25, 5000.0, 'I')
    >>> load_restoration_config({"weights": {"battle": 1.0}}).weights.battle
    1.0
    """
    if source is None:
        return _builtin()
    if isinstance(source, Mapping):
        return _config_from_toml(source, "user restoration config", _builtin())
    p = Path(source)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{p.name}: cannot read restoration config: {exc}") from None
    return _config_from_toml(data, p.name, _builtin())


def _component_inputs(name: str, given: Iterable[str]) -> bool:
    g = set(given)
    return {
        "erosion": "erosion" in g,
        "desertification": "desertification" in g,
        "sensitivity": bool(g & {"sanding_sensitivity", "water_sensitivity"}),
        "importance_gain": {"importance", "fvc"} <= g,
        "protected_nearness": bool(g & {"protected", "protected_distance"}),
        "battle": "battle" in g,
    }[name]


def active_weights(config: RestorationConfig, given: Iterable[str]) -> dict[str, float]:
    """Weights of the components that have inputs and a weight > 0, renormalised to sum 1.

    >>> w = active_weights(load_restoration_config(), ["zone_class", "erosion", "battle"])
    >>> {k: round(v, 4) for k, v in w.items()}     # 0.25 / 0.35 and 0.10 / 0.35
    {'erosion': 0.7143, 'battle': 0.2857}
    """
    given = list(given)
    w = config.weights.model_dump()
    used = {c: w[c] for c in COMPONENTS if w[c] > 0 and _component_inputs(c, given)}
    total = sum(used.values())
    if total <= 0:
        raise InvalidInput(
            "no score component has both an input and a weight > 0; give at least one of "
            "erosion, desertification, sanding/water_sensitivity, importance+fvc, protected, battle"
        )
    return {c: v / total for c, v in used.items()}


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
    if arr.dtype.kind == "f":
        return np.nan_to_num(arr, nan=0.0) != 0
    return arr != 0


def _lookup(codes: np.ndarray, levels: tuple[float, ...], name: str) -> np.ndarray:
    if codes.size and codes.max() > len(levels):
        raise InvalidInput(
            f"{name} has class code {int(codes.max())} but its levels list has {len(levels)} "
            f"classes; set levels.{name} in the restoration config"
        )
    lut = np.array((np.nan, *levels), dtype=np.float64)
    return lut[codes]


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
        codes = {n: self.codes(n, win) for n in (*_CLASS_INPUTS, "importance", "battle")}
        total = np.zeros(zone.shape)
        ok = zone_ok.copy()
        for comp, wt in self.w.items():
            if comp in ("erosion", "desertification"):
                x = _lookup(codes[comp], getattr(lv, comp), comp)
            elif comp == "sensitivity":
                parts = [
                    _lookup(codes[n], getattr(lv, n), n)
                    for n in ("sanding_sensitivity", "water_sensitivity")
                    if codes[n] is not None
                ]
                x = parts[0] if len(parts) == 1 else np.fmax(parts[0], parts[1])
            elif comp == "importance_gain":
                imp = _lookup(codes["importance"], lv.importance, "importance")  # type: ignore[arg-type]
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
                x = codes["battle"].astype(np.float64)  # type: ignore[union-attr]
            ok &= ~np.isnan(x)
            total += wt * np.nan_to_num(x)
        score = np.where(ok, np.clip(total, 0.0, 1.0), np.nan).astype(np.float32)
        needs = []
        for nd in self.needs:
            c = codes[nd.input]
            hi = nd.max_code if nd.max_code is not None else np.iinfo(np.int64).max
            needs.append((c >= nd.min_code) & (c <= hi))  # type: ignore[operator]
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
    readers = {k: _as_reader(v, shape, k, None) for k, v in inputs.items()}  # type: ignore[arg-type]
    sc = _Scorer(readers, shape, res, config, weights, [])  # type: ignore[arg-type]
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
    readers = {k: _as_reader(v, shape, k, None) for k, v in inputs.items()}  # type: ignore[arg-type]
    sc = _Scorer(readers, shape, None, config, weights, needs)  # type: ignore[arg-type]
    win = (0, 0, shape[0], shape[1])
    return {n.id: m for n, m in zip(needs, sc.strip(win).needs, strict=True)}


# ------------------------------------------------------------------------------------------
# ranking and selection on score keys
# ------------------------------------------------------------------------------------------


def score_keys(score: Any) -> np.ndarray:
    """16-bit priority keys ``round(score · 65535)`` as int64; −1 where the score is NaN.

    >>> score_keys(np.array([0.0, 0.5, 1.0, np.nan], dtype="float32")).tolist()
    [0, 32768, 65535, -1]
    """
    s = as_float(score, np.float64)
    keys = np.full(s.shape, -1, dtype=np.int64)
    ok = ~np.isnan(s)
    if np.any((s[ok] < 0) | (s[ok] > 1)):
        raise InvalidInput("scores must be in [0, 1]")
    keys[ok] = np.floor(s[ok] * _KMAX + 0.5).astype(np.int64)
    return keys


def _after_within(k: np.ndarray) -> np.ndarray:
    """For each element of 1-D ``k``: how many later elements have the same value."""
    order = np.argsort(k, kind="stable")
    ks = k[order]
    end = np.searchsorted(ks, ks, side="right")
    out = np.empty(k.size, dtype=np.int64)
    out[order] = end - 1 - np.arange(k.size)
    return out


def _count_ge(cumtop: np.ndarray, key: int) -> int:
    """Cells with key >= ``key`` from ``cumtop`` (cumsum of the histogram from the top)."""
    if key > _KMAX:
        return 0
    return int(cumtop[_KMAX - max(key, 0)])


def _next_key(cumtop: np.ndarray, taken: int) -> int:
    """Key of the best cell left after the top ``taken`` cells."""
    return _KMAX - int(np.searchsorted(cumtop, taken, side="right"))


@dataclass(frozen=True)
class _Pick:
    key: int  # threshold key: all cells above it are selected
    take: int  # cells at the threshold key taken, first in pixel order
    at_key: int  # cells at the threshold key in the group


def _pick(hist: np.ndarray, n: int) -> _Pick | None:
    n = min(n, int(hist.sum()))
    if n <= 0:
        return None
    cumtop = np.cumsum(hist[::-1])
    j = int(np.searchsorted(cumtop, n, side="left"))
    above = int(cumtop[j - 1]) if j > 0 else 0
    key = _KMAX - j
    return _Pick(key, n - above, int(hist[key]))


def _greedy(
    ghist: Mapping[int, np.ndarray], needed: list[int], budget: int | None
) -> dict[int, int]:
    """Cells to take from each need combination (bitmask → count), one-cell-at-a-time greedy.

    Batches of cells whose choice cannot change (same gain, better key than any rival) are
    taken at once, so the loop runs O(combinations × targets) times, not once per cell.
    """
    groups = sorted(g for g in ghist if g > 0)
    cum = {g: np.cumsum(ghist[g][::-1]) for g in groups}
    total = {g: int(cum[g][-1]) for g in groups}
    taken = dict.fromkeys(groups, 0)
    rem = list(needed)
    left = budget
    bits = {g: [j for j in range(len(needed)) if g >> j & 1] for g in groups}
    while any(r > 0 for r in rem) and (left is None or left > 0):
        cands = []
        for g in groups:
            if taken[g] >= total[g]:
                continue
            unmet = [j for j in bits[g] if rem[j] > 0]
            if unmet:
                gain = sum((Fraction(1, needed[j]) for j in unmet), Fraction(0))
                cands.append((gain, _next_key(cum[g], taken[g]), -g, unmet))
        if not cands:
            break
        cands.sort(key=lambda c: (c[0], c[1], c[2]), reverse=True)
        gain, _, neg_g, unmet = cands[0]
        g = -neg_g
        n = min(total[g] - taken[g], min(rem[j] for j in unmet))
        if left is not None:
            n = min(n, left)
        rivals = [c for c in cands[1:] if c[0] == gain]
        if rivals:  # stop where the best rival's next cell would win
            rk, rg = rivals[0][1], -rivals[0][2]
            n = min(n, max(1, _count_ge(cum[g], rk if g < rg else rk + 1) - taken[g]))
        taken[g] += n
        for j in bits[g]:
            rem[j] = max(0, rem[j] - n)
        if left is not None:
            left -= n
    return {g: t for g, t in taken.items() if t > 0}


class _Ranker:
    """Two passes over strips: :meth:`add` (any order), :meth:`plan`, then :meth:`apply`
    (strips bottom to top) returning the lower-priority counts and the selection."""

    def __init__(self, grouped: bool) -> None:
        self.hist = np.zeros(SCORE_LEVELS, dtype=np.int64)
        self.grouped = grouped
        self.ghist: dict[int, np.ndarray] = {}
        self.picks: dict[int, _Pick] = {}

    def add(self, keys: np.ndarray, groups: np.ndarray | None) -> None:
        k = keys.ravel()
        valid = k >= 0
        self.hist += np.bincount(k[valid], minlength=SCORE_LEVELS)
        if self.grouped and groups is not None:
            g = groups.ravel()[valid]
            kv = k[valid]
            for gid in np.unique(g[g > 0]).tolist():
                h = self.ghist.setdefault(gid, np.zeros(SCORE_LEVELS, dtype=np.int64))
                h += np.bincount(kv[g == gid], minlength=SCORE_LEVELS)

    @property
    def n(self) -> int:
        return int(self.hist.sum())

    def plan(self, takes: Mapping[int, int]) -> None:
        """``takes``: group → cells (group 0 = all candidates, used for a plain budget)."""
        for g, t in takes.items():
            p = _pick(self.hist if g == 0 else self.ghist[g], t)
            if p is not None:
                self.picks[g] = p
        self._below = np.concatenate([[0], np.cumsum(self.hist)[:-1]])
        self._after = np.zeros(SCORE_LEVELS, dtype=np.int64)
        self._gafter = dict.fromkeys(self.picks, 0)

    def apply(self, keys: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Lower-priority count (int64, −1 outside) and selection (bool) of one strip."""
        k = keys.ravel()
        valid = k >= 0
        kv = k[valid]
        lower = np.full(k.size, -1, dtype=np.int64)
        lower[valid] = self._below[kv] + self._after[kv] + _after_within(kv)
        self._after += np.bincount(kv, minlength=SCORE_LEVELS)
        sel = np.zeros(k.size, dtype=bool)
        gflat = groups.ravel() if groups is not None else None
        for g, p in self.picks.items():
            gm = valid if g == 0 else (gflat == g) & valid  # type: ignore[operator]
            sel |= gm & (k > p.key)
            at = np.flatnonzero(gm & (k == p.key))
            if at.size:
                pos = p.at_key - 1 - (self._gafter[g] + (at.size - 1 - np.arange(at.size)))
                sel[at[pos < p.take]] = True
                self._gafter[g] += at.size
        return lower.reshape(keys.shape), sel.reshape(keys.shape)


def _strips(height: int, rows: int) -> list[int]:
    return list(range(0, height, max(1, rows)))


def _budget_cells(budget_km2: float | None, cell_area_km2: float) -> int | None:
    if budget_km2 is None:
        return None
    if not budget_km2 >= 0 or not math.isfinite(budget_km2):
        raise InvalidInput(f"budget_km2 must be a finite number >= 0, got {budget_km2}")
    return int(math.floor(budget_km2 / cell_area_km2 + 1e-9))


def _check_area(cell_area_km2: float) -> None:
    if not (cell_area_km2 > 0 and math.isfinite(cell_area_km2)):
        raise InvalidInput(f"cell_area_km2 must be > 0, got {cell_area_km2}")


def _codes_of(lower: np.ndarray, sel: np.ndarray) -> np.ndarray:
    out = np.where(lower >= 0, 1, 0).astype(np.uint8)
    out[sel] = 2
    return out


def rank_map(score: Any, eligible: Any | None = None) -> np.ndarray:
    """Zonation-style rank (float32): share of eligible cells with a lower priority; NaN elsewhere.

    Priority = score key (``round(score·65535)``), ties by pixel order (upper-left first), so
    the ranks are distinct: 0 for the last cell, ``(N−1)/N`` for the first. ``eligible``
    (bool) further restricts the cells ranked (default: every cell with a score).

    >>> r = rank_map(np.array([[0.2, 0.9], [0.2, np.nan]]))
    >>> (r * 3).tolist()               # N = 3 cells; the first 0.2 wins the tie
    [[1.0, 2.0], [0.0, nan]]
    """
    keys = _masked_keys(score, eligible)
    r = _Ranker(grouped=False)
    r.add(keys, None)
    r.plan({})
    lower, _ = r.apply(keys, None)
    n = max(r.n, 1)
    return np.where(lower >= 0, lower / n, np.nan).astype(np.float32)


def _masked_keys(score: Any, eligible: Any | None) -> np.ndarray:
    keys = score_keys(score)
    if keys.ndim != 2:
        raise InvalidInput(f"score must be 2-D, got shape {keys.shape}")
    if eligible is not None:
        keys = np.where(np.asarray(eligible, dtype=bool), keys, -1)
    return keys


def select_budget(
    score: Any, cell_area_km2: float, budget_km2: float, *, eligible: Any | None = None
) -> np.ndarray:
    """Select the top-priority cells until ``budget_km2`` is spent: uint8 0/1/2 (SELECTION_CODES).

    Takes ``floor(budget / cell area)`` cells in rank order (all candidates if the budget is
    larger; :func:`prioritise` also warns and records it).

    >>> select_budget(np.array([[0.2, 0.9, 0.2]]), cell_area_km2=0.5, budget_km2=1.2).tolist()
    [[2, 2, 1]]
    """
    _check_area(cell_area_km2)
    keys = _masked_keys(score, eligible)
    k = _budget_cells(budget_km2, cell_area_km2)
    r = _Ranker(grouped=False)
    r.add(keys, None)
    r.plan({0: min(k or 0, r.n)})
    lower, sel = r.apply(keys, None)
    return _codes_of(lower, sel)


def _target_list(
    targets: Mapping[str, float] | None, need_ids: list[str]
) -> list[tuple[int, float]]:
    """Targets as (index into need_ids, share), in need order."""
    if not targets:
        return []
    unknown = [t for t in targets if t not in need_ids]
    if unknown:
        raise InvalidInput(
            f"targets name unknown needs {unknown}; needs with inputs: {', '.join(need_ids)}"
        )
    if len(targets) > _MAX_TARGETS:
        raise InvalidInput(f"at most {_MAX_TARGETS} targets, got {len(targets)}")
    out = []
    for i, nid in enumerate(need_ids):
        if nid in targets:
            s = float(targets[nid])
            if not 0 < s <= 1:
                raise InvalidInput(f"target for {nid} must be a share in (0, 1], got {s:g}")
            out.append((i, s))
    return out


def _needed(share: float, total_cells: int) -> int:
    return int(math.ceil(share * total_cells - 1e-9))


def _group_ids(needs: list[np.ndarray], tlist: list[tuple[int, float]]) -> np.ndarray | None:
    if not tlist:
        return None
    g = np.zeros(needs[0].shape, dtype=np.int64)
    for bit, (i, _) in enumerate(tlist):
        g |= needs[i].astype(np.int64) << bit
    return g


def select_targets(
    score: Any,
    needs: Mapping[str, Any],
    targets: Mapping[str, float],
    *,
    cell_area_km2: float = 1.0,
    budget_km2: float | None = None,
    eligible: Any | None = None,
) -> np.ndarray:
    """Greedy selection meeting coverage ``targets`` (need id → share): uint8 0/1/2.

    A target ``{"erosion_severe": 0.3}`` asks for at least ``ceil(0.3 · n)`` of the ``n``
    candidate cells with that need. See the module docstring for the greedy rule.

    >>> s = np.array([[0.9, 0.5, 0.4, 0.1]])
    >>> a = np.array([[0, 1, 1, 0]], bool); b = np.array([[0, 0, 1, 1]], bool)
    >>> select_targets(s, {"a": a, "b": b}, {"a": 0.5, "b": 0.5}).tolist()   # cell 3 meets both
    [[1, 1, 2, 1]]
    """
    _check_area(cell_area_km2)
    keys = _masked_keys(score, eligible)
    ids = list(needs)
    masks = [np.asarray(needs[i], dtype=bool) for i in ids]
    for i, m in zip(ids, masks, strict=True):
        if m.shape != keys.shape:
            raise GridMismatch(f"need {i} has shape {m.shape}, expected {keys.shape}")
    tlist = _target_list(targets, ids)
    if not tlist:
        raise InvalidInput("select_targets needs at least one target")
    groups = _group_ids(masks, tlist)
    r = _Ranker(grouped=True)
    r.add(keys, groups)
    valid = keys >= 0
    needed = [_needed(s, int((masks[i] & valid).sum())) for i, s in tlist]
    r.plan(_greedy(r.ghist, needed, _budget_cells(budget_km2, cell_area_km2)))
    lower, sel = r.apply(keys, groups)
    return _codes_of(lower, sel)


def coverage_table(
    selection: Any,
    needs: Mapping[str, Any],
    *,
    cell_area_km2: float,
    targets: Mapping[str, float] | None = None,
    names: Mapping[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Target-coverage table: per need, candidate area, selected area, share covered, target.

    The first row, ``eligible``, is all candidate cells. Columns: ``need``, ``name_zh``,
    ``name_en``, ``total_km2`` (candidate cells with the need), ``selected_km2``,
    ``covered_share`` (NaN when the need is absent), ``target_share``, ``target_km2``
    (the area the target asks for, rounded up to whole cells), ``met`` (None without target).

    >>> sel = np.array([[2, 1, 0]], dtype="uint8"); need = {"a": np.array([[1, 1, 1]], bool)}
    >>> t = coverage_table(sel, need, cell_area_km2=2.0, targets={"a": 0.5})
    >>> t[["need", "total_km2", "selected_km2", "covered_share", "met"]].values.tolist()
    [['eligible', 4.0, 2.0, 0.5, None], ['a', 4.0, 2.0, 0.5, True]]
    """
    s = np.asarray(_plain(selection))
    if isinstance(s, np.ma.MaskedArray):
        s = s.filled(0)
    cand = s > 0
    chosen = s == 2
    ids = list(needs)
    tot = [int(cand.sum())] + [int((np.asarray(needs[i], bool) & cand).sum()) for i in ids]
    got = [int(chosen.sum())] + [int((np.asarray(needs[i], bool) & chosen).sum()) for i in ids]
    return _table(["eligible", *ids], tot, got, cell_area_km2, targets or {}, names or {})


def _table(
    ids: list[str],
    tot: list[int],
    got: list[int],
    area: float,
    targets: Mapping[str, float],
    names: Mapping[str, tuple[str, str]],
) -> pd.DataFrame:
    rows = []
    for nid, t, g in zip(ids, tot, got, strict=True):
        share = targets.get(nid)
        need_cells = _needed(share, t) if share is not None else None
        default = ("全部候选", "all candidate cells") if nid == "eligible" else ("", "")
        zh, en = names.get(nid, default)
        rows.append(
            {
                "need": nid,
                "name_zh": zh,
                "name_en": en,
                "total_km2": t * area,
                "selected_km2": g * area,
                "covered_share": g / t if t else float("nan"),
                "target_share": share if share is not None else float("nan"),
                "target_km2": need_cells * area if need_cells is not None else float("nan"),
                "met": (g >= need_cells) if need_cells is not None else None,
            }
        )
    df = pd.DataFrame(rows)
    df["met"] = df["met"].astype(object)
    return df


# ------------------------------------------------------------------------------------------
# the whole computation, window by window
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestorationResult:
    """Score (float32), rank (float32) and selection (uint8 0/1/2) Rasters, coverage, params."""

    score: Raster
    rank: Raster
    selection: Raster
    coverage: pd.DataFrame
    params: dict[str, Any]


Sink = Callable[[Window, np.ndarray, np.ndarray, np.ndarray], None]


def _cell_area_km2(grid: Grid, cell_area_km2: float | None) -> tuple[float, float]:
    if grid.crs.is_geographic:
        raise CRSError(
            "restoration priorities need a projected equal-area grid (e.g. ALBERS_CHINA); "
            f"got geographic {grid.crs.name}"
        )
    if cell_area_km2 is not None:
        _check_area(cell_area_km2)
        return float(cell_area_km2), float("nan")
    from .pipeline import equal_area_factor

    f = equal_area_factor(grid)
    return grid.cell_area * f / 1e6, f


def prioritise_windows(
    inputs: Mapping[str, Raster | WindowReader | np.ndarray],
    grid: Grid,
    *,
    config: RestorationConfig | None = None,
    budget_km2: float | None = None,
    targets: Mapping[str, float] | None = None,
    cell_area_km2: float | None = None,
    block_rows: int = 256,
    sink: Sink | None = None,
    _stacklevel: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Bounded-memory :func:`prioritise`: read full-width strips of ``block_rows`` rows twice.

    ``inputs`` are Rasters, arrays or window readers (``read(window)``) on ``grid``. ``sink``
    receives ``(window, score, rank, selection)`` for each strip, bottom strip first; write them
    with :func:`geoeco.io.open_raster_writer`. Returns the coverage table and the params.
    Memory: one strip of every input (plus a ``d_max`` row halo of the protected mask), a few
    65 536-entry histograms, and one per need combination when targets are set.
    """
    config, weights, needs = _prepare(inputs, config)
    area, ea_factor = _cell_area_km2(grid, cell_area_km2)
    shape = grid.shape
    readers = {k: _as_reader(v, shape, k, grid) for k, v in inputs.items()}
    sc = _Scorer(readers, shape, grid.res, config, weights, needs)
    ids = [n.id for n in needs]
    tlist = _target_list(targets, ids)
    budget = _budget_cells(budget_km2, area)
    W = grid.width
    starts = _strips(grid.height, block_rows)

    def win(r0: int) -> Window:
        return (r0, 0, min(block_rows, grid.height - r0), W)

    ranker = _Ranker(grouped=bool(tlist))
    need_tot = np.zeros(len(needs), dtype=np.int64)
    n_zone = 0
    for r0 in starts:
        st = sc.strip(win(r0))
        groups = _group_ids(st.needs, tlist)
        ranker.add(st.keys, groups)
        valid = st.keys >= 0
        n_zone += int(st.zone_ok.sum())
        for j, m in enumerate(st.needs):
            need_tot[j] += int((m & valid).sum())
    n = ranker.n
    if n == 0:
        raise EmptyArea(
            f"no candidate cells: {n_zone} cells of control classes "
            f"{list(config.eligible_classes)}, none with data in every scored input"
        )
    notes: list[str] = []
    if tlist:
        needed = [_needed(s, int(need_tot[i])) for i, s in tlist]
        takes = _greedy(ranker.ghist, needed, budget)
        mode = "targets+budget" if budget is not None else "targets"
    elif budget is not None:
        takes = {0: min(budget, n)}
        mode = "budget"
    else:
        takes, mode = {}, "rank only"
    exceeds = budget_km2 is not None and not tlist and budget_km2 > n * area * (1 + 1e-12)
    if exceeds:
        msg = (
            f"the budget ({budget_km2:g} km²) is larger than the candidate area "
            f"({n * area:g} km²): every candidate cell is selected"
        )
        notes.append(msg)
        warnings.warn(msg, GeoecoWarning, stacklevel=_stacklevel)
    ranker.plan(takes)
    got = np.zeros(len(needs), dtype=np.int64)
    n_sel = 0
    for r0 in reversed(starts):
        w = win(r0)
        st = sc.strip(w)
        groups = _group_ids(st.needs, tlist)
        lower, sel = ranker.apply(st.keys, groups)
        n_sel += int(sel.sum())
        for j, m in enumerate(st.needs):
            got[j] += int((m & sel).sum())
        if sink is not None:
            rank = np.where(lower >= 0, lower / max(n, 1), np.nan).astype(np.float32)
            sink(w, st.score, rank, _codes_of(lower, sel))
    tmap = {ids[i]: s for i, s in tlist}
    names = {nd.id: (nd.name_zh, nd.name_en) for nd in needs}
    table = _table(
        ["eligible", *ids], [n, *need_tot.tolist()], [n_sel, *got.tolist()], area, tmap, names
    )
    unmet = [r.need for r in table.itertuples() if r.met is False]
    if unmet:
        msg = f"targets not met within the budget: {', '.join(unmet)}"
        notes.append(msg)
        warnings.warn(msg, GeoecoWarning, stacklevel=_stacklevel)
    params = {
        "rule": "restoration priority score = sum(w_c * x_c) / sum(w_c)",
        "tag": config.tag,
        "config_version": config.version,
        "config_source": config.source,
        "weights": config.weights.model_dump(),
        "weights_used": weights,
        "components_without_inputs": [
            c for c in COMPONENTS if c not in weights and getattr(config.weights, c) > 0
        ],
        "levels": config.levels.model_dump(),
        "d0_m": config.d0_m,
        "d_max_m": config.d_max_m,
        "nearness": "exp(-d/d0) for d <= d_max else 0; d = distance to protected cells (m)",
        "fvc_max": config.fvc_max,
        "eligible_classes": list(config.eligible_classes),
        "inputs": sorted(inputs),
        "needs": ids,
        "score_levels": SCORE_LEVELS,
        "rank": "share of candidate cells with lower priority (Zonation removal order)",
        "tie_rule": "score key round(score*65535) high first, then row-major pixel order",
        "connectivity": "not modelled (no boundary-length modifier)",
        "mode": mode,
        "selection_method": {
            "budget": "top cells by rank",
            "targets": "greedy by marginal contribution to unmet targets",
            "targets+budget": "greedy by marginal contribution, capped by the budget",
            "rank only": "none",
        }[mode],
        "budget_km2": budget_km2,
        "targets": tmap,
        "cell_area_km2": area,
        "equal_area_factor": ea_factor,
        "zone_cells": n_zone,
        "eligible_cells": n,
        "missing_cells": n_zone - n,
        "eligible_km2": n * area,
        "selected_cells": n_sel,
        "selected_km2": n_sel * area,
        "budget_exceeds_eligible": bool(exceeds),
        "notes": notes,
    }
    return table, params


def prioritise(
    inputs: Mapping[str, Raster],
    *,
    config: RestorationConfig | None = None,
    budget_km2: float | None = None,
    targets: Mapping[str, float] | None = None,
    cell_area_km2: float | None = None,
    block_rows: int = 256,
) -> RestorationResult:
    """Score, rank, select and report restoration priorities of candidate cells.

    Parameters
    ----------
    inputs : dict of Rasters on one projected (equal-area) grid
        ``zone_class`` (required) and any of ``erosion``, ``desertification``,
        ``sanding_sensitivity``, ``water_sensitivity``, ``importance`` + ``fvc``, ``protected``
        (mask) or ``protected_distance`` (m), ``battle`` (mask). See :func:`restoration_score`.
    config : RestorationConfig, default the built-in rule (:func:`load_restoration_config`)
    budget_km2 : area budget; without targets the top-ranked cells up to it are selected
    targets : need id → share of that need's candidate area to cover (greedy)
    cell_area_km2 : override the pixel area (default: grid pixel area × equal-area factor)
    block_rows : strip height of the two passes (the result does not depend on it)

    Returns
    -------
    RestorationResult
        ``score`` and ``rank`` (float32, NaN outside candidates), ``selection`` (uint8: 0 not a
        candidate, 1 not selected, 2 selected), ``coverage`` (:func:`coverage_table` columns)
        and ``params`` (weights used, rule, counts, notes).

    Examples
    --------
    >>> from affine import Affine
    >>> from geoeco.crs import ALBERS_CHINA
    >>> g = Grid(Affine(1000, 0, 0, 0, -1000, 4e6), 2, 1, ALBERS_CHINA)
    >>> rz = Raster.from_array(np.array([[2, 2]], "uint8"), g, nodata=0)
    >>> re = Raster.from_array(np.array([[6, 3]], "uint8"), g, nodata=0)
    >>> res = prioritise({"zone_class": rz, "erosion": re}, budget_km2=1.0)
    >>> res.selection.array.tolist(), res.params["weights_used"]
    ([[2, 1]], {'erosion': 1.0})
    """
    zone = inputs.get("zone_class")
    if not isinstance(zone, Raster):
        raise InvalidInput("zone_class must be a Raster (it gives the grid)")
    grid = zone.grid
    score = np.full(grid.shape, np.nan, dtype=np.float32)
    rank = np.full(grid.shape, np.nan, dtype=np.float32)
    sel = np.zeros(grid.shape, dtype=np.uint8)

    def sink(w: Window, s: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
        sl = (slice(w[0], w[0] + w[2]), slice(w[1], w[1] + w[3]))
        score[sl], rank[sl], sel[sl] = s, r, c

    table, params = prioritise_windows(
        inputs,
        grid,
        config=config,
        budget_km2=budget_km2,
        targets=targets,
        cell_area_km2=cell_area_km2,
        block_rows=block_rows,
        sink=sink,
        _stacklevel=3,
    )
    return RestorationResult(
        score=Raster.from_array(score, grid, units="1", name="restoration_score"),
        rank=Raster.from_array(rank, grid, units="1", name="restoration_rank"),
        selection=Raster.from_array(sel, grid, nodata=0, name="restoration_selection"),
        coverage=table,
        params=params,
    )


__all__ = [
    "COMPONENTS",
    "INPUTS",
    "SCORE_LEVELS",
    "SELECTION_CODES",
    "Levels",
    "Need",
    "RestorationConfig",
    "RestorationResult",
    "Weights",
    "WindowReader",
    "active_weights",
    "coverage_table",
    "load_restoration_config",
    "nearness",
    "need_masks",
    "prioritise",
    "prioritise_windows",
    "rank_map",
    "restoration_score",
    "score_keys",
    "select_budget",
    "select_targets",
]
