"""The ``effectiveness`` process: restoration effectiveness of a zoning job's control units and
restoration patches (registered in :mod:`geoeco.service.processes`).

A yearly stack (year → raster layer id) or, without one, the synthetic demo series
(:mod:`geoeco.catalog.demo_series`, over the demo region: pair it with a demo zoning job) is
reduced to its trend (:func:`geoeco.workflows.trends.run_trend`, in a scratch folder) and
compared inside/outside each unit and patch of the zoning job
(:func:`geoeco.workflows.effectiveness.run_effectiveness`). The job's files are
``<variable>_effectiveness.csv`` and ``.json``.

>>> EffectivenessInputs(zoning_job="a" * 32).output_variable()
'ndvi'
>>> EffectivenessInputs(zoning_job="a" * 32, stack={"2001": "user.x"}).output_variable()
'value'
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE
from geoeco.catalog.demo_region import Size as DemoSize
from geoeco.core.errors import InvalidInput
from geoeco.workflows.progress import Progress, stage
from geoeco.workflows.summaries import short_summary

from .job_model import is_job_id
from .process_checks import Problems, _raster_layer
from .process_inputs import ExecutionContext, _Inputs
from .process_runners import ProcessResult, _raster
from .process_trends import _VARIABLE, MAX_YEARS, _check_years, _linked, _units_of

#: Variables of the synthetic demo series.
DEMO_VARIABLES = ("ndvi", "soil_loss", "precipitation")


class EffectivenessInputs(_Inputs):
    """Inputs of the ``effectiveness`` process."""

    zoning_job: str = Field(description="Successful zoning job: its units and patches.")
    stack: dict[str, str] = Field(
        default_factory=dict,
        description="Year (e.g. '2005') -> raster layer id. Empty: the synthetic demo series.",
    )
    variable: str | None = Field(
        default=None,
        pattern=_VARIABLE,
        description="Variable name (default 'ndvi' on the demo series, 'value' on a stack).",
    )
    landcover: str | None = Field(default=None, description="Land-cover raster layer id.")
    increase_is: Literal["improvement", "degradation"] | None = Field(
        default=None, description="Sign convention (default: degradation for erosion/loss names)."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level.")
    min_years: int = Field(default=10, ge=3, le=MAX_YEARS)
    start_bins: int = Field(default=5, ge=1, le=20, description="Start-value quantile bins.")
    min_pool: int = Field(default=3, ge=1, le=10_000, description="Smallest comparison pool.")
    demo_size: DemoSize = Field(default=DEFAULT_DEMO_SIZE, description="Demo size (no stack).")

    _years = field_validator("stack")(_check_years)

    @field_validator("zoning_job")
    @classmethod
    def _job_id(cls, v: str) -> str:
        if not is_job_id(v):
            raise ValueError("not a job id (32 lower-case hex characters)")
        return v

    def output_variable(self) -> str:
        """The variable's name: given, or 'ndvi' (demo series) / 'value' (a stack)."""
        return self.variable or ("value" if self.stack else "ndvi")

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        return sorted({*self.stack.values(), *([self.landcover] if self.landcover else [])})


def check_effectiveness(inp: EffectivenessInputs, ctx: ExecutionContext) -> None:
    """Known raster layers, enough years, a demo variable without a stack, a zoning job with
    units here."""
    problems = Problems("effectiveness")
    registry = ctx.layers()
    for year, lid in inp.stack.items():
        _raster_layer(problems, registry, f"stack.{year}", lid)
    if inp.landcover is not None:
        _raster_layer(problems, registry, "landcover", inp.landcover)
    if inp.stack and len(inp.stack) < inp.min_years:
        problems.add("stack", f"{len(inp.stack)} years; a trend needs min_years = {inp.min_years}")
    if not inp.stack and inp.output_variable() not in DEMO_VARIABLES:
        problems.add("variable", f"the demo series has {', '.join(DEMO_VARIABLES)}")
    if _units_of(inp.zoning_job, ctx) is None:
        problems.add("zoning_job", f"zoning job {inp.zoning_job} has no units here", "not_found")
    problems.raise_any()


def run_effectiveness_process(
    inp: EffectivenessInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    """The ``effectiveness`` process (see the module docstring)."""
    from geoeco.change.trend import TrendParameters
    from geoeco.workflows.effectiveness import EffectOptions, run_effectiveness
    from geoeco.workflows.trends import TrendOptions, run_trend

    var = inp.output_variable()
    units = _units_of(inp.zoning_job, ctx)
    if units is None:  # checked at submission; the job may have been dismissed since
        raise InvalidInput(f"zoning job {inp.zoning_job} has no units here")
    registry = ctx.layers()
    params = TrendParameters(alpha=inp.alpha, min_years=inp.min_years)
    topts = TrendOptions(
        params=params,
        increase_is={var: inp.increase_is} if inp.increase_is else {},
        variables=(var,),
        restrend=(),
    )
    eopts = EffectOptions(
        start_bins=inp.start_bins,
        min_pool=inp.min_pool,
        increase_is_improvement=topts.direction(var) == "improvement",
    )
    lc = None if inp.landcover is None else _raster(registry, inp.landcover, ctx)
    files = {f"{var}_{y}.tif": _raster(registry, lid, ctx) for y, lid in inp.stack.items()}
    with tempfile.TemporaryDirectory(prefix="geoeco-effect-") as tmp, _linked(files) as linked:
        stack = linked
        if not inp.stack:
            from geoeco.catalog.demo_series import write_series
            from geoeco.workflows.demo_change import demo_series_spec

            stack = Path(tmp) / "stack"
            write_series(stack, demo_series_spec(inp.demo_size))
        trends = Path(tmp) / "trends"
        run_trend(stack, trends, options=topts, progress=stage(progress, 0.0, 0.8))
        progress("effectiveness", 0.8)
        result = run_effectiveness(
            stack, trends, units.parent, out, variable=var, landcover=lc, options=eopts
        )
    return ProcessResult(short_summary(result.summary()))


__all__ = [
    "DEMO_VARIABLES",
    "EffectivenessInputs",
    "check_effectiveness",
    "run_effectiveness_process",
]
