"""Wind erosion end to end: RWEQ (:mod:`geoeco.erosion.wind`) window by window on one grid.

:func:`run_wind_erosion` takes a :class:`WindInputs` -- every input a number or a raster,
monthly inputs as 12-band rasters (band i = month i) or single values for every month --
reads them window by window onto the land-cover raster's grid (continuous inputs bilinear,
land cover nearest), computes the monthly weather factor WF, EF, SCF, K′ and COG by the
per-land-cover form (FVC in percent, given or from NDVI by the dimidiate model), sums the
monthly soil loss at z into actual and potential erosion and sand fixation in t/(km²·a), and
grades the actual modulus by SL 190-2007 (wind, modulus column). Memory follows the window:
only one window of every input and output is held at a time.

Outputs in ``out_dir``: ``wind_erosion_actual.tif``, ``wind_erosion_potential.tif``,
``sand_fixation.tif`` (float32, t/(km²·a), NaN nodata), ``wind_erosion_grade.tif`` (uint8
1..6, 0 nodata, with the class colours) and ``summary.json`` (:class:`WindErosionResult`).
Pixels where the monthly factor product passes the peak of SL(z)
(:func:`geoeco.erosion.wind.peak_product`) may have potential < actual; there sand fixation is
clipped at 0 and the pixels are counted in the summary.
"""

from __future__ import annotations

import calendar
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.classes import Provenance, get_table
from geoeco.core.align import Resampling, aligned_source
from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.core.io import RasterWriter, open_raster_writer, raster_info
from geoeco.core.raster import Grid
from geoeco.core.userdata import open_user_raster
from geoeco.core.windows import (
    Constant,
    WindowReader,
    equal_area_factor,
    open_factor,
    write_json,
)
from geoeco.erosion import vegetation
from geoeco.erosion import wind as rweq
from geoeco.erosion.wind_results import WindErosionResult, WindTotals

Input = float | str | Path
Progress = Any

#: Monthly inputs: one value per month (12 bands) or one value for every month.
MONTHLY = ("wind", "temperature", "rain", "etp", "snow_factor", "rain_days", "pressure")
#: Inputs that may also be daily rasters (one band per day of ``year``): all four, or none.
DAILY = ("wind", "temperature", "rain", "etp")
#: Window side (pixels) at most, with daily inputs (a year of days per pixel in memory).
DAILY_BLOCK = 64
#: Inputs given in percent whose whole raster is checked once for fraction-like values.
PERCENT = ("sand", "silt", "clay", "fvc")
GRADE_TABLE = "SL190-2007/wind-modulus"
OUTPUTS = (
    "wind_erosion_actual",
    "wind_erosion_potential",
    "sand_fixation",
    "wind_erosion_grade",
)


#: The inputs of a wind-erosion run, land cover first (each a number or a raster; see
#: :class:`WindInputs`).
WIND_INPUT_NAMES = (
    "landcover",
    "wind",
    "temperature",
    "rain",
    "etp",
    "sand",
    "silt",
    "clay",
    "elevation",
    "organic_matter",
    "organic_carbon",
    "calcium_carbonate",
    "roughness_kr",
    "fvc",
    "ndvi",
    "snow_factor",
    "rain_days",
    "pressure",
)


@dataclass(frozen=True)
class WindInputs:
    """The inputs of a wind-erosion run; each a number or a raster path.

    Monthly (12 bands = January..December, or one band / one number for every month):
    ``wind`` mean wind speed (m/s) at ``wind_height_m`` (10 or 2), ``temperature`` (°C),
    ``rain`` and ``etp`` (mm per month), and optionally ``snow_factor`` SD (0..1, default
    ``RweqParameters.snow_factor`` [R]), ``rain_days`` (default
    ``RweqParameters.rain_day_fraction`` of the days [R]) and ``pressure`` (kPa, for the
    ``standard`` air density). Static: ``elevation`` (m, for the ``fryrear`` air density),
    ``sand``, ``silt``, ``clay`` (%), ``organic_matter`` (%) or ``organic_carbon`` (%,
    ×1.724), ``calcium_carbonate`` (%, default ``RweqParameters.calcium_carbonate_percent``
    [R]), ``roughness_kr`` (Smith–Carson K_r in cm, default 0: K′ = 1, no roughness
    reduction [R]), and the vegetation cover ``fvc`` (%) or ``ndvi`` (FVC by the dimidiate
    model, end points 5 %/95 % of the NDVI raster unless ``ndvi_endpoints`` is given).
    ``landcover`` (integer codes, mapped by ``landcover_classes`` to a COG exponent; ``None``
    = not eroded by wind) sets the grid of every output.
    """

    landcover: str | Path
    wind: Input
    temperature: Input
    rain: Input
    etp: Input
    sand: Input
    silt: Input
    clay: Input
    elevation: Input | None = None
    organic_matter: Input | None = None
    organic_carbon: Input | None = None
    calcium_carbonate: Input | None = None
    roughness_kr: Input | None = None
    fvc: Input | None = None
    ndvi: str | Path | None = None
    ndvi_endpoints: tuple[float, float] | None = None
    snow_factor: Input | None = None
    rain_days: Input | None = None
    pressure: Input | None = None
    wind_height_m: float = 10.0
    year: int = 2021
    landcover_classes: Mapping[int, str | None] = field(
        default_factory=lambda: dict(rweq.DEMO_LANDCOVER_COG)
    )
    status: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.fvc is None) == (self.ndvi is None):
            raise InvalidInput("give exactly one of fvc (percent) and ndvi")
        if (self.organic_matter is None) == (self.organic_carbon is None):
            raise InvalidInput("give exactly one of organic_matter and organic_carbon (percent)")
        if self.wind_height_m not in (2.0, 10.0):
            raise InvalidInput(f"wind_height_m must be 2 or 10, got {self.wind_height_m}")
        if not 1900 <= self.year <= 2200:
            raise InvalidInput(f"year must be in 1900..2200, got {self.year}")
        if self.elevation is None and self.pressure is None:
            raise InvalidInput(
                "give elevation (m, for the fryrear air density) or pressure (kPa, standard)"
            )

    def check_density(self, params: rweq.RweqParameters) -> None:
        """Raise unless the input the air-density form of ``params`` needs is given."""
        need = "elevation" if params.air_density_form == "fryrear" else "pressure"
        if getattr(self, need) is None:
            raise InvalidInput(f"the {params.air_density_form} air density needs {need}")

    def given(self) -> dict[str, Input]:
        """The inputs given (name -> number or path), land cover first."""
        return {n: v for n in WIND_INPUT_NAMES if (v := getattr(self, n)) is not None}

    def days(self) -> np.ndarray:
        """Days of each month of ``year``."""
        return np.array([calendar.monthrange(self.year, m)[1] for m in range(1, 13)], float)

    def dates(self) -> np.ndarray:
        """Every day of ``year`` (the bands of daily inputs, in order)."""
        start = np.datetime64(f"{self.year}-01-01")
        return np.arange(start, start + np.timedelta64(365 + calendar.isleap(self.year), "D"))

    def daily(self) -> bool:
        """Whether the weather inputs are daily rasters; refuses a mix of daily and monthly.

        Daily: ``wind``, ``temperature``, ``rain`` and ``etp`` each have one band per day of
        ``year``; rain days are then counted from the daily rain, so ``rain_days`` and the
        monthly ``snow_factor`` are refused, and ``pressure`` must be one band.
        """
        n_days = 365 + calendar.isleap(self.year)
        counts = {n: _band_count(getattr(self, n)) for n in DAILY}
        daily = [n for n, c in counts.items() if c == n_days]
        if not daily:
            return False
        if len(daily) < len(DAILY):
            raise InvalidInput(
                f"daily inputs: {', '.join(DAILY)} must all have one band per day of "
                f"{self.year} ({n_days}); got band counts {counts}"
            )
        for name in ("rain_days", "snow_factor"):
            if getattr(self, name) is not None:
                raise InvalidInput(
                    f"{name} is for monthly inputs; with daily inputs rain days are counted "
                    "from the daily rain and the snow factor is RweqParameters.snow_factor"
                )
        if _band_count(self.pressure) not in (0, 1):
            raise InvalidInput("with daily inputs pressure must be one band (or a number)")
        return True


def _resampling(name: str) -> Resampling:
    return "nearest" if name == "landcover" else "bilinear"


def _band_count(value: Input | None) -> int:
    """Bands of a raster input (0 for a number or no input)."""
    if value is None or isinstance(value, int | float):
        return 0
    return raster_info(Path(value), name=Path(value).name).count


def _bands(value: Input, name: str, n_days: int = 0) -> int | list[int]:
    """Band(s) to read: 1, the 12 months of a monthly raster, or the ``n_days`` days of a
    daily one."""
    if isinstance(value, int | float):
        return 1
    count = raster_info(Path(value), name=Path(value).name).count
    if name in MONTHLY and count == 12:
        return list(range(1, 13))
    if name in DAILY and n_days and count == n_days:
        return list(range(1, n_days + 1))
    if count != 1:
        raise InvalidInput(
            f"{name}: {Path(value).name} has {count} bands; give 1"
            + (" or 12 (months)" if name in MONTHLY else "")
        )
    return 1


@contextlib.contextmanager
def _open_inputs(
    inputs: WindInputs, grid: Grid, record: dict[str, Any] | None
) -> Iterator[dict[str, WindowReader]]:
    """Every input opened on the grid; with ``record``, validated and recorded first."""
    with contextlib.ExitStack() as stack:
        srcs: dict[str, WindowReader] = {}
        for name, value in inputs.given().items():
            if name == "landcover" and isinstance(value, int | float):
                raise InvalidInput("landcover must be a raster (it sets the grid)")
            if record is not None:
                with open_factor(
                    value, grid, name=name, resampling=_resampling(name), inputs=record
                ):
                    pass
                record[name]["status"] = inputs.status.get(name, "given")
            if isinstance(value, int | float):
                srcs[name] = Constant(float(value), name)
                continue
            src = aligned_source(
                value,
                grid,
                resampling=_resampling(name),
                name=Path(value).name,
                band=_bands(value, name, len(inputs.dates())),
            )
            srcs[name] = stack.enter_context(src)
        yield srcs


def _check_percent_files(inputs: WindInputs) -> None:
    """Refuse a percent raster whose values all lie in 0..1 (a fraction), from a decimated
    read of the whole file (a single window of sand may hold only clay ≤ 1 %)."""
    for name in PERCENT:
        value = getattr(inputs, name)
        if value is None or isinstance(value, int | float):
            if value is not None and 0 < float(value) <= 1 and name != "clay":
                raise UnitsError(f"{name} = {value} looks like a fraction; give percent 0-100")
            continue
        with open_user_raster(value, name=Path(value).name) as ds:
            scale = max(1, max(ds.width, ds.height) // 512)
            shape = (max(1, ds.height // scale), max(1, ds.width // scale))
            a = np.ma.masked_invalid(ds.read(1, out_shape=shape, masked=True).astype("float64"))
        if a.count() and 0 < float(a.max()) <= 1.0:
            raise UnitsError(
                f"{name}: {Path(value).name} looks like a fraction (max {float(a.max()):g} <= 1);"
                " give percent 0-100"
            )


def _read(srcs: dict[str, WindowReader], name: str, win: tuple[int, int, int, int]) -> Any:
    """One input on one window as float64 with NaN for nodata (None when not given)."""
    if name not in srcs:
        return None
    return np.ma.filled(srcs[name].read(win).astype("float64"), np.nan)


def _monthly(a: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """A monthly input as (12, h, w): 12 bands as they are, one band broadcast."""
    if a is None:
        return None
    return a if a.ndim == 3 else np.broadcast_to(a, (12, *shape))


@dataclass(frozen=True)
class WindSpec:
    """What one window needs besides the inputs: parameters, days, FVC end points."""

    inputs: WindInputs
    params: rweq.RweqParameters
    days: np.ndarray
    ndvi_ends: tuple[float, float] | None
    #: The days of the year when the weather inputs are daily, else None (monthly).
    dates: np.ndarray | None = None


def _weather(
    spec: WindSpec, srcs: dict[str, WindowReader], win: tuple[int, int, int, int]
) -> np.ndarray:
    """Monthly WF (12, h, w) in kg/m on one window (from daily or monthly inputs)."""
    if spec.dates is not None:
        return _weather_daily(spec, srcs, win)
    shape = (win[2], win[3])
    m = {n: _monthly(_read(srcs, n, win), shape) for n in MONTHLY}
    elev = _read(srcs, "elevation", win)
    wind, temp, rain, etp = (m[n] for n in MONTHLY[:4])
    assert wind is not None and temp is not None and rain is not None and etp is not None
    return rweq.weather_factor_monthly(
        wind,
        temp,
        rain,
        etp,
        spec.days,
        elevation_km=None if elev is None else elev / 1000.0,
        pressure_kpa=m["pressure"],
        rain_days=m["rain_days"],
        snow=m["snow_factor"],
        wind_is_2m=spec.inputs.wind_height_m == 2.0,
        params=spec.params,
    )


def _weather_daily(
    spec: WindSpec, srcs: dict[str, WindowReader], win: tuple[int, int, int, int]
) -> np.ndarray:
    """Monthly WF (12, h, w) in kg/m from daily wind, temperature, rain and ET_p."""
    assert spec.dates is not None
    wind, temp, rain, etp = (_read(srcs, n, win) for n in DAILY)
    elev = _read(srcs, "elevation", win)
    wf, _ = rweq.weather_factor_daily(
        wind,
        temp,
        rain,
        etp,
        spec.dates,
        elevation_km=None if elev is None else elev / 1000.0,
        pressure_kpa=_read(srcs, "pressure", win),
        wind_is_2m=spec.inputs.wind_height_m == 2.0,
        params=spec.params,
    )
    return wf


def _soil_and_cover(
    spec: WindSpec, srcs: dict[str, WindowReader], win: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """EF, SCF, K′ and COG of one window (NaN where an input is nodata or land is not
    eroded by wind)."""
    p = spec.params
    sand, silt, clay = (_read(srcs, n, win) for n in ("sand", "silt", "clay"))
    om = _read(srcs, "organic_matter", win)
    if om is None:
        om = rweq.organic_matter_from_carbon(_read(srcs, "organic_carbon", win), p)
    caco3 = _read(srcs, "calcium_carbonate", win)
    ef = rweq.erodible_fraction(sand, silt, clay, om, caco3, params=p, units_checked=True)
    scf = rweq.soil_crust_factor(clay, om, p, units_checked=True)
    kr = _read(srcs, "roughness_kr", win)
    kprime = rweq.roughness_factor(np.zeros(ef.shape) if kr is None else kr, params=p)
    fvc = _read(srcs, "fvc", win)
    if fvc is None:
        assert spec.ndvi_ends is not None  # WindInputs needs fvc or ndvi
        fvc = vegetation.fvc_dimidiate(_read(srcs, "ndvi", win), *spec.ndvi_ends)
    lc = np.ma.filled(srcs["landcover"].read(win), 0).astype("int64")
    cog = rweq.vegetation_factor_landcover(
        fvc, lc, spec.inputs.landcover_classes, p, units_checked=True
    )
    return ef, scf, kprime, cog


def wind_window(
    spec: WindSpec, srcs: dict[str, WindowReader], win: tuple[int, int, int, int]
) -> tuple[dict[str, np.ndarray], WindTotals]:
    """Actual and potential erosion, sand fixation (t/(km²·a)) and grade of one window,
    with the window's sums."""
    wf = _weather(spec, srcs, win)
    ef, scf, kprime, cog = _soil_and_cover(spec, srcs, win)
    res = rweq.wind_erosion(wf, ef, scf, kprime, cog, periods=True, params=spec.params)
    actual = res.actual.astype("float32")
    invalid = ~np.isfinite(actual)
    potential = res.potential.astype("float32")
    fixation = res.sand_fixation.astype("float32")
    potential[invalid] = np.nan
    fixation[invalid] = np.nan
    grade = np.asarray(res.grade(), dtype=np.uint8)
    grade[invalid] = 0
    n_classes = len(get_table(GRADE_TABLE).classes)
    valid = ~invalid
    totals = WindTotals(
        counts=np.bincount(grade.ravel(), minlength=n_classes + 1).astype(np.int64),
        actual_sum=float(actual[valid].sum(dtype="float64")),
        potential_sum=float(potential[valid].sum(dtype="float64")),
        fixation_sum=float(fixation[valid].sum(dtype="float64")),
        beyond_peak=int((res.beyond_peak & valid).sum()),
        clipped=int((res.clipped & valid).sum()),
    )
    arrays = dict(zip(OUTPUTS, (actual, potential, fixation, grade), strict=True))
    return arrays, totals


def _writers(stack: contextlib.ExitStack, out: Path, grid: Grid) -> dict[str, RasterWriter]:
    """The four output COGs, open for writing window by window."""
    table = get_table(GRADE_TABLE)
    opts: dict[str, dict[str, Any]] = {
        n: {"dtype": "float32", "units": "t/(km²·a)"} for n in OUTPUTS[:3]
    }
    opts["wind_erosion_grade"] = {
        "dtype": "uint8",
        "nodata": 0,
        "colormap": table.colormap(),
        "tags": {"class_table": f"{table.name} ({table.version})"},
    }
    return {
        n: stack.enter_context(open_raster_writer(out / f"{n}.tif", grid, **kw))
        for n, kw in opts.items()
    }


def _grid_of(inputs: WindInputs) -> Grid:
    """The land-cover raster's grid, which must be projected (areas, z in metres)."""
    lc = Path(inputs.landcover)
    grid = raster_info(lc, name=lc.name).grid
    if grid is None or not grid.crs.is_projected:
        raise InvalidInput(f"{lc.name}: the land cover must be on a projected grid in metres")
    return grid


def _ndvi_ends(inputs: WindInputs, used: Provenance) -> tuple[float, float] | None:
    """NDVI end points for FVC (given, or 5 %/95 % of the NDVI raster), recorded."""
    if inputs.ndvi is None:
        return None
    if inputs.ndvi_endpoints is not None:
        used.add_param("fvc.ndvi_endpoints", list(inputs.ndvi_endpoints), source="given")
        return inputs.ndvi_endpoints
    from geoeco.core.io import read_window_blocks

    p = Path(inputs.ndvi)
    blocks = (
        np.ma.filled(r.array.astype("float64"), np.nan)
        for _, r in read_window_blocks(p, name=p.name)
    )
    return vegetation.ndvi_endpoints(blocks, used=used)


def run_wind_erosion(
    inputs: WindInputs,
    out_dir: str | Path,
    *,
    params: rweq.RweqParameters = rweq.DEFAULT,
    block_size: int = 256,
    progress: Progress | None = None,
) -> WindErosionResult:
    """Run RWEQ over the land-cover grid window by window; write the four COGs and
    ``summary.json``; return the :class:`~geoeco.erosion.wind_results.WindErosionResult`.

    ``block_size`` is the window side in pixels (memory ≈ 12 months × a few float64 arrays
    of one window; with daily weather inputs at most :data:`DAILY_BLOCK`, as a year of days
    per pixel is held). Raises :class:`~geoeco.core.errors.GeoecoError` leaves for bad inputs
    before any output is written.
    """
    if not 16 <= block_size <= 4096:
        raise InvalidInput(f"block_size must be in 16..4096, got {block_size}")
    out = Path(out_dir)
    step = progress or (lambda s, f: None)
    inputs.check_density(params)
    grid = _grid_of(inputs)
    _check_percent_files(inputs)
    used = Provenance()
    record: dict[str, Any] = {}
    with _open_inputs(inputs, grid, record):
        pass
    dates = inputs.dates() if inputs.daily() else None
    spec = WindSpec(inputs, params, inputs.days(), _ndvi_ends(inputs, used), dates)
    used.add_param("weather_inputs", "monthly" if dates is None else "daily", source="given")
    if dates is not None:  # a year of days per pixel: smaller windows
        block_size = min(block_size, DAILY_BLOCK)
    _record(used, inputs, params)
    out.mkdir(parents=True, exist_ok=True)
    windows = list(grid.blocks(block_size))
    totals = WindTotals.zero(len(get_table(GRADE_TABLE).classes))
    with contextlib.ExitStack() as stack:
        srcs = stack.enter_context(_open_inputs(inputs, grid, None))
        writers = _writers(stack, out, grid)
        for i, win in enumerate(windows):
            arrays, t = wind_window(spec, srcs, win)
            for name, values in arrays.items():
                v = values if name == "wind_erosion_grade" else np.ma.masked_invalid(values)
                writers[name].write(win, v)
            totals = totals.plus(t)
            step("wind erosion by window", (i + 1) / len(windows))
    result = WindErosionResult.build(
        out, grid, totals, equal_area_factor(grid), record, used, params, len(windows)
    )
    write_json(result.summary(), out / "summary.json")
    return result


def _record(used: Provenance, inputs: WindInputs, params: rweq.RweqParameters) -> None:
    """Parameters and, for each optional input, whether a layer or an [R] default was used."""
    params.record(used)
    defaults = {
        "snow_factor": f"RweqParameters.snow_factor = {params.snow_factor}",
        "rain_days": f"RweqParameters.rain_day_fraction = {params.rain_day_fraction} of the days",
        "calcium_carbonate": "RweqParameters.calcium_carbonate_percent = "
        f"{params.calcium_carbonate_percent}",
        "roughness_kr": "K_r = 0 cm (K′ = 1, no roughness reduction)",
    }
    for name, default in defaults.items():
        given = getattr(inputs, name) is not None
        used.add_param(
            f"rweq.input.{name}",
            "given" if given else f"default {default}",
            tag="V" if given else "R",
            source="user input" if given else "documented [R] default",
        )
    used.add_param("rweq.wind_height_m", inputs.wind_height_m, tag="I")
    used.add_param("rweq.year_days", inputs.days().tolist(), tag="I", source=str(inputs.year))
    used.add_param(
        "rweq.cog_landcover_classes",
        {str(k): v for k, v in inputs.landcover_classes.items()},
        tag="R",
    )
    used.add_table(get_table(GRADE_TABLE))


__all__ = [
    "WIND_INPUT_NAMES",
    "OUTPUTS",
    "WindInputs",
    "WindSpec",
    "run_wind_erosion",
    "wind_window",
]
