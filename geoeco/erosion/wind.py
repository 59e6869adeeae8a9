"""Wind erosion by RWEQ, the Revised Wind Erosion Equation (Fryrear et al. 1998, 2000).

Implements methodology §8 (and the RWEQ lines of §3.2) as pure, vectorised numpy functions on
arrays with **NaN for nodata** (masked arrays are accepted; their mask becomes NaN):

* weather factor WF (kg/m) from monthly means (:func:`weather_factor_monthly`) or daily series
  grouped into calendar months (:func:`weather_factor_daily`), with its pieces: wind at 2 m
  (:func:`wind_at_2m`), the wind term (:func:`wind_term`), air density in both published
  forms (:func:`air_density`), soil wetness (:func:`soil_wetness`) and the snow factor
  (:func:`snow_factor`);
* erodible fraction EF (:func:`erodible_fraction`), soil crust factor SCF
  (:func:`soil_crust_factor`), roughness K′ (:func:`smith_carson_kr`,
  :func:`roughness_factor`), vegetation factor COG by the full Fryrear form
  (:func:`vegetation_factor_full`) or the Chinese per-land-cover form with FVC in **percent**
  (:func:`vegetation_factor_landcover`);
* Q_max, the critical field length S and the soil loss SL at the downwind distance z
  (:func:`q_max`, :func:`critical_length`, :func:`soil_loss`), and the actual and potential
  erosion and sand fixation in t/(km²·a) (:func:`wind_erosion`), graded by SL 190-2007
  through :func:`geoeco.erosion.grades.wind_erosion_grade` (:meth:`WindErosion.grade`).

Every constant is a field of :class:`RweqParameters` with its tag and source; the equations
of the sub-factors are [R] (methodology "What could not be found" item 5), so they are listed
as unverified in ``summary.json`` through :meth:`RweqParameters.record`.

Known pitfalls of public RWEQ code (methodology §8), each guarded here: S uses **150.71**
(not 105.71) and is computed from the factor product (not from Q_max); SL keeps the 2z/S²
term; FVC is in percent (fractions are refused); only winds above the threshold count.

Examples
--------
>>> import numpy as np
>>> p = RweqParameters()
>>> prod = np.array([0.0, 10.0])
>>> q_max(prod, p).tolist()
[0.0, 1098.0]
>>> soil_loss(prod, p).round(4).tolist()
[0.0, 14.5377]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from geoeco.catalog.classes import Provenance, Tag, lookup
from geoeco.core.arrays import as_float
from geoeco.core.errors import GridMismatch, InvalidInput, UnitsError
from geoeco.erosion.grades import wind_erosion_grade

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

#: 1 kg/m² = 10⁶ kg/km² = 1000 t/km² [I, unit arithmetic].
KG_M2_TO_T_KM2 = 1000.0

_FRYREAR = "Fryrear et al. 1998 RWEQ bulletin, as quoted in methodology §8"
_CN = "彭建 et al. 2017, 刘菁华 et al. 2018 (methodology §3.2)"


def _param(default: T, tag: Tag, source: str) -> T:
    """A dataclass field carrying its tag (V/R/I) and source for provenance."""
    return field(default=default, metadata={"tag": tag, "source": source})


@dataclass(frozen=True)
class RweqParameters:
    """Every RWEQ constant, with its tag and source; override any [R] one by keyword.

    >>> p = RweqParameters(downwind_distance_m=100.0)
    >>> p.downwind_distance_m, "qmax_coefficient" in p.unverified()
    (100.0, False)
    >>> RweqParameters(air_density_form="ideal")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: air_density_form must be 'fryrear' or 'standard', got 'ideal'
    """

    threshold_wind_ms: float = _param(5.0, "R", f"U_t at 2 m, {_FRYREAR}")
    wind_power_exponent: float = _param(1 / 7, "R", "U₂ = U₁₀·(2/10)^(1/7), methodology §8")
    wind_reference_height_m: float = _param(10.0, "I", "height of station/reanalysis wind")
    gravity_ms2: float = _param(9.81, "I", "standard gravity (methodology §8: g = 9.81)")
    air_density_form: Literal["fryrear", "standard"] = _param(
        "fryrear", "R", "fryrear: 348(1.013−0.1183EL+0.0048EL²)/T; standard: 1.293·273/T·P/101.3"
    )
    fryrear_density: tuple[float, float, float, float] = _param(
        (348.0, 1.013, -0.1183, 0.0048), "R", f"ρ coefficients, {_FRYREAR}"
    )
    standard_density_kg_m3: float = _param(1.293, "R", "dry air at 273 K, 101.3 kPa (§8)")
    snow_depth_threshold_mm: float = _param(25.4, "R", f"SD = 1 − P(depth > 25.4 mm), {_FRYREAR}")
    rain_day_threshold_mm: float = _param(0.1, "R", "a rain day has ≥ 0.1 mm (CMA practice)")
    rain_day_fraction: float = _param(
        1.0, "R", "R_d/N_d when rain days are not given: 1 = rain on every day (wettest soil)"
    )
    irrigation_mm: float = _param(0.0, "R", "I when no irrigation layer is given (dryland)")
    snow_factor: float = _param(1.0, "R", "SD when no snow layer is given (no snow cover)")
    calcium_carbonate_percent: float = _param(
        0.0, "R", "CaCO₃ when no layer is given (0 = most erodible; pass HWSD T_CACO3)"
    )
    ef_coefficients: tuple[float, float, float, float, float, float] = _param(
        (29.09, 0.31, 0.17, 0.33, 2.59, 0.95),
        "R",
        f"EF = (a+b·Sa+c·Si+d·Sa/Cl−e·OM−f·CaCO₃)/100, {_CN}",
    )
    scf_coefficients: tuple[float, float] = _param(
        (0.0066, 0.021), "R", f"SCF = 1/(1 + a·Cl² + b·OM²), {_CN}"
    )
    organic_matter_per_carbon: float = _param(1.724, "R", "van Bemmelen factor OM = 1.724·OC")
    smith_carson_coefficient: float = _param(0.2, "R", "K_r = 0.2·ΔH²/L (Smith–Carson, §8)")
    roughness_coefficients: tuple[float, float, float, float] = _param(
        (1.86, 2.41, 0.934, 0.127), "R", f"K′ = exp(a·K_r − b·K_r^c − d·C_rr), {_FRYREAR}"
    )
    random_roughness_cm: float = _param(0.0, "R", "C_rr = 0 in Chinese studies (§8)")
    cog_flat: float = _param(0.0438, "R", "SLR_f = exp(−0.0438·SC), SC flat cover in %")
    cog_standing: tuple[float, float] = _param(
        (0.0344, 0.6413), "R", "SLR_s = exp(−0.0344·SA^0.6413)"
    )
    cog_canopy: tuple[float, float] = _param(
        (5.614, 0.7366), "R", "SLR_c = exp(−5.614·cc^0.7366), cc canopy fraction"
    )
    cog_exponents: tuple[tuple[str, float], ...] = _param(
        (
            ("woodland", -0.1535),
            ("grassland", -0.1151),
            ("shrubland", -0.0921),
            ("bare", -0.0768),
            ("sandy", -0.0658),
            ("cropland", -0.0438),
        ),
        "R",
        "COG = exp(a·FVC%) per land cover, pyrweq vegetation.py (methodology §8)",
    )
    qmax_coefficient: float = _param(109.8, "V", f"Q_max = 109.8·(WF·EF·SCF·K′·COG), {_CN}")
    s_coefficient: float = _param(150.71, "V", f"S = 150.71·(WF·EF·SCF·K′·COG)^−0.3711, {_CN}")
    s_exponent: float = _param(-0.3711, "V", f"exponent of S, {_CN}")
    downwind_distance_m: float = _param(50.0, "R", "z = 50 m in most Chinese studies (§8)")

    def __post_init__(self) -> None:
        if self.air_density_form not in ("fryrear", "standard"):
            raise InvalidInput(
                f"air_density_form must be 'fryrear' or 'standard', got {self.air_density_form!r}"
            )
        positive = ("threshold_wind_ms", "gravity_ms2", "downwind_distance_m", "s_coefficient")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InvalidInput(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.rain_day_fraction <= 1 or not 0 <= self.snow_factor <= 1:
            raise InvalidInput("rain_day_fraction must be in (0, 1] and snow_factor in [0, 1]")

    def exponent(self, landcover: str) -> float:
        """The COG exponent a of one land-cover name (see ``cog_exponents``)."""
        table = dict(self.cog_exponents)
        if landcover not in table:
            raise InvalidInput(f"no COG exponent for {landcover!r}; known: {sorted(table)}")
        return table[landcover]

    def unverified(self) -> list[str]:
        """Names of the parameters tagged R (from the literature, not checked at the source)."""
        return [f.name for f in fields(self) if f.metadata["tag"] == "R"]

    def record(self, used: Provenance | None) -> None:
        """Add every parameter, with its tag and source, to ``used`` as ``rweq.<name>``."""
        if used is None:
            return
        for f in fields(self):
            tag: Tag = f.metadata["tag"]
            used.add_param(
                f"rweq.{f.name}", getattr(self, f.name), tag=tag, source=f.metadata["source"]
            )


DEFAULT = RweqParameters()

#: Land-cover codes of geoeco's demo region (``geoeco.catalog.demo_region.LANDCOVER_CLASSES``)
#: → the COG land-cover name; ``None`` = not eroded by wind (water, built-up: nodata).
DEMO_LANDCOVER_COG: Mapping[int, str | None] = {
    1: "cropland",
    2: "woodland",
    3: "grassland",
    4: None,
    5: None,
    6: "sandy",
    7: "bare",
}


# ------------------------------------------------------------------------------------------
# weather factor
# ------------------------------------------------------------------------------------------


def wind_at_2m(wind: npt.ArrayLike, params: RweqParameters = DEFAULT) -> FloatArray:
    """Wind speed at 2 m from the reference height (10 m) by the power law U₂ = U·(2/10)^(1/7).

    >>> wind_at_2m(np.array([10.0, np.nan])).round(4).tolist()
    [7.946, nan]
    """
    u = as_float(wind, np.float64)
    if np.any(u < 0):
        raise UnitsError("wind speed must be >= 0 m/s")
    ratio = 2.0 / params.wind_reference_height_m
    return np.asarray(u * ratio**params.wind_power_exponent, dtype=np.float64)


def wind_term(u2: npt.ArrayLike, params: RweqParameters = DEFAULT) -> FloatArray:
    """U₂·(U₂ − U_t)² for winds above the threshold U_t, 0 below it (m³/s³).

    Only winds stronger than the threshold move soil: squaring (U₂ − U_t) without this cut
    would count calm days as erosive.

    >>> wind_term(np.array([4.0, 5.0, 7.0])).tolist()
    [0.0, 0.0, 28.0]
    """
    u = as_float(u2, np.float64)
    excess = np.maximum(u - params.threshold_wind_ms, 0.0)  # NaN propagates
    return np.asarray(u * excess * excess, dtype=np.float64)


def air_density(
    temperature_c: npt.ArrayLike,
    *,
    elevation_km: npt.ArrayLike | None = None,
    pressure_kpa: npt.ArrayLike | None = None,
    params: RweqParameters = DEFAULT,
) -> FloatArray:
    """Air density ρ (kg/m³) by the form chosen in ``params.air_density_form``.

    * ``fryrear``: ρ = 348·(1.013 − 0.1183·EL + 0.0048·EL²)/T, EL elevation in **km**,
      T in K (needs ``elevation_km``) [R];
    * ``standard``: ρ = 1.293·273/(273 + t)·P/101.3, t in °C, P in **kPa** (needs
      ``pressure_kpa``) [R].

    >>> round(float(air_density(15.0, elevation_km=0.0)), 4)
    1.2234
    >>> p = RweqParameters(air_density_form="standard")
    >>> round(float(air_density(0.0, pressure_kpa=101.3, params=p)), 4)
    1.293
    """
    t = as_float(temperature_c, np.float64)
    if np.any(t < -100) or np.any(t > 70):
        raise UnitsError("air temperature must be in °C (found values outside -100..70)")
    if params.air_density_form == "fryrear":
        if elevation_km is None:
            raise InvalidInput("the fryrear air-density form needs elevation_km")
        el = as_float(elevation_km, np.float64)
        if np.any(np.abs(el) > 9.0):
            raise UnitsError("elevation must be in km (found |values| > 9: metres?)")
        c, a0, a1, a2 = params.fryrear_density
        return np.asarray(c * (a0 + a1 * el + a2 * el * el) / (t + 273.15), dtype=np.float64)
    if pressure_kpa is None:
        raise InvalidInput("the standard air-density form needs pressure_kpa")
    pr = as_float(pressure_kpa, np.float64)
    if np.any(pr > 120) or np.any(pr < 20):
        raise UnitsError("surface pressure must be in kPa (20..120; hPa divided by 10)")
    rho0 = params.standard_density_kg_m3
    return np.asarray(rho0 * 273.0 / (273.0 + t) * pr / 101.3, dtype=np.float64)


def soil_wetness(
    etp_mm: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    rain_days: npt.ArrayLike,
    days: npt.ArrayLike,
    *,
    irrigation_mm: npt.ArrayLike = 0.0,
) -> FloatArray:
    """SW = [ET_p − (R + I)·(R_d/N_d)]/ET_p, clipped to 0..1 [R].

    ET_p potential evapotranspiration, R rain and I irrigation of the period (mm), R_d rain
    (or irrigation) days, N_d days of the period. A period with ET_p ≤ 0 gets SW = 0 (the
    soil does not dry) [I].

    >>> soil_wetness(np.array([100.0, 100.0, 0.0]), 40.0, 15.0, 30.0).tolist()
    [0.8, 0.8, 0.0]
    """
    etp, rain, rd, nd, irr = (
        as_float(a, np.float64) for a in (etp_mm, rain_mm, rain_days, days, irrigation_mm)
    )
    if np.any(rain < 0) or np.any(irr < 0) or np.any(etp < 0):
        raise UnitsError("rain, irrigation and ET_p must be >= 0 mm")
    if np.any(rd > nd) or np.any(rd < 0):
        raise InvalidInput("rain days must be between 0 and the days of the period")
    with np.errstate(divide="ignore", invalid="ignore"):
        sw = (etp - (rain + irr) * (rd / nd)) / etp
    sw = np.where(etp > 0, np.clip(sw, 0.0, 1.0), np.where(np.isnan(etp), np.nan, 0.0))
    return np.asarray(sw, dtype=np.float64)


def snow_factor(
    snow_depth_mm: npt.ArrayLike, params: RweqParameters = DEFAULT, *, axis: int = 0
) -> FloatArray:
    """SD = 1 − P(snow depth > 25.4 mm), P the share of the days along ``axis`` [R].

    >>> snow_factor(np.array([0.0, 30.0, 10.0, 26.0])).tolist()
    0.5
    """
    d = as_float(snow_depth_mm, np.float64)
    if np.any(d < 0):
        raise UnitsError("snow depth must be >= 0 mm")
    deep = np.where(np.isnan(d), np.nan, d > params.snow_depth_threshold_mm)
    return np.asarray(1.0 - deep.mean(axis=axis), dtype=np.float64)


def weather_factor(
    wind_sum: npt.ArrayLike,
    rho: npt.ArrayLike,
    sw: npt.ArrayLike,
    sd: npt.ArrayLike,
    params: RweqParameters = DEFAULT,
) -> FloatArray:
    """WF = Σ U₂(U₂ − U_t)²·N_d/N · (ρ/g) · SW · SD (kg/m) from its pieces.

    ``wind_sum`` is Σ U₂(U₂ − U_t)²·N_d/N over the period (see :func:`wind_term`); with one
    mean wind per month it is U₂(U₂ − U_t)²·N_d.

    >>> round(float(weather_factor(28.0 * 30, 1.2, 0.8, 1.0)), 4)
    82.2018
    """
    arrs = [as_float(a, np.float64) for a in (wind_sum, rho, sw, sd)]
    return np.asarray(arrs[0] * arrs[1] / params.gravity_ms2 * arrs[2] * arrs[3], dtype=np.float64)


def _period_days(days: npt.ArrayLike, ndim: int) -> FloatArray:
    """Days of each period as an array shaped (periods, 1, 1, …) to broadcast over pixels."""
    nd = as_float(days, np.float64).reshape(-1)
    if np.any(nd <= 0) or np.any(nd > 366):
        raise InvalidInput("days per period must be in 1..366")
    return nd.reshape(nd.shape + (1,) * (ndim - 1))


def _record_inputs(used: Provenance | None, params: RweqParameters, **given: bool) -> None:
    """Record the parameters and, per optional input, whether a layer or the default was used."""
    if used is None:
        return
    params.record(used)
    for name, was_given in given.items():
        src = "user layer" if was_given else f"default RweqParameters.{name}"
        used.add_param(
            f"rweq.input.{name}",
            "given" if was_given else "default",
            tag="V" if was_given else "R",
            source=src,
        )


def weather_factor_monthly(
    wind_ms: npt.ArrayLike,
    temperature_c: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    etp_mm: npt.ArrayLike,
    days: npt.ArrayLike,
    *,
    elevation_km: npt.ArrayLike | None = None,
    pressure_kpa: npt.ArrayLike | None = None,
    rain_days: npt.ArrayLike | None = None,
    snow: npt.ArrayLike | None = None,
    irrigation_mm: npt.ArrayLike | None = None,
    wind_is_2m: bool = False,
    params: RweqParameters = DEFAULT,
    used: Provenance | None = None,
) -> FloatArray:
    """WF (kg/m) per period from period means: one mean wind per period (N = 1 observation).

    WF = U₂(U₂ − U_t)²·N_d · (ρ/g) · SW · SD, every input shaped (periods, …) with the period
    (usually the 12 months of one year) on axis 0. A mean wind below U_t gives WF = 0 even if
    some days were stormy, so this form **underestimates** WF (the mean of U(U−U_t)² exceeds its
    value at the mean wind) [I]: prefer :func:`weather_factor_daily` where daily wind exists.

    Parameters
    ----------
    wind_ms : mean wind speed (m/s) at 10 m (at 2 m with ``wind_is_2m=True``)
    temperature_c : mean air temperature (°C), for ρ
    rain_mm, etp_mm : rain and potential evapotranspiration totals of each period (mm)
    days : number of days N_d of each period, shape (periods,)
    elevation_km, pressure_kpa : for the ``fryrear`` or ``standard`` air density (see
        :func:`air_density`)
    rain_days : rain days R_d per period; default ``params.rain_day_fraction``·N_d [R]
    snow : snow factor SD (0..1) per period; default ``params.snow_factor`` [R]
    irrigation_mm : irrigation I per period; default ``params.irrigation_mm`` [R]

    >>> wf = weather_factor_monthly(
    ...     np.array([7.0]), np.array([15.0]), np.array([40.0]), np.array([100.0]), [30],
    ...     elevation_km=0.0, rain_days=np.array([15.0]), wind_is_2m=True)
    >>> round(float(wf[0]), 4)   # 28·30 · 1.2234/9.81 · 0.8 · 1
    83.8051
    """
    u = as_float(wind_ms, np.float64)
    nd = _period_days(days, max(u.ndim, 1))
    u2 = u if wind_is_2m else wind_at_2m(u, params)
    wsum = wind_term(u2, params) * nd
    rho = air_density(
        temperature_c, elevation_km=elevation_km, pressure_kpa=pressure_kpa, params=params
    )
    rd = nd * params.rain_day_fraction if rain_days is None else rain_days
    irr = params.irrigation_mm if irrigation_mm is None else irrigation_mm
    sw = soil_wetness(etp_mm, rain_mm, rd, nd, irrigation_mm=irr)
    sd = params.snow_factor if snow is None else as_float(snow, np.float64)
    if np.any(np.asarray(sd) < 0) or np.any(np.asarray(sd) > 1):
        raise InvalidInput("the snow factor SD must be in 0..1")
    _record_inputs(
        used,
        params,
        rain_day_fraction=rain_days is not None,
        snow_factor=snow is not None,
        irrigation_mm=irrigation_mm is not None,
    )
    return weather_factor(wsum, rho, sw, sd, params)


def _month_blocks(
    dates: npt.ArrayLike, n: int
) -> tuple[npt.NDArray[np.datetime64], list[slice], FloatArray]:
    """Calendar months of a daily series: the months, one slice per month, their days N_d."""
    d = np.asarray(dates, dtype="datetime64[D]")
    if d.shape != (n,):
        raise InvalidInput(f"need one date per day: {n} days, got {d.shape} dates")
    if np.any(np.diff(d.astype(np.int64)) <= 0):
        raise InvalidInput("dates must be strictly increasing")
    months = d.astype("datetime64[M]")
    uniq, starts, counts = np.unique(months, return_index=True, return_counts=True)
    blocks = [slice(int(s), int(s + c)) for s, c in zip(starts, counts, strict=True)]
    nd = ((uniq + 1).astype("datetime64[D]") - uniq.astype("datetime64[D]")).astype(np.float64)
    return uniq, blocks, nd


def _block_mean(values: npt.ArrayLike | None, block: slice, ndim: int) -> FloatArray | None:
    """Mean over a block of days of a daily array, or the static array itself."""
    if values is None:
        return None
    v = as_float(values, np.float64)
    return np.asarray(v[block].mean(axis=0), dtype=np.float64) if v.ndim == ndim else v


def weather_factor_daily(
    wind_ms: npt.ArrayLike,
    temperature_c: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    etp_mm: npt.ArrayLike,
    dates: npt.ArrayLike,
    *,
    elevation_km: npt.ArrayLike | None = None,
    pressure_kpa: npt.ArrayLike | None = None,
    snow_depth_mm: npt.ArrayLike | None = None,
    irrigation_mm: npt.ArrayLike | None = None,
    wind_is_2m: bool = False,
    params: RweqParameters = DEFAULT,
    used: Provenance | None = None,
) -> tuple[FloatArray, npt.NDArray[np.datetime64]]:
    """WF (kg/m) per calendar month from daily series shaped (days, …); returns (WF, months).

    Per month: Σ_days U₂(U₂ − U_t)²·N_d/N (N days present, N_d days of the month) · ρ/g · SW
    · SD, with ρ from the month's mean temperature (and pressure), SW from the month's rain and
    ET_p totals and R_d = days with rain ≥ ``params.rain_day_threshold_mm``, and SD = 1 − the
    share of days with snow deeper than 25.4 mm (``params.snow_factor`` without a snow series).
    ``elevation_km`` has no time axis; ``pressure_kpa`` may be daily or static. A NaN on any day
    makes that pixel's month NaN.

    >>> days = np.arange("2001-01-01", "2001-03-01", dtype="datetime64[D]")
    >>> wf, months = weather_factor_daily(np.full(59, 7.0), np.full(59, 15.0), np.full(59, 1.0),
    ...     np.full(59, 5.0), days, elevation_km=0.0, wind_is_2m=True)
    >>> months.astype(str).tolist(), wf.round(3).tolist()   # January: 28·31·ρ/g·0.8
    (['2001-01', '2001-02'], [86.599, 78.218])
    """
    u = as_float(wind_ms, np.float64)
    months, blocks, ndays = _month_blocks(dates, u.shape[0])
    u2 = u if wind_is_2m else wind_at_2m(u, params)
    rain, etp = as_float(rain_mm, np.float64), as_float(etp_mm, np.float64)
    if rain.shape != u.shape or etp.shape != u.shape:
        raise GridMismatch("daily wind, rain and ET_p must have the same shape (days, …)")
    out = np.empty((len(blocks), *u.shape[1:]), dtype=np.float64)
    for i, (blk, nd) in enumerate(zip(blocks, ndays, strict=True)):
        wsum = wind_term(u2[blk], params).sum(axis=0) * nd / (blk.stop - blk.start)
        temp = _block_mean(temperature_c, blk, u.ndim)
        assert temp is not None  # temperature is a required input
        rho = air_density(
            temp,
            elevation_km=elevation_km,
            pressure_kpa=_block_mean(pressure_kpa, blk, u.ndim),
            params=params,
        )
        with np.errstate(invalid="ignore"):
            rd = (rain[blk] >= params.rain_day_threshold_mm).sum(axis=0)
        irr = params.irrigation_mm if irrigation_mm is None else irrigation_mm
        sw = soil_wetness(etp[blk].sum(axis=0), rain[blk].sum(axis=0), rd, nd, irrigation_mm=irr)
        snow = as_float(snow_depth_mm, np.float64)[blk] if snow_depth_mm is not None else None
        sd = params.snow_factor if snow is None else snow_factor(snow, params)
        out[i] = weather_factor(wsum, rho, sw, sd, params)
    _record_inputs(
        used, params, snow_factor=snow_depth_mm is not None, irrigation_mm=irrigation_mm is not None
    )
    return out, months


# ------------------------------------------------------------------------------------------
# soil: erodible fraction, crust, roughness
# ------------------------------------------------------------------------------------------


def _percent(values: npt.ArrayLike, what: str, *, allow_fraction_like: bool = False) -> FloatArray:
    """Float array of a percentage; refuses values outside 0–100 and, unless allowed, an array
    whose values all lie in 0–1 (a fraction given where percent is expected)."""
    a = as_float(values, np.float64)
    finite = a[np.isfinite(a)]
    if finite.size and (finite.min() < 0 or finite.max() > 100.0001):
        raise UnitsError(
            f"{what} must be in percent 0-100, found {finite.min():g}..{finite.max():g}"
        )
    if not allow_fraction_like and finite.size and 0 < finite.max() <= 1.0:
        raise UnitsError(
            f"{what} looks like a fraction (max {finite.max():g} <= 1); give percent 0-100 "
            "(multiply by 100)"
        )
    return a


def organic_matter_from_carbon(
    organic_carbon_percent: npt.ArrayLike, params: RweqParameters = DEFAULT
) -> FloatArray:
    """Organic matter OM (%) = 1.724 · organic carbon (%) (van Bemmelen) [R].

    EF and SCF need organic **matter**; soil maps (SoilGrids, HWSD) give organic carbon.

    >>> round(float(organic_matter_from_carbon(1.0)), 3)
    1.724
    """
    oc = _percent(organic_carbon_percent, "organic carbon", allow_fraction_like=True)
    return np.asarray(oc * params.organic_matter_per_carbon, dtype=np.float64)


def erodible_fraction(
    sand: npt.ArrayLike,
    silt: npt.ArrayLike,
    clay: npt.ArrayLike,
    organic_matter: npt.ArrayLike,
    calcium_carbonate: npt.ArrayLike | None = None,
    *,
    sum_tolerance: float = 5.0,
    params: RweqParameters = DEFAULT,
    used: Provenance | None = None,
    units_checked: bool = False,
) -> FloatArray:
    """EF = (29.09 + 0.31·Sa + 0.17·Si + 0.33·Sa/Cl − 2.59·OM − 0.95·CaCO₃)/100 [R], in 0..1.

    Inputs in percent; CaCO₃ defaults to ``params.calcium_carbonate_percent`` [R]. Clay-free
    sand (Cl = 0) makes Sa/Cl infinite and EF = 1 (fully erodible); the result is clipped to
    0..1 [I].

    Raises :class:`~geoeco.core.errors.UnitsError` for fractions, values outside 0–100, or
    sand + silt + clay off 100 by more than ``sum_tolerance``. ``units_checked=True`` skips the
    fraction test (a windowed run checks each whole raster once: one window of clay-poor sand
    may hold only values ≤ 1 %).

    >>> round(float(erodible_fraction(80.0, 15.0, 5.0, 1.0, 2.0)), 5)
    0.5723
    """
    sa, si, cl = (
        _percent(v, n, allow_fraction_like=units_checked)
        for v, n in ((sand, "sand"), (silt, "silt"), (clay, "clay"))
    )
    om = _percent(organic_matter, "organic matter", allow_fraction_like=True)
    given = calcium_carbonate is not None
    caco3 = params.calcium_carbonate_percent if calcium_carbonate is None else calcium_carbonate
    ca = _percent(caco3, "CaCO3", allow_fraction_like=True)
    with np.errstate(invalid="ignore"):
        if np.any(np.abs(sa + si + cl - 100) > sum_tolerance):
            raise UnitsError(f"sand + silt + clay must sum to 100 % (± {sum_tolerance})")
    a, b, c, d, e, f = params.ef_coefficients
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sa / cl
        ef = (a + b * sa + c * si + d * ratio - e * om - f * ca) / 100.0
    _record_inputs(used, params, calcium_carbonate_percent=given)
    return np.asarray(np.clip(ef, 0.0, 1.0), dtype=np.float64)


def soil_crust_factor(
    clay: npt.ArrayLike,
    organic_matter: npt.ArrayLike,
    params: RweqParameters = DEFAULT,
    *,
    units_checked: bool = False,
) -> FloatArray:
    """SCF = 1/(1 + 0.0066·Cl² + 0.021·OM²), clay and organic matter in percent [R].

    >>> round(float(soil_crust_factor(5.0, 1.0)), 5)
    0.84317
    """
    cl = _percent(clay, "clay", allow_fraction_like=units_checked)
    om = _percent(organic_matter, "organic matter", allow_fraction_like=True)
    a, b = params.scf_coefficients
    return np.asarray(1.0 / (1.0 + a * cl * cl + b * om * om), dtype=np.float64)


def smith_carson_kr(
    delta_h: npt.ArrayLike, length: npt.ArrayLike, params: RweqParameters = DEFAULT
) -> FloatArray:
    """Terrain roughness K_r = 0.2·ΔH²/L (Smith–Carson) [R].

    ΔH is the elevation difference over the distance L (same length unit for both); K_r is
    used in K′ as Fryrear's ridge roughness, i.e. in **cm** [R].

    >>> float(smith_carson_kr(10.0, 100.0))
    0.2
    """
    dh, ln = as_float(delta_h, np.float64), as_float(length, np.float64)
    if np.any(ln <= 0):
        raise InvalidInput("the distance L must be > 0")
    return np.asarray(params.smith_carson_coefficient * dh * dh / ln, dtype=np.float64)


def roughness_factor(
    kr: npt.ArrayLike, crr: npt.ArrayLike | None = None, params: RweqParameters = DEFAULT
) -> FloatArray:
    """K′ = exp(1.86·K_r − 2.41·K_r^0.934 − 0.127·C_rr), capped at 1 [R; cap I].

    C_rr (random roughness, cm) defaults to ``params.random_roughness_cm`` = 0. The fitted form
    falls to its minimum K′ ≈ 0.094 at K_r ≈ 18 and rises again, passing 1 at K_r ≈ 50.7
    (roughness would then *add* erosion): K′ is capped at 1 there [I].

    >>> roughness_factor(np.array([0.0, 1.0, 100.0])).round(4).tolist()
    [1.0, 0.5769, 1.0]
    """
    k = as_float(kr, np.float64)
    if np.any(k < 0):
        raise InvalidInput("roughness K_r must be >= 0")
    c = as_float(params.random_roughness_cm if crr is None else crr, np.float64)
    a, b, e, d = params.roughness_coefficients
    return np.asarray(np.minimum(np.exp(a * k - b * k**e - d * c), 1.0), dtype=np.float64)


# ------------------------------------------------------------------------------------------
# vegetation
# ------------------------------------------------------------------------------------------


def vegetation_factor_full(
    flat_cover_percent: npt.ArrayLike,
    standing_silhouette: npt.ArrayLike,
    canopy_fraction: npt.ArrayLike,
    params: RweqParameters = DEFAULT,
) -> FloatArray:
    """COG = SLR_f · SLR_s · SLR_c, the full Fryrear form [R].

    SLR_f = exp(−0.0438·SC) with SC the flat residue cover in **percent**;
    SLR_s = exp(−0.0344·SA^0.6413) with SA the standing silhouette as defined by Fryrear et al.
    (1998; its unit is not checked here [R]); SLR_c = exp(−5.614·cc^0.7366) with cc the canopy
    cover as a **fraction** 0–1. A fraction given for SC, or a percentage for cc, is refused.

    >>> round(float(vegetation_factor_full(20.0, 0.0, 0.1)), 5)
    0.14873
    """
    sc = _percent(flat_cover_percent, "flat residue cover SC")
    sa = as_float(standing_silhouette, np.float64)
    cc = as_float(canopy_fraction, np.float64)
    if np.any(sa < 0):
        raise InvalidInput("standing silhouette SA must be >= 0")
    if np.any(cc < 0) or np.any(cc > 1):
        raise UnitsError("canopy cover cc must be a fraction 0-1 (not percent)")
    (bs, es), (bc, ec) = params.cog_standing, params.cog_canopy
    slr = -params.cog_flat * sc - bs * sa**es - bc * cc**ec
    return np.asarray(np.exp(slr), dtype=np.float64)


def vegetation_factor_landcover(
    fvc_percent: npt.ArrayLike,
    landcover: npt.ArrayLike,
    classes: Mapping[int, str | None] = DEMO_LANDCOVER_COG,
    params: RweqParameters = DEFAULT,
    used: Provenance | None = None,
    *,
    units_checked: bool = False,
) -> FloatArray:
    """COG = exp(a·FVC) per land cover, FVC in **percent** (the form used in China) [R].

    ``classes`` maps each land-cover code to a name of ``params.cog_exponents`` (woodland
    −0.1535, grassland −0.1151, shrubland −0.0921, bare −0.0768, sandy −0.0658, cropland
    −0.0438) or to ``None`` for land not eroded by wind (NaN, nodata). Code 0 and masked
    cells are nodata; unknown codes raise.

    Raises :class:`~geoeco.core.errors.UnitsError` when FVC looks like a fraction (all values
    ≤ 1): with 0–1 the exponent would give COG ≈ 1 everywhere (the vegetation effect vanishes).
    ``units_checked=True`` skips that test (a windowed run checks the whole raster once).

    >>> cog = vegetation_factor_landcover(np.array([10.0, 10.0, 50.0]), np.array([3, 6, 4]))
    >>> cog.round(4).tolist()   # grassland exp(-1.151), sandy exp(-0.658), water
    [0.3163, 0.5179, nan]
    """
    fvc = _percent(fvc_percent, "FVC", allow_fraction_like=units_checked)
    table = {int(k): (np.nan if v is None else params.exponent(v)) for k, v in classes.items()}
    codes = np.ma.masked_equal(np.asarray(landcover), 0)
    a = lookup(codes, table, what="land-cover code")
    if a.shape != fvc.shape and fvc.ndim and a.ndim:
        raise GridMismatch(f"FVC {fvc.shape} and land cover {a.shape} differ")
    if used is not None:
        params.record(used)
        used.add_param(
            "rweq.cog_landcover_classes", {str(k): v for k, v in classes.items()}, tag="R"
        )
    return np.asarray(np.exp(a * fvc), dtype=np.float64)


# ------------------------------------------------------------------------------------------
# transport, soil loss, erosion and sand fixation
# ------------------------------------------------------------------------------------------


def factor_product(*factors: npt.ArrayLike) -> FloatArray:
    """The product WF·EF·SCF·K′(·COG) of arrays on one grid (or broadcastable), NaN = nodata.

    >>> factor_product(np.array([10.0, np.nan]), 0.5, 0.8, 1.0).tolist()
    [4.0, nan]
    """
    arrs = [as_float(f, np.float64) for f in factors]
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrs))
    except ValueError:
        raise GridMismatch(f"RWEQ factors do not share a grid: {[a.shape for a in arrs]}") from None
    out = np.ones(shape, dtype=np.float64)
    for a in arrs:
        out *= a
    if np.any(out < 0):
        raise InvalidInput("RWEQ factors must be >= 0")
    return out


def q_max(product: npt.ArrayLike, params: RweqParameters = DEFAULT) -> FloatArray:
    """Maximum transport capacity Q_max = 109.8·(WF·EF·SCF·K′·COG) in kg/m [V].

    >>> float(q_max(2.0))
    219.6
    """
    return np.asarray(params.qmax_coefficient * as_float(product, np.float64), dtype=np.float64)


def critical_length(product: npt.ArrayLike, params: RweqParameters = DEFAULT) -> FloatArray:
    """Critical field length S = 150.71·(WF·EF·SCF·K′·COG)^−0.3711 in m [V].

    S comes from the **factor product**, not from Q_max (a pitfall of public code); a zero
    product gives S = ∞ (nothing moves).

    >>> critical_length(np.array([1.0, 0.0])).tolist()
    [150.71, inf]
    """
    p = as_float(product, np.float64)
    with np.errstate(divide="ignore"):
        return np.asarray(params.s_coefficient * p**params.s_exponent, dtype=np.float64)


def soil_loss(
    product: npt.ArrayLike, params: RweqParameters = DEFAULT, *, z: float | None = None
) -> FloatArray:
    """Soil loss SL = (2z/S²)·Q_max·exp[−(z/S)²] at the downwind distance z, in kg/m² [V].

    z defaults to ``params.downwind_distance_m`` (50 m) [R]. A zero product gives SL = 0.

    >>> round(float(soil_loss(1.0)), 6)   # S = 150.71, Q_max = 109.8
    0.433029
    """
    zz = params.downwind_distance_m if z is None else float(z)
    p = as_float(product, np.float64)
    s = critical_length(p, params)
    with np.errstate(invalid="ignore"):
        sl = (2.0 * zz / (s * s)) * q_max(p, params) * np.exp(-((zz / s) ** 2))
    return np.asarray(np.where(p == 0, 0.0, sl), dtype=np.float64)


def peak_product(params: RweqParameters = DEFAULT, *, z: float | None = None) -> float:
    """The factor product at which SL at z is largest; beyond it SL *decreases* [I].

    With S = a·p^e (e < 0), SL ∝ p^(1−2e)·exp(−(z/a)²·p^(−2e)); its maximum is where
    S = z·√(−2e/(1 − 2e)) ≈ 0.653·z, i.e. p* ≈ 61.7 kg/m for z = 50 m. Past p* the transport
    is saturated before z and SL at z falls as erosivity rises, so potential (no cover) can be
    *below* actual erosion there: keep periods short (months), where products stay small.

    >>> round(peak_product(), 2)
    61.73
    """
    zz = params.downwind_distance_m if z is None else float(z)
    e = params.s_exponent
    s_star = zz * np.sqrt(-2.0 * e / (1.0 - 2.0 * e))
    return float((s_star / params.s_coefficient) ** (1.0 / e))


@dataclass(frozen=True)
class WindErosion:
    """Actual and potential wind erosion and sand fixation, t/(km²·a), NaN = nodata.

    ``beyond_peak`` marks pixels where some period's actual factor product exceeds
    :func:`peak_product`; there the potential may fall below the actual loss and sand
    fixation is clipped at 0 (``clipped`` pixels).
    """

    actual: FloatArray
    potential: FloatArray
    sand_fixation: FloatArray
    beyond_peak: npt.NDArray[np.bool_]
    clipped: npt.NDArray[np.bool_]

    def grade(self, used: Provenance | None = None) -> npt.NDArray[np.uint8]:
        """SL 190-2007 wind-erosion grade (1 微度 … 6 剧烈, 0 nodata) of the actual modulus."""
        return np.asarray(wind_erosion_grade(self.actual, "modulus", used=used), dtype=np.uint8)


def wind_erosion(
    wf: npt.ArrayLike,
    ef: npt.ArrayLike,
    scf: npt.ArrayLike,
    kprime: npt.ArrayLike,
    cog: npt.ArrayLike,
    *,
    periods: bool = False,
    params: RweqParameters = DEFAULT,
    used: Provenance | None = None,
) -> WindErosion:
    """Actual (with COG) and potential (COG = 1) wind erosion and sand fixation in t/(km²·a).

    SL (kg/m²) is computed per period and, with ``periods=True``, summed over axis 0 (the
    periods of one year, e.g. 12 monthly WF; COG may also vary by month); the sum is converted
    by ×1000 to t/(km²·a). Sand fixation = potential − actual [V], clipped at 0 where the
    product passes :func:`peak_product` (see :class:`WindErosion`).

    >>> r = wind_erosion(np.array([10.0, 10.0]), 0.5, 0.8, 1.0, np.array([1.0, 0.5]))
    >>> r.actual.round(1).tolist(), r.sand_fixation.round(1).tolist()
    ([3976.3, 1345.3], [0.0, 2631.0])
    """
    base = factor_product(wf, ef, scf, kprime)
    actual_p = factor_product(base, cog)
    potential_p = np.broadcast_to(base, actual_p.shape)
    sl_actual, sl_potential = soil_loss(actual_p, params), soil_loss(potential_p, params)
    beyond = np.asarray(actual_p > peak_product(params))
    if periods:
        if actual_p.ndim == 0:
            raise InvalidInput("periods=True needs a leading period axis")
        sl_actual, sl_potential = sl_actual.sum(axis=0), sl_potential.sum(axis=0)
        beyond = np.asarray(beyond.any(axis=0))
    actual, potential = sl_actual * KG_M2_TO_T_KM2, sl_potential * KG_M2_TO_T_KM2
    diff = potential - actual
    with np.errstate(invalid="ignore"):
        clipped = diff < 0
    fixation = np.where(clipped, 0.0, diff)
    if used is not None:
        params.record(used)
        used.add_param("rweq.periods_summed", bool(periods), tag="V")
        used.add_param("rweq.pixels_beyond_peak", int(beyond.sum()), tag="I")
        used.add_param("rweq.pixels_fixation_clipped", int(clipped.sum()), tag="I")
    return WindErosion(actual, potential, fixation, np.asarray(beyond), np.asarray(clipped))


__all__ = [
    "DEFAULT",
    "DEMO_LANDCOVER_COG",
    "KG_M2_TO_T_KM2",
    "RweqParameters",
    "WindErosion",
    "air_density",
    "critical_length",
    "erodible_fraction",
    "factor_product",
    "organic_matter_from_carbon",
    "peak_product",
    "q_max",
    "roughness_factor",
    "smith_carson_kr",
    "snow_factor",
    "soil_crust_factor",
    "soil_loss",
    "soil_wetness",
    "vegetation_factor_full",
    "vegetation_factor_landcover",
    "weather_factor",
    "weather_factor_daily",
    "weather_factor_monthly",
    "wind_at_2m",
    "wind_erosion",
    "wind_term",
]
