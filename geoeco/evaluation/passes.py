"""The four passes of an evaluation run over its grid (see :mod:`geoeco.evaluation.run`).

(A) :meth:`EvaluationPasses.pass_ranges`: reference-extent ranges of the normalised factors
and a check of the FVC units; (B) :meth:`~EvaluationPasses.pass_values`: per-pixel
sensitivity and service values, written; (C) :meth:`~EvaluationPasses.thresholds`: a weighted
streaming histogram of each service read back from its file; (D)
:meth:`~EvaluationPasses.pass_importance`: importance classes, their maximum and the dominant
service. Also the output helpers shared with the summary: class-raster writers, the
dominant-service table and the reading of a reference summary.

Examples
--------
>>> json_floats([1.5, float("inf"), float("nan")])
[1.5, None, None]
>>> [c.code for c in dominant_table().classes]
[1, 2, 3, 4]
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.classes import ClassTable, Provenance, lookup
from geoeco.core.errors import EmptyArea, InvalidInput, UnitsError
from geoeco.core.io import open_raster_writer, read_raster, write_raster
from geoeco.core.raster import Grid, Raster
from geoeco.core.windows import open_factor
from geoeco.terrain.slope import slope_horn

from .area_weights import AreaWeights
from .config import DOMINANT_SERVICES, EvaluationConfig, FactorValue
from .importance import classify_by_thresholds, cumulative_share_thresholds
from .pixels import (
    NEUTRAL,
    NORMALISED_FACTORS,
    SERVICE_FACTORS,
    relief_amplitude,
    relief_window,
    sensitivity_classes,
    service_values,
)

Progress = Callable[[str, float], None]
Window = tuple[int, int, int, int]

#: Units of the service rasters.
SERVICE_UNITS = {
    "soil_conservation": "t/(km²·a)",
    "sand_fixation": "g C m-2 a-1 x K x Fq x D",
    "water_conservation": "g C m-2 a-1 (x normalised factors)",
    "biodiversity": "g C m-2 a-1 (x normalised factors)",
}
_SENSITIVITY_INPUTS = (
    "aridity wind_days fvc r relief texture_class landcover vegetation_group erosion_texture_group"
).split()
_CODES = {"texture_class", "landcover", "vegetation_group", "erosion_texture_group"}


def classed_writer(
    stack: contextlib.ExitStack,
    path: Path,
    grid: Grid,
    table: ClassTable,
    tags: dict[str, str] | None = None,
) -> Any:
    """A uint8 class-raster writer (0 = nodata) with the table's colours, entered on ``stack``."""
    return stack.enter_context(
        open_raster_writer(
            path,
            grid,
            dtype="uint8",
            nodata=0,
            colormap=table.colormap(),
            tags={"class_table": f"{table.name} ({table.version})", **(tags or {})},
        )
    )


def json_floats(t: Any) -> list[float | None]:
    """inf and NaN become None (JSON has neither); :func:`load_reference` reads them back."""
    return [None if not math.isfinite(x) else float(x) for x in t]


def load_reference(
    path: str, cuts: tuple[float, ...], services: Collection[str], ranges: Collection[str]
) -> dict[str, Any]:
    """Thresholds of ``services`` and ``ranges`` of the normalised factors from a summary."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError:
        raise InvalidInput(f"{p.name}: reference summary cannot be read") from None
    try:
        ref = json.loads(text)
        imp, norm = ref["importance"], ref["normalisation"]["ranges"]
        if ref.get("kind") != "evaluation" or tuple(imp["cuts"]) != tuple(cuts):
            raise ValueError(f"needs an evaluation summary with cuts {list(cuts)}")
        lacking = [s for s in services if s not in imp["thresholds"]]
        lacking += [f"the range of {n}" for n in ranges if n not in norm]
        if lacking:
            raise ValueError(f"it has no {', '.join(lacking)}; rerun the reference with them")
        thresholds = {
            s: np.array([np.inf if x is None else float(x) for x in imp["thresholds"][s]])
            for s in services
        }
        found = {k: tuple(np.nan if x is None else float(x) for x in v) for k, v in norm.items()}
        name = ref["reference_extent"]["name"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{p.name}: not a usable reference summary ({exc!r})") from None
    return {"name": f"{name} (from {p.name})", "thresholds": thresholds, "ranges": found}


def dominant_table() -> ClassTable:
    """The class table of ``importance_dominant`` (codes of :data:`DOMINANT_SERVICES`)."""
    return ClassTable.model_validate(
        {
            "name": "geoeco/importance-dominant",
            "version": "1",
            "source": "geoeco: service giving the maximum importance class (ties: first listed)",
            "tag": "I",
            "indicator": "dominant ecosystem service",
            "units": "code",
            "kind": "categorical",
            "classes": [
                {"code": k, "name_zh": v[2], "name_en": v[3], "colour": v[4], "values": [k]}
                for k, v in DOMINANT_SERVICES.items()
            ],
        }
    )


def range_names(services: Collection[str]) -> tuple[str, ...]:
    """The normalised factors ``services`` need, in a fixed order.

    >>> range_names(["biodiversity", "water_conservation"])
    ('infiltration', 'precip_annual', 'slope', 'temp_annual', 'altitude')
    """
    need = {n for s in services for n in NORMALISED_FACTORS[s]}
    return tuple(n for n in NEUTRAL if n in need)


def _classify(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    # An infinite threshold (no pixel reaches that class) is never met: dropping it gives the
    # same codes and keeps classify_by_thresholds from computing inf - inf.
    return classify_by_thresholds(values, thresholds[np.isfinite(thresholds)])


@dataclass
class EvaluationPasses:
    """State shared by the passes of one evaluation run."""

    cfg: EvaluationConfig
    grid: Grid
    out: Path
    step: Progress
    services: tuple[str, ...] = ()
    used: Provenance = field(default_factory=Provenance)
    inputs: dict[str, Any] = field(default_factory=dict)
    src: dict[str, Any] = field(default_factory=dict)
    whole: dict[str, np.ndarray] = field(default_factory=dict)
    areas: dict[str, np.ndarray] = field(default_factory=dict)
    vmax: dict[str, float] = field(default_factory=dict)
    vsum: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    weights: AreaWeights | None = None
    derived: list[str] = field(default_factory=list)

    def blocks(self) -> Iterator[Window]:
        """The windows of the grid, ``block_size`` pixels a side."""
        return self.grid.blocks(self.cfg.block_size)

    def read(self, name: str, win: Window) -> np.ndarray:
        """Values (float32, NaN = nodata) of input ``name`` on a window."""
        if name in self.whole:
            r0, c0, h, w = win
            return self.whole[name][r0 : r0 + h, c0 : c0 + w]
        return np.ma.filled(self.src[name].read(win).astype("float32"), np.nan)

    def tally(self, key: str, classes: np.ndarray, n: int, w: np.ndarray | None) -> None:
        """Add the area (km²) of codes 0..n of a class window to output ``key``."""
        assert self.weights is not None
        self.areas[key] = self.areas.get(key, 0.0) + self.weights.tally(classes, n, w)

    # -- inputs ------------------------------------------------------------------------

    def open_sources(self, stack: contextlib.ExitStack, products: dict[str, FactorValue]) -> None:
        """Open every input the sensitivities and services read, on the grid."""
        cfg = self.cfg
        given = {**cfg.model_dump(), **products, "altitude": cfg.dem}
        names = list(_SENSITIVITY_INPUTS)
        for s in self.services:
            names += [n for n in SERVICE_FACTORS[s] if n not in names]
        for name in names:
            value = given[name]
            if value is None or name in self.whole:
                continue
            label = "dem" if name == "altitude" else name
            self.src[name] = stack.enter_context(
                open_factor(
                    value,
                    self.grid,
                    name=label,
                    resampling="nearest" if name in _CODES else "bilinear",
                    allow_outside_china=cfg.allow_outside_china,
                    inputs=None if label in self.inputs else self.inputs,
                )
            )

    def load_dem(self) -> None:
        """Relief (and slope) from the whole DEM, warped onto the grid bilinearly."""
        cfg = self.cfg
        need_slope = cfg.slope is None and any("slope" in SERVICE_FACTORS[s] for s in self.services)
        if cfg.dem is None or (cfg.relief is not None and not need_slope):
            return
        with open_factor(
            cfg.dem,
            self.grid,
            name="dem",
            allow_outside_china=cfg.allow_outside_china,
            inputs=self.inputs,
        ) as src:
            whole = (0, 0, self.grid.height, self.grid.width)
            dem = np.ma.filled(src.read(whole).astype("float32"), np.nan)
        if cfg.relief is None:
            size = relief_window(cfg.relief_window_m, self.grid.res)
            self.whole["relief"] = relief_amplitude(dem, size)
            self._write_whole("relief", "m")
            self.used.add_param(
                "relief.window_px", size, tag="I", source="odd pixels nearest relief_window_m"
            )
            self.used.add_param(
                "relief.window_m",
                (size[0] * self.grid.res[1], size[1] * self.grid.res[0]),
                tag="I",
                source="max - min elevation in a square centred on the pixel",
            )
        if need_slope:
            self.whole["slope"] = slope_horn(dem, self.grid.res).astype("float32")
            self.used.add_param("slope.method", "Horn 3x3 on the DEM", tag="V")
            self._write_whole("slope", "degree")

    def _write_whole(self, name: str, units: str) -> None:
        write_raster(
            Raster.from_array(self.whole[name], self.grid, units=units), self.out / f"{name}.tif"
        )
        self.derived.append(f"{name}.tif")

    # -- pass A: reference ranges ----------------------------------------------------------

    def pass_ranges(self, need_ranges: bool) -> None:
        """(A) Ranges of the normalised factors (unless from a reference) and the FVC check."""
        names = range_names(self.services) if need_ranges else ()
        lo = dict.fromkeys(names, np.inf)
        hi = dict.fromkeys(names, -np.inf)
        fvc_max = -np.inf
        for win in self.blocks():
            f = self.read("fvc", win)
            if np.any(~np.isnan(f)):
                fvc_max = max(fvc_max, float(np.nanmax(f)))
            for n in names:
                a = self.read(n, win)
                if np.any(~np.isnan(a)):
                    lo[n], hi[n] = min(lo[n], float(np.nanmin(a))), max(hi[n], float(np.nanmax(a)))
        if 0 < fvc_max <= 1.0:
            raise UnitsError(
                f"FVC looks like a fraction (max {fvc_max:g} <= 1); give percent 0-100"
            )
        for n in names:
            self.ranges[n] = (lo[n], hi[n]) if np.isfinite(lo[n]) else (np.nan, np.nan)

    # -- pass B: per-pixel values ----------------------------------------------------------

    def window_values(self, win: Window) -> dict[str, np.ndarray]:
        """Sensitivity indices and classes and the service values of one window."""
        cfg, v = self.cfg, {n: self.read(n, win) for n in (*self.src, *self.whole)}
        sand = sensitivity_classes(
            "sanding",
            {
                "aridity": v["aridity"],
                "wind-days": v["wind_days"],
                "texture": v["texture_class"],
                "fvc": v["fvc"],
            },
            scheme=cfg.scheme,
            used=self.used,
        )
        tex = v.get("erosion_texture_group")
        if tex is None:
            tex = lookup(v["texture_class"], cfg.texture_groups, what="texture class")
        if cfg.scheme == "RedLine-2017":
            cover = v["fvc"]
        elif "vegetation_group" in v:
            cover = v["vegetation_group"]
        else:
            cover = lookup(v["landcover"], cfg.vegetation_groups, what="land-cover code")
        water = sensitivity_classes(
            "water-erosion",
            {
                "r": v["r"] / np.float32(cfg.r_table_divisor),
                "relief": v["relief"],
                "texture": tex,
                "cover": cover,
            },
            scheme=cfg.scheme,
            used=self.used,
        )
        services = service_values(
            v,
            self.services,
            self.ranges,
            landcover=v.get("landcover"),
            no_service_landcover=cfg.no_service_landcover,
            used=self.used,
        )
        return {
            "sanding_sensitivity": sand[1],
            "sanding_sensitivity_index": sand[0],
            "water_erosion_sensitivity": water[1],
            "water_erosion_sensitivity_index": water[0],
            **services,
        }

    def pass_values(self, sens_tables: dict[str, ClassTable]) -> None:
        """(B) Write sensitivities and services; tally class areas and service max and sum."""
        n_blocks = sum(1 for _ in self.blocks())
        with contextlib.ExitStack() as stack:
            ws: dict[str, Any] = {}
            for key, table in sens_tables.items():
                ws[key] = classed_writer(stack, self.out / f"{key}.tif", self.grid, table)
                ws[f"{key}_index"] = stack.enter_context(
                    open_raster_writer(self.out / f"{key}_index.tif", self.grid, units="score")
                )
            for s in self.services:
                ws[s] = stack.enter_context(
                    open_raster_writer(
                        self.out / f"service_{s}.tif", self.grid, units=SERVICE_UNITS[s]
                    )
                )
            for i, win in enumerate(self.blocks()):
                vals = self.window_values(win)
                w = self.weights.window(win) if self.weights else None
                for key, a in vals.items():
                    out = a if a.dtype == np.uint8 else np.ma.masked_invalid(a.astype("float32"))
                    ws[key].write(win, out)
                for key, table in sens_tables.items():
                    self.tally(key, vals[key], len(table.classes), w)
                for s in self.services:
                    a = vals[s]
                    ok = ~np.isnan(a)
                    if ok.any():
                        self.vmax[s] = max(self.vmax.get(s, -np.inf), float(a[ok].max()))
                        aw = a[ok].astype("float64") * (1.0 if w is None else w[ok])
                        self.vsum[s] = self.vsum.get(s, 0.0) + float(aw.sum())
                self.step("sensitivity and services by window", 0.15 + 0.5 * (i + 1) / n_blocks)

    # -- pass C: thresholds ------------------------------------------------------------

    def service_windows(self, s: str) -> Iterator[np.ndarray]:
        """The written values of service ``s``, window by window (float32, NaN = nodata)."""
        path = self.out / f"service_{s}.tif"
        for win in self.blocks():
            a = read_raster(path, window=win, name=path.name).array
            yield np.ma.filled(a.astype("float32"), np.nan)

    def thresholds(self, cuts: tuple[float, ...]) -> dict[str, np.ndarray]:
        """(C) Cumulative-share value thresholds of each service (inf: class never reached)."""
        out = {}
        assert self.weights is not None
        per_pixel = self.weights.method == "per-pixel"
        for s in self.services:
            hi = self.vmax.get(s, -np.inf)
            if not hi > 0:
                # no service anywhere: no pixel is important, every valid pixel is class 1
                out[s] = np.full(len(cuts), np.inf)
                continue
            try:
                out[s] = cumulative_share_thresholds(
                    self.service_windows(s),
                    cuts,
                    bins=self.cfg.histogram_bins,
                    value_range=(0.0, hi),
                    weights=(self.weights.window(w) for w in self.blocks()) if per_pixel else None,
                    used=self.used,
                )
            except EmptyArea:
                out[s] = np.full(len(cuts), np.inf)
        return out

    # -- pass D: importance classes ------------------------------------------------------

    def pass_importance(
        self, table: ClassTable, thresholds: dict[str, np.ndarray], tags: dict[str, str]
    ) -> None:
        """(D) Importance classes of each service, their maximum and the dominant service."""
        if not self.services:
            return
        n = len(table.classes)
        self.used.add_table(table)  # the thresholds of each service are in the summary
        dom_table = dominant_table()
        code_of = {v[0]: k for k, v in DOMINANT_SERVICES.items()}
        codes = np.array([code_of[s] for s in self.services], dtype=np.uint8)
        n_blocks = sum(1 for _ in self.blocks())
        with contextlib.ExitStack() as stack:
            ws = {
                s: classed_writer(
                    stack,
                    self.out / f"importance_{s}.tif",
                    self.grid,
                    table,
                    {**tags, "thresholds": json.dumps(json_floats(thresholds[s]))},
                )
                for s in self.services
            }
            ws["max"] = classed_writer(
                stack, self.out / "importance_max.tif", self.grid, table, tags
            )
            ws["dominant"] = classed_writer(
                stack,
                self.out / "importance_dominant.tif",
                self.grid,
                dom_table,
                {"codes": json.dumps({k: v[:2] for k, v in DOMINANT_SERVICES.items()})},
            )
            readers = {s: self.service_windows(s) for s in self.services}
            for i, win in enumerate(self.blocks()):
                w = self.weights.window(win) if self.weights else None
                cls = []
                for s in self.services:
                    c = _classify(next(readers[s]), thresholds[s])
                    ws[s].write(win, c)
                    self.tally(f"importance_{s}", c, n, w)
                    cls.append(c)
                stacked = np.stack(cls)
                top = stacked.max(axis=0)
                dominant = np.where(top > 0, codes[stacked.argmax(axis=0)], 0).astype(np.uint8)
                ws["max"].write(win, top)
                ws["dominant"].write(win, dominant)
                self.tally("importance_max", top, n, w)
                self.tally("importance_dominant", dominant, len(DOMINANT_SERVICES), w)
                self.step("importance classes by window", 0.75 + 0.2 * (i + 1) / n_blocks)


__all__ = [
    "SERVICE_UNITS",
    "EvaluationPasses",
    "classed_writer",
    "dominant_table",
    "json_floats",
    "load_reference",
    "range_names",
]
