"""Synthetic wind-erosion inputs for the demo region (labelled synthetic; deterministic).

The demo region (:mod:`geoeco.catalog.demo_region`) has monthly climate, soil texture and
organic carbon, NDVI, land cover and a DEM, but not the inputs RWEQ needs beyond them. This
module derives them from the demo's own layers, without randomness, so the same demo gives
the same files:

* ``rweq_wind10_monthly.tif`` -- monthly mean wind at 10 m (m/s), 12 bands: a windy-site
  climatology (:data:`WINDY_U10`, spring maximum) shaped in space by the demo's own monthly
  wind field (its ratio to the month's mean). The demo's wind (2–3 m/s) never reaches RWEQ's
  threshold as a monthly mean, so a mean-wind run on it would show no erosion at all;
* ``rweq_etp_monthly.tif`` -- potential evapotranspiration (mm/month) from temperature,
  ETp = N_d · max(0.3, 0.2·(T + 12)) mm (synthetic, not a published formula);
* ``rweq_snow_factor_monthly.tif`` -- snow factor SD: 0.7 below −4 °C, 0.9 below 0 °C, else 1;
* ``rweq_rain_days_monthly.tif`` -- rain days: min(rain/6 mm, 0.6·N_d);
* ``rweq_caco3.tif`` -- CaCO₃ (%) on the fine grid: clip(12 − 0.12·sand, 1, 12) (loess richer
  in carbonate than sand).

Every file carries the tag ``synthetic=true`` and its formula.

Examples
--------
>>> t = np.array([[[20.0]], [[-15.0]]])
>>> etp_from_temperature(t, np.array([31.0, 28.0]))[:, 0, 0].round(2).tolist()
[198.4, 8.4]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geoeco.core.io import read_raster, write_raster
from geoeco.core.raster import Raster

#: Monthly mean wind at 10 m of a windy Three-North site (m/s), January..December: synthetic,
#: chosen so the spring months pass RWEQ's 5 m/s threshold at 2 m as monthly means.
WINDY_U10 = np.array([5.5, 6.0, 7.0, 7.5, 7.0, 6.5, 5.5, 5.0, 5.0, 5.5, 6.0, 5.5])
#: Days per month of the demo's RWEQ year (2021, not a leap year).
DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
#: Names of the files written (input name of the wind run -> file stem).
DEMO_WIND_FILES = {
    "wind": "rweq_wind10_monthly",
    "etp": "rweq_etp_monthly",
    "snow_factor": "rweq_snow_factor_monthly",
    "rain_days": "rweq_rain_days_monthly",
    "calcium_carbonate": "rweq_caco3",
}


def etp_from_temperature(temp_c: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Synthetic monthly ETp (mm) = N_d · max(0.3, 0.2·(T + 12)); months on axis 0."""
    return days[:, None, None] * np.maximum(0.3, 0.2 * (temp_c + 12.0))


def snow_factor_from_temperature(temp_c: np.ndarray) -> np.ndarray:
    """Synthetic SD: 0.7 below −4 °C, 0.9 below 0 °C, else 1.

    >>> snow_factor_from_temperature(np.array([-5.0, -1.0, 3.0])).tolist()
    [0.7, 0.9, 1.0]
    """
    return np.where(temp_c < -4.0, 0.7, np.where(temp_c < 0.0, 0.9, 1.0))


def rain_days_from_rain(rain_mm: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Synthetic rain days: min(rain / 6 mm, 0.6·N_d); months on axis 0."""
    return np.minimum(rain_mm / 6.0, 0.6 * days[:, None, None])


def windy_wind(wind_monthly: np.ndarray) -> np.ndarray:
    """:data:`WINDY_U10` shaped in space by a monthly wind field (its ratio to each month's
    mean over the field)."""
    mean = np.nanmean(wind_monthly.reshape(12, -1), axis=1)[:, None, None]
    return np.asarray(WINDY_U10[:, None, None] * wind_monthly / mean, dtype=np.float64)


def caco3_from_sand(sand: np.ndarray) -> np.ndarray:
    """Synthetic CaCO₃ (%) = clip(12 − 0.12·sand, 1, 12).

    >>> caco3_from_sand(np.array([80.0, 30.0])).round(2).tolist()
    [2.4, 8.4]
    """
    return np.asarray(np.clip(12.0 - 0.12 * sand, 1.0, 12.0), dtype=np.float64)


def _write(values: np.ndarray, like: Raster, path: Path, units: str, formula: str) -> Path:
    """Write float32 values on ``like``'s grid (nodata where ``like`` is masked), tagged."""
    arr = np.asarray(values, dtype="float32")
    mask = np.ma.getmaskarray(like.array)
    if arr.shape != mask.shape:
        mask = np.broadcast_to(mask.any(axis=0) if mask.ndim == 3 else mask, arr.shape)
    arr = np.where(mask, np.nan, arr)
    raster = Raster.from_array(arr, like.grid, units=units, name=path.stem)
    tags = {"synthetic": "true", "formula": formula, "source": "geoeco demo (synthetic)"}
    return write_raster(raster, path, nodata=-9999.0, tags=tags)


def build_demo_wind_inputs(layers: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    """Write the synthetic RWEQ inputs (see the module docstring) beside the demo layers.

    ``layers`` are the demo region's files (:func:`~geoeco.catalog.demo_region.build_demo_region`);
    returns the input name of the wind run -> path.
    """
    out = Path(out_dir)
    months = list(range(1, 13))
    temp = read_raster(layers["temp_monthly"], band=months)
    rain = read_raster(layers["precip_monthly"], band=months)
    wind = read_raster(layers["wind2m_monthly"], band=months)
    sand = read_raster(layers["sand"])
    t = np.ma.filled(temp.array.astype("float64"), np.nan)
    r = np.ma.filled(rain.array.astype("float64"), np.nan)
    w = np.ma.filled(wind.array.astype("float64"), np.nan)
    s = np.ma.filled(sand.array.astype("float64"), np.nan)
    paths = {n: out / f"{stem}.tif" for n, stem in DEMO_WIND_FILES.items()}
    _write(windy_wind(w), wind, paths["wind"], "m/s", "WINDY_U10 x wind/mean(wind)")
    _write(etp_from_temperature(t, DAYS), temp, paths["etp"], "mm", "Nd*max(0.3,0.2*(T+12))")
    _write(snow_factor_from_temperature(t), temp, paths["snow_factor"], "1", "T<-4:0.7,T<0:0.9")
    _write(rain_days_from_rain(r, DAYS), rain, paths["rain_days"], "d", "min(P/6,0.6*Nd)")
    _write(caco3_from_sand(s), sand, paths["calcium_carbonate"], "%", "clip(12-0.12*sand,1,12)")
    return paths


__all__ = [
    "DAYS",
    "DEMO_WIND_FILES",
    "WINDY_U10",
    "build_demo_wind_inputs",
    "caco3_from_sand",
    "etp_from_temperature",
    "rain_days_from_rain",
    "snow_factor_from_temperature",
    "windy_wind",
]
