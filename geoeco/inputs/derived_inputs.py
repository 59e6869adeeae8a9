"""Inputs of the analyses computed from fetched public rasters by published rules.

Each function takes plain arrays (units in the names) and returns the derived field; the layer
folder's manifest cites the rule (``METHODS``). Tags as in the issue-17 research notes:
[V] seen in the cited source, [I] inferred, [R] from the literature, not re-checked here.

* **Temperature** (°C): monthly mean = (Tmax + Tmin) / 2, TerraClimate's convention for the
  monthly mean (it publishes no mean) [I].
* **2 m wind** (m/s) from TerraClimate's 10 m wind by the FAO-56 logarithmic profile,
  u₂ = u_z · 4.87 / ln(67.8 z − 5.42) (Allen et al. 1998, FAO Irrigation and Drainage Paper
  56, eq. 47) [R]: × 0.748 for z = 10 m.
* **Relative humidity** (fraction 0–1, what the sand-fixation climate factor takes) =
  e_a / e°(T̄) with TerraClimate's vapour pressure e_a (kPa) and the Tetens saturation vapour
  pressure e°(T) = 0.6108 exp(17.27 T / (T + 237.3)) kPa (FAO-56 eq. 11) [R], capped at 1.
* **Aridity**: the modified Selyaninov index the demo and the sanding sensitivity use,
  0.16 · Σ(T̄_m · days_m) / Σ P_m over the months with T̄_m ≥ 10 °C (methodology §2.2) [V in
  ``geoeco.catalog.demo_region``]; no warm month gives 0; the rain sum is floored at 1 mm.
* **Texture class** (1..5 of ``TEXTURE_CLASSES``): the demo's rule on the fine-earth
  fractions, loam (4) by default, sand (5) where sand ≥ 70 %, clay (2) where clay ≥ 30 %
  (clay wins). Bedrock (1) and gravel (3) are not told by SoilGrids' sand/silt/clay, so a real
  folder never has them: the layer is an **approximation**.
* **Infiltration** (saturated conductivity, mm/h) from texture by the Cosby et al. (1984)
  regression log₁₀ K_s[in/h] = −0.60 + 0.0126 · sand% − 0.0064 · clay% (Water Resour. Res.
  20(6):682–690, table 4) [R], × 25.4 mm/in: the demo's base rule, without its land-cover
  multipliers (those are the demo's own assumptions).
* **Land cover** (geoeco codes 1..7) from ESA WorldCover classes by :data:`WORLDCOVER_TO_GEOECO`.

Examples
--------
>>> round(float(wind_2m(np.array(4.0))), 4)   # 4 × 4.87 / ln(672.58) = 4 × 0.74794
2.9918
>>> round(float(saturation_vapour_pressure(np.array(20.0))), 4)   # FAO-56 table 2.3: 2.338
2.3383
>>> round(float(relative_humidity(np.array(1.1692), np.array(20.0))), 3)
0.5
>>> texture_class(np.array([75.0, 30.0, 20.0]), np.array([5.0, 35.0, 20.0])).tolist()
[5, 2, 4]
>>> round(float(infiltration(np.array(40.0), np.array(20.0))), 3)  # 25.4·10^(−0.6+0.504−0.128)
15.165
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence

import numpy as np

#: FAO-56 eq. 47 at 10 m: u₂ / u₁₀ = 4.87 / ln(67.8 · 10 − 5.42).
U2_PER_U10 = 4.87 / math.log(67.8 * 10.0 - 5.42)

#: ESA WorldCover class -> geoeco land-cover code (1 cropland, 2 forest, 3 grassland, 4 water,
#: 5 built, 6 sand, 7 bare). Bare / sparse vegetation (60) becomes sand (6) where the soil's
#: sand fraction is ≥ 70 % (the texture rule's sand class), else bare (7): WorldCover has no
#: sand class. Shrubland and mangroves are 林地 (forest) as GB/T 21010-2017 counts 灌木林地 in
#: forest land [R]; snow and ice and herbaceous wetland go with water, as 冰川及永久积雪 and
#: 沼泽地 sit with 水域 in the national classification [R]; moss and lichen with grassland [I].
WORLDCOVER_TO_GEOECO: dict[int, int] = {
    10: 2,  # tree cover -> forest
    20: 2,  # shrubland -> forest (灌木林地)
    30: 3,  # grassland
    40: 1,  # cropland
    50: 5,  # built-up
    60: 7,  # bare / sparse vegetation -> bare (sand where sand >= 70 %)
    70: 4,  # snow and ice -> water
    80: 4,  # permanent water bodies
    90: 4,  # herbaceous wetland -> water
    95: 2,  # mangroves -> forest
    100: 3,  # moss and lichen -> grassland
}
SAND_THRESHOLD = 70.0
CLAY_THRESHOLD = 30.0

METHODS: dict[str, str] = {
    "temp_monthly": "(tmax + tmin) / 2 of TerraClimate [I]",
    "wind2m_monthly": "TerraClimate ws (10 m) × 4.87 / ln(67.8·10 − 5.42) = × 0.748, FAO-56 "
    "eq. 47 logarithmic wind profile (Allen et al. 1998) [R]",
    "rh_monthly": "vap / e°(T̄), Tetens e°(T) = 0.6108·exp(17.27·T/(T+237.3)) kPa, FAO-56 eq. 11 "
    "(Allen et al. 1998) [R]; fraction 0-1, capped at 1",
    "precip_monthly": "TerraClimate ppt, monthly totals [V]",
    "aridity": "modified Selyaninov 0.16·Σ(T̄·days)/ΣP over months with T̄ ≥ 10 °C "
    "(methodology §2.2; as geoeco.catalog.demo_region) [V]",
    "texture_class": "demo rule: loam 4; sand 5 where sand ≥ 70 %; clay 2 where clay ≥ 30 % "
    "(methodology §2.2 classes); bedrock 1 and gravel 3 not derivable from SoilGrids [I]",
    "infiltration": "saturated conductivity 25.4·10^(−0.60 + 0.0126·sand − 0.0064·clay) mm/h, "
    "Cosby et al. (1984) Water Resour. Res. 20(6):682-690, table 4 [R]",
    "landcover": "ESA WorldCover classes -> geoeco codes by WORLDCOVER_TO_GEOECO "
    "(docs/inputs.md); class 60 -> sand 6 where SoilGrids sand ≥ 70 % [I]",
    "soil_fractions": "SoilGrids sand, silt, clay 0-30 cm, rescaled to sum to 100 % "
    "(independent predictions) [I]",
}


def temperature_mean(tmax: np.ndarray, tmin: np.ndarray) -> np.ndarray:
    """Monthly mean temperature (°C) from the means of daily maxima and minima."""
    return np.asarray((tmax + tmin) / 2.0)


def wind_2m(u10: np.ndarray) -> np.ndarray:
    """Wind speed at 2 m from wind speed at 10 m (m/s), FAO-56 eq. 47."""
    return np.asarray(u10 * U2_PER_U10)


def saturation_vapour_pressure(t_c: np.ndarray) -> np.ndarray:
    """Saturation vapour pressure (kPa) at ``t_c`` °C, Tetens / FAO-56 eq. 11."""
    return np.asarray(0.6108 * np.exp(17.27 * t_c / (t_c + 237.3)))


def relative_humidity(vap_kpa: np.ndarray, t_c: np.ndarray) -> np.ndarray:
    """Relative humidity as a fraction 0–1 from vapour pressure (kPa) and temperature (°C)."""
    return np.asarray(np.minimum(vap_kpa / saturation_vapour_pressure(t_c), 1.0))


def month_days(year: int, months: Sequence[int] = tuple(range(1, 13))) -> np.ndarray:
    """Days of each month of ``year``.

    >>> month_days(2020, (1, 2)).tolist(), month_days(2021, (2,)).tolist()
    ([31.0, 29.0], [28.0])
    """
    return np.array([calendar.monthrange(year, m)[1] for m in months], dtype="float64")


def selyaninov_aridity(temp: np.ndarray, precip: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Modified Selyaninov aridity from 12 monthly means (°C) and totals (mm), months first.

    >>> t = np.array([5.0, 12.0, 20.0])[:, None, None]  # warm: 12 °C × 30 d + 20 °C × 31 d
    >>> p = np.array([9.0, 30.0, 50.0])[:, None, None]  # warm-month rain 80 mm
    >>> round(float(selyaninov_aridity(t, p, np.array([31.0, 30.0, 31.0]))[0, 0]), 4)
    1.96
    """
    d = np.asarray(days, dtype="float64")[:, None, None]
    warm = temp >= 10.0
    heat = np.sum(np.where(warm, temp * d, 0.0), axis=0)
    rain = np.sum(np.where(warm, precip, 0.0), axis=0)
    out = 0.16 * heat / np.maximum(rain, 1.0)
    bad = np.isnan(temp).any(axis=0) | np.isnan(precip).any(axis=0)
    return np.asarray(np.where(bad, np.nan, out))


def normalise_fractions(
    sand: np.ndarray, silt: np.ndarray, clay: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Sand, silt, clay (%) rescaled to sum to 100, and the largest |sum − 100| before.

    >>> s, i, c, dev = normalise_fractions(np.array(30.0), np.array(40.0), np.array(20.0))
    >>> float(s + i + c), round(float(s), 3), dev
    (100.0, 33.333, 10.0)
    """
    total = sand + silt + clay
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(total > 0, 100.0 / total, np.nan)
    dev = np.abs(total - 100.0)
    worst = float(np.nanmax(dev)) if np.isfinite(dev).any() else 0.0
    return sand * k, silt * k, clay * k, worst


def texture_class(sand: np.ndarray, clay: np.ndarray) -> np.ndarray:
    """Texture class codes (uint8; 0 where sand or clay is missing), see the module docstring."""
    out = np.full(np.shape(sand), 4, dtype="uint8")
    out[sand >= SAND_THRESHOLD] = 5
    out[clay >= CLAY_THRESHOLD] = 2
    out[np.isnan(sand) | np.isnan(clay)] = 0
    return out


def infiltration(sand: np.ndarray, clay: np.ndarray) -> np.ndarray:
    """Saturated hydraulic conductivity (mm/h) from sand and clay (%), Cosby et al. 1984."""
    return np.asarray(25.4 * 10.0 ** (-0.60 + 0.0126 * sand - 0.0064 * clay))


def landcover_codes(
    worldcover: np.ndarray, sand: np.ndarray, table: Mapping[int, int] = WORLDCOVER_TO_GEOECO
) -> np.ndarray:
    """geoeco land-cover codes (uint8, 0 = no data) from WorldCover classes and sand (%).

    >>> landcover_codes(np.array([10, 60, 60, 0, 40]), np.array([0, 80, 20, 0, 0.0])).tolist()
    [2, 6, 7, 0, 1]
    """
    wc = np.nan_to_num(np.asarray(worldcover, dtype="float64"), nan=0).astype("int64")
    lut = np.zeros(max(max(table), int(wc.max(initial=0))) + 1, dtype="uint8")
    for src, dst in table.items():
        lut[src] = dst
    out = lut[np.clip(wc, 0, len(lut) - 1)]
    sandy = (wc == 60) & (np.nan_to_num(sand, nan=0.0) >= SAND_THRESHOLD)
    out[sandy] = 6
    return np.asarray(out)


__all__ = [
    "METHODS",
    "U2_PER_U10",
    "WORLDCOVER_TO_GEOECO",
    "infiltration",
    "landcover_codes",
    "month_days",
    "normalise_fractions",
    "relative_humidity",
    "saturation_vapour_pressure",
    "selyaninov_aridity",
    "temperature_mean",
    "texture_class",
    "wind_2m",
]
