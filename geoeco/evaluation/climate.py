"""Climate products of an evaluation run, computed on the climate grid window by window.

* ``precip_annual.tif``: the sum of 12 monthly precipitation bands (mm), on their own grid;
* ``temp_annual.tif``: mean annual temperature (°C), the mean of the 12 monthly means of
  ``temp_monthly`` [I: unweighted, as climate normals are usually averaged], on its grid;
* ``fq.tif``: the FAO wind-erosion climatic factor F_q
  (:func:`geoeco.evaluation.importance.fq_climatic_factor`), on the grid of ``wind2m_monthly`` with
  the
  other monthly rasters warped onto it bilinearly.

Only the products that the requested services need are made; a product given in the config
(``fq``, a one-band ``precip``, ``temp_annual``) is used as it is.

Examples
--------
>>> from geoeco.evaluation.config import make_evaluation_config
>>> cfg = make_evaluation_config({"aridity": 20.0, "wind_days": 35.0, "texture_class": 5.0,
...     "fvc": 10.0, "r": 500.0, "relief": 10.0, "vegetation_group": 2.0, "npp": 1.0,
...     "k": 0.03, "precip": 300.0, "infiltration": 5.0, "slope": 0.0, "fq": 2.0})
>>> climate_products(cfg, Path("."), Provenance(), {})
{'fq': 2.0, 'precip_annual': 300.0}
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

import numpy as np

from geoeco.catalog.classes import Provenance
from geoeco.core.align import aligned_source
from geoeco.core.errors import InvalidInput
from geoeco.core.inspect import inspect_layer_file
from geoeco.core.io import open_raster_writer, raster_info, read_raster
from geoeco.core.raster import Grid
from geoeco.core.windows import file_digest, file_status, output_tags

from .config import EvaluationConfig, FactorValue
from .importance import fq_climatic_factor

MONTHS = list(range(1, 13))


def check_input(
    value: str, name: str, inputs: dict[str, Any], allow_outside: bool
) -> tuple[Grid, int]:
    """Validate a raster input, record it in ``inputs`` (file name, CRS, SHA-256, bands).

    Returns its grid and band count.
    """
    p = Path(value)
    info = raster_info(p, name=p.name)
    stated = float("nan") if info.nodata is None and info.dtype.startswith("float") else None
    rep = inspect_layer_file(p, allow_outside_china=allow_outside, nodata=stated)
    inputs[name] = {
        "file": p.name,
        "crs": rep.crs,
        "sha256": file_digest(p),
        "bands": info.count,
        "status": file_status(p),
    }
    assert info.grid is not None
    return info.grid, info.count


def climate_products(
    cfg: EvaluationConfig,
    out: Path,
    used: Provenance,
    inputs: dict[str, Any],
    *,
    services: Collection[str] | None = None,
) -> dict[str, FactorValue]:
    """F_q, annual precipitation and mean annual temperature, as numbers or raster paths.

    ``services`` (default: those ``cfg`` computes) decides which are made: ``fq`` for sand
    fixation, ``precip_annual`` for water conservation and biodiversity, ``temp_annual`` for
    biodiversity. Rasters made here are written to ``out`` (see the module docstring).
    """
    todo = set(cfg.service_plan()[0] if services is None else services)
    need_fq = "sand_fixation" in todo
    need_annual = bool(todo & {"water_conservation", "biodiversity"})
    seen: dict[str, tuple[Grid, int]] = {}

    def check(name: str, bands: tuple[int, ...] = (12,)) -> Grid:
        if name not in seen:
            seen[name] = check_input(getattr(cfg, name), name, inputs, cfg.allow_outside_china)
        grid, n = seen[name]
        if n not in bands:
            want = "12 monthly bands" + (" or 1 annual band" if 1 in bands else "")
            raise InvalidInput(f"{name} must have {want}, got {n}")
        return grid

    products: dict[str, FactorValue] = {}
    monthly = None
    if need_fq or need_annual:
        assert cfg.precip is not None
        annual: FactorValue = cfg.precip
        if isinstance(cfg.precip, str) and (need_annual or cfg.fq is None):
            pgrid = check("precip", (1, 12))
            if seen["precip"][1] == 12:
                monthly = cfg.precip
                if need_annual:
                    dest = out / "precip_annual.tif"
                    tags = output_tags("evaluation: annual precipitation", inputs)
                    annual = str(
                        _reduce_bands(cfg.precip, pgrid, dest, cfg.block_size, "sum", tags)
                    )
        if need_annual:
            products["precip_annual"] = annual
    if need_fq:
        products["fq"] = _fq(cfg, out, used, monthly, check, inputs)
    if "biodiversity" in todo:
        if cfg.temp_annual is not None:
            products["temp_annual"] = cfg.temp_annual
        else:
            assert cfg.temp_monthly is not None
            tgrid = check("temp_monthly")
            dest = out / "temp_annual.tif"
            tags = output_tags("evaluation: annual temperature", inputs)
            products["temp_annual"] = str(
                _reduce_bands(cfg.temp_monthly, tgrid, dest, cfg.block_size, "mean", tags)
            )
            used.add_param(
                "biodiversity.temp_annual",
                "mean of the 12 monthly means of temp_monthly (unweighted)",
                tag="I",
            )
    return dict(sorted(products.items()))


def _fq(
    cfg: EvaluationConfig,
    out: Path,
    used: Provenance,
    monthly: str | None,
    check: Any,
    inputs: dict[str, Any],
) -> FactorValue:
    if cfg.fq is not None:
        return cfg.fq
    if monthly is None:
        raise InvalidInput("F_q needs monthly precipitation (a 12-band precip raster); or give fq")
    assert cfg.wind2m_monthly and cfg.temp_monthly and cfg.rh_monthly
    cgrid = None
    for name in ("wind2m_monthly", "temp_monthly", "rh_monthly"):
        g = check(name)
        cgrid = cgrid or g
    assert cgrid is not None
    paths = (cfg.wind2m_monthly, cfg.temp_monthly, monthly, cfg.rh_monthly)
    dest = out / "fq.tif"
    with contextlib.ExitStack() as stack:
        srcs = [
            stack.enter_context(aligned_source(p, cgrid, resampling="bilinear", band=MONTHS))
            for p in paths
        ]
        tags = output_tags("evaluation: F_q", inputs)
        w = stack.enter_context(open_raster_writer(dest, cgrid, units="FAO C (1)", tags=tags))
        for win in cgrid.blocks(cfg.block_size):
            u, t, pr, rh = (np.ma.filled(s.read(win).astype("float64"), np.nan) for s in srcs)
            fq = fq_climatic_factor(u, t, pr, rh, wind_height=cfg.wind_height, used=used)
            w.write(win, np.ma.masked_invalid(fq.astype("float32")))
    return str(dest)


def _reduce_bands(
    path: str,
    grid: Grid,
    dest: Path,
    block: int,
    how: Literal["sum", "mean"],
    tags: dict[str, str],
) -> Path:
    """Sum (mm) or mean (°C) of the 12 bands of ``path``; NaN in any month gives NaN."""
    units = "mm" if how == "sum" else "degC"
    with open_raster_writer(dest, grid, units=units, tags=tags) as w:
        for win in grid.blocks(block):
            a = read_raster(path, band=MONTHS, window=win, name=Path(path).name).array
            a64 = np.ma.filled(a.astype("float64"), np.nan)
            total = a64.sum(axis=0) if how == "sum" else a64.mean(axis=0)
            w.write(win, np.ma.masked_invalid(total.astype("float32")))
    return dest


__all__ = ["MONTHS", "check_input", "climate_products"]
