"""Ecological sensitivity and ecosystem-service importance on one grid (methodology §2.2–§3).

:func:`run_evaluation` takes the grid of one raster (``grid_from``, e.g. the DEM) and an
:class:`EvaluationConfig` (numbers or raster paths), puts every input on that grid (bilinear
for continuous values, nearest for codes) and writes, window by window:

* sanding sensitivity D = (I·W·K·C)^¼ and water-erosion sensitivity SS = (R·K·LS·C)^¼ on
  class scores (tables ``<scheme>/sanding/*``, ``<scheme>/water-erosion/*``; scheme
  ``EcoZoning-interim`` five classes or ``RedLine-2017`` three), as an index (float32) and a
  class (uint8, 0 = nodata, colours from the table);
* three service values (float32): soil conservation A_c = R·K·LS·(1 − C·P) in **t/(km²·a)**
  (t/(hm²·a) × 100, the units of the erosion run's ``soil_loss.tif``); windbreak and sand
  fixation S_ws = NPP·K·F_q·D with the FAO climatic factor F_q computed on the climate grid
  from monthly wind, temperature, precipitation and humidity, then warped bilinearly, and
  D = 1/cos(slope) [R]; water conservation WR = NPP·F_sic·F_pre·(1 − F_slo);
* importance classes of each service by cumulative share (``CumShare(0.5,0.8)`` by default),
  ``importance_max.tif`` (the highest class across services, "taking the maximum class",
  Ouyang et al. 2016 [V]) and ``importance_dominant.tif`` (which service gave it, see
  :data:`DOMINANT_SERVICES`).

Derived inputs are written too: ``fq.tif`` and ``precip_annual.tif`` (on the climate grid),
``relief.tif`` and ``slope.tif`` (when derived from the DEM). ``summary.json`` holds the area
(km²) of every class of every classified output, the reference extent, the value thresholds
and normalisation ranges found, the class tables and parameters (``unverified`` lists the [R]
ones), the inputs with checksums and the engine version.

Reference extent and passes
---------------------------
Steps that depend on the whole distribution (the min–max ranges of the WR factors and the
cumulative-share value thresholds) are computed over a named **reference extent**, by default
the whole input grid, and recorded in ``summary.json``; a later run over a smaller area can
reuse them (``reference=`` that summary), so a pixel's class does not change with the area
analysed. The grid is walked four times: (A) ranges of the WR factors and a check of the FVC
units; (B) per-pixel values, written; (C) a weighted streaming histogram of each service read
back from its file (:func:`geoeco.importance.cumulative_share_thresholds`); (D) classes.
Memory is bounded by the window size, except that the DEM is held whole (with its relief and,
when no slope raster is given, its slope) when relief or slope are derived from it.

Equal area
----------
Cumulative share sums values, so every pixel is weighted by its true area
(:func:`area_weights`): where the projection's areal scale varies by at most 0.1 % over the
grid (any Albers grid; a Gauss–Krüger grid within ~200 km of its meridian), one constant
pixel area is used (:func:`geoeco.pipeline.equal_area_factor`); otherwise the true area of
every pixel is ``cell area / areal scale`` from :meth:`pyproj.Proj.get_factors`, evaluated
on a lattice at most 16 pixels and ~5 km apart and interpolated bilinearly. The choice is recorded.

Choices [I] (each recorded as a parameter in ``summary.json``)
--------------------------------------------------------------
* Relief (地形起伏度) = max − min elevation in a square of about ``relief_window_m`` (default
  1000 m, an odd number of pixels ≥ 3) centred on the pixel, truncated at the grid edge.
* R is divided by ``r_table_divisor`` = 17.02 before scoring: the recalled R limits
  (25 … 600) are of the size of R in US customary units (the Wischmeier monthly formula used in
  Chinese sensitivity studies), and R_SI = 17.02 · R_US. In SI, every pixel of northern China
  would score "extremely sensitive".
* Texture (the sanding codes 1 bedrock, 2 clay, 3 gravel, 4 loam, 5 sand) → water-erosion
  texture group (1 石砾/沙 … 5 砂粉土/粉土): :data:`DEFAULT_TEXTURE_GROUPS` = bedrock 1 (no soil to
  detach), clay 2 (粘土), gravel 1 (石砾), loam 3 (壤土), sand 1 (沙). The five codes cannot tell
  silty loess (group 5) from loam: give ``erosion_texture_group`` (a raster of groups) where
  that matters.
* Land cover → vegetation group (EcoZoning only; 1 水体/沼泽/稻田 … 5 无植被):
  :data:`DEMO_VEGETATION_GROUPS`, for geoeco's demo coding: cropland 4 (一年一熟, the northern
  single-crop system), forest 2, grassland 3 (稀疏灌木草原, semi-arid steppe), water 1, built 1
  (sealed surfaces supply no sediment), sand 4 (荒漠), bare 5 (无植被).
* WR factors are min–max normalised over the reference extent (F_sic from infiltration,
  F_pre from annual precipitation, F_slo from slope in degrees); a factor that is constant over
  the extent gets its neutral value (1 for F_sic and F_pre, 0 for F_slo).
* S_ws is the raw product (NPP g C m⁻² a⁻¹ · K t·hm²·h/(hm²·MJ·mm) · F_q · D). Scaling a factor
  to 0–1 by its maximum multiplies S_ws by a constant and changes no class; a min–max stretch
  would set S_ws to 0 wherever one factor is at its minimum (D on flat ground), so none is done.
* ``no_service_landcover`` codes (the demo uses water 4 and built 5) get service value 0.
* ``importance_max`` is the maximum over the services that have data at the pixel (0 only where
  none has); in ``importance_dominant`` ties go to the first of soil conservation, sand
  fixation, water conservation.

Examples
--------
>>> relief_amplitude(np.array([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]]), 3).tolist()
[[4.0, 5.0, 4.0], [7.0, 8.0, 7.0], [4.0, 5.0, 4.0]]
"""

from __future__ import annotations

import contextlib
import json
import math
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyproj
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.ndimage import maximum_filter, minimum_filter

from . import factors
from .align import aligned_source
from .classes import (
    ClassTable,
    Provenance,
    as_float,
    classify,
    cumshare_table,
    get_table,
    lookup,
    score,
)
from .erosion import _rgba
from .errors import EmptyArea, InvalidInput, ManifestError, UnitsError
from .importance import (
    classify_by_thresholds,
    cumulative_share_thresholds,
    fq_climatic_factor,
    normalise,
    roughness_factor,
    water_conservation_index,
    windbreak_sand_fixation,
)
from .io import open_raster_writer, raster_info, read_raster, write_raster
from .pipeline import engine_info, equal_area_factor, file_digest, open_factor, write_json
from .raster import Grid, Raster
from .sensitivity import sensitivity_index
from .terrain import slope_horn
from .validate import inspect_layer_file

Progress = Callable[[str, float], None]
FactorValue = float | str
Scheme = Literal["EcoZoning-interim", "RedLine-2017"]
Window = tuple[int, int, int, int]

#: Sanding texture code → water-erosion texture group [I] (see the module docstring).
DEFAULT_TEXTURE_GROUPS: dict[int, int] = {1: 1, 2: 2, 3: 1, 4: 3, 5: 1}
#: Demo land-cover code → EcoZoning vegetation group [I] (see the module docstring).
DEMO_VEGETATION_GROUPS: dict[int, int] = {1: 4, 2: 2, 3: 3, 4: 1, 5: 1, 6: 4, 7: 5}
SERVICES = ("soil_conservation", "sand_fixation", "water_conservation")
#: importance_dominant code → (service, red-line type code, name_zh, name_en, colour).
DOMINANT_SERVICES: dict[int, tuple[str, int, str, str, str]] = {
    1: ("soil_conservation", 13, "水土保持", "soil conservation", "#a6611a"),
    2: ("sand_fixation", 14, "防风固沙", "windbreak and sand fixation", "#dfc27d"),
    3: ("water_conservation", 11, "水源涵养", "water conservation", "#2b83ba"),
}
#: Largest relative spread of the areal scale for which one constant pixel area is used.
AREA_TOLERANCE = 1e-3
_NEUTRAL = {"infiltration": 1.0, "precip_annual": 1.0, "slope": 0.0}
_MONTHS = list(range(1, 13))


# ------------------------------------------------------------------------------ config


class EvaluationConfig(BaseModel):
    """Inputs and settings of an evaluation run; the CLI's ``--config FILE`` is this, in TOML.

    Every input is a number (the same everywhere) or a raster path. Units: aridity index
    (modified Selyaninov), wind days (d, Dec–May, ≥ 6 m/s), texture codes 1..5 (bedrock, clay,
    gravel, loam, sand), FVC in percent, R in MJ·mm/(hm²·h·a), K in t·hm²·h/(hm²·MJ·mm), LS, C,
    P dimensionless, NPP g C m⁻² a⁻¹, infiltration mm/h, precipitation mm (12 monthly bands or
    one annual band), temperature °C, wind m/s at ``wind_height`` m, relative humidity as a
    fraction, slope in degrees, relief in m. ``fq`` replaces the four monthly climate rasters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    scheme: Scheme = "EcoZoning-interim"
    # sanding sensitivity
    aridity: FactorValue | None = None
    wind_days: FactorValue | None = None
    texture_class: FactorValue | None = None
    fvc: FactorValue | None = None
    # water-erosion sensitivity
    dem: str | None = None
    relief: FactorValue | None = None
    relief_window_m: float = Field(1000.0, gt=0)
    r_table_divisor: float = Field(17.02, gt=0)
    texture_groups: dict[int, int] = Field(default_factory=lambda: dict(DEFAULT_TEXTURE_GROUPS))
    erosion_texture_group: FactorValue | None = None
    landcover: str | None = None
    vegetation_groups: dict[int, int] = Field(default_factory=lambda: dict(DEMO_VEGETATION_GROUPS))
    vegetation_group: FactorValue | None = None
    # services
    r: FactorValue | None = None
    k: FactorValue | None = None
    ls: FactorValue | None = None
    c: FactorValue | None = None
    p: FactorValue = 1.0
    npp: FactorValue | None = None
    infiltration: FactorValue | None = None
    precip: FactorValue | None = None
    temp_monthly: str | None = None
    wind2m_monthly: str | None = None
    rh_monthly: str | None = None
    wind_height: float = Field(2.0, gt=0)
    fq: FactorValue | None = None
    slope: FactorValue | None = None
    no_service_landcover: tuple[int, ...] = ()
    # importance
    importance_cuts: tuple[float, ...] = (0.5, 0.8)
    histogram_bins: int = Field(65536, ge=16)
    area_weights: Literal["auto", "constant", "per-pixel"] = "auto"
    reference: str | None = None
    allow_outside_china: bool = False
    block_size: int = Field(1024, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> EvaluationConfig:
        need = ("aridity", "wind_days", "texture_class", "fvc", "r", "k", "ls", "c", "npp")
        missing = [n for n in (*need, "infiltration", "precip") if getattr(self, n) is None]
        if self.relief is None and self.dem is None:
            missing.append("relief or dem")
        if self.slope is None and self.dem is None:
            missing.append("slope or dem")
        eco = self.scheme == "EcoZoning-interim"
        if eco and self.vegetation_group is None and self.landcover is None:
            missing.append("vegetation_group or landcover")
        if self.no_service_landcover and self.landcover is None:
            missing.append("landcover (for no_service_landcover)")
        if self.fq is None:
            for n in ("wind2m_monthly", "temp_monthly", "rh_monthly"):
                if getattr(self, n) is None:
                    missing.append(f"{n} (or fq)")
            if self.precip is not None and not isinstance(self.precip, str):
                missing.append("precip as a 12-band monthly raster (or fq)")
        if missing:
            raise ValueError(f"missing inputs: {', '.join(missing)}")
        for what, groups in (
            ("texture", self.texture_groups),
            ("vegetation", self.vegetation_groups),
        ):
            bad = sorted(g for g in groups.values() if g not in range(1, 6))
            if bad:
                raise ValueError(f"{what}_groups values must be groups 1..5, got {bad}")
        cumshare_table(self.importance_cuts)
        return self


_PATH_KEYS = (
    "aridity wind_days texture_class fvc dem relief erosion_texture_group landcover "
    "vegetation_group r k ls c p npp infiltration precip temp_monthly wind2m_monthly "
    "rh_monthly fq slope reference"
).split()


def make_evaluation_config(
    data: Mapping[str, Any] | None = None, *, base: Path | None = None, **overrides: Any
) -> EvaluationConfig:
    """Validate a config dict (plus non-None overrides); relative paths resolve against ``base``.

    >>> try:
    ...     make_evaluation_config({"aridity": 1.0, "wind_days": 30.0})
    ... except InvalidInput as exc:
    ...     print(str(exc)[:70])
    evaluation config: config: Value error, missing inputs: texture_class,
    """
    merged = dict(data or {})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    if base is not None:
        for key in _PATH_KEYS:
            v = merged.get(key)
            if isinstance(v, str) and not Path(v).is_absolute():
                merged[key] = str(Path(base) / v)
    try:
        return EvaluationConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"evaluation config: {problems}") from None


def load_evaluation_config(path: str | Path, **overrides: Any) -> EvaluationConfig:
    """Read a TOML config; relative paths in it resolve against its folder."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError:
        raise ManifestError(f"{p.name}: cannot read config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{p.name}: invalid TOML ({exc})") from None
    return make_evaluation_config(data, base=p.parent, **overrides)


def demo_evaluation_config(
    out: str | Path, *, layers: str | Path | None = None, **overrides: Any
) -> EvaluationConfig:
    """The config for a ``geoeco demo`` folder (``layers/``, ``erosion/``, ``desertification/``).

    R, K, LS, C, P and slope come from the erosion run, FVC from the desertification run;
    water (4) and built land (5) have no service value. ``layers`` overrides ``out/layers``.
    """
    o = Path(out)
    lay, ero = Path(layers) if layers else o / "layers", o / "erosion"
    data: dict[str, Any] = {
        **{n: str(lay / f"{n}.tif") for n in ("aridity", "wind_days", "texture_class")},
        **{n: str(lay / f"{n}.tif") for n in ("dem", "landcover", "npp", "infiltration")},
        **{n: str(lay / f"{n}.tif") for n in ("temp_monthly", "wind2m_monthly", "rh_monthly")},
        **{n: str(ero / f"{n}.tif") for n in ("r", "k", "ls", "c", "p", "slope")},
        "precip": str(lay / "precip_monthly.tif"),
        "fvc": str(o / "desertification" / "fvc.tif"),
        "no_service_landcover": (4, 5),
    }
    return make_evaluation_config(data, **overrides)


# --------------------------------------------------------------------- pixel functions


def relief_amplitude(dem: Any, size: int | tuple[int, int]) -> np.ndarray:
    """Relief (地形起伏度): max − min of the valid elevations in a ``size`` window (float32).

    The window is centred on the pixel and truncated at the grid edge; nodata pixels stay NaN.

    >>> relief_amplitude(np.array([[1.0, np.nan], [5.0, 2.0]]), 3).tolist()
    [[4.0, nan], [4.0, 4.0]]
    """
    z = as_float(dem, np.float32)
    nan = np.isnan(z)
    hi = maximum_filter(np.where(nan, -np.inf, z), size=size, mode="nearest")
    lo = minimum_filter(np.where(nan, np.inf, z), size=size, mode="nearest")
    out = (hi - lo).astype(np.float32)
    out[nan] = np.nan
    return out


def relief_window(window_m: float, res: tuple[float, float]) -> tuple[int, int]:
    """Odd window size in pixels (rows, cols), at least 3, nearest to ``window_m`` metres.

    >>> relief_window(1000.0, (30.0, 30.0)), relief_window(1000.0, (1000.0, 1000.0))
    ((33, 33), (3, 3))
    """

    def odd(n: float) -> int:
        k = int(round(n))
        return max(3, k if k % 2 else k + 1)

    return odd(window_m / res[1]), odd(window_m / res[0])


_SENS_FACTORS = {
    "sanding": ("aridity", "wind-days", "texture", "fvc"),
    "water-erosion": ("r", "relief", "texture", "cover"),
}


def sensitivity_classes(
    kind: Literal["sanding", "water-erosion"],
    values: Mapping[str, Any],
    *,
    scheme: Scheme = "EcoZoning-interim",
    used: Provenance | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index and classes of a sensitivity from its factor values (keys as the table names).

    Unlike :func:`geoeco.sensitivity.sanding_sensitivity` it does not check that FVC is in
    percent (a window of a desert may hold FVC ≤ 1 % only); the pipeline checks that once
    over the reference extent. For ``RedLine-2017`` water erosion, ``cover`` is FVC (%).

    >>> idx, cls = sensitivity_classes("sanding", {"aridity": np.array([20.0]),
    ...     "wind-days": 35.0, "texture": 5.0, "fvc": 10.0})
    >>> idx.tolist(), cls.tolist()
    ([9.0], [5])
    """
    scores = []
    for f in _SENS_FACTORS[kind]:
        t = "fvc" if f == "cover" and scheme == "RedLine-2017" else f
        scores.append(score(np.asarray(values[f]), get_table(f"{scheme}/{kind}/{t}"), used=used))
    idx = sensitivity_index(*scores)
    return idx, classify(idx, get_table(f"{scheme}/{kind}"), used=used)


# ------------------------------------------------------------------------ area weights


@dataclass(frozen=True)
class AreaWeights:
    """True (ellipsoidal) pixel areas of a grid, in km²: one constant, or one per pixel."""

    grid: Grid
    method: Literal["constant", "per-pixel"]
    pixel_km2: float
    scale_range: tuple[float, float]
    step: int = 16

    def window(self, win: Window) -> np.ndarray | None:
        """Per-pixel areas (km², float64) of a window; ``None`` when the area is constant."""
        if self.method == "constant":
            return None
        r0, c0, h, w = win
        rows, cols = _lattice(h, self.step), _lattice(w, self.step)
        s = _areal_scale(self.grid, r0 + rows, c0 + cols)
        scale = _interp_matrix(h, rows) @ s @ _interp_matrix(w, cols).T
        return self.grid.cell_area / 1e6 / scale

    def tally(self, classes: np.ndarray, n: int, w: np.ndarray | None) -> np.ndarray:
        """Area (km²) of codes 0..n in ``classes`` (``w`` from :meth:`window`)."""
        ww = None if w is None else w.ravel()
        out = np.bincount(classes.ravel(), weights=ww, minlength=n + 1)[: n + 1]
        return out * self.pixel_km2 if w is None else out

    def describe(self) -> dict[str, Any]:
        """JSON-ready record of the choice."""
        return {
            "method": self.method,
            "areal_scale_range": list(self.scale_range),
            "tolerance": AREA_TOLERANCE,
            "pixel_km2": self.pixel_km2 if self.method == "constant" else None,
            "source": "pyproj Proj.get_factors areal_scale at pixel centres"
            + (f" (lattice every {self.step} px, bilinear)" if self.method == "per-pixel" else "")
            + "; constant area from geoeco.pipeline.equal_area_factor",
        }


def _lattice(n: int, step: int) -> np.ndarray:
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _interp_matrix(n: int, pts: np.ndarray) -> np.ndarray:
    if pts.size == 1:
        return np.ones((n, 1))
    eye = np.eye(pts.size)
    x = np.arange(n, dtype=float)
    return np.stack([np.interp(x, pts, eye[j]) for j in range(pts.size)], axis=1)


def _areal_scale(grid: Grid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    t = grid.transform
    xx, yy = np.meshgrid(t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e)
    proj = pyproj.Proj(grid.crs)
    lon, lat = proj(xx, yy, inverse=True)
    return np.asarray(proj.get_factors(lon, lat).areal_scale, dtype=float).reshape(xx.shape)


def area_weights(
    grid: Grid, mode: Literal["auto", "constant", "per-pixel"] = "auto"
) -> AreaWeights:
    """Choose constant or per-pixel true areas for ``grid`` (see the module docstring).

    >>> from affine import Affine
    >>> aw = area_weights(Grid(Affine(30, 0, 400000, 0, -30, 4250000), 4, 4, "EPSG:4546"))
    >>> aw.method, round(aw.pixel_km2, 6)
    ('constant', 0.0009)
    """
    n_r, n_c = min(grid.height, 21), min(grid.width, 21)
    rows = np.unique(np.round(np.linspace(0, grid.height - 1, n_r)).astype(int))
    cols = np.unique(np.round(np.linspace(0, grid.width - 1, n_c)).astype(int))
    s = _areal_scale(grid, rows, cols)
    lo, hi = float(s.min()), float(s.max())
    if mode == "auto":
        mode = "constant" if hi / lo - 1 <= AREA_TOLERANCE else "per-pixel"
    px = grid.cell_area / 1e6 * equal_area_factor(grid)
    step = int(min(16, max(1, round(5000.0 / max(grid.res)))))  # lattice at most ~5 km apart
    return AreaWeights(grid, mode, px, (lo, hi), step)


# ----------------------------------------------------------------------- climate grid


def _check_input(
    value: str, name: str, inputs: dict[str, Any], allow_outside: bool
) -> tuple[Grid, int]:
    p = Path(value)
    info = raster_info(p, name=p.name)
    stated = float("nan") if info.nodata is None and info.dtype.startswith("float") else None
    rep = inspect_layer_file(p, allow_outside_china=allow_outside, nodata=stated)
    inputs[name] = {"file": p.name, "crs": rep.crs, "sha256": file_digest(p), "bands": info.count}
    assert info.grid is not None
    return info.grid, info.count


def climate_products(
    cfg: EvaluationConfig, out: Path, used: Provenance, inputs: dict[str, Any]
) -> tuple[FactorValue, FactorValue]:
    """F_q and annual precipitation, as numbers or rasters on the climate grid (window by window).

    Monthly precipitation (12 bands) is summed into ``out/precip_annual.tif`` on its own grid;
    F_q (unless given) is computed on the grid of ``wind2m_monthly`` (the other monthly
    rasters warped onto it bilinearly) and written to ``out/fq.tif``.
    """
    annual: FactorValue = cfg.precip  # type: ignore[assignment]
    monthly = None
    if isinstance(cfg.precip, str):
        pgrid, bands = _check_input(cfg.precip, "precip", inputs, cfg.allow_outside_china)
        if bands not in (1, 12):
            raise InvalidInput(f"precip must have 12 monthly bands or 1 annual band, got {bands}")
        if bands == 12:
            monthly = cfg.precip
            annual = str(_sum_bands(cfg.precip, pgrid, out / "precip_annual.tif", cfg.block_size))
    if cfg.fq is not None:
        return cfg.fq, annual
    if monthly is None:
        raise InvalidInput("F_q needs monthly precipitation (a 12-band precip raster); or give fq")
    assert cfg.wind2m_monthly and cfg.temp_monthly and cfg.rh_monthly
    cgrid = None
    for name in ("wind2m_monthly", "temp_monthly", "rh_monthly"):
        g, bands = _check_input(getattr(cfg, name), name, inputs, cfg.allow_outside_china)
        if bands != 12:
            raise InvalidInput(f"{name} must have 12 monthly bands, got {bands}")
        cgrid = cgrid or g
    assert cgrid is not None
    paths = (cfg.wind2m_monthly, cfg.temp_monthly, monthly, cfg.rh_monthly)
    dest = out / "fq.tif"
    with contextlib.ExitStack() as stack:
        srcs = [
            stack.enter_context(aligned_source(p, cgrid, resampling="bilinear", band=_MONTHS))
            for p in paths
        ]
        w = stack.enter_context(open_raster_writer(dest, cgrid, units="FAO C (1)"))
        for win in cgrid.blocks(cfg.block_size):
            u, t, pr, rh = (np.ma.filled(s.read(win).astype("float64"), np.nan) for s in srcs)
            fq = fq_climatic_factor(u, t, pr, rh, wind_height=cfg.wind_height, used=used)
            w.write(win, np.ma.masked_invalid(fq.astype("float32")))
    return str(dest), annual


def _sum_bands(path: str, grid: Grid, dest: Path, block: int) -> Path:
    with open_raster_writer(dest, grid, units="mm") as w:
        for win in grid.blocks(block):
            a = read_raster(path, band=_MONTHS, window=win, name=Path(path).name).array
            total = np.ma.filled(a.astype("float64"), np.nan).sum(axis=0)
            w.write(win, np.ma.masked_invalid(total.astype("float32")))
    return dest


# ----------------------------------------------------------------------------- the run


def _classed_writer(
    stack: contextlib.ExitStack,
    path: Path,
    grid: Grid,
    table: ClassTable,
    tags: dict[str, str] | None = None,
) -> Any:
    return stack.enter_context(
        open_raster_writer(
            path,
            grid,
            dtype="uint8",
            nodata=0,
            colormap={c.code: _rgba(c.colour) for c in table.classes},
            tags={"class_table": f"{table.name} ({table.version})", **(tags or {})},
        )
    )


def _json_floats(t: Any) -> list[float | None]:
    """inf and NaN become None (JSON has neither); :func:`_load_reference` reads them back."""
    return [None if not math.isfinite(x) else float(x) for x in t]


def _load_reference(path: str, cuts: tuple[float, ...]) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError:
        raise InvalidInput(f"{p.name}: reference summary cannot be read") from None
    try:
        ref = json.loads(text)
        imp, norm = ref["importance"], ref["normalisation"]["ranges"]
        if ref.get("kind") != "evaluation" or tuple(imp["cuts"]) != tuple(cuts):
            raise ValueError(f"needs an evaluation summary with cuts {list(cuts)}")
        thresholds = {
            s: np.array([np.inf if x is None else float(x) for x in imp["thresholds"][s]])
            for s in SERVICES
        }
        ranges = {k: tuple(np.nan if x is None else float(x) for x in v) for k, v in norm.items()}
        name = ref["reference_extent"]["name"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{p.name}: not a usable reference summary ({exc!r})") from None
    return {"name": f"{name} (from {p.name})", "thresholds": thresholds, "ranges": ranges}


@dataclass
class _Run:
    """State shared by the passes of one evaluation run."""

    cfg: EvaluationConfig
    grid: Grid
    out: Path
    step: Progress
    used: Provenance = field(default_factory=Provenance)
    inputs: dict[str, Any] = field(default_factory=dict)
    src: dict[str, Any] = field(default_factory=dict)
    whole: dict[str, np.ndarray] = field(default_factory=dict)
    areas: dict[str, np.ndarray] = field(default_factory=dict)
    vmax: dict[str, float] = field(default_factory=dict)
    vsum: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    weights: AreaWeights | None = None
    derived: list[str] = field(default_factory=list)

    def blocks(self) -> Iterator[Window]:
        return self.grid.blocks(self.cfg.block_size)

    def read(self, name: str, win: Window) -> np.ndarray:
        if name in self.whole:
            r0, c0, h, w = win
            return self.whole[name][r0 : r0 + h, c0 : c0 + w]
        return np.ma.filled(self.src[name].read(win).astype("float32"), np.nan)

    def tally(self, key: str, classes: np.ndarray, n: int, w: np.ndarray | None) -> None:
        assert self.weights is not None
        self.areas[key] = self.areas.get(key, 0.0) + self.weights.tally(classes, n, w)

    # -- inputs ------------------------------------------------------------------------

    def open_sources(
        self, stack: contextlib.ExitStack, fq: FactorValue, annual: FactorValue
    ) -> None:
        cfg = self.cfg
        cont = {
            "aridity": cfg.aridity,
            "wind_days": cfg.wind_days,
            "fvc": cfg.fvc,
            "r": cfg.r,
            "k": cfg.k,
            "ls": cfg.ls,
            "c": cfg.c,
            "p": cfg.p,
            "npp": cfg.npp,
            "infiltration": cfg.infiltration,
            "precip_annual": annual,
            "fq": fq,
            "relief": cfg.relief,
            "slope": cfg.slope,
        }
        codes = {
            "texture_class": cfg.texture_class,
            "landcover": cfg.landcover,
            "vegetation_group": cfg.vegetation_group,
            "erosion_texture_group": cfg.erosion_texture_group,
        }
        for names, resampling in ((cont, "bilinear"), (codes, "nearest")):
            for name, value in names.items():
                if value is None or name in self.whole:
                    continue
                self.src[name] = stack.enter_context(
                    open_factor(
                        value,
                        self.grid,
                        name=name,
                        resampling=resampling,  # type: ignore[arg-type]
                        allow_outside_china=cfg.allow_outside_china,
                        inputs=self.inputs,
                    )
                )

    def load_dem(self) -> None:
        """Relief (and slope) from the whole DEM, warped onto the grid bilinearly."""
        cfg = self.cfg
        if cfg.dem is None or (cfg.relief is not None and cfg.slope is not None):
            return
        with open_factor(
            cfg.dem,
            self.grid,
            name="dem",
            allow_outside_china=cfg.allow_outside_china,
            inputs=self.inputs,
        ) as src:
            dem = np.ma.filled(src.read().astype("float32"), np.nan)
        if cfg.relief is None:
            size = relief_window(cfg.relief_window_m, self.grid.res)
            self.whole["relief"] = relief_amplitude(dem, size)
            self._write_whole("relief", "m")
            self.used.add_param(
                "relief.window_px", size, tag="I", source="odd pixels nearest relief_window_m"
            )
            self.used.add_param(
                "relief.window_m",
                (size[0] * self.grid.res[1], size[1] * self.grid.res[0]),
                tag="I",
                source="max - min elevation in a square centred on the pixel",
            )
        if cfg.slope is None:
            self.whole["slope"] = slope_horn(dem, self.grid.res).astype("float32")
            self.used.add_param("slope.method", "Horn 3x3 on the DEM", tag="V")
            self._write_whole("slope", "degree")

    def _write_whole(self, name: str, units: str) -> None:
        write_raster(
            Raster.from_array(self.whole[name], self.grid, units=units), self.out / f"{name}.tif"
        )
        self.derived.append(f"{name}.tif")

    # -- pass A: reference ranges ----------------------------------------------------------

    def pass_ranges(self, need_ranges: bool) -> None:
        names = ("infiltration", "precip_annual", "slope") if need_ranges else ()
        lo = dict.fromkeys(names, np.inf)
        hi = dict.fromkeys(names, -np.inf)
        fvc_max = -np.inf
        for win in self.blocks():
            f = self.read("fvc", win)
            if np.any(~np.isnan(f)):
                fvc_max = max(fvc_max, float(np.nanmax(f)))
            for n in names:
                a = self.read(n, win)
                if np.any(~np.isnan(a)):
                    lo[n], hi[n] = min(lo[n], float(np.nanmin(a))), max(hi[n], float(np.nanmax(a)))
        if 0 < fvc_max <= 1.0:
            raise UnitsError(
                f"FVC looks like a fraction (max {fvc_max:g} <= 1); give percent 0-100"
            )
        for n in names:
            self.ranges[n] = (lo[n], hi[n]) if np.isfinite(lo[n]) else (np.nan, np.nan)

    def norm(self, name: str, a: np.ndarray) -> np.ndarray:
        lo, hi = self.ranges[name]
        if hi > lo:
            return normalise(a, lo, hi).astype("float32")
        return np.where(np.isnan(a), np.float32(np.nan), np.float32(_NEUTRAL[name]))

    # -- pass B: per-pixel values ----------------------------------------------------------

    def window_values(self, win: Window) -> dict[str, np.ndarray]:
        cfg, v = self.cfg, {n: self.read(n, win) for n in (*self.src, *self.whole)}
        sand = sensitivity_classes(
            "sanding",
            {
                "aridity": v["aridity"],
                "wind-days": v["wind_days"],
                "texture": v["texture_class"],
                "fvc": v["fvc"],
            },
            scheme=cfg.scheme,
            used=self.used,
        )
        tex = v.get("erosion_texture_group")
        if tex is None:
            tex = lookup(v["texture_class"], cfg.texture_groups, what="texture class")
        if cfg.scheme == "RedLine-2017":
            cover = v["fvc"]
        elif "vegetation_group" in v:
            cover = v["vegetation_group"]
        else:
            cover = lookup(v["landcover"], cfg.vegetation_groups, what="land-cover code")
        water = sensitivity_classes(
            "water-erosion",
            {
                "r": v["r"] / np.float32(cfg.r_table_divisor),
                "relief": v["relief"],
                "texture": tex,
                "cover": cover,
            },
            scheme=cfg.scheme,
            used=self.used,
        )
        ac = factors.to_t_km2(factors.soil_conservation(v["r"], v["k"], v["ls"], v["c"], v["p"]))
        d = roughness_factor(v["slope"], used=self.used).astype("float32")
        sws = windbreak_sand_fixation(v["npp"], v["k"], v["fq"], d)
        wr = water_conservation_index(
            v["npp"],
            self.norm("infiltration", v["infiltration"]),
            self.norm("precip_annual", v["precip_annual"]),
            self.norm("slope", v["slope"]),
        )
        services = {"soil_conservation": ac, "sand_fixation": sws, "water_conservation": wr}
        if cfg.no_service_landcover:
            off = np.isin(v["landcover"], cfg.no_service_landcover)
            for a in services.values():
                a[off & ~np.isnan(a)] = 0.0
        for name, a in services.items():
            with np.errstate(invalid="ignore"):
                if np.any(a < 0):
                    raise UnitsError(
                        f"{name} has negative values (min {float(np.nanmin(a)):g}); check that "
                        "C and P are in 0-1 and NPP, K, F_q are >= 0"
                    )
        return {
            "sanding_sensitivity": sand[1],
            "sanding_sensitivity_index": sand[0],
            "water_erosion_sensitivity": water[1],
            "water_erosion_sensitivity_index": water[0],
            **services,
        }

    def pass_values(self, sens_tables: dict[str, ClassTable]) -> None:
        units = {
            "soil_conservation": "t/(km²·a)",
            "sand_fixation": "g C m-2 a-1 x K x Fq x D",
            "water_conservation": "g C m-2 a-1 (x normalised factors)",
        }
        n_blocks = sum(1 for _ in self.blocks())
        with contextlib.ExitStack() as stack:
            ws: dict[str, Any] = {}
            for key, table in sens_tables.items():
                ws[key] = _classed_writer(stack, self.out / f"{key}.tif", self.grid, table)
                ws[f"{key}_index"] = stack.enter_context(
                    open_raster_writer(self.out / f"{key}_index.tif", self.grid, units="score")
                )
            for s in SERVICES:
                ws[s] = stack.enter_context(
                    open_raster_writer(self.out / f"service_{s}.tif", self.grid, units=units[s])
                )
            for i, win in enumerate(self.blocks()):
                vals = self.window_values(win)
                w = self.weights.window(win) if self.weights else None
                for key, a in vals.items():
                    out = a if a.dtype == np.uint8 else np.ma.masked_invalid(a.astype("float32"))
                    ws[key].write(win, out)
                for key, table in sens_tables.items():
                    self.tally(key, vals[key], len(table.classes), w)
                for s in SERVICES:
                    a = vals[s]
                    ok = ~np.isnan(a)
                    if ok.any():
                        self.vmax[s] = max(self.vmax.get(s, -np.inf), float(a[ok].max()))
                        aw = a[ok].astype("float64") * (1.0 if w is None else w[ok])
                        self.vsum[s] = self.vsum.get(s, 0.0) + float(aw.sum())
                self.step("sensitivity and services by window", 0.15 + 0.5 * (i + 1) / n_blocks)

    # -- pass C: thresholds ------------------------------------------------------------

    def service_windows(self, s: str) -> Iterator[np.ndarray]:
        path = self.out / f"service_{s}.tif"
        for win in self.blocks():
            a = read_raster(path, window=win, name=path.name).array
            yield np.ma.filled(a.astype("float32"), np.nan)

    def thresholds(self, cuts: tuple[float, ...]) -> dict[str, np.ndarray]:
        out = {}
        assert self.weights is not None
        per_pixel = self.weights.method == "per-pixel"
        for s in SERVICES:
            hi = self.vmax.get(s, -np.inf)
            try:
                if not hi > 0:
                    raise EmptyArea("zero or empty")
                out[s] = cumulative_share_thresholds(
                    self.service_windows(s),
                    cuts,
                    bins=self.cfg.histogram_bins,
                    value_range=(0.0, hi),
                    weights=(self.weights.window(w) for w in self.blocks()) if per_pixel else None,
                    used=self.used,
                )
            except EmptyArea:
                # no service anywhere: no pixel is important, every valid pixel is class 1
                out[s] = np.full(len(cuts), np.inf)
        return out

    # -- pass D: importance classes ------------------------------------------------------

    def pass_importance(
        self, table: ClassTable, thresholds: dict[str, np.ndarray], tags: dict[str, str]
    ) -> None:
        n = len(table.classes)
        self.used.add_table(table)  # the thresholds of each service are in the summary
        dom_table = _dominant_table()
        n_blocks = sum(1 for _ in self.blocks())
        with contextlib.ExitStack() as stack:
            ws = {
                s: _classed_writer(
                    stack,
                    self.out / f"importance_{s}.tif",
                    self.grid,
                    table,
                    {**tags, "thresholds": json.dumps(_json_floats(thresholds[s]))},
                )
                for s in SERVICES
            }
            ws["max"] = _classed_writer(
                stack, self.out / "importance_max.tif", self.grid, table, tags
            )
            ws["dominant"] = _classed_writer(
                stack,
                self.out / "importance_dominant.tif",
                self.grid,
                dom_table,
                {"codes": json.dumps({k: v[:2] for k, v in DOMINANT_SERVICES.items()})},
            )
            readers = {s: self.service_windows(s) for s in SERVICES}
            for i, win in enumerate(self.blocks()):
                w = self.weights.window(win) if self.weights else None
                cls = []
                for s in SERVICES:
                    with np.errstate(invalid="ignore"):  # inf - inf when no pixel is important
                        c = classify_by_thresholds(next(readers[s]), thresholds[s], table)
                    ws[s].write(win, c)
                    self.tally(f"importance_{s}", c, n, w)
                    cls.append(c)
                stacked = np.stack(cls)
                top = stacked.max(axis=0)
                dominant = np.where(top > 0, stacked.argmax(axis=0) + 1, 0).astype(np.uint8)
                ws["max"].write(win, top)
                ws["dominant"].write(win, dominant)
                self.tally("importance_max", top, n, w)
                self.tally("importance_dominant", dominant, 3, w)
                self.step("importance classes by window", 0.75 + 0.2 * (i + 1) / n_blocks)


def _dominant_table() -> ClassTable:
    return ClassTable.model_validate(
        {
            "name": "geoeco/importance-dominant",
            "version": "1",
            "source": "geoeco: service giving the maximum importance class (ties: first listed)",
            "tag": "I",
            "indicator": "dominant ecosystem service",
            "units": "code",
            "kind": "categorical",
            "classes": [
                {"code": k, "name_zh": v[2], "name_en": v[3], "colour": v[4], "values": [k]}
                for k, v in DOMINANT_SERVICES.items()
            ],
        }
    )


def run_evaluation(
    out_dir: str | Path,
    *,
    grid_from: str | Path,
    inputs: EvaluationConfig,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sensitivity, services and importance on the grid of ``grid_from``; see the module doc.

    Writes the rasters and ``summary.json`` to ``out_dir`` and returns the summary.
    """
    cfg = inputs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda s, f: None)
    gpath = Path(grid_from)
    checked: dict[str, Any] = {}
    grid, _ = _check_input(str(gpath), "grid_from", checked, cfg.allow_outside_china)
    if not grid.crs.is_projected:
        raise InvalidInput(
            f"{gpath.name}: the target grid must be projected in metres (found "
            f"{grid.crs.to_string()}); reproject it first"
        )
    run = _Run(cfg, grid, out, step)
    run.inputs.update(checked)
    run.weights = area_weights(grid, cfg.area_weights)
    ref = _load_reference(cfg.reference, cfg.importance_cuts) if cfg.reference else None
    step("climate grid: F_q and annual precipitation", 0.02)
    fq, annual = climate_products(cfg, out, run.used, run.inputs)
    run.derived += [
        Path(v).name for v in (fq, annual) if isinstance(v, str) and Path(v).parent == out
    ]
    step("DEM: relief and slope", 0.06)
    run.load_dem()
    _record_choices(cfg, run.used)
    scheme = cfg.scheme
    sens_tables = {
        "sanding_sensitivity": get_table(f"{scheme}/sanding"),
        "water_erosion_sensitivity": get_table(f"{scheme}/water-erosion"),
    }
    imp_table = cumshare_table(cfg.importance_cuts)
    with contextlib.ExitStack() as stack:
        run.open_sources(stack, fq, annual)
        step("reference extent: ranges", 0.1)
        run.pass_ranges(need_ranges=ref is None)
        if ref is not None:
            run.ranges = dict(ref["ranges"])
        run.pass_values(sens_tables)
    step("reference extent: cumulative-share thresholds", 0.68)
    thresholds = ref["thresholds"] if ref else run.thresholds(cfg.importance_cuts)
    ref_name = ref["name"] if ref else "whole input grid"
    tags = {"reference_extent": ref_name}
    run.pass_importance(imp_table, thresholds, tags)
    summary = _summary(run, sens_tables, imp_table, thresholds, ref_name)
    write_json(summary, out / "summary.json")
    step("done", 1.0)
    return summary


def _record_choices(cfg: EvaluationConfig, used: Provenance) -> None:
    add = used.add_param
    add("sensitivity.scheme", cfg.scheme, tag="V" if cfg.scheme == "EcoZoning-interim" else "R")
    add(
        "water_erosion.r_table_divisor",
        cfg.r_table_divisor,
        tag="I",
        source="R (SI) / 17.02 = R in US customary units, the apparent units of the R table",
    )
    if cfg.erosion_texture_group is None:
        add(
            "water_erosion.texture_groups",
            cfg.texture_groups,
            tag="I",
            source="sanding texture code -> water-erosion texture group",
        )
    if cfg.scheme == "EcoZoning-interim" and cfg.vegetation_group is None:
        add(
            "water_erosion.vegetation_groups",
            cfg.vegetation_groups,
            tag="I",
            source="land-cover code -> EcoZoning vegetation group",
        )
    add("soil_conservation.formula", "100 * R*K*LS*(1 - C*P), t/(km2 a)", tag="V")
    add("sand_fixation.formula", "NPP*K*Fq*D, raw factors (no normalisation)", tag="I")
    add(
        "water_conservation.normalisation",
        "min-max over the reference extent; constant factor -> 1 (F_sic, F_pre) or 0 (F_slo)",
        tag="I",
    )
    add("no_service_landcover", cfg.no_service_landcover, tag="I")
    add("importance_max.rule", "maximum class across services (Ouyang et al. 2016)", tag="V")
    add("importance_dominant.ties", "first of soil, sand fixation, water conservation", tag="I")


def _summary(
    run: _Run,
    sens_tables: dict[str, ClassTable],
    imp_table: ClassTable,
    thresholds: dict[str, np.ndarray],
    ref_name: str,
) -> dict[str, Any]:
    cfg, grid = run.cfg, run.grid
    assert run.weights is not None
    tables: dict[str, ClassTable] = {
        **sens_tables,
        **{f"importance_{s}": imp_table for s in SERVICES},
        "importance_max": imp_table,
        "importance_dominant": _dominant_table(),
    }
    area_by_class = {}
    totals = {}
    nodata = {}
    for key, table in tables.items():
        a = run.areas.get(key, np.zeros(len(table.classes) + 1))
        area_by_class[key] = {
            f"{c.code} {c.name_zh} {c.name_en}": float(a[c.code]) for c in table.classes
        }
        totals[key] = float(np.sum(a[1:]))
        nodata[key] = float(a[0])
    px = 1.0 if run.weights.method == "per-pixel" else run.weights.pixel_km2
    service_stats = {}
    for s in SERVICES:
        area = totals[f"importance_{s}"]
        service_stats[s] = {
            "max": run.vmax.get(s),
            "area_weighted_mean": run.vsum.get(s, 0.0) * px / area if area else None,
        }
    outputs = [f"{k}.tif" for k in sens_tables] + [f"{k}_index.tif" for k in sens_tables]
    outputs += [f"service_{s}.tif" for s in SERVICES]
    outputs += [f"importance_{k}.tif" for k in (*SERVICES, "max", "dominant")]
    outputs += run.derived
    paths = set(_PATH_KEYS)
    return {
        "kind": "evaluation",
        "engine": engine_info(),
        "scheme": cfg.scheme,
        "units": {
            "soil_conservation": "t/(km²·a)",
            "sand_fixation": "NPP (g C m⁻² a⁻¹) · K (t·hm²·h/(hm²·MJ·mm)) · F_q · D",
            "water_conservation": "NPP (g C m⁻² a⁻¹) · normalised factors",
            "area": "km² (true ellipsoidal area)",
        },
        "grid": {
            "crs": grid.crs.to_string(),
            "res_m": list(grid.res),
            "shape": list(grid.shape),
            "bounds": list(grid.bounds),
        },
        "reference_extent": {
            "name": ref_name,
            "bounds": None if cfg.reference else list(grid.bounds),
        },
        "area_weights": run.weights.describe(),
        "normalisation": {
            "method": "min-max over the reference extent",
            "ranges": {k: _json_floats(v) for k, v in run.ranges.items()},
        },
        "importance": {
            "table": imp_table.name,
            "cuts": list(cfg.importance_cuts),
            "method": f"streaming histogram, {run.weights.method} pixel area"
            if not cfg.reference
            else "thresholds of the reference summary",
            "bins": cfg.histogram_bins,
            "thresholds": {s: _json_floats(thresholds[s]) for s in SERVICES},
            "dominant_codes": {
                str(k): {"service": v[0], "red_line_type": v[1], "name_zh": v[2]}
                for k, v in DOMINANT_SERVICES.items()
            },
        },
        "service_stats": service_stats,
        "area_km2": area_by_class,
        "area_km2_total": totals,
        "nodata_area_km2": nodata,
        "grid_area_km2": totals["sanding_sensitivity"] + nodata["sanding_sensitivity"],
        "config": cfg.model_dump(mode="json", exclude=paths),
        "inputs": run.inputs,
        "provenance": {
            **run.used.to_dict(),
            "class_tables": {t.name: t.describe() for t in tables.values()},
        },
        "outputs": outputs,
    }


__all__ = [
    "AREA_TOLERANCE",
    "DEFAULT_TEXTURE_GROUPS",
    "DEMO_VEGETATION_GROUPS",
    "DOMINANT_SERVICES",
    "SERVICES",
    "AreaWeights",
    "EvaluationConfig",
    "area_weights",
    "climate_products",
    "demo_evaluation_config",
    "load_evaluation_config",
    "make_evaluation_config",
    "relief_amplitude",
    "relief_window",
    "run_evaluation",
    "sensitivity_classes",
]
