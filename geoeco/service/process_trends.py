"""The ``trend`` and ``change`` processes: inputs, checks and runs (registered in
:mod:`geoeco.service.processes`).

* ``trend``: a stack given as year → raster layer id (optionally a precipitation stack for
  RESTREND) → :func:`geoeco.workflows.trends.run_trend`; without a stack, the synthetic demo
  series (:mod:`geoeco.catalog.demo_series`) over the demo region.
* ``change``: two class raster layers → :func:`geoeco.workflows.changes.run_change`, per
  control unit and county when a successful zoning job is named; without layers, the SL 190
  grades of the demo series' first and last years.

Layer files are linked into a scratch folder under the names the stack reader expects
(``<variable>_<year>.tif``); the scratch folder is removed whatever happens.

>>> TrendInputs(stack={"2001": "user.a"}).layer_ids()
['user.a']
>>> TrendInputs(stack={"01": "user.a"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for TrendInputs
...
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE
from geoeco.catalog.demo_region import Size as DemoSize
from geoeco.workflows.progress import Progress
from geoeco.workflows.summaries import short_summary

from .job_model import is_job_id
from .process_checks import Problems, _raster_layer
from .process_inputs import ExecutionContext, _Inputs
from .process_runners import ProcessResult, _raster

_VARIABLE = r"^[A-Za-z][A-Za-z0-9_]{0,39}$"
_YEAR_KEY = r"^(1[89][0-9]{2}|2[0-9]{3})$"
#: Most layers in one stack.
MAX_YEARS = 100


def _check_years(v: dict[str, str] | None) -> dict[str, str] | None:
    import re

    if v is None:
        return v
    if len(v) > MAX_YEARS:
        raise ValueError(f"at most {MAX_YEARS} years")
    for k in v:
        if not re.match(_YEAR_KEY, k):
            raise ValueError(f"{k!r} is not a year (4 digits, 1800-2999)")
    return v


class TrendInputs(_Inputs):
    """Inputs of the ``trend`` process."""

    stack: dict[str, str] = Field(
        default_factory=dict,
        description="Year (e.g. '2005') -> raster layer id. Empty: the synthetic demo series.",
    )
    variable: str = Field(default="value", pattern=_VARIABLE, description="Name of the outputs.")
    precipitation: dict[str, str] | None = Field(
        default=None, description="Year -> precipitation layer id (mm): RESTREND of the stack."
    )
    increase_is: Literal["improvement", "degradation"] | None = Field(
        default=None, description="Sign convention (default: degradation for erosion/loss names)."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level.")
    variance: Literal["original", "hamed_rao"] = Field(default="original")
    min_years: int = Field(default=10, ge=3, le=MAX_YEARS)
    demo_size: DemoSize = Field(default=DEFAULT_DEMO_SIZE, description="Demo size (no stack).")

    _years = field_validator("stack", "precipitation")(_check_years)

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        return sorted({*self.stack.values(), *(self.precipitation or {}).values()})


class ChangeInputs(_Inputs):
    """Inputs of the ``change`` process."""

    before: str | None = Field(default=None, description="Class raster layer id, first date.")
    after: str | None = Field(default=None, description="Class raster layer id, second date.")
    table: str | None = Field(default=None, description="Class table (e.g. SL190-2007/water).")
    variable: str | None = Field(default=None, pattern=_VARIABLE, description="Output name.")
    higher_is_worse: bool = Field(default=True, description="A higher class is worse.")
    zoning_job: str | None = Field(
        default=None, description="Successful zoning job: per-unit and per-county tables."
    )
    demo_size: DemoSize = Field(default=DEFAULT_DEMO_SIZE, description="Demo size (no layers).")

    @field_validator("zoning_job")
    @classmethod
    def _job_id(cls, v: str | None) -> str | None:
        if v is not None and not is_job_id(v):
            raise ValueError("not a job id (32 lower-case hex characters)")
        return v

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        return [v for v in (self.before, self.after) if v]


# ------------------------------------------------------------------------------ checks
def check_trend(inp: TrendInputs, ctx: ExecutionContext) -> None:
    """Every layer is a known raster layer; the stack has at least ``min_years`` years."""
    problems = Problems("trend")
    registry = ctx.layers()
    for name, stack in (("stack", inp.stack), ("precipitation", inp.precipitation or {})):
        for year, lid in stack.items():
            _raster_layer(problems, registry, f"{name}.{year}", lid)
    if inp.stack and len(inp.stack) < inp.min_years:
        problems.add("stack", f"{len(inp.stack)} years; a trend needs min_years = {inp.min_years}")
    if inp.precipitation and inp.variable == "precipitation":
        problems.add("variable", "the stack cannot be named 'precipitation' with a rain stack")
    if inp.precipitation and not inp.stack:
        problems.add("precipitation", "give the stack too (without one the demo series is used)")
    problems.raise_any()


def check_change(inp: ChangeInputs, ctx: ExecutionContext) -> None:
    """Both layers or neither, known raster layers, a known class table, a zoning job that
    has units here."""
    problems = Problems("change")
    registry = ctx.layers()
    if (inp.before is None) != (inp.after is None):
        problems.add("before", "give both before and after (or neither: the demo)")
    for name in ("before", "after"):
        value = getattr(inp, name)
        if value is not None:
            _raster_layer(problems, registry, name, value)
    if inp.table is not None:
        from geoeco.catalog.classes import list_tables

        if inp.table not in list_tables():
            problems.add("table", f"unknown class table {inp.table!r}")
    if inp.zoning_job is not None and _units_of(inp.zoning_job, ctx) is None:
        problems.add("zoning_job", f"zoning job {inp.zoning_job} has no units here", "not_found")
    problems.raise_any()


def _units_of(job: str, ctx: ExecutionContext) -> Path | None:
    if ctx.runs_dir is None:
        return None
    p = Path(ctx.runs_dir) / job / "units.parquet"
    return p if p.is_file() else None


# ------------------------------------------------------------------------------ runs
@contextmanager
def _linked(files: Mapping[str, Path]) -> Iterator[Path]:
    """A scratch folder holding ``name -> file`` links (copies where links are refused)."""
    with tempfile.TemporaryDirectory(prefix="geoeco-stack-") as tmp:
        d = Path(tmp)
        for name, src in files.items():
            try:
                os.symlink(src, d / name)
            except OSError:
                import shutil

                shutil.copyfile(src, d / name)
        yield d


def run_trend_process(
    inp: TrendInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    """The ``trend`` process (see the module docstring)."""
    from geoeco.change.trend import TrendParameters
    from geoeco.workflows.trends import TrendOptions, run_trend

    params = TrendParameters(alpha=inp.alpha, variance=inp.variance, min_years=inp.min_years)
    if not inp.stack:
        from geoeco.catalog.demo_series import write_series
        from geoeco.workflows.demo_change import demo_series_spec

        with tempfile.TemporaryDirectory(prefix="geoeco-series-") as tmp:
            write_series(Path(tmp), demo_series_spec(inp.demo_size))
            opts = TrendOptions(params=params, precipitation="precipitation")
            result = run_trend(tmp, out, options=opts, progress=progress)
        return ProcessResult(short_summary(result.summary()))
    registry = ctx.layers()
    files = {f"{inp.variable}_{y}.tif": _raster(registry, lid, ctx) for y, lid in inp.stack.items()}
    for y, lid in (inp.precipitation or {}).items():
        files[f"precipitation_{y}.tif"] = _raster(registry, lid, ctx)
    opts = TrendOptions(
        params=params,
        increase_is={inp.variable: inp.increase_is} if inp.increase_is else {},
        precipitation="precipitation" if inp.precipitation else None,
        restrend=(inp.variable,),
    )
    with _linked(files) as d:
        result = run_trend(d, out, options=opts, progress=progress)
    return ProcessResult(short_summary(result.summary()))


def run_change_process(
    inp: ChangeInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    """The ``change`` process (see the module docstring)."""
    from geoeco.workflows.changes import ChangeOptions, run_change

    units = None if inp.zoning_job is None else _units_of(inp.zoning_job, ctx)
    if inp.before is None or inp.after is None:
        from geoeco.workflows.demo_change import demo_series_spec, write_grades

        with tempfile.TemporaryDirectory(prefix="geoeco-grades-") as tmp:
            first, last = write_grades(demo_series_spec(inp.demo_size), Path(tmp))
            opts = ChangeOptions(table="SL190-2007/water", variable="soil_loss_grade")
            result = run_change(first, last, out, options=opts, units=units, progress=progress)
        return ProcessResult(short_summary(result.summary()))
    registry = ctx.layers()
    before, after = _raster(registry, inp.before, ctx), _raster(registry, inp.after, ctx)
    opts = ChangeOptions(
        table=inp.table,
        variable=inp.variable or "classes",
        higher_is_worse=inp.higher_is_worse,
    )
    result = run_change(before, after, out, options=opts, units=units, progress=progress)
    return ProcessResult(short_summary(result.summary()))


__all__ = [
    "MAX_YEARS",
    "ChangeInputs",
    "TrendInputs",
    "check_change",
    "check_trend",
    "run_change_process",
    "run_trend_process",
]
