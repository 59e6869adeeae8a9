"""Derivations tagged [R]: inputs no open product gives, estimated by a published method.

**Wind days** (days with wind ≥ 6 m/s, December to May; sanding sensitivity): only daily wind
gives them, and no open *monthly* product does. Following the issue-17 research notes (§9),
daily mean wind in a month with mean ū is taken as Weibull(k, c) with c = ū / Γ(1 + 1/k), so
P(U ≥ u₀) = exp(−(u₀ / c)^k) and the count is Σ_m D_m · P_m over the months (D_m days in the
month). With only the mean known, k = 2 (the Rayleigh case) is the usual choice (Justus et al.
1978). The result is an estimate, flagged [R] in its manifest; a station-based layer can
replace it.

Examples
--------
>>> import numpy as np
>>> w = weibull_days_above(np.array([[[3.5]]]), (31,), k=2.0, threshold=6.0)
>>> round(float(w[0, 0]), 2)   # c = 3.5 / 0.8862 = 3.949, P = exp(-(6/3.949)^2) = 0.0994
3.08
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence

import numpy as np


def days_in_months(labels: Sequence[str]) -> tuple[int, ...]:
    """Days of each ``YYYY-MM`` label.

    >>> days_in_months(["2020-12", "2021-02", "2024-02"])
    (31, 28, 29)
    """
    out = []
    for label in labels:
        year, month = (int(x) for x in label.split("-")[:2])
        out.append(calendar.monthrange(year, month)[1])
    return tuple(out)


def weibull_days_above(
    monthly_mean: np.ndarray, days: Sequence[int], *, k: float, threshold: float
) -> np.ndarray:
    """Expected days with daily mean above ``threshold`` from monthly means (months first).

    A month whose mean is NaN makes the pixel NaN; a mean of 0 contributes no day.
    """
    mean = np.asarray(monthly_mean, dtype="float64")
    if mean.shape[0] != len(days):
        raise ValueError(f"{mean.shape[0]} monthly fields but {len(days)} month lengths")
    scale = mean / math.gamma(1.0 + 1.0 / k)
    with np.errstate(divide="ignore"):
        p = np.where(scale > 0, np.exp(-((threshold / np.where(scale > 0, scale, 1.0)) ** k)), 0.0)
    d = np.asarray(days, dtype="float64")[:, None, None]
    return np.asarray((p * d).sum(axis=0), dtype="float32")


__all__ = ["days_in_months", "weibull_days_above"]
