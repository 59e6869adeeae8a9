"""Inputs of the built-in processes (pydantic models whose JSON Schema is published) and the
:class:`ExecutionContext` a process runs in.

Everything here is re-exported by :mod:`geoeco.service.processes` (import it from there).

>>> ZoningInputs(demo_size="small").resolution()
30.0
>>> ErosionInputs(dem="user.dem", r=4000.0, k="user.k").layer_ids()
['user.dem', 'user.k']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE
from geoeco.catalog.demo_region import Size as DemoSize
from geoeco.catalog.layers import LayerRegistry
from geoeco.core.coverage import DEFAULT_MIN_COVERAGE
from geoeco.core.engine import Engine, EngineName
from geoeco.core.errors import InvalidInput
from geoeco.core.geometry import InputCRS
from geoeco.erosion.config import DEFAULT_MODEL, ErosionModel
from geoeco.terrain.ls import DEFAULT_LS_METHOD
from geoeco.terrain.ls import Method as LSMethod
from geoeco.terrain.routing import RoutingMethod
from geoeco.workflows.demo_inputs import demo_resolution
from geoeco.workflows.erosion import ErosionOptions, FactorValue
from geoeco.workflows.zoning import DEFAULT_RES, DEFAULT_RULES, SxydCrs
from geoeco.zoning.aoi import normalise_code

from .job_model import is_job_id


@dataclass(frozen=True)
class ExecutionContext:
    """What a process may use besides its inputs (all optional).

    registry : layers that inputs name (default: the built-in layers)
    cache_dir : where generated layers and the demo's inputs are built once and reused
    runs_dir : folder of finished job results (``runs_dir/<job id>/``), read by ``screening``
    engine, scheduler : where erosion and zoning windows compute ("local", or "dask" with an
        optional scheduler address; see docs/scale.md)
    max_aoi_km2 : largest zoning area of interest accepted (equal-area km²; ``None``: no
        limit besides the grid's pixel limit)
    input_catalogs : the operator's catalogs file for the ``inputs`` process (TOML, the format
        of ``geoeco/data/catalogs.toml``; its entries replace the built-in ones of the same
        name); ``None``: the built-in catalogs. Never taken from a request.
    """

    registry: LayerRegistry | None = None
    cache_dir: Path | None = None
    runs_dir: Path | None = None
    engine: EngineName = "local"
    scheduler: str | None = None
    max_aoi_km2: float | None = None
    input_catalogs: Path | None = None

    def compute_engine(self) -> Engine | None:
        """The engine windows run on (:func:`geoeco.core.engine.get_engine`); local by default."""
        if self.engine == "local":
            return None
        from geoeco.core.engine import get_engine

        return get_engine(self.engine, scheduler=self.scheduler)

    def layers(self) -> LayerRegistry:
        """The registry, or the built-in one."""
        from geoeco.catalog.layers import load_registry

        return self.registry if self.registry is not None else load_registry()


class _Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# zoning
class ZoningInputs(_Inputs):
    """Inputs of the ``zoning`` process."""

    aoi: str | dict[str, Any] | None = Field(
        default=None,
        description="Area of interest: a 6- or 9-digit county/city/province code, or a GeoJSON "
        "geometry or Feature in WGS 84 lon-lat. Absent: the synthetic demo region.",
    )
    demo_size: DemoSize = Field(
        default=DEFAULT_DEMO_SIZE,
        description="Demo region size when no aoi is given: small (about 10 km) or full "
        "(about 100 km).",
    )
    rules: str = Field(default=DEFAULT_RULES, description="Built-in rule set name.")
    compare: str | None = Field(default=None, description="A second built-in rule set.")
    res: float | None = Field(
        default=None,
        ge=10,
        le=5000,
        description="Grid resolution in metres (default: without aoi the demo grid's, 30 for "
        f"the small demo and 90 for the full one; else {DEFAULT_RES:g}).",
    )
    budget_km2: float | None = Field(default=None, gt=0, description="Restoration budget, km².")
    min_unit_km2: float = Field(default=0.1, ge=0, description="Smallest control unit, km².")
    sxyd_crs: SxydCrs = Field(default="cgcs2000", description="CRS of the 三线一单 export.")
    layers: dict[str, str] = Field(
        default_factory=dict,
        description="Rule-set input name -> raster layer id of the registry. Absent inputs "
        "are taken from the registry (layers whose variable names them).",
    )
    map: bool = Field(
        default=True,
        description="Also write the interactive map.html (needs folium, geoeco[maps]).",
    )
    allow_partial: StrictBool = Field(
        default=False,
        description="Accept inputs that leave part of the area of interest without data (the "
        "result states the share, coverage_share); without it such a run fails with "
        "PartialCoverage naming the inputs.",
    )
    min_coverage: float = Field(
        default=DEFAULT_MIN_COVERAGE,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Share of the area of interest the inputs must cover (0-1).",
    )

    @field_validator("aoi")
    @classmethod
    def _aoi_shape(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                normalise_code(v)
            except InvalidInput:
                raise ValueError("a text aoi must be a 6- or 9-digit administrative code") from None
        if isinstance(v, dict) and "type" not in v:
            raise ValueError("a GeoJSON aoi needs a 'type' member")
        return v.strip() if isinstance(v, str) else v

    @field_validator("rules", "compare")
    @classmethod
    def _builtin_rules(cls, v: str | None) -> str | None:
        from geoeco.zoning.rules import list_rule_sets

        if v is not None and v not in list_rule_sets():
            raise ValueError(f"unknown rule set {v!r}; built-in: {', '.join(list_rule_sets())}")
        return v

    def resolution(self) -> float:
        """The grid resolution used."""
        if self.res is not None:
            return self.res
        return demo_resolution(self.demo_size) if self.aoi is None else DEFAULT_RES

    def uses_demo(self) -> bool:
        """Whether the run builds the demo's evaluation inputs."""
        return self.aoi is None and not self.layers


# --------------------------------------------------------------------------------------------
# erosion
_NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class ErosionInputs(_Inputs):
    """Inputs of the ``erosion`` process (factors: a number or a raster layer id)."""

    dem: str | None = Field(default=None, description="DEM layer id; absent: the demo DEM.")
    demo_size: DemoSize = Field(
        default=DEFAULT_DEMO_SIZE, description="Demo size when no dem is given."
    )
    r: _NonNegative | str | None = Field(
        default=None, description="R factor, MJ·mm/(hm²·h·a): number (>= 0) or layer id."
    )
    k: _NonNegative | str | None = Field(
        default=None, description="K factor, t·hm²·h/(hm²·MJ·mm): number (>= 0) or layer id."
    )
    c: _Fraction | str | None = Field(
        default=None, description="C factor: number (0-1) or layer id."
    )
    p: _Fraction | str | None = Field(
        default=None, description="P factor: number (0-1) or layer id."
    )
    ndvi: str | None = Field(default=None, description="NDVI layer id (C from cover).")
    landcover: str | None = Field(default=None, description="Land-cover layer id.")
    model: ErosionModel | None = Field(
        default=None,
        description=f"Soil-loss model (default: the demo's settings, else {DEFAULT_MODEL}).",
    )
    routing: RoutingMethod | None = Field(
        default=None,
        description="Flow routing (default: the demo's settings, else d8, or mfd-invest for the "
        "invest LS method).",
    )
    ls_method: LSMethod | None = Field(
        default=None,
        description="Slope-length method (default: the demo's settings, else "
        f"{DEFAULT_LS_METHOD}).",
    )

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        vals = [self.dem, self.r, self.k, self.c, self.p, self.ndvi, self.landcover]
        return [v for v in vals if isinstance(v, str)]

    def erosion_options(
        self, factor: Callable[[FactorValue | None], FactorValue | None] | None = None
    ) -> ErosionOptions:
        """The run's :class:`~geoeco.workflows.erosion.ErosionOptions`; ``factor`` turns a
        layer id into the path the run reads (default: ids stay, as checks need no file)."""
        f = factor or (lambda v: v)
        ndvi, landcover = f(self.ndvi), f(self.landcover)
        return ErosionOptions(
            r=f(self.r),
            k=f(self.k),
            c=f(self.c),
            p=f(self.p),
            ndvi=None if ndvi is None else str(ndvi),
            landcover=None if landcover is None else str(landcover),
            model=self.model,
            routing=self.routing,
            ls_method=self.ls_method,
        )


# --------------------------------------------------------------------------------------------
# desertification
class DesertificationInputs(_Inputs):
    """Inputs of the ``desertification`` process."""

    ndvi: str | None = Field(default=None, description="NDVI layer id; absent: the demo NDVI.")
    demo_size: DemoSize = Field(
        default=DEFAULT_DEMO_SIZE, description="Demo size when no ndvi is given."
    )
    bare_sand: str | None = Field(default=None, description="Bare-sand share layer id (%).")

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        return [v for v in (self.ndvi, self.bare_sand) if v]


# --------------------------------------------------------------------------------------------
# wind erosion
_WindValue = Annotated[float, Field(allow_inf_nan=False)] | str | None


class WindErosionInputs(_Inputs):
    """Inputs of the ``wind_erosion`` process: each a number or a raster layer id (monthly
    inputs: 12-band layers or one value for every month); none at all: the demo region.
    See :class:`geoeco.erosion.wind_run.WindInputs` for the units."""

    landcover: str | None = Field(default=None, description="Land-cover layer id (the grid).")
    wind: _WindValue = Field(default=None, description="Monthly mean wind, m/s.")
    temperature: _WindValue = Field(default=None, description="Monthly air temperature, °C.")
    rain: _WindValue = Field(default=None, description="Monthly rain, mm.")
    etp: _WindValue = Field(default=None, description="Monthly potential ET, mm.")
    sand: _WindValue = Field(default=None, description="Sand, %.")
    silt: _WindValue = Field(default=None, description="Silt, %.")
    clay: _WindValue = Field(default=None, description="Clay, %.")
    elevation: _WindValue = Field(default=None, description="Elevation, m.")
    organic_matter: _WindValue = Field(default=None, description="Organic matter, %.")
    organic_carbon: _WindValue = Field(default=None, description="Organic carbon, %.")
    calcium_carbonate: _WindValue = Field(default=None, description="CaCO3, % ([R] default 0).")
    roughness_kr: _WindValue = Field(default=None, description="Smith–Carson K_r, cm.")
    fvc: _WindValue = Field(default=None, description="Vegetation cover, %.")
    ndvi: str | None = Field(default=None, description="NDVI layer id (FVC by dimidiate).")
    snow_factor: _WindValue = Field(default=None, description="Monthly snow factor SD, 0..1.")
    rain_days: _WindValue = Field(default=None, description="Monthly rain days.")
    pressure: _WindValue = Field(default=None, description="Monthly surface pressure, kPa.")
    wind_height_m: float = Field(default=10.0, description="Height of the wind, m: 10 or 2.")
    year: int = Field(default=2021, ge=1900, le=2200, description="Year (days per month).")
    demo_size: DemoSize = Field(
        default=DEFAULT_DEMO_SIZE, description="Demo size when no input is given."
    )

    @field_validator("wind_height_m")
    @classmethod
    def _height(cls, v: float) -> float:
        if v not in (2.0, 10.0):
            raise ValueError("the wind is given at 10 m or at 2 m")
        return v

    def values(self) -> dict[str, float | str | None]:
        """The inputs by name (numbers or layer ids; ``None`` when not given)."""
        from geoeco.workflows.wind import WIND_INPUT_NAMES

        return {n: getattr(self, n) for n in WIND_INPUT_NAMES}

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        return [v for v in self.values().values() if isinstance(v, str)]


# --------------------------------------------------------------------------------------------
# screening
class ScreeningInputs(_Inputs):
    """Inputs of the ``screening`` process."""

    zoning_job: str = Field(description="Id of a successful zoning job whose results to use.")
    geometry: dict[str, Any] | str = Field(description="The site: GeoJSON or WKT.")
    crs: InputCRS = Field(default="wgs84", description="CRS of the coordinates.")
    buffer_m: float = Field(default=0.0, ge=0, le=50_000, description="Proximity buffer, m.")
    project_type: list[str] | None = Field(
        default=None, description="Project types to judge (default: every type)."
    )
    report: bool = Field(default=True, description="Also write the printable report.html.")

    @field_validator("zoning_job")
    @classmethod
    def _job_id(cls, v: str) -> str:
        if not is_job_id(v):
            raise ValueError("not a job id (32 lower-case hex characters)")
        return v
