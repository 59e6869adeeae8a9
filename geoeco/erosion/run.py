"""Water erosion end to end: RUSLE or CSLE on the DEM's grid, graded by SL 190-2007.

:func:`run_erosion` reads the DEM whole (flow routing needs whole basins; the size limit is
:data:`geoeco.terrain.routing.MAX_ROUTING_PIXELS`), computes LS, then walks the grid window by
window:
each factor is read onto the window (constants, rasters warped with the resampling their kind
calls for, or derived: R from monthly or daily rain, K from texture, C from NDVI or a
land-cover table, P from a table or Wener's formula), multiplied, converted to t/(km²·a) and
graded. One mutual mask covers every input, so a missing input never silently becomes zero.

Outputs in ``out_dir``: ``soil_loss.tif`` (t/(km²·a)), ``erosion_grade.tif`` (SL 190-2007
codes 1..6, 0 = nodata, with the class colours), ``ls.tif``, ``r.tif`` when R is derived, and
``summary.json``: area in km² per grade (equal-area), mean and total loss, the class tables,
parameters ([R] items listed as unverified), inputs with checksums, and the engine version.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geoeco.catalog.classes import FactorTable, Provenance, get_table
from geoeco.core.align import Resampling, aligned_source, mutual_mask
from geoeco.core.engine import Engine, Window, check_engine, using_engine
from geoeco.core.errors import InvalidFields, InvalidInput, ManifestError
from geoeco.core.io import RasterWriter, open_raster_writer, raster_info, read_raster, write_raster
from geoeco.core.raster import Grid, Raster
from geoeco.core.tile_store import DirTileStore
from geoeco.core.tile_writes import OutputFile, write_from_tiles
from geoeco.core.windows import (
    Constant,
    WindowReader,
    equal_area_factor,
    file_digest,
    open_factor,
    write_json,
)
from geoeco.erosion import factors as factors
from geoeco.erosion import grades as grades
from geoeco.erosion import vegetation as vegetation
from geoeco.erosion.results import ErosionResult
from geoeco.terrain.ls import DEFAULT_LS_METHOD, Method, check_ls_args, ls_factor
from geoeco.terrain.routing import RoutingMethod

Progress = Callable[[str, float], None]
FactorValue = float | str
#: Soil-loss models: RUSLE (A = R K L S C P) or CSLE (B E T instead of C P).
ErosionModel = Literal["rusle", "csle"]
EROSION_MODELS: tuple[ErosionModel, ...] = get_args(ErosionModel)
DEFAULT_MODEL: ErosionModel = "rusle"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LandcoverTable(_Model):
    """A land-cover factor table (CSV) and its column names (InVEST-style defaults)."""

    path: str
    code: str = "lucode"
    c: str | None = "usle_c"
    p: str | None = "usle_p"


class Texture(_Model):
    """Soil texture rasters (percent) and organic carbon (percent) for EPIC K."""

    sand: FactorValue
    silt: FactorValue
    clay: FactorValue
    soc: FactorValue
    zhang_correction: bool = False


class ErosionConfig(_Model):
    """Everything that controls an erosion run; the CLI's ``--config FILE`` is this, in TOML.

    Factors are a number or a raster path. R may instead come from monthly rain
    (``r_monthly``, 12 bands in mm; ``r_monthly_method`` fournier or wischmeier) or daily rain
    (``r_daily``, one band per day, band descriptions ISO dates, Zhang Wenbo's model); K from
    ``texture``; C from ``ndvi`` (FVC by the dimidiate model, then Cai) or ``landcover`` +
    ``landcover_table``; P from the table or Wener's formula on ``cropland_codes``.
    """

    model: ErosionModel = DEFAULT_MODEL
    routing: RoutingMethod | None = None
    ls_method: Method = DEFAULT_LS_METHOD
    l_max: float | None = None
    channel_threshold_cells: int | None = None
    s_breaks: tuple[float, float] | None = None
    cutoff: tuple[float, float] = (0.5, 0.7)
    r: FactorValue | None = None
    r_monthly: str | None = None
    r_monthly_method: Literal["fournier", "wischmeier"] = "fournier"
    fournier_alpha: float = 0.1833
    fournier_beta: float = 1.9957
    r_daily: str | None = None
    k: FactorValue | None = None
    texture: Texture | None = None
    c: FactorValue | None = None
    ndvi: str | None = None
    ndvi_endpoints: tuple[float, float] | None = None
    landcover: str | None = None
    landcover_table: LandcoverTable | None = None
    c_method: Literal["value", "ndvi", "fvc", "table"] | None = None
    fvc: str | None = None
    p: FactorValue | None = None
    p_method: Literal["value", "table", "wener"] = "value"
    cropland_codes: tuple[int, ...] = (1,)
    e: float = 1.0
    t_factors: dict[int, float] | None = None
    b_factors: dict[int, float | Literal["cai"]] | None = None
    tolerable_loss: float = Field(200.0, gt=0)
    erosion_regions: str | None = None
    allow_outside_china: bool = False
    block_size: int = Field(1024, ge=64)

    @model_validator(mode="after")
    def _one_source_each(self) -> ErosionConfig:
        if self.model == "rusle" and self.c_method is None:
            chosen = next((m for m in ("value", "ndvi", "fvc", "table") if self._has_c(m)), None)
            object.__setattr__(self, "c_method", chosen)
        problems = _conflicts(self)
        if problems:
            raise ConfigConflict(problems)
        return self

    def _has_c(self, method: str) -> bool:
        """Whether the input of C method ``method`` is given."""
        if method == "table":
            t = self.landcover_table
            return self.landcover is not None and t is not None and t.c is not None
        return {"value": self.c, "ndvi": self.ndvi, "fvc": self.fvc}[method] is not None


class ConfigConflict(ValueError):
    """Settings of an erosion config that contradict each other or lack a partner.

    ``problems`` lists ``(fields, message)``: the settings involved and what is wrong.
    """

    def __init__(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        super().__init__("; ".join(m for _, m in problems))
        self.problems = problems


_LS_FIELDS = ("ls_method", "routing", "s_breaks", "channel_threshold_cells", "l_max", "cutoff")


def _conflicts(cfg: ErosionConfig) -> list[tuple[tuple[str, ...], str]]:
    """Every contradiction or missing partner among the settings (see :class:`ConfigConflict`);
    the run would fail on each of them."""
    out: list[tuple[tuple[str, ...], str]] = []
    if sum(x is not None for x in (cfg.r, cfg.r_monthly, cfg.r_daily)) != 1:
        out.append((("r", "r_monthly", "r_daily"), "give exactly one of r, r_monthly, r_daily"))
    if (cfg.k is None) == (cfg.texture is None):
        out.append((("k", "texture"), "give exactly one of k, texture"))
    if cfg.model == "rusle":
        if cfg.c_method is None:
            msg = "C is missing: give c, ndvi, fvc (percent), or landcover + landcover_table"
            out.append((("c", "ndvi", "fvc", "landcover", "landcover_table"), msg))
        elif not cfg._has_c(cfg.c_method):
            out.append((("c_method",), f"c_method={cfg.c_method!r} lacks its input"))
    if cfg.model == "csle" and (cfg.landcover is None or cfg.ndvi is None):
        msg = "csle needs landcover (for B/T) and ndvi (FVC for B)"
        out.append((("model", "landcover", "ndvi"), msg))
    if cfg.p_method == "table" and (cfg.landcover_table is None or cfg.landcover is None):
        msg = "p_method='table' needs landcover and landcover_table"
        out.append((("p_method", "landcover", "landcover_table"), msg))
    if cfg.p_method == "wener" and cfg.landcover is None:
        out.append(
            (("p_method", "landcover"), "p_method='wener' needs landcover (to find cropland)")
        )
    if cfg.p is not None and cfg.p_method != "value":
        msg = f"p is given but p_method={cfg.p_method!r} takes P from elsewhere; give one of them"
        out.append((("p", "p_method"), msg))
    if cfg.ls_method == "lstool" and cfg.routing == "mfd":
        msg = "ls_method 'lstool' follows D8 paths; it cannot use routing 'mfd'"
        out.append((("ls_method", "routing"), msg))
    else:
        try:
            check_ls_args(
                cfg.ls_method,
                cfg.routing,
                cfg.s_breaks,
                cfg.channel_threshold_cells,
                cfg.l_max,
                cfg.cutoff,
                None,
            )
        except InvalidInput as exc:
            out.append((_LS_FIELDS, str(exc)))
    return out


def load_config(path: str | Path, **overrides: Any) -> ErosionConfig:
    """Read a TOML config; relative paths in it resolve against its folder; CLI flags override."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{p.name}: cannot read config ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{p.name}: not valid TOML ({exc})") from None
    return make_config(data, base=p.parent, **overrides)


_PATH_KEYS = (
    "r",
    "r_monthly",
    "r_daily",
    "k",
    "c",
    "ndvi",
    "fvc",
    "landcover",
    "p",
    "erosion_regions",
)


def make_config(
    data: dict[str, Any] | None = None, *, base: Path | None = None, **overrides: Any
) -> ErosionConfig:
    """Validate a config dict (plus non-None overrides); messages name every bad field."""
    merged = dict(data or {})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    if base is not None:
        for key in _PATH_KEYS:
            v = merged.get(key)
            if isinstance(v, str) and not Path(v).is_absolute():
                merged[key] = str(base / v)
        for sub in ("texture", "landcover_table"):
            d = merged.get(sub)
            if isinstance(d, dict):
                d = dict(d)
                for k2, v in d.items():
                    if (
                        k2 in ("sand", "silt", "clay", "soc", "path")
                        and isinstance(v, str)
                        and not Path(v).is_absolute()
                    ):
                        d[k2] = str(base / v)
                merged[sub] = d
    try:
        return ErosionConfig.model_validate(merged)
    except ValidationError as exc:
        errors = _config_errors(exc)
        text = "; ".join(
            e["message"] if e["code"] == "conflict" else f"{e['field']}: {e['message']}"
            for e in errors
        )
        raise InvalidFields(f"erosion config: {text}", errors) from None


def _config_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """``{field, fields, message, code}`` per problem; a conflict lists every setting involved."""
    out: list[dict[str, Any]] = []
    for e in exc.errors():
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigConflict):
            out += [
                {"field": f[0], "fields": list(f), "message": m, "code": "conflict"}
                for f, m in cause.problems
            ]
            continue
        field = ".".join(str(x) for x in e["loc"]) or "config"
        top = str(e["loc"][0]) if e["loc"] else "config"
        out.append({"field": field, "fields": [top], "message": e["msg"], "code": e["type"]})
    return out


def read_landcover_table(t: LandcoverTable) -> dict[str, dict[int, float]]:
    """Columns ``c`` and ``p`` of a land-cover CSV as ``{code: value}`` dicts."""
    p = Path(t.path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        raise InvalidInput(f"land-cover table {p.name!r} cannot be read") from None
    out: dict[str, dict[int, float]] = {}
    for key, col in (("c", t.c), ("p", t.p)):
        if col is None:
            continue
        if rows and (t.code not in rows[0] or col not in rows[0]):
            raise InvalidInput(
                f"land-cover table {p.name!r} has no column {t.code!r} or {col!r}; "
                f"columns are {', '.join(rows[0])}"
            )
        try:
            out[key] = {int(float(r[t.code])): float(r[col]) for r in rows if r[col] != ""}
        except ValueError as exc:
            raise InvalidInput(f"land-cover table {p.name!r}: {exc}") from None
    return out


# ----------------------------------------------------------------------------------- R


def _dates_of(path: Path, count: int) -> list[date]:
    names = raster_info(path, name=path.name).band_names
    try:
        return [date.fromisoformat(str(n)) for n in names]
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{path.name}: daily rain needs each band described by its ISO date (YYYY-MM-DD); "
            f"found {names[:2]}..."
        ) from None


def derive_r(cfg: ErosionConfig, out_dir: Path, used: Provenance) -> FactorValue:
    """R as a number or a raster path; monthly/daily rain is turned into ``out_dir/r.tif``.

    R is computed on the rain grid itself (climate grids are coarse) and then warped onto the
    DEM grid with bilinear resampling like any other continuous factor.
    """
    if cfg.r is not None:
        return cfg.r
    if cfg.r_monthly is not None:
        src = read_raster(cfg.r_monthly, band=list(range(1, 13)), name=Path(cfg.r_monthly).name)
        monthly = np.ma.filled(src.array.astype("float64"), np.nan)
        if cfg.r_monthly_method == "fournier":
            r = factors.rain_erosivity_fournier(
                monthly, alpha=cfg.fournier_alpha, beta=cfg.fournier_beta, used=used
            )
        else:
            r = factors.rain_erosivity_wischmeier(monthly, used=used)
        grid = src.grid
    else:
        assert cfg.r_daily is not None
        p = Path(cfg.r_daily)
        info = raster_info(p, name=p.name)
        dates = _dates_of(p, info.count)
        src = read_raster(p, band=list(range(1, info.count + 1)), name=p.name)
        r = factors.rain_erosivity_daily(
            np.ma.filled(src.array.astype("float64"), np.nan), dates, used=used
        )
        grid = src.grid
    dest = out_dir / "r.tif"
    write_raster(
        Raster.from_array(np.asarray(r, dtype="float32"), grid, units="MJ·mm/(hm²·h·a)"), dest
    )
    return str(dest)


# ------------------------------------------------------------------------ the kernel


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


@contextlib.contextmanager
def _open_inputs(spec: ErosionSpec) -> Iterator[Sources]:
    """Every factor input opened on the grid (no re-validation: the driver checked them)."""
    with contextlib.ExitStack() as stack:
        srcs: Sources = {}
        for value, name, resampling in _factor_inputs(spec):
            if isinstance(value, int | float):
                srcs[name] = Constant(float(value), name)
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
    """Soil loss, potential loss, conservation, factors and grade of one window.

    A pure function of its arguments (it reads files, writes none), safe to run in any
    process: this is the task :func:`run_erosion` hands to its engine.

    >>> from affine import Affine
    >>> g = Grid(Affine(30, 0, 0, 0, -30, 60), 2, 2, "EPSG:4546")
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = write_raster(Raster.from_array(np.full((2, 2), 2.0, "float32"), g), d / "ls.tif")
    >>> _ = write_raster(Raster.from_array(np.zeros((2, 2), "float32"), g), d / "slope.tif")
    >>> cfg = make_config({"r": 100.0, "k": 0.05, "c": 0.5, "p": 1.0})
    >>> files = (("ls", str(d / "ls.tif")), ("slope", str(d / "slope.tif")))
    >>> res = erosion_window(ErosionSpec(cfg, g, 100.0, files), (0, 0, 2, 1))
    >>> res.arrays["soil_loss"].ravel().tolist()  # 100 * 0.05 * 2 * 0.5 * 1 t/(hm²·a) * 100
    [500.0, 500.0]
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
    arrays = _output_arrays(modulus, potential, parts, mask)
    arrays["erosion_grade"] = np.asarray(grade)
    valid = np.isfinite(modulus)
    return WindowResult(
        arrays=arrays,
        counts=np.bincount(grade.ravel(), minlength=len(table.classes) + 1).astype(np.int64),
        loss_sum=float(modulus[valid].sum(dtype="float64")),
        pot_sum=float(np.nansum(arrays["potential_loss"], dtype="float64")),
        tables=used.tables,
        parameters=used.parameters,
    )


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
    P = _p_factor(cfg, win, s.get("P"), lc, spec.lc_tables, lsw["slope"], used)
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


# ------------------------------------------------------------------------------ the run


def _window_to_store(
    args: tuple[ErosionSpec, DirTileStore], item: tuple[int, Window]
) -> WindowResult:
    """:func:`erosion_window` whose arrays go to the shared store (key ``ero_<name>``,
    index = window number) instead of back to the driver: the task of a cluster engine."""
    spec, store = args
    t, win = item
    res = erosion_window(spec, win)
    for name, values in res.arrays.items():
        store.put("ero_" + name, t, values)
    return dataclasses.replace(res, arrays={})


@contextlib.contextmanager
def _scratch(out: Path) -> Iterator[str]:
    """A temporary folder in the output folder (workers see it), deleted at the end."""
    with tempfile.TemporaryDirectory(prefix=".geoeco-windows-", dir=out) as tmp:
        yield tmp


def run_erosion(
    dem: str | Path,
    cfg: ErosionConfig,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    tile_pixels: int = 25_000_000,
    engine: Engine | str | None = None,
) -> ErosionResult:
    """Compute soil loss and its SL 190-2007 grade; write the rasters and ``summary.json``.

    Flow routing and LS run here (whole DEM, or basin tiles above ``tile_pixels``); the
    window algebra (:func:`erosion_window`) runs on ``engine`` (a
    :class:`~geoeco.core.engine.Engine`,
    ``"local"`` (default) or ``"dask"``, see :func:`geoeco.core.engine.get_engine`). Locally this
    process writes the output COGs as results arrive; on a cluster the window tasks leave
    their arrays in a scratch folder inside ``out_dir`` (which the workers must see) and one
    task per output file writes it. This process adds up the summary. Every
    engine gives identical rasters and summaries. An engine made here from a name is closed
    at the end; an Engine passed in is left open for reuse.

    Returns the figures and records as an :class:`~geoeco.erosion.results.ErosionResult`,
    whose :meth:`~geoeco.erosion.results.ErosionResult.summary` is ``out_dir/summary.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda s, f: None)
    used = Provenance()
    dem_path = Path(dem)
    grid, dem_record = _checked_dem(dem_path, cfg, engine)
    inputs: dict[str, Any] = {"dem": dem_record}
    step("flow routing and LS", 0.05)
    ls_names = ("ls", "slope", "l", "s") if cfg.model == "csle" else ("ls", "slope")
    ls_params = _ls_to_files(dem_path, cfg, out, ls_names, tile_pixels)
    step("rainfall erosivity", 0.35)
    r_value = derive_r(cfg, out, used)
    lc_tables = read_landcover_table(cfg.landcover_table) if cfg.landcover_table else {}
    fvc_ends = _fvc_endpoints(cfg, used)
    used.add_param(
        "tolerable_loss",
        cfg.tolerable_loss,
        tag="V",
        source="SL 190-2007 (200 for the northern arid/semi-arid area)",
    )
    spec = ErosionSpec(
        cfg=cfg,
        grid=grid,
        r=r_value,
        ls_files=tuple((n, str(out / f"{n}.tif")) for n in ls_names),
        lc_tables=lc_tables,
        fvc_ends=fvc_ends,
        bt_tables=_bt_tables(cfg),
    )
    _record_inputs(spec, inputs)
    with using_engine(engine) as eng:
        step("soil loss by window", 0.4)
        totals, compute = _compute_windows(eng, spec, out, used, step)
    result = _result(spec, out, totals, compute, ls_params, inputs, used)
    write_json(result.summary(), out / "summary.json")
    step("done", 1.0)
    return result


def _checked_dem(
    dem_path: Path, cfg: ErosionConfig, engine: Engine | str | None
) -> tuple[Grid, dict[str, str]]:
    """The DEM's grid and its input record; refuse an engine that is none or a DEM that is
    not a checked file on a projected grid in metres."""
    from geoeco.core.inspect import inspect_layer_file

    dinfo = raster_info(dem_path, name=dem_path.name)
    stated = float("nan") if dinfo.nodata is None and dinfo.dtype.startswith("float") else None
    rep = inspect_layer_file(dem_path, allow_outside_china=cfg.allow_outside_china, nodata=stated)
    check_engine(engine)
    if dinfo.grid is None or not dinfo.grid.crs.is_projected:
        raise InvalidInput(
            f"{dem_path.name}: the DEM must be on a projected grid in metres "
            f"(found {rep.crs}); reproject it first"
        )
    return dinfo.grid, {"file": dem_path.name, "crs": rep.crs, "sha256": file_digest(dem_path)}


def _fvc_endpoints(cfg: ErosionConfig, used: Provenance) -> tuple[float, float] | None:
    """NDVI of bare soil and full cover (given, or 5 % / 95 % over the NDVI raster), recorded;
    None without NDVI."""
    if cfg.ndvi is None:
        return None
    fvc_ends = cfg.ndvi_endpoints or _ndvi_endpoints_of(Path(cfg.ndvi), used)
    used.add_param(
        "fvc.ndvi_soil",
        fvc_ends[0],
        tag="V",
        source="5 % cumulative NDVI (reference extent: the NDVI raster)"
        if cfg.ndvi_endpoints is None
        else "given",
    )
    used.add_param(
        "fvc.ndvi_veg",
        fvc_ends[1],
        tag="V",
        source="95 % cumulative NDVI" if cfg.ndvi_endpoints is None else "given",
    )
    return fvc_ends


def _record_inputs(spec: ErosionSpec, inputs: dict[str, Any]) -> None:
    """Validate every factor input once and record it in ``inputs`` (workers open them
    without re-checking)."""
    for value, name, resampling in _factor_inputs(spec):
        with open_factor(
            value,
            spec.grid,
            name=name,
            resampling=resampling,
            allow_outside_china=spec.cfg.allow_outside_china,
            inputs=inputs,
        ):
            pass


def _factor_units(cfg: ErosionConfig) -> dict[str, str]:
    """The factors written beside the soil loss, with their units."""
    factor_units = {"k": "t·hm²·h/(hm²·MJ·mm)", "c": "1", "p": "1"}
    if cfg.model == "csle":
        factor_units = {"k": factor_units["k"], "b": "1", "e": "1", "t": "1"}
    return factor_units


def _output_files(cfg: ErosionConfig) -> dict[str, dict[str, Any]]:
    """The outputs and their writer options; the factors too, for checking and for the
    soil-conservation service."""
    table = get_table("SL190-2007/water")
    return {
        "soil_loss": {"dtype": "float32", "units": "t/(km²·a)"},
        "potential_loss": {"units": "t/(km²·a)"},
        "soil_conservation": {"units": "t/(km²·a)"},
        **{n: {"units": u} for n, u in _factor_units(cfg).items()},
        "erosion_grade": {
            "dtype": "uint8",
            "nodata": 0,
            "colormap": table.colormap(),
            "tags": {"class_table": f"{table.name} ({table.version})"},
        },
    }


@dataclass
class _Totals:
    """Sums over the windows: the grade histogram (index = grade code) and the soil loss and
    potential loss (t/(km²·a), summed over valid pixels)."""

    counts: np.ndarray
    loss_sum: float = 0.0
    pot_sum: float = 0.0

    def add(self, res: WindowResult, used: Provenance) -> None:
        """Add one window's sums, and the tables and parameters it used to ``used``."""
        self.counts += res.counts
        self.loss_sum += res.loss_sum
        self.pot_sum += res.pot_sum
        used.tables.update(res.tables)
        used.parameters.update(res.parameters)


def _compute_windows(
    eng: Engine, spec: ErosionSpec, out: Path, used: Provenance, step: Progress
) -> tuple[_Totals, dict[str, Any]]:
    """Run :func:`erosion_window` over the grid on ``eng``, write the output COGs, add up
    the sums; return them and the description of the computation."""
    files = _output_files(spec.cfg)
    windows = list(spec.grid.blocks(spec.cfg.block_size))
    totals = _Totals(np.zeros(len(get_table("SL190-2007/water").classes) + 1, dtype=np.int64))
    on_workers = eng.name != "local"
    with contextlib.ExitStack() as stack:
        writers: dict[str, RasterWriter] = {}
        results: Iterator[tuple[Window, WindowResult]]
        if on_workers:  # windows leave their outputs in a shared folder; a task per file
            store = DirTileStore(stack.enter_context(_scratch(out)))
            tasks = eng.map_windows(_window_to_store, list(enumerate(windows)), (spec, store))
            results = ((item[1], res) for item, res in tasks)
        else:
            writers = {
                n: stack.enter_context(open_raster_writer(out / f"{n}.tif", spec.grid, **kw))
                for n, kw in files.items()
            }
            results = eng.map_windows(erosion_window, windows, spec)
        for i, (win, res) in enumerate(results):
            for name, values in res.arrays.items():
                w = writers[name]
                w.write(win, values if name == "erosion_grade" else np.ma.masked_invalid(values))
            totals.add(res, used)
            step("soil loss by window", 0.4 + 0.5 * (i + 1) / len(windows))
        compute = {**eng.describe(), "windows": len(windows), "window_px": spec.cfg.block_size}
        if on_workers:
            step("writing the COGs", 0.9)
            jobs = [
                OutputFile(
                    "ero_" + n,
                    str(out / f"{n}.tif"),
                    spec.grid,
                    tuple(windows),
                    kw,
                    n != "erosion_grade",
                )
                for n, kw in files.items()
            ]
            list(eng.map_windows(write_from_tiles, jobs, store, ordered=False))
            compute["writes"] = eng.name
    return totals, compute


def _result(
    spec: ErosionSpec,
    out: Path,
    totals: _Totals,
    compute: dict[str, Any],
    ls_params: dict[str, Any],
    inputs: dict[str, Any],
    used: Provenance,
) -> ErosionResult:
    """The run's figures (equal-area km², means over the valid pixels) and records."""
    cfg, grid, counts = spec.cfg, spec.grid, totals.counts
    table = get_table("SL190-2007/water")
    px_km2 = grid.cell_area / 1e6 * equal_area_factor(grid)
    n_valid = int(counts[1:].sum())
    loss_sum, pot_sum = totals.loss_sum, totals.pot_sum
    r_file = ["r.tif"] if (out / "r.tif").exists() and cfg.r is None else []
    return ErosionResult(
        out_dir=out,
        model=cfg.model,
        grid=grid,
        compute=compute,
        area_km2_by_grade={
            f"{c.code} {c.name_zh} {c.name_en}": float(counts[c.code]) * px_km2
            for c in table.classes
        },
        area_km2_total=n_valid * px_km2,
        nodata_pixels=int(counts[0]),
        mean_soil_loss_t_km2_a=loss_sum / n_valid if n_valid else None,
        mean_potential_loss_t_km2_a=pot_sum / n_valid if n_valid else None,
        total_soil_conservation_t_a=(pot_sum - loss_sum) * px_km2,
        total_soil_loss_t_a=loss_sum * px_km2,
        ls=ls_params,
        config=cfg.model_dump(mode="json", exclude=set(_INPUT_FIELDS)),
        inputs=inputs,
        provenance={**used.to_dict(), "class_tables": {table.name: table.describe()}},
        outputs=(
            "soil_loss.tif",
            "erosion_grade.tif",
            "potential_loss.tif",
            "soil_conservation.tif",
            "ls.tif",
            "slope.tif",
            *(f"{n}.tif" for n in _factor_units(cfg)),
            *r_file,
        ),
    )


#: Config fields left out of the summary's ``config`` (inputs: recorded under ``inputs``).
_INPUT_FIELDS = (
    "r",
    "k",
    "c",
    "p",
    "r_monthly",
    "r_daily",
    "ndvi",
    "landcover",
    "erosion_regions",
    "texture",
    "landcover_table",
)


def _ls_to_files(
    dem_path: Path, cfg: ErosionConfig, out: Path, names: tuple[str, ...], tile_pixels: int
) -> dict[str, Any]:
    """Write LS and its parts as COGs in ``out``; return the LS parameters.

    A DEM up to ``tile_pixels`` is routed whole; a larger one basin by basin
    (:func:`geoeco.terrain.ls_tiled.ls_factor_tiled`: memory follows the largest tile, and tiles
    that follow true divides give the whole-DEM result).
    """
    info = raster_info(dem_path, name=dem_path.name)
    assert info.grid is not None  # run_erosion checked the DEM's grid
    if info.grid.width * info.grid.height > tile_pixels:
        from geoeco.terrain.ls_tiled import ls_factor_tiled

        res = ls_factor_tiled(
            dem_path,
            out,
            outputs=names,
            budget_pixels=tile_pixels,
            name=dem_path.name,
            method=cfg.ls_method,
            routing=cfg.routing,
            s_breaks=cfg.s_breaks,
            channel_threshold_cells=cfg.channel_threshold_cells,
            l_max=cfg.l_max,
            cutoff=cfg.cutoff,
        )
        return dict(res.params)
    ls = ls_factor(
        read_raster(dem_path, name=dem_path.name, units="m"),
        method=cfg.ls_method,
        routing=cfg.routing,
        s_breaks=cfg.s_breaks,
        channel_threshold_cells=cfg.channel_threshold_cells,
        l_max=cfg.l_max,
        cutoff=cfg.cutoff,
    )
    parts = {
        "ls": ls.ls,
        "slope": ls.slope_deg.with_array(ls.slope_deg.array, units="degree"),
        "l": ls.l,
        "s": ls.s,
    }
    for n in names:
        write_raster(parts[n], out / f"{n}.tif")
    return dict(ls.params)


def _p_factor(
    cfg: ErosionConfig,
    win: tuple[int, int, int, int],
    p_src: WindowReader | None,
    lc: np.ndarray | None,
    tables: dict[str, dict[int, float]],
    slope_deg: np.ndarray,
    used: Provenance,
) -> np.ndarray | float:
    """P by the config's ``p_method``: from the land-cover table, Wener's formula on the
    cropland codes, the P input, or 1."""
    if cfg.p_method == "table":
        return factors.p_from_table(lc, tables["p"], used=used)
    if cfg.p_method == "wener":
        assert lc is not None  # the config needs landcover for p_method "wener"
        slope_pct = np.tan(np.radians(slope_deg)) * 100.0
        crop = np.isin(lc, cfg.cropland_codes)
        return factors.p_wener(slope_pct, crop, used=used)
    if p_src is not None:
        return np.ma.filled(p_src.read(win), np.nan)
    return 1.0


def check_landcover_codes(cfg: ErosionConfig, codes: Sequence[int]) -> None:
    """Raise what a run raises on land-cover pixels with these ``codes`` (no raster is read).

    The per-code lookups of the run (CSLE B and T, C and P from the land-cover table) are
    applied to the codes themselves, so a code missing from a table fails here, before a run.

    >>> cfg = make_config({"r": 1.0, "k": 0.1, "ndvi": "n.tif", "landcover": "l.tif",
    ...                    "model": "csle"})
    >>> check_landcover_codes(cfg, [11, 21])
    >>> check_landcover_codes(cfg, [1, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: land-use codes [1, 2] have no entry in the table (known: ...
    """
    lc = np.asarray(sorted({int(c) for c in codes}), dtype="int32")
    if lc.size == 0:
        return
    tables = read_landcover_table(cfg.landcover_table) if cfg.landcover_table else {}
    used = Provenance()
    if cfg.model == "csle":
        fvc = np.full(lc.shape, 50.0)
        factors.csle_bet(lc, fvc=fvc, e=cfg.e, used=used, **_bt_tables(cfg))
    elif cfg.c_method == "table":
        factors.c_from_table(lc, tables["c"], used=used)
    if cfg.p_method == "table":
        factors.p_from_table(lc, tables["p"], used=used)


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


def _ndvi_endpoints_of(path: Path, used: Provenance) -> tuple[float, float]:
    """NDVI 5 % / 95 % points over the whole NDVI raster (its own grid = reference extent)."""
    from geoeco.core.io import read_window_blocks

    blocks = (
        np.ma.filled(r.array.astype("float64"), np.nan)
        for _, r in read_window_blocks(path, name=path.name)
    )
    return vegetation.ndvi_endpoints(blocks, used=used)


__all__ = [
    "ConfigConflict",
    "ErosionConfig",
    "LandcoverTable",
    "check_landcover_codes",
    "Texture",
    "load_config",
    "make_config",
    "run_erosion",
    "ErosionSpec",
    "WindowResult",
    "erosion_window",
]
