"""Restoration effectiveness: the trend inside each control unit and restoration patch against
a matched comparison outside it (issue 18 item 4).

**Matching** (coarsened exact matching on the trend grid). Every valid pixel (a slope, a
county, a start value and, when given, a land cover) falls in one stratum = (county, land
cover class, start-value bin), the start value being the variable's first year, binned at
its quantiles over the grid (:attr:`EffectOptions.start_bins` bins, default 5 = quintiles).
For a target (a unit or a patch), each stratum holding some of its pixels is compared with
the *comparison pool* of that stratum:

* control units: every valid pixel of the stratum outside this unit;
* restoration patches: every valid pixel of the stratum outside all patches.

A stratum whose pool has fewer than :attr:`EffectOptions.min_pool` pixels is unmatched. The
comparison slope of a target is the pool means weighted by the target's pixels per matched
stratum; ``effect`` = matched inside mean − comparison (variable units per year) and
``effect_improvement`` the same signed so that > 0 means improving faster than the matched
land (negated when an increase is a degradation). The same is done for the share of pixels in
trend class 1 (improvement). ``matched_share`` is the share of the target's pixels in matched
strata. The three battle areas and the national parks are summarised over the units that
touch them (their ``battle_ids``/``park_ids``), weighted by matched area.

:func:`run_effectiveness` writes ``<variable>_effectiveness.csv`` (one row per unit and patch)
and ``<variable>_effectiveness.json`` (the summaries) into the output folder.

>>> _bins(np.array([1.0, 2, 3, 4, np.nan]), 2).tolist()
[0, 0, 1, 1, -1]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geoeco.core.align import align_to
from geoeco.core.errors import InvalidInput
from geoeco.core.io import read_raster, read_vector, write_table
from geoeco.core.raster import Grid
from geoeco.core.windows import write_json

from .changes import load_units
from .stack import discover_stacks, row_areas_km2
from .trends import trend_files

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class EffectOptions:
    """Matching settings: start-value bins, smallest comparison pool (pixels), and whether an
    increase of the variable is an improvement."""

    start_bins: int = 5
    min_pool: int = 3
    increase_is_improvement: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.start_bins <= 20 or self.min_pool < 1:
            raise InvalidInput("start_bins must be 1..20 and min_pool >= 1")


def _bins(values: FloatArray, n: int) -> IntArray:
    """Quantile bin 0..n−1 of each value (−1 where NaN)."""
    out = np.full(values.shape, -1, dtype=np.int64)
    ok = np.isfinite(values)
    if ok.any():
        edges = np.quantile(values[ok], np.linspace(0, 1, n + 1)[1:-1])
        out[ok] = np.searchsorted(edges, values[ok], side="left")
    return out


def _rasterize(geoms: Any, grid: Grid) -> IntArray:
    """Row number + 1 of the geometry covering each pixel centre (0: none)."""
    from rasterio.features import rasterize

    shapes = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(grid.shape, dtype=np.int64)
    out = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32")
    return np.asarray(out, dtype=np.int64)


def _strata(county: IntArray, landcover: IntArray, start_bin: IntArray, ok: Any) -> IntArray:
    """One id per (county, land cover, start bin) of the valid pixels (−1 elsewhere)."""
    key = np.stack([county, landcover, start_bin]).reshape(3, -1)
    valid = ok.ravel() & (key >= 0).all(axis=0)
    out = np.full(key.shape[1], -1, dtype=np.int64)
    if valid.any():
        _, inv = np.unique(key[:, valid], axis=1, return_inverse=True)
        out[valid] = inv.ravel()
    return out.reshape(county.shape)


@dataclass(frozen=True)
class Matched:
    """Per target: pixels and km² inside, matched share, matched inside mean, comparison."""

    pixels: npt.NDArray[np.integer[Any]]
    area_km2: FloatArray
    matched_share: FloatArray
    inside: FloatArray
    comparison: FloatArray


def matched_means(
    values: FloatArray,
    strata: IntArray,
    labels: IntArray,
    n_targets: int,
    *,
    pool: str,
    min_pool: int,
    areas: FloatArray,
) -> Matched:
    """Matched inside and comparison means of ``values`` for targets 1..n of ``labels``.

    ``pool``: ``"outside_target"`` (control units) or ``"outside_all"`` (patches).

    >>> v = np.array([1.0, 3, 0, 0, 2, 2])
    >>> m = matched_means(v, np.zeros(6, np.int64), np.array([1, 1, 0, 0, 0, 0]), 1,
    ...                   pool="outside_all", min_pool=1, areas=np.ones(6))
    >>> m.inside.tolist(), m.comparison.tolist()    # (1+3)/2 against (0+0+2+2)/4
    ([2.0], [1.0])
    """
    s_max = int(strata.max()) + 1 if (strata >= 0).any() else 1
    ok = (strata >= 0) & np.isfinite(values)
    s, lab, v = strata[ok], labels[ok], values[ok]
    k = (n_targets + 1) * s_max
    cnt = np.bincount(lab * s_max + s, minlength=k).reshape(n_targets + 1, s_max)
    tot = np.bincount(lab * s_max + s, weights=v, minlength=k).reshape(n_targets + 1, s_max)
    all_cnt, all_tot = cnt.sum(axis=0), tot.sum(axis=0)
    if pool == "outside_target":
        pool_cnt, pool_tot = all_cnt - cnt[1:], all_tot - tot[1:]
    else:
        pool_cnt = np.broadcast_to(cnt[0], cnt[1:].shape)
        pool_tot = np.broadcast_to(tot[0], tot[1:].shape)
    inside_cnt, inside_tot = cnt[1:], tot[1:]
    matched = (inside_cnt > 0) & (pool_cnt >= min_pool)
    w = np.where(matched, inside_cnt, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pool_mean = np.where(pool_cnt > 0, pool_tot / np.maximum(pool_cnt, 1), 0.0)
        n_matched = w.sum(axis=1)
        comparison = (w * pool_mean).sum(axis=1) / n_matched
        inside = np.where(matched, inside_tot, 0.0).sum(axis=1) / n_matched
        share = n_matched / inside_cnt.sum(axis=1)
    px = np.bincount(lab, minlength=n_targets + 1)[1:]
    km2 = np.asarray(np.bincount(lab, weights=areas[ok], minlength=n_targets + 1)[1:], float)
    return Matched(px, km2, share, inside, comparison)


def _read_full(path: Path) -> tuple[FloatArray, Grid]:
    r = read_raster(path, name=path.name)
    return np.ma.filled(r.array.astype(np.float64), np.nan), r.grid


def _landcover(path: str | os.PathLike[str] | None, grid: Grid) -> IntArray:
    """Land-cover codes on the trend grid (majority resampling; −1 nodata), or all 0."""
    if path is None:
        return np.zeros(grid.shape, dtype=np.int64)
    p = Path(path)
    lc = align_to(read_raster(p, name=p.name), grid, resampling="mode")
    return np.asarray(np.ma.filled(lc.array.astype(np.int64), -1), dtype=np.int64)


def _patches(zoning_run: Path) -> Any:
    """The restoration patches of a zoning run (``zones.gpkg`` layer ``restoration``)."""
    for gpkg in (zoning_run / "zones.gpkg", zoning_run / "zones" / "zones.gpkg"):
        if gpkg.is_file():
            return read_vector(gpkg, layer="restoration", name="zones.gpkg")
    return None


def _rows(
    kind: str, keys: list[str], m: Matched, imp: Matched, sign: float
) -> list[dict[str, Any]]:
    rows = []
    for i, key in enumerate(keys):
        effect = float(m.inside[i] - m.comparison[i])
        rows.append(
            {
                "kind": kind,
                "id": key,
                "pixels": int(m.pixels[i]),
                "area_km2": float(m.area_km2[i]),
                "matched_share": float(m.matched_share[i]),
                "slope_inside": float(m.inside[i]),
                "slope_comparison": float(m.comparison[i]),
                "effect": effect,
                "effect_improvement": sign * effect,
                "improving_share_inside": float(imp.inside[i]),
                "improving_share_comparison": float(imp.comparison[i]),
            }
        )
    return rows


def _weighted(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Matched-area-weighted mean effect of some rows."""
    w = np.array([r["area_km2"] * np.nan_to_num(r["matched_share"]) for r in rows], dtype=float)
    e = np.array([r["effect_improvement"] for r in rows], dtype=float)
    ok = np.isfinite(e) & (w > 0)
    mean = float((w[ok] * e[ok]).sum() / w[ok].sum()) if ok.any() else None
    return {"n": len(rows), "matched_km2": float(w[ok].sum()), "effect_improvement": mean}


def _ids(text: Any) -> list[str]:
    return [t for t in re.split(r"[;,\s]+", str(text or "")) if t and t != "nan"]


def _summaries(rows: list[dict[str, Any]], units: Any) -> dict[str, Any]:
    unit_rows = [r for r in rows if r["kind"] == "unit"]
    out: dict[str, Any] = {
        kind: _weighted([r for r in rows if r["kind"] == kind]) for kind in ("unit", "patch")
    }
    by_class: dict[str, list[dict[str, Any]]] = {}
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"battle_area": {}, "national_park": {}}
    for r, (_, u) in zip(unit_rows, units.iterrows(), strict=True):
        by_class.setdefault(str(u.get("unit_class", "")), []).append(r)
        for col, kind in (("battles", "battle_area"), ("park_ids", "national_park")):
            for key in _ids(u.get(col)):
                groups[kind].setdefault(key, []).append(r)
    out["unit_class"] = {k: _weighted(v) for k, v in sorted(by_class.items())}
    for kind, g in groups.items():
        out[kind] = {k: _weighted(v) for k, v in sorted(g.items())}
    return out


@dataclass(frozen=True)
class EffectivenessResult:
    """Rows (one per unit and patch) and their summaries."""

    out: Path
    variable: str
    rows: tuple[dict[str, Any], ...]
    summaries: dict[str, Any]
    method: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The content of ``<variable>_effectiveness.json``."""
        return {
            "kind": "effectiveness",
            "variable": self.variable,
            "method": self.method,
            "summaries": self.summaries,
            "rows": len(self.rows),
        }

    to_dict = summary


def run_effectiveness(
    stack_dir: str | os.PathLike[str],
    trend_dir: str | os.PathLike[str],
    zoning_run: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    variable: str,
    landcover: str | os.PathLike[str] | None = None,
    options: EffectOptions | None = None,
) -> EffectivenessResult:
    """Effectiveness table and summaries of a trend run against a zoning run's units and
    restoration patches (see the module docstring for the matching)."""
    opts = options or EffectOptions()
    tdir = Path(trend_dir)
    cls_file, slope_file, _ = trend_files(variable)
    slope, grid = _read_full(tdir / slope_file)
    cls, _ = _read_full(tdir / cls_file)
    stack = discover_stacks(stack_dir, variables=[variable])[variable]
    stack.grid.check_aligned(grid, what="the stack and the trend rasters")
    start = stack.read((0, 0, grid.height, grid.width))[0]
    units = load_units(zoning_run).to_crs(grid.crs)
    unit_labels = _rasterize(units.geometry, grid)
    county_of_unit = np.unique(units["county_code"].astype(str), return_inverse=True)[1]
    county = np.where(unit_labels > 0, np.r_[-1, county_of_unit][unit_labels], -1)
    ok = np.isfinite(slope)
    strata = _strata(county, _landcover(landcover, grid), _bins(start, opts.start_bins), ok)
    areas = np.broadcast_to(row_areas_km2(grid)[:, None], grid.shape)
    improving = np.where(np.isfinite(cls), (cls == 1).astype(np.float64), np.nan)
    sign = 1.0 if opts.increase_is_improvement else -1.0
    rows = []
    for kind, geoms, keys, pool in _targets(units, _patches(Path(zoning_run)), grid):
        labels = unit_labels if kind == "unit" else _rasterize(geoms, grid)
        n, mp = len(keys), opts.min_pool
        m = matched_means(slope, strata, labels, n, pool=pool, min_pool=mp, areas=areas)
        imp = matched_means(improving, strata, labels, n, pool=pool, min_pool=mp, areas=areas)
        rows += _rows(kind, keys, m, imp, sign)
    method = {
        "matching": "county x land cover x start-value quantile bin",
        "start_bins": opts.start_bins,
        "min_pool": opts.min_pool,
        "start_year": stack.years[0],
        "landcover": landcover is not None,
    }
    result = EffectivenessResult(Path(out), variable, tuple(rows), _summaries(rows, units), method)
    Path(out).mkdir(parents=True, exist_ok=True)
    import pandas as pd

    write_table(pd.DataFrame(rows), Path(out) / f"{variable}_effectiveness.csv")
    write_json(result.summary(), Path(out) / f"{variable}_effectiveness.json")
    return result


def _targets(units: Any, patches: Any, grid: Grid) -> list[tuple[str, Any, list[str], str]]:
    out = [("unit", units.geometry, units["code"].astype(str).tolist(), "outside_target")]
    if patches is not None and len(patches):
        p = patches.to_crs(grid.crs)
        out.append(("patch", p.geometry, [f"patch_{i + 1}" for i in range(len(p))], "outside_all"))
    return out


__all__ = [
    "EffectOptions",
    "EffectivenessResult",
    "Matched",
    "matched_means",
    "run_effectiveness",
]
