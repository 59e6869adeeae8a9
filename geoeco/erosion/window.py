"""One window of the erosion run: read the factors onto it, multiply, convert and grade.

:func:`erosion_window` is the task an engine runs per window (on a cluster it is pickled by
reference, so it stays importable here): it opens the run's inputs (:func:`_open_inputs`), reads
R, K, LS, C and P (or CSLE's B, E, T) onto the window with one mutual mask, computes soil loss in
t/(km²·a) (:mod:`geoeco.erosion.factors`) and its SL 190-2007 grade, and returns the window's
arrays and running totals (:class:`WindowResult`). :class:`ErosionSpec` is everything a window
needs, picklable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from geoeco.catalog.classes import FactorTable, Provenance, get_table
from geoeco.core.align import Resampling, aligned_source, mutual_mask
from geoeco.core.engine import Window
from geoeco.core.io import raster_info, read_raster
from geoeco.core.raster import Grid
from geoeco.core.windows import Constant, WindowReader
from geoeco.erosion import factors as factors
from geoeco.erosion import grades as grades
from geoeco.erosion import vegetation as vegetation

from .config import ErosionConfig, FactorValue


class BTTables(TypedDict, total=False):
    """User CSLE tables (keywords of :func:`geoeco.erosion.factors.csle_bet`); absent = default."""

    t_table: FactorTable
    b_table: FactorTable


@dataclass(frozen=True)
class ErosionSpec:
    """What :func:`erosion_window` needs: configuration, grid, paths and small numbers only.

    It is pickled into every task, so it never holds raster data: the kernel opens the
    inputs itself (``r`` is a number or the path of the R raster already on disk, ``ls_files``
    the LS rasters written by the driver).
    """

    cfg: ErosionConfig
    grid: Grid
    r: FactorValue
    ls_files: tuple[tuple[str, str], ...]
    lc_tables: dict[str, dict[int, float]] = field(default_factory=dict)
    fvc_ends: tuple[float, float] | None = None
    bt_tables: BTTables = field(default_factory=lambda: BTTables())


@dataclass
class WindowResult:
    """One window's outputs: arrays by output name (NaN = nodata, grade 0 = nodata), the
    grade histogram (index = grade code), sums for the means, and the provenance recorded."""

    arrays: dict[str, np.ndarray]
    counts: np.ndarray
    loss_sum: float
    pot_sum: float
    tables: dict[str, dict[str, Any]]
    parameters: dict[str, dict[str, Any]]
    #: Pixels where the DEM is valid (LS defined): the denominator of the coverage.
    dem_valid: int = 0
    #: Per factor input, DEM-valid pixels where it has no data (:func:`missing_factors`).
    missing: dict[str, int] = field(default_factory=dict)


def _factor_inputs(spec: ErosionSpec) -> list[tuple[FactorValue, str, Resampling]]:
    """``(value, name, resampling)`` of every factor input, in the order they are recorded."""
    cfg = spec.cfg
    out: list[tuple[FactorValue, str, Resampling]] = [(spec.r, "R", "bilinear")]
    if cfg.texture is not None:
        out += [(getattr(cfg.texture, n), n, "bilinear") for n in ("sand", "silt", "clay", "soc")]
    if cfg.k is not None:
        out.append((cfg.k, "K", "bilinear"))
    if cfg.c is not None:
        out.append((cfg.c, "C", "bilinear"))
    if cfg.ndvi is not None:
        out.append((cfg.ndvi, "ndvi", "bilinear"))
    if cfg.fvc is not None:
        out.append((cfg.fvc, "fvc", "bilinear"))
    if cfg.landcover:
        out.append((cfg.landcover, "landcover", "nearest"))
    if cfg.p is not None and cfg.p_method == "value":
        out.append((cfg.p, "P", "bilinear"))
    if cfg.erosion_regions:
        out.append((cfg.erosion_regions, "erosion_regions", "nearest"))
    return out


Sources = dict[str, WindowReader]


class OnGrid:
    """A factor raster already on the run's grid (same CRS, transform and size), read window
    by window as it is: a warp onto the same grid would copy every value unchanged, at the
    cost of a warp."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        """The window's values, nodata and NaN masked."""
        return read_raster(self.path, window=window, name=self.name).array


def _on_grid(path: str, grid: Grid) -> bool:
    """Whether the raster at ``path`` is on ``grid`` exactly (CRS included)."""
    g = raster_info(path, name=Path(path).name).grid
    return g is not None and g == grid and g.crs == grid.crs


@contextlib.contextmanager
def _open_inputs(spec: ErosionSpec) -> Iterator[Sources]:
    """Every factor input opened on the grid (no re-validation: the driver checked them)."""
    with contextlib.ExitStack() as stack:
        srcs: Sources = {}
        for value, name, resampling in _factor_inputs(spec):
            if isinstance(value, int | float):
                srcs[name] = Constant(float(value), name)
            elif _on_grid(value, spec.grid):
                srcs[name] = OnGrid(value, Path(value).name)
            else:
                srcs[name] = stack.enter_context(
                    aligned_source(value, spec.grid, resampling=resampling, name=Path(value).name)
                )
        yield srcs


@dataclass(frozen=True)
class _WindowFactors:
    """The inputs of one window, read or derived (NaN = nodata; land cover 0 = nodata)."""

    R: np.ndarray
    K: np.ndarray
    lc: np.ndarray | None
    fvc: np.ndarray | None
    ls: dict[str, np.ndarray]
    P: np.ndarray | float


def erosion_window(spec: ErosionSpec, window: Window) -> WindowResult:
    """Soil loss and grade of one window, with potential loss, conservation and the
    factors when the config asks for the factors (``cfg.factors``).

    A pure function of its arguments (it reads files, writes none), safe to run in any
    process: this is the task :func:`run_erosion` hands to its engine.

    >>> from affine import Affine
    >>> g = Grid(Affine(30, 0, 0, 0, -30, 60), 2, 2, "EPSG:4546")
    >>> import tempfile
    >>> from geoeco.core.io import write_raster
    >>> from geoeco.core.raster import Raster
    >>> from geoeco.erosion.config import make_config
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = write_raster(Raster.from_array(np.full((2, 2), 2.0, "float32"), g), d / "ls.tif")
    >>> _ = write_raster(Raster.from_array(np.zeros((2, 2), "float32"), g), d / "slope.tif")
    >>> cfg = make_config({"r": 100.0, "k": 0.05, "c": 0.5, "p": 1.0})
    >>> files = (("ls", str(d / "ls.tif")), ("slope", str(d / "slope.tif")))
    >>> res = erosion_window(ErosionSpec(cfg, g, 100.0, files), (0, 0, 2, 1))
    >>> res.arrays["soil_loss"].ravel().tolist()  # 100 * 0.05 * 2 * 0.5 * 1 t/(hm²·a) * 100
    [500.0, 500.0]
    >>> sorted(res.arrays), res.pot_sum  # R·K·LS = 10 t/(hm²·a) = 1000 t/(km²·a), 2 pixels
    (['erosion_grade', 'soil_loss'], 2000.0)
    >>> res.counts.tolist()  # 500 t/(km²·a) is grade 2 (light) with tolerable loss 200
    [0, 0, 2, 0, 0, 0, 0]
    """
    used = Provenance()
    table = get_table("SL190-2007/water")
    with _open_inputs(spec) as s:
        f = _read_factors(spec, s, window, used)
        a, parts, potential = _soil_loss(spec, s, window, f, used)
        modulus = factors.to_t_km2(a).astype("float32")
        mask = mutual_mask(modulus, np.ma.masked_equal(f.lc, 0) if f.lc is not None else modulus)
        modulus[mask] = np.nan
        grade = _grade(spec.cfg, s, window, modulus, used)
    arrays = _output_arrays(modulus, potential, parts if spec.cfg.factors else {}, mask)
    pot_sum = float(np.nansum(arrays["potential_loss"], dtype="float64"))
    if not spec.cfg.factors:  # only the soil loss and its grade are asked for
        arrays = {"soil_loss": modulus}
    arrays["erosion_grade"] = np.asarray(grade)
    valid = np.isfinite(modulus)
    return WindowResult(
        arrays=arrays,
        counts=np.bincount(grade.ravel(), minlength=len(table.classes) + 1).astype(np.int64),
        loss_sum=float(modulus[valid].sum(dtype="float64")),
        pot_sum=pot_sum,
        tables=used.tables,
        parameters=used.parameters,
        dem_valid=int(np.count_nonzero(np.isfinite(f.ls["ls"]))),
        missing=missing_factors(f, np.isfinite(f.ls["ls"])),
    )


def missing_factors(f: _WindowFactors, dem_ok: np.ndarray) -> dict[str, int]:
    """Per factor input of a window, the pixels with a valid DEM where it has no data (NaN;
    land cover 0): why a pixel of the DEM got no soil loss."""

    def gap(a: np.ndarray | float) -> int:
        if not isinstance(a, np.ndarray):
            return 0 if np.isfinite(a) else int(np.count_nonzero(dem_ok))
        return int(np.count_nonzero(dem_ok & ~np.isfinite(a)))

    out = {"R": gap(f.R), "K": gap(f.K)}
    if f.lc is not None:
        out["landcover"] = int(np.count_nonzero(dem_ok & (f.lc == 0)))
    if f.fvc is not None:
        out["ndvi"] = gap(f.fvc)
    if isinstance(f.P, np.ndarray):
        out["P"] = gap(f.P)
    return out


def _read_factors(spec: ErosionSpec, s: Sources, win: Window, used: Provenance) -> _WindowFactors:
    """R, K, land cover, FVC (from NDVI), the LS rasters and P of one window."""
    cfg = spec.cfg
    R = np.ma.filled(s["R"].read(win), np.nan).astype("float32")
    K = _k_factor(cfg, s, win, used)
    lc = None if "landcover" not in s else np.ma.filled(s["landcover"].read(win), 0)
    lc = None if lc is None else lc.astype("int32")
    fvc = None
    if "ndvi" in s:
        assert spec.fvc_ends is not None  # run_erosion finds them whenever ndvi is given
        fvc = vegetation.fvc_dimidiate(
            np.ma.filled(s["ndvi"].read(win), np.nan), spec.fvc_ends[0], spec.fvc_ends[1]
        )
    lsw = {n: read_raster(p, window=win).filled(np.nan) for n, p in spec.ls_files}
    P = _p_factor(cfg, win, s.get("P"), lc, spec.lc_tables, lsw.get("slope"), used)
    return _WindowFactors(R=R, K=K, lc=lc, fvc=fvc, ls=lsw, P=P)


def _k_factor(cfg: ErosionConfig, s: Sources, win: Window, used: Provenance) -> np.ndarray:
    """K as given, or by EPIC from the texture rasters."""
    if cfg.texture is None:
        return np.ma.filled(s["K"].read(win), np.nan)
    t = {n: np.ma.filled(s[n].read(win), np.nan) for n in ("sand", "silt", "clay", "soc")}
    return factors.k_epic(
        t["sand"],
        t["silt"],
        t["clay"],
        t["soc"],
        zhang_correction=cfg.texture.zhang_correction,
        used=used,
    )


def _soil_loss(
    spec: ErosionSpec, s: Sources, win: Window, f: _WindowFactors, used: Provenance
) -> tuple[np.ndarray, dict[str, np.ndarray | float], np.ndarray]:
    """Soil loss A (t/(hm²·a)) by RUSLE or CSLE, the factors written beside it, and the
    potential loss R·K·L·S."""
    if spec.cfg.model == "rusle":
        C = _c_factor(spec, s, win, f, used)
        a = factors.rusle(f.R, f.K, f.ls["ls"], C, f.P)
        return a, {"k": f.K, "c": C, "p": f.P}, factors.potential_loss(f.R, f.K, f.ls["ls"])
    B, E, T = factors.csle_bet(f.lc, fvc=f.fvc, e=spec.cfg.e, used=used, **spec.bt_tables)
    L, S = f.ls["l"], f.ls["s"]
    a = factors.csle(f.R, f.K, L, S, B, E, T)
    return a, {"k": f.K, "b": B, "e": E, "t": T}, factors.potential_loss(f.R, f.K, L * S)


def _c_factor(
    spec: ErosionSpec, s: Sources, win: Window, f: _WindowFactors, used: Provenance
) -> np.ndarray:
    """RUSLE's C by the config's ``c_method``: given, Cai on FVC or NDVI, or from the table."""
    method = spec.cfg.c_method
    if method == "value":
        return np.ma.filled(s["C"].read(win), np.nan)
    if method == "fvc":
        return factors.c_cai(np.ma.filled(s["fvc"].read(win), np.nan), used=used)
    if method == "ndvi":
        return factors.c_cai(f.fvc, used=used)
    return factors.c_from_table(f.lc, spec.lc_tables["c"], used=used)


def _grade(
    cfg: ErosionConfig, s: Sources, win: Window, modulus: np.ndarray, used: Provenance
) -> np.ndarray:
    """SL 190-2007 grades (0 = nodata) with the erosion regions' or the config's tolerable loss."""
    if "erosion_regions" in s:
        regions = np.ma.filled(s["erosion_regions"].read(win), 0)
        return grades.water_erosion_grade(
            modulus, regions=regions, out_of_range="nodata", used=used
        )
    return grades.water_erosion_grade(
        modulus, tolerable=cfg.tolerable_loss, out_of_range="nodata", used=used
    )


def _output_arrays(
    modulus: np.ndarray,
    potential: np.ndarray,
    parts: dict[str, np.ndarray | float],
    mask: np.ndarray,
) -> dict[str, np.ndarray]:
    """Soil loss, potential loss R·K·L·S and soil conservation (potential − actual) in
    t/(km²·a), and the factors, as float32 with NaN where ``mask``."""
    pot = factors.to_t_km2(potential).astype("float32")
    pot[mask] = np.nan
    arrays = {"soil_loss": modulus, "potential_loss": pot, "soil_conservation": pot - modulus}
    for n, v in parts.items():
        a = np.broadcast_to(np.asarray(v, dtype="float32"), modulus.shape).copy()
        a[mask] = np.nan
        arrays[n] = a
    return arrays


def _p_factor(
    cfg: ErosionConfig,
    win: tuple[int, int, int, int],
    p_src: WindowReader | None,
    lc: np.ndarray | None,
    tables: dict[str, dict[int, float]],
    slope_deg: np.ndarray | None,
    used: Provenance,
) -> np.ndarray | float:
    """P by the config's ``p_method``: from the land-cover table, Wener's formula on the
    cropland codes, the P input, or 1."""
    if cfg.p_method == "table":
        return factors.p_from_table(lc, tables["p"], used=used)
    if cfg.p_method == "wener":
        assert lc is not None  # the config needs landcover for p_method "wener"
        assert slope_deg is not None  # run_erosion hands the slope to the windows for wener
        slope_pct = np.tan(np.radians(slope_deg)) * 100.0
        crop = np.isin(lc, cfg.cropland_codes)
        return factors.p_wener(slope_pct, crop, used=used)
    if p_src is not None:
        return np.ma.filled(p_src.read(win), np.nan)
    return 1.0


def _bt_tables(cfg: ErosionConfig) -> BTTables:
    """User B/T tables from the config (code → value; B may be "cai" = Cai's formula on FVC)."""
    out = BTTables()
    if cfg.t_factors:
        out["t_table"] = _user_table("T", dict(cfg.t_factors))
    if cfg.b_factors:
        out["b_table"] = _user_table("B", dict(cfg.b_factors))
    return out


def _user_table(factor: str, values: dict[int, float | str]) -> FactorTable:
    """A CSLE factor table from the erosion config."""
    return FactorTable(
        name=f"user/{factor}",
        version="config",
        source="erosion config",
        tag="I",
        units="1",
        key="land-use code",
        values=values,
        origin="user",
    )
