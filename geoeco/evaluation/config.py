"""Inputs and settings of an evaluation run (:func:`geoeco.evaluation.run.run_evaluation`).

:class:`EvaluationConfig` is the CLI's ``--config FILE`` (TOML); :func:`make_evaluation_config`
validates a dict, :func:`load_evaluation_config` reads a file and
:func:`inputs_evaluation_config` points at a raw inputs folder's files and the erosion and
desertification runs made on them (:func:`demo_evaluation_config`: at a ``geoeco demo``
folder).

The two sensitivities are always computed, so their inputs are required. The four ecosystem
services (:data:`SERVICES`) are optional: with ``services`` unset, every service whose inputs
are all given is computed and the others are skipped (the summary says which inputs each one
lacked); with ``services`` listed, a missing input of a listed service is an error.

Examples
--------
>>> cfg = make_evaluation_config({"aridity": 20.0, "wind_days": 35.0, "texture_class": 5.0,
...     "fvc": 10.0, "r": 500.0, "relief": 10.0, "vegetation_group": 2.0, "k": 0.03,
...     "ls": 1.0, "c": 0.2})
>>> computed, skipped = cfg.service_plan()
>>> computed, skipped["biodiversity"]
(('soil_conservation',), 'missing inputs: npp, precip, temp_annual or temp_monthly, dem')
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geoeco.catalog.classes import cumshare_table
from geoeco.core.errors import InvalidInput, ManifestError

FactorValue = float | str
Scheme = Literal["EcoZoning-interim", "RedLine-2017"]
ServiceName = Literal["soil_conservation", "sand_fixation", "water_conservation", "biodiversity"]

#: Sanding texture code → water-erosion texture group [I] (see geoeco.evaluation.run).
DEFAULT_TEXTURE_GROUPS: dict[int, int] = {1: 1, 2: 2, 3: 1, 4: 3, 5: 1}
#: Demo land-cover code → EcoZoning vegetation group [I] (see geoeco.evaluation.run).
DEMO_VEGETATION_GROUPS: dict[int, int] = {1: 4, 2: 2, 3: 3, 4: 1, 5: 1, 6: 4, 7: 5}
#: The ecosystem services, in the order that breaks ties in ``importance_dominant``.
SERVICES: tuple[ServiceName, ...] = (
    "soil_conservation",
    "sand_fixation",
    "water_conservation",
    "biodiversity",
)
#: importance_dominant code → (service, red-line type code, name_zh, name_en, colour).
DOMINANT_SERVICES: dict[int, tuple[str, int, str, str, str]] = {
    1: ("soil_conservation", 13, "水土保持", "soil conservation", "#a6611a"),
    2: ("sand_fixation", 14, "防风固沙", "windbreak and sand fixation", "#dfc27d"),
    3: ("water_conservation", 11, "水源涵养", "water conservation", "#2b83ba"),
    4: ("biodiversity", 12, "生物多样性维护", "biodiversity maintenance", "#1a9641"),
}

#: Inputs of each service: every item is needed; ``a|b`` means a or b, ``a+b`` both.
SERVICE_INPUTS: dict[str, tuple[str, ...]] = {
    "soil_conservation": ("r", "k", "ls", "c"),
    "sand_fixation": (
        "npp",
        "k",
        "slope|dem",
        "fq|wind2m_monthly+temp_monthly+rh_monthly+precip",
    ),
    "water_conservation": ("npp", "infiltration", "precip", "slope|dem"),
    "biodiversity": ("npp", "precip", "temp_annual|temp_monthly", "dem"),
}
_SENSITIVITY_INPUTS = ("aridity", "wind_days", "texture_class", "fvc", "r", "relief|dem")

#: How the windbreak and sand-fixation service is valued: ``npp`` (S_ws = NPP·K·F_q·D, the
#: 2015 index, default) or ``rweq`` (RWEQ sand fixation = potential − actual wind erosion in
#: t/(km²·a), the ``sand_fixation.tif`` of :func:`geoeco.erosion.wind_run.run_wind_erosion`,
#: given as ``rweq_sand_fixation``; methodology §3.2).
SandFixationMethod = Literal["npp", "rweq"]
#: Units of the sand-fixation service valued by RWEQ.
RWEQ_SAND_FIXATION_UNITS = "t/(km²·a) (RWEQ sand fixation = potential − actual wind erosion)"


def service_inputs(service: str, sand_fixation_method: str = "npp") -> tuple[str, ...]:
    """The inputs one service needs (:data:`SERVICE_INPUTS`; sand fixation by RWEQ needs only
    the RWEQ raster).

    >>> service_inputs("sand_fixation", "rweq")
    ('rweq_sand_fixation',)
    >>> service_inputs("sand_fixation")[0]
    'npp'
    """
    if service == "sand_fixation" and sand_fixation_method == "rweq":
        return ("rweq_sand_fixation",)
    return SERVICE_INPUTS[service]


class EvaluationConfig(BaseModel):
    """Inputs and settings of an evaluation run; the CLI's ``--config FILE`` is this, in TOML.

    Every input is a number (the same everywhere) or a raster path. Units: aridity index
    (modified Selyaninov), wind days (d, Dec–May, ≥ 6 m/s), texture codes 1..5 (bedrock, clay,
    gravel, loam, sand), FVC in percent, R in MJ·mm/(hm²·h·a), K in t·hm²·h/(hm²·MJ·mm), LS, C,
    P dimensionless, NPP g C m⁻² a⁻¹, infiltration mm/h, precipitation mm (12 monthly bands or
    one annual band), temperature °C (``temp_monthly`` 12 bands; ``temp_annual`` the annual
    mean, for biodiversity), wind m/s at ``wind_height`` m, relative humidity as a fraction,
    slope in degrees, relief and DEM in m. ``fq`` replaces the four monthly climate rasters.
    ``services`` lists the services to compute (``None``: all whose inputs are given).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    scheme: Scheme = "EcoZoning-interim"
    services: tuple[ServiceName, ...] | None = None
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
    temp_annual: FactorValue | None = None
    wind2m_monthly: str | None = None
    rh_monthly: str | None = None
    wind_height: float = Field(2.0, gt=0)
    fq: FactorValue | None = None
    slope: FactorValue | None = None
    sand_fixation_method: SandFixationMethod = "npp"
    rweq_sand_fixation: FactorValue | None = None
    no_service_landcover: tuple[int, ...] = ()
    # importance
    importance_cuts: tuple[float, ...] = (0.5, 0.8)
    histogram_bins: int = Field(65536, ge=16)
    area_weights: Literal["auto", "constant", "per-pixel"] = "auto"
    reference: str | None = None
    allow_outside_china: bool = False
    block_size: int = Field(1024, ge=1)

    @field_validator("services")
    @classmethod
    def _canonical_order(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else tuple(s for s in SERVICES if s in v)

    @model_validator(mode="after")
    def _complete(self) -> EvaluationConfig:
        missing = self._missing(_SENSITIVITY_INPUTS)
        eco = self.scheme == "EcoZoning-interim"
        if eco and self.vegetation_group is None and self.landcover is None:
            missing.append("vegetation_group or landcover")
        if self.no_service_landcover and self.landcover is None:
            missing.append("landcover (for no_service_landcover)")
        for s in self.services or ():
            missing += [f"{m} (for {s})" for m in self._missing(self.service_inputs(s))]
        if missing:
            raise ValueError(f"missing inputs: {', '.join(missing)}")
        if self.rweq_sand_fixation is not None and self.sand_fixation_method != "rweq":
            raise ValueError("rweq_sand_fixation is given: set sand_fixation_method = 'rweq'")
        computed, _ = self.service_plan()
        if (
            "sand_fixation" in computed
            and self.sand_fixation_method == "npp"
            and self.fq is None
            and not isinstance(self.precip, str)
        ):
            raise ValueError("sand_fixation needs precip as a 12-band monthly raster (or fq)")
        for what, groups in (
            ("texture", self.texture_groups),
            ("vegetation", self.vegetation_groups),
        ):
            bad = sorted(g for g in groups.values() if g not in range(1, 6))
            if bad:
                raise ValueError(f"{what}_groups values must be groups 1..5, got {bad}")
        cumshare_table(self.importance_cuts)
        return self

    def _missing(self, needs: tuple[str, ...]) -> list[str]:
        out = []
        for need in needs:
            options = [alt.split("+") for alt in need.split("|")]
            if not any(all(getattr(self, n) is not None for n in opt) for opt in options):
                out.append(" or ".join("+".join(opt) for opt in options))
        return out

    def service_inputs(self, service: str) -> tuple[str, ...]:
        """The inputs ``service`` needs with this config's sand-fixation method."""
        return service_inputs(service, self.sand_fixation_method)

    def service_plan(self) -> tuple[tuple[str, ...], dict[str, str]]:
        """The services to compute, and the skipped ones with the reason (see the module doc)."""
        wanted = SERVICES if self.services is None else self.services
        computed: list[str] = []
        skipped: dict[str, str] = {}
        for s in SERVICES:
            lack = self._missing(self.service_inputs(s))
            if s not in wanted:
                skipped[s] = "not requested"
            elif lack:
                skipped[s] = f"missing inputs: {', '.join(lack)}"
            else:
                computed.append(s)
        return tuple(computed), skipped


PATH_KEYS = (
    "aridity wind_days texture_class fvc dem relief erosion_texture_group landcover "
    "vegetation_group r k ls c p npp infiltration precip temp_monthly temp_annual "
    "wind2m_monthly rh_monthly fq slope rweq_sand_fixation reference"
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
        for key in PATH_KEYS:
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


#: The evaluation's inputs taken from a raw inputs folder's files (name in the folder ->
#: config key; :func:`inputs_evaluation_config`).
FOLDER_INPUTS: dict[str, str] = {
    "aridity": "aridity",
    "wind_days": "wind_days",
    "texture_class": "texture_class",
    "dem": "dem",
    "landcover": "landcover",
    "npp": "npp",
    "infiltration": "infiltration",
    "temp_monthly": "temp_monthly",
    "wind2m_monthly": "wind2m_monthly",
    "rh_monthly": "rh_monthly",
    "precip_monthly": "precip",
}
#: The evaluation's inputs taken from the erosion run (its factor rasters).
EROSION_INPUTS = ("r", "k", "ls", "c", "p", "slope")


def inputs_evaluation_config(
    files: Mapping[str, str | Path],
    erosion: str | Path,
    desertification: str | Path,
    **overrides: Any,
) -> EvaluationConfig:
    """The config of an evaluation on a raw inputs folder: ``files`` (name -> path, the
    folder's rasters, :data:`FOLDER_INPUTS`), the erosion run's factors in ``erosion``
    (R, K, LS, C, P, slope: :data:`EROSION_INPUTS`) and FVC from the desertification run in
    ``desertification``.

    Land-cover codes are geoeco's (1..7 of the demo region): water (4) and built land (5) have
    no service value. All four services are requested, so a missing input is an error.
    """
    ero = Path(erosion)
    data: dict[str, Any] = {
        **{key: str(files[name]) for name, key in FOLDER_INPUTS.items() if name in files},
        **{n: str(ero / f"{n}.tif") for n in EROSION_INPUTS},
        "fvc": str(Path(desertification) / "fvc.tif"),
        "no_service_landcover": (4, 5),
        "services": SERVICES,
    }
    return make_evaluation_config(data, **overrides)


def demo_evaluation_config(
    out: str | Path, *, layers: str | Path | None = None, **overrides: Any
) -> EvaluationConfig:
    """The config for a ``geoeco demo`` folder (``layers/``, ``erosion/``, ``desertification/``):
    :func:`inputs_evaluation_config` on the demo layers (``layers`` overrides ``out/layers``).
    """
    o = Path(out)
    lay = Path(layers) if layers else o / "layers"
    files = {n: lay / f"{n}.tif" for n in FOLDER_INPUTS}
    return inputs_evaluation_config(files, o / "erosion", o / "desertification", **overrides)


__all__ = [
    "DEFAULT_TEXTURE_GROUPS",
    "DEMO_VEGETATION_GROUPS",
    "DOMINANT_SERVICES",
    "EROSION_INPUTS",
    "FOLDER_INPUTS",
    "SERVICES",
    "SERVICE_INPUTS",
    "EvaluationConfig",
    "FactorValue",
    "RWEQ_SAND_FIXATION_UNITS",
    "SandFixationMethod",
    "Scheme",
    "ServiceName",
    "demo_evaluation_config",
    "inputs_evaluation_config",
    "load_evaluation_config",
    "make_evaluation_config",
    "service_inputs",
]
