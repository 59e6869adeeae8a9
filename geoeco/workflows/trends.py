"""Trends of a folder of yearly rasters: ``geoeco trend`` and the ``trend`` process.

:func:`run_trend` finds the stacks of a folder (:mod:`.stack`: one variable per name prefix,
the year in the file name or a tag), and for each variable writes, window by window (memory
bounded by the window × the number of years, :attr:`TrendOptions.window_mib`):

* ``<variable>_trend_class.tif``: 1 significant improvement, 2 no significant change,
  3 significant degradation, 0 nodata (colours and class names in its tags);
* ``<variable>_slope.tif``: Theil–Sen slope in the variable's units per year;
* ``<variable>_p.tif``: two-sided Mann–Kendall p (Hamed–Rao corrected if asked);
* with a precipitation stack (:attr:`TrendOptions.precipitation`), for the vegetation
  variables of :attr:`TrendOptions.restrend`: RESTREND's ``<variable>_restrend_class.tif``,
  ``_restrend_slope.tif``, ``_restrend_p.tif`` and ``_restrend_status.tif`` (0 nodata, 1 valid,
  2 rain regression not significant, 3 negative response), on the years both stacks have;
* ``summary.json``: years, method, alpha, the sign convention of each variable, the area of
  each class in km² (equal-area, :func:`.stack.row_areas_km2`) and the input files with their
  checksums.

Which direction is an improvement is set per variable (:attr:`TrendOptions.increase_is`); by
default an increase of a name containing ``erosion``, ``soil_loss`` or ``loss`` is a
degradation (less soil lost is better) and an increase of anything else (NDVI, FVC, NPP) an
improvement.

>>> TrendOptions().direction("soil_loss"), TrendOptions().direction("ndvi")
('degradation', 'improvement')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geoeco.catalog.classes import Provenance, get_table
from geoeco.change.trend import (
    DEGRADATION,
    IMPROVEMENT,
    NO_CHANGE,
    TrendParameters,
    TrendResult,
    mann_kendall,
    restrend,
    trend_classes,
)
from geoeco.core.errors import InvalidInput
from geoeco.core.io import open_raster_writer
from geoeco.core.windows import engine_info, file_digest, write_json

from .progress import Progress
from .stack import YearlyStack, discover_stacks, row_areas_km2, strips

Direction = Literal["improvement", "degradation"]
#: Trend class codes → names (0 = nodata).
CLASS_NAMES = {IMPROVEMENT: "improvement", NO_CHANGE: "no_change", DEGRADATION: "degradation"}
#: Colours of the trend classes (green, pale yellow, red), from the ``Trend-class`` table.
CLASS_COLOURS = get_table("Trend-class").colormap()
#: Name fragments whose increase is a degradation (default sign convention).
DEGRADING_NAMES = ("erosion", "soil_loss", "loss")


@dataclass(frozen=True)
class TrendOptions:
    """Settings of :func:`run_trend`.

    ``params`` are the statistics' settings (alpha, min_years, variance, …; their
    ``increase_is`` is replaced per variable); ``increase_is`` maps a variable to its sign
    convention (others: :data:`DEGRADING_NAMES`); ``variables`` restricts the stacks used;
    ``precipitation`` names the precipitation variable (mm) of the folder for RESTREND of the
    variables in ``restrend``; ``window_mib`` bounds the stack read per window.
    """

    params: TrendParameters = field(default_factory=TrendParameters)
    increase_is: Mapping[str, Direction] = field(default_factory=dict)
    variables: tuple[str, ...] | None = None
    precipitation: str | None = None
    restrend: tuple[str, ...] = ("ndvi", "fvc", "npp")
    window_mib: float = 64.0

    def __post_init__(self) -> None:
        if not self.window_mib > 0:
            raise InvalidInput("window_mib must be > 0")
        for var, d in self.increase_is.items():
            if d not in ("improvement", "degradation"):
                raise InvalidInput(f"increase_is[{var!r}] must be 'improvement' or 'degradation'")

    def direction(self, variable: str) -> Direction:
        """Whether an increase of ``variable`` is an improvement or a degradation."""
        if variable in self.increase_is:
            return self.increase_is[variable]
        low = variable.lower()
        return "degradation" if any(n in low for n in DEGRADING_NAMES) else "improvement"


@dataclass(frozen=True)
class VariableTrend:
    """What :func:`run_trend` found for one variable."""

    variable: str
    years: tuple[int, ...]
    increase_is: Direction
    units: str | None
    files: tuple[str, ...]
    class_area_km2: dict[str, float]
    restrend: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        out = {
            "years": list(self.years),
            "n_years": len(self.years),
            "increase_is": self.increase_is,
            "units": self.units,
            "slope_units": f"{self.units or 'units'} per year",
            "files": list(self.files),
            "class_area_km2": dict(self.class_area_km2),
        }
        if self.restrend is not None:
            out["restrend"] = self.restrend
        return out


@dataclass(frozen=True)
class TrendRunResult:
    """A trend run: its folder, one :class:`VariableTrend` per variable, the method, the
    inputs (file, variable, year, sha256) and the provenance of every setting."""

    out: Path
    variables: tuple[VariableTrend, ...]
    method: dict[str, Any]
    inputs: tuple[dict[str, Any], ...]
    provenance: dict[str, Any]
    crs: str

    @property
    def outputs(self) -> list[str]:
        """File names written (rasters, then ``summary.json``)."""
        files = [f for v in self.variables for f in v.files]
        files += [f for v in self.variables if v.restrend for f in v.restrend["files"]]
        return [*files, "summary.json"]

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        return {
            "kind": "trend",
            "method": self.method,
            "classes": {str(k): v for k, v in CLASS_NAMES.items()},
            "area_units": "km² (equal-area)",
            "crs": self.crs,
            "variables": {v.variable: v.to_dict() for v in self.variables},
            "outputs": self.outputs,
            "inputs": list(self.inputs),
            "provenance": self.provenance,
            "engine": engine_info(),
        }

    to_dict = summary


# ------------------------------------------------------------------------------------------


class _Accumulator:
    """Area (km²) of each code of a class raster, summed over windows."""

    def __init__(self, areas: npt.NDArray[np.float64], codes: Mapping[int, str]) -> None:
        self.areas = areas
        self.codes = dict(codes)
        self.km2 = dict.fromkeys(self.codes.values(), 0.0)

    def add(self, cls: npt.NDArray[np.uint8], window: tuple[int, int, int, int]) -> None:
        """Add the areas of a window's classes."""
        row_area = self.areas[window[0] : window[0] + window[2]]
        for code, name in self.codes.items():
            self.km2[name] += float(((cls == code).sum(axis=1) * row_area).sum())


def trend_files(variable: str, what: Literal["trend", "restrend"] = "trend") -> tuple[str, ...]:
    """The class, slope and p rasters of a variable's trend or residual trend.

    >>> trend_files("ndvi"), trend_files("ndvi", "restrend")[1]
    (('ndvi_trend_class.tif', 'ndvi_slope.tif', 'ndvi_p.tif'), 'ndvi_restrend_slope.tif')
    """
    if what == "trend":
        return (f"{variable}_trend_class.tif", f"{variable}_slope.tif", f"{variable}_p.tif")
    return tuple(f"{variable}_restrend_{k}.tif" for k in ("class", "slope", "p", "status"))


def _tags(st: YearlyStack, direction: str, what: str) -> dict[str, str]:
    """Tags of every trend raster: class names, the variable, its sign convention, years."""
    tags = {f"CLASS_{k}": v for k, v in CLASS_NAMES.items()}
    tags.update(
        CLASS_0="nodata",
        VARIABLE=st.variable,
        INCREASE_IS=direction,
        CONTENT=what,
        YEARS=f"{st.years[0]}-{st.years[-1]} ({len(st.years)} years)",
    )
    return tags


@dataclass(frozen=True)
class _Outputs:
    """The class, slope and p rasters of one trend being written, and its class areas."""

    writers: tuple[Any, Any, Any]
    areas: _Accumulator

    def write(
        self, window: tuple[int, int, int, int], res: TrendResult, params: TrendParameters
    ) -> None:
        """Classify a window's trend, count its areas and write the three rasters."""
        cls = trend_classes(res, params)
        self.areas.add(cls, window)
        for w, a in zip(self.writers, (cls, res.slope, res.p), strict=True):
            w.write(window, a)


def _open_outputs(
    es: ExitStack, out: Path, files: tuple[str, ...], st: YearlyStack, tags: dict[str, str]
) -> _Outputs:
    """Open the class, slope and p writers of ``files`` on the stack's grid."""
    cls = es.enter_context(
        open_raster_writer(
            out / files[0], st.grid, dtype="uint8", nodata=0, colormap=CLASS_COLOURS, tags=tags
        )
    )
    units = f"{st.units or 'units'} per year"
    slope = es.enter_context(open_raster_writer(out / files[1], st.grid, units=units, tags=tags))
    p = es.enter_context(open_raster_writer(out / files[2], st.grid, units="p", tags=tags))
    return _Outputs((cls, slope, p), _Accumulator(row_areas_km2(st.grid), CLASS_NAMES))


def _trend_params(st: YearlyStack, opts: TrendOptions) -> TrendParameters:
    params = replace(opts.params, increase_is=opts.direction(st.variable))
    if len(st.years) < params.min_years:
        raise InvalidInput(
            f"variable {st.variable!r} has {len(st.years)} years; "
            f"a trend needs at least min_years = {params.min_years}"
        )
    return params


def _trend_variable(
    st: YearlyStack, out: Path, opts: TrendOptions, used: Provenance
) -> VariableTrend:
    """Theil–Sen / Mann–Kendall trend of one stack, window by window."""
    params = _trend_params(st, opts)
    files = trend_files(st.variable)
    with ExitStack() as es:
        o = _open_outputs(es, out, files, st, _tags(st, params.increase_is, "trend"))
        for win in strips(st.grid, 2 * len(st.years), opts.window_mib):
            o.write(
                win, mann_kendall(st.read(win), years=st.years, params=params, used=used), params
            )
    return VariableTrend(
        st.variable, st.years, params.increase_is, st.units, files, dict(o.areas.km2)
    )


def _restrend_variable(
    st: YearlyStack, rain: YearlyStack, out: Path, opts: TrendOptions, used: Provenance
) -> dict[str, Any]:
    """RESTREND of one vegetation stack on the years it shares with ``rain``."""
    common = sorted(set(st.years) & set(rain.years))
    iv, ir = [st.years.index(y) for y in common], [rain.years.index(y) for y in common]
    params = _trend_params(replace(st, years=tuple(common)), opts)
    files = trend_files(st.variable, "restrend")
    status_names = {0: "nodata", 1: "valid", 2: "not_significant", 3: "negative_response"}
    with ExitStack() as es:
        tags = _tags(st, params.increase_is, "residual trend (RESTREND)")
        o = _open_outputs(es, out, files, st, tags)
        sw = es.enter_context(
            open_raster_writer(out / files[3], st.grid, dtype="uint8", nodata=255, tags=tags)
        )
        status = _Accumulator(o.areas.areas, status_names)
        for win in strips(st.grid, 2 * (len(st.years) + len(rain.years)), opts.window_mib):
            y, r = st.read(win)[iv], rain.read(win)[ir]
            rr = restrend(y, r, years=common, params=params, used=used)
            o.write(win, rr.residual, params)
            sw.write(win, rr.status)
            status.add(rr.status, win)
    return {
        "precipitation": rain.variable,
        "years": common,
        "files": list(files),
        "class_area_km2": dict(o.areas.km2),
        "status_area_km2": dict(status.km2),
    }


def _method(opts: TrendOptions) -> dict[str, Any]:
    p = opts.params
    return {
        "slope": "Theil-Sen (median of pairwise slopes), per year",
        "test": "Mann-Kendall, two-sided"
        + (", Hamed-Rao variance correction" if p.variance == "hamed_rao" else ""),
        "variance": p.variance,
        "alpha": p.alpha,
        "min_years": p.min_years,
        "restrend": None
        if opts.precipitation is None
        else {
            "precipitation": opts.precipitation,
            "variables": list(opts.restrend),
            "regression_alpha": p.regression_alpha,
            "require_positive_response": p.require_positive_response,
        },
    }


def _inputs(stacks: list[YearlyStack]) -> tuple[dict[str, Any], ...]:
    """Every input file with its variable, year and checksum."""
    return tuple(
        {"file": p.name, "variable": st.variable, "year": y, "sha256": file_digest(p)}
        for st in stacks
        for y, p in zip(st.years, st.paths, strict=True)
    )


def parse_directions(items: Sequence[str]) -> dict[str, Direction]:
    """``VARIABLE=improvement|degradation`` texts as a mapping.

    >>> parse_directions(["soil_loss=improvement"])
    {'soil_loss': 'improvement'}
    """
    out: dict[str, Direction] = {}
    for item in items:
        var, sep, d = item.partition("=")
        if not sep or d.strip() not in ("improvement", "degradation") or not var.strip():
            raise InvalidInput(f"expected VARIABLE=improvement|degradation, got {item!r}")
        out[var.strip()] = "improvement" if d.strip() == "improvement" else "degradation"
    return out


def run_trend(
    stack_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    options: TrendOptions | None = None,
    progress: Progress | None = None,
) -> TrendRunResult:
    """Trend rasters and ``summary.json`` of every variable of a folder of yearly rasters
    (see the module docstring); returns the run's :class:`TrendRunResult`."""
    opts = options or TrendOptions()
    stacks = discover_stacks(stack_dir, variables=opts.variables)
    rain = _rain_stack(stack_dir, stacks, opts)
    if not stacks:
        raise InvalidInput("the stack folder holds no variable besides the precipitation")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    used = Provenance()
    results = []
    for i, st in enumerate(stacks.values()):
        if progress:
            progress(f"trend of {st.variable}", i / len(stacks))
        vt = _trend_variable(st, out_dir, opts, used)
        if rain is not None and st.variable in opts.restrend and st.variable != rain.variable:
            vt = replace(vt, restrend=_restrend_variable(st, rain, out_dir, opts, used))
        results.append(vt)
    grid = next(iter(stacks.values())).grid
    inputs = _inputs([*stacks.values(), *([rain] if rain else [])])
    crs = grid.crs.name
    result = TrendRunResult(out_dir, tuple(results), _method(opts), inputs, used.to_dict(), crs)
    write_json(result.summary(), out_dir / "summary.json")
    if progress:
        progress("trend done", 1.0)
    return result


def _rain_stack(
    stack_dir: str | os.PathLike[str], stacks: dict[str, YearlyStack], opts: TrendOptions
) -> YearlyStack | None:
    """The precipitation stack named by ``opts.precipitation`` (kept out of ``stacks``
    unless asked for by ``opts.variables``)."""
    if opts.precipitation is None:
        return None
    if opts.precipitation in stacks:
        rain = stacks[opts.precipitation]
        if opts.variables is None:
            del stacks[opts.precipitation]
        return rain
    rain = discover_stacks(stack_dir, variables=[opts.precipitation])[opts.precipitation]
    if stacks:
        rain.grid.check_aligned(next(iter(stacks.values())).grid, what="precipitation stack")
    return rain


__all__ = [
    "CLASS_COLOURS",
    "CLASS_NAMES",
    "DEGRADING_NAMES",
    "TrendOptions",
    "TrendRunResult",
    "VariableTrend",
    "parse_directions",
    "run_trend",
    "trend_files",
]
