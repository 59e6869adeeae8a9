"""Per-pixel functions of the evaluation: relief, sensitivity classes, service values.

All take arrays of one window (NaN = nodata) and return arrays of the same shape; the
evaluation pipeline (:mod:`geoeco.evaluation.run`) feeds them window by window.

Examples
--------
>>> relief_amplitude(np.array([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]]), 3).tolist()
[[4.0, 5.0, 4.0], [7.0, 8.0, 7.0], [4.0, 5.0, 4.0]]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter

from geoeco.catalog.classes import Provenance, classify, get_table, score
from geoeco.core.arrays import as_float
from geoeco.core.errors import UnitsError
from geoeco.erosion import factors as factors

from .config import Scheme
from .importance import (
    biodiversity_index,
    normalise,
    roughness_factor,
    water_conservation_index,
    windbreak_sand_fixation,
)
from .sensitivity import sensitivity_index

#: Value of a normalised factor that is constant over the reference extent [I]: 1 for a
#: factor that raises the service, 0 for one that lowers it (taken as 1 − F).
NEUTRAL: dict[str, float] = {
    "infiltration": 1.0,
    "precip_annual": 1.0,
    "slope": 0.0,
    "temp_annual": 1.0,
    "altitude": 0.0,
}
#: The factor values (keys of ``v`` in :func:`service_values`) each service reads.
SERVICE_FACTORS: dict[str, tuple[str, ...]] = {
    "soil_conservation": ("r", "k", "ls", "c", "p"),
    "sand_fixation": ("npp", "k", "fq", "slope"),
    "water_conservation": ("npp", "infiltration", "precip_annual", "slope"),
    "biodiversity": ("npp", "precip_annual", "temp_annual", "altitude"),
}
#: The normalised factors (range keys) of each service.
NORMALISED_FACTORS: dict[str, tuple[str, ...]] = {
    "soil_conservation": (),
    "sand_fixation": (),
    "water_conservation": ("infiltration", "precip_annual", "slope"),
    "biodiversity": ("precip_annual", "temp_annual", "altitude"),
}


def relief_amplitude(dem: Any, size: int | tuple[int, int]) -> np.ndarray:
    """Relief (地形起伏度): max − min of the valid elevations in a ``size`` window (float32).

    The window is centred on the pixel and truncated at the grid edge; nodata pixels stay NaN.

    >>> relief_amplitude(np.array([[1.0, np.nan], [5.0, 2.0]]), 3).tolist()
    [[4.0, nan], [4.0, 4.0]]
    """
    z = as_float(dem, np.float32)
    nan = np.isnan(z)
    hi = maximum_filter(np.where(nan, -np.inf, z), size=size, mode="nearest")
    lo = minimum_filter(np.where(nan, np.inf, z), size=size, mode="nearest")
    out: np.ndarray = (hi - lo).astype(np.float32)
    out[nan] = np.nan
    return out


def relief_window(window_m: float, res: tuple[float, float]) -> tuple[int, int]:
    """Odd window size in pixels (rows, cols), at least 3, nearest to ``window_m`` metres.

    >>> relief_window(1000.0, (30.0, 30.0)), relief_window(1000.0, (1000.0, 1000.0))
    ((33, 33), (3, 3))
    """

    def odd(n: float) -> int:
        k = int(round(n))
        return max(3, k if k % 2 else k + 1)

    return odd(window_m / res[1]), odd(window_m / res[0])


_SENS_FACTORS = {
    "sanding": ("aridity", "wind-days", "texture", "fvc"),
    "water-erosion": ("r", "relief", "texture", "cover"),
}


def sensitivity_classes(
    kind: Literal["sanding", "water-erosion"],
    values: Mapping[str, Any],
    *,
    scheme: Scheme = "EcoZoning-interim",
    used: Provenance | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index and classes of a sensitivity from its factor values (keys as the table names).

    Unlike :func:`geoeco.evaluation.sensitivity.sanding_sensitivity` it does not check that FVC is
    in
    percent (a window of a desert may hold FVC ≤ 1 % only); the pipeline checks that once
    over the reference extent. For ``RedLine-2017`` water erosion, ``cover`` is FVC (%).

    >>> idx, cls = sensitivity_classes("sanding", {"aridity": np.array([20.0]),
    ...     "wind-days": 35.0, "texture": 5.0, "fvc": 10.0})
    >>> idx.tolist(), cls.tolist()
    ([9.0], [5])
    """
    scores = []
    for f in _SENS_FACTORS[kind]:
        t = "fvc" if f == "cover" and scheme == "RedLine-2017" else f
        scores.append(score(np.asarray(values[f]), get_table(f"{scheme}/{kind}/{t}"), used=used))
    idx = sensitivity_index(*scores)
    return idx, classify(idx, get_table(f"{scheme}/{kind}"), used=used)


def normalise_factor(name: str, a: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Min–max normalise factor ``name`` over ``value_range`` (float32; NaN stays NaN).

    A factor that is constant over the reference extent (or has no data there) gets its
    :data:`NEUTRAL` value.

    >>> normalise_factor("altitude", np.array([1000.0, 1500.0]), (1000.0, 2000.0)).tolist()
    [0.0, 0.5]
    >>> normalise_factor("altitude", np.array([1000.0, np.nan]), (1000.0, 1000.0)).tolist()
    [0.0, nan]
    """
    lo, hi = value_range
    if hi > lo:
        return normalise(a, lo, hi).astype("float32")
    return np.where(np.isnan(a), np.float32(np.nan), np.float32(NEUTRAL[name]))


def service_values(
    v: Mapping[str, np.ndarray],
    services: Collection[str],
    ranges: Mapping[str, tuple[float, float]],
    *,
    landcover: np.ndarray | None = None,
    no_service_landcover: Collection[int] = (),
    used: Provenance | None = None,
) -> dict[str, np.ndarray]:
    """Values of the ``services`` on one window, from the factor values ``v`` (float32).

    Keys of ``v``: r, k, ls, c, p (soil conservation A_c in t/(km²·a)); npp, k, fq, slope
    (sand fixation S_ws = NPP·K·F_q·D); npp, infiltration, precip_annual, slope (water
    conservation WR = NPP·F_sic·F_pre·(1 − F_slo)); npp, precip_annual, temp_annual, altitude
    (biodiversity S_bio = NPP·F_pre·F_tem·(1 − F_alt)). ``ranges`` holds the reference-extent
    range of each normalised factor. Pixels whose ``landcover`` is in
    ``no_service_landcover`` get 0.

    >>> one = np.ones(2, dtype="float32")
    >>> v = {"npp": 100 * one, "precip_annual": np.array([300.0, 500.0], "float32"),
    ...      "temp_annual": np.array([6.0, 8.0], "float32"),
    ...      "altitude": np.array([1000.0, 1500.0], "float32")}
    >>> ranges = {"precip_annual": (300.0, 500.0), "temp_annual": (6.0, 8.0),
    ...           "altitude": (1000.0, 2000.0)}
    >>> service_values(v, ["biodiversity"], ranges)["biodiversity"].tolist()
    [0.0, 50.0]
    """
    cache: dict[str, np.ndarray] = {}

    def f(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = normalise_factor(name, v[name], ranges[name])
        return cache[name]

    out: dict[str, np.ndarray] = {}
    if "soil_conservation" in services:
        ac = factors.soil_conservation(v["r"], v["k"], v["ls"], v["c"], v["p"])
        out["soil_conservation"] = factors.to_t_km2(ac)
    if "sand_fixation" in services:
        d = roughness_factor(v["slope"], used=used).astype("float32")
        out["sand_fixation"] = windbreak_sand_fixation(v["npp"], v["k"], v["fq"], d)
    if "water_conservation" in services:
        out["water_conservation"] = water_conservation_index(
            v["npp"], f("infiltration"), f("precip_annual"), f("slope")
        )
    if "biodiversity" in services:
        out["biodiversity"] = biodiversity_index(
            v["npp"], f("precip_annual"), f("temp_annual"), f("altitude")
        )
    if no_service_landcover and landcover is not None:
        off = np.isin(landcover, list(no_service_landcover))
        for a in out.values():
            a[off & ~np.isnan(a)] = 0.0
    for name, a in out.items():
        with np.errstate(invalid="ignore"):
            if np.any(a < 0):
                raise UnitsError(
                    f"{name} has negative values (min {float(np.nanmin(a)):g}); check that "
                    "C and P are in 0-1 and NPP, K, F_q are >= 0"
                )
    return out


__all__ = [
    "NEUTRAL",
    "NORMALISED_FACTORS",
    "SERVICE_FACTORS",
    "normalise_factor",
    "relief_amplitude",
    "relief_window",
    "sensitivity_classes",
    "service_values",
]
