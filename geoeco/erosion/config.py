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
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geoeco.core.errors import InvalidFields, InvalidInput, ManifestError
from geoeco.terrain.ls import DEFAULT_LS_METHOD, Method, check_ls_args
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
