"""Settings of the erosion run: :class:`ErosionConfig` (strict, frozen), from TOML or a mapping.

Everything the command-line flags do not cover goes here: R from monthly or daily rain, K from
texture, C from FVC or a land-cover table, P by table or Wener's formula, CSLE's B/E/T tables,
the tolerable loss or an erosion-region raster, and the LS settings (whose names and defaults
are :mod:`geoeco.terrain.ls`'s). :func:`make_config` and :func:`load_config` resolve relative
paths and report every conflict at once (:class:`~geoeco.core.errors.InvalidFields`).
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geoeco.catalog.classes import Provenance
from geoeco.core.errors import DataSourceError, InvalidFields, InvalidInput, ManifestError
from geoeco.terrain.ls import DEFAULT_LS_METHOD, LSOptions, Method
from geoeco.terrain.routing import RoutingMethod

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

    ``factors`` asks for the factor rasters beside the soil loss, its grade and LS (see
    :data:`geoeco.erosion.run.FACTOR_OUTPUTS`); without it they are not written.
    """

    model: ErosionModel = DEFAULT_MODEL
    routing: RoutingMethod | None = None
    ls_method: Method = DEFAULT_LS_METHOD
    l_max: float | None = None
    channel_threshold_cells: int | None = None
    exclude_streams: bool | None = None
    max_slope_length: float | None = None
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
    factors: bool = False

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


_LS_FIELDS = (
    "ls_method",
    "routing",
    "s_breaks",
    "channel_threshold_cells",
    "l_max",
    "cutoff",
    "exclude_streams",
    "max_slope_length",
)


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
    if cfg.ls_method == "lstool" and cfg.routing not in (None, "d8"):
        msg = f"ls_method 'lstool' follows D8 paths; it cannot use routing {cfg.routing!r}"
        out.append((("ls_method", "routing"), msg))
    else:
        try:
            LSOptions.of(
                cfg.ls_method,
                cfg.routing,
                cfg.s_breaks,
                cfg.channel_threshold_cells,
                cfg.l_max,
                cfg.cutoff,
                exclude_streams=cfg.exclude_streams,
                max_slope_length=cfg.max_slope_length,
            )
        except InvalidInput as exc:
            out.append((_LS_FIELDS, str(exc)))
    return out


def load_config(path: str | Path, **overrides: Any) -> ErosionConfig:
    """Read a TOML config; relative paths in it resolve against its folder; CLI flags override
    (their relative paths stay relative to the working folder).

    Every file the config names must exist: a missing one fails here, before any computing,
    naming the setting, the path as written and the folder it was looked for in (the config's
    folder as given, so a relative ``--config`` shows no more of the disk than the user typed).
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{p.name}: cannot read config ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{p.name}: not valid TOML ({exc})") from None
    missing: list[str] = []

    def look(field: str, value: str) -> str:
        if not (p.parent / value).is_file():
            missing.append(f"{field} = {value!r}")
        return value

    _map_paths(data, look)
    if missing:
        raise DataSourceError(
            f"{p.name}: {'file' if len(missing) == 1 else 'files'} not found: "
            f"{'; '.join(missing)} (relative paths in a config resolve against its folder; "
            f"looked in {str(p.parent)!r})"
        )
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
#: Path settings inside the sub-tables of a config.
_NESTED_PATH_KEYS = {"texture": ("sand", "silt", "clay", "soc"), "landcover_table": ("path",)}


def _map_paths(data: dict[str, Any], fn: Callable[[str, str], str]) -> dict[str, Any]:
    """``data`` with ``fn(field, value)`` applied to every path-valued setting (a string in a
    path field; numbers are factor values, not paths).

    >>> _map_paths({"r": "r.tif", "k": 0.03, "texture": {"sand": "s.tif", "soc": 1.2}},
    ...            lambda f, v: f"in/{v}")
    {'r': 'in/r.tif', 'k': 0.03, 'texture': {'sand': 'in/s.tif', 'soc': 1.2}}
    """
    out = dict(data)
    for key in _PATH_KEYS:
        v = out.get(key)
        if isinstance(v, str):
            out[key] = fn(key, v)
    for sub, keys in _NESTED_PATH_KEYS.items():
        d = out.get(sub)
        if isinstance(d, dict):
            out[sub] = {
                k: fn(f"{sub}.{k}", v) if k in keys and isinstance(v, str) else v
                for k, v in d.items()
            }
    return out


def make_config(
    data: dict[str, Any] | None = None, *, base: Path | None = None, **overrides: Any
) -> ErosionConfig:
    """Validate a config dict (plus non-None overrides); messages name every bad field.

    Relative paths in ``data`` resolve against ``base`` (when given); those in ``overrides``
    are left as they are.
    """
    merged = dict(data or {})
    if base is not None:
        merged = _map_paths(merged, lambda _, v: v if Path(v).is_absolute() else str(base / v))
    merged.update({k: v for k, v in overrides.items() if v is not None})
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


def record_ls_defaults(cfg: ErosionConfig, ls_params: dict[str, Any], used: Provenance) -> None:
    """Record the slope-length cap and channel threshold a run used, tagged as a soil
    scientist must weigh them: the defaults for ``dg``/``lstool`` are our reading of
    published practice [R] (:data:`geoeco.terrain.ls.DEFAULT_MAX_SLOPE_LENGTH_M`,
    :data:`geoeco.terrain.ls.DEFAULT_CHANNEL_AREA_KM2`), InVEST's are InVEST's [V], a given
    value is the user's [I]."""
    invest = cfg.ls_method == "invest"
    if not invest:
        used.add_param(
            "ls.max_slope_length_m",
            ls_params.get("max_slope_length_m"),
            tag="I" if cfg.max_slope_length is not None else "R",
            source="given"
            if cfg.max_slope_length is not None
            else "default: RUSLE guidance on overland-flow slope lengths up to ~1000 ft "
            "(Renard et al. 1997, USDA AH 703); GRASS r.watershed max_slope_length",
        )
    given = cfg.channel_threshold_cells is not None
    used.add_param(
        "ls.channel_threshold_cells",
        ls_params.get("channel_threshold_cells"),
        tag="I" if given else ("V" if invest else "R"),
        source="given"
        if given
        else "InVEST SDR 3.20.2 threshold_flow_accumulation default"
        if invest
        else "default: 0.9 km² upslope area (InVEST's 1000 cells of 30 m); LS-TOOL stops "
        "slope length at channels (Zhang Hongming et al. 2013)",
    )
