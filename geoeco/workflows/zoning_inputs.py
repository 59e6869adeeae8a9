"""The inputs of a zoning run: rule-set inputs bound to data, and the counties of the area.

:func:`bind_inputs` maps every input of a rule set to data on the run's grid, by the
precedence the run documents (given data, registry layers whose ``variable`` names the input,
the built-in mask layers, user layers by role); :func:`unbound_inputs` tells which required
inputs nothing provides, without reading anything (the ``zoning`` process checks requests
with it). :func:`counties_for` gives the built-in counties that the control units are cut by.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.layers import LayerRegistry, LayerSpec, load_registry
from geoeco.core.errors import InvalidInput
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.aoi import AOI
from geoeco.zoning.overlay.inputs import LayerInput, Status
from geoeco.zoning.rules import RuleSet

#: Built-in layers bound to rule-set mask inputs when the caller gives none (the rule set's
#: own ``select`` picks the battle).
DEFAULT_MASK_LAYERS: dict[str, str] = {
    "national_parks": "protected.national_parks",
    "three_north": "programme.three_north",
    "battle_ji_bend": "programme.battles",
    "battle_horqin_hunshandake": "programme.battles",
    "battle_hexi_taklimakan": "programme.battles",
}
#: Inputs of a zoning run besides the rule set's: unit attributes and restoration.
ATTRIBUTE_INPUTS = ("soil_loss", "fvc", "importance_max")
#: Roles of user vector layers that join every run (the red line, key control).
USER_MASK_ROLES = ("protected", "development")


def _spec_input(spec: LayerSpec, grid: Grid, cache_dir: Path | None) -> LayerInput:
    from geoeco.catalog.sources import layer_raster_path, read_layer_vector
    from geoeco.core.align import aligned_file

    if spec.kind == "vector":
        gdf = read_layer_vector(spec)
        return LayerInput(gdf, status=spec.status, role=spec.role, version=spec.version)
    path = layer_raster_path(spec, cache_dir=cache_dir)
    src = aligned_file(path, grid, resampling="nearest", name=spec.id)
    return LayerInput(src, status=spec.status, role=spec.role, version=spec.version)


def _evaluation_layers(reg: LayerRegistry) -> dict[str, LayerSpec]:
    """Raster evaluation layers of the registry by the rule-set input they provide."""
    return {
        s.variable: s for s in reg if s.variable and s.kind == "raster" and s.role == "evaluation"
    }


def unbound_inputs(
    rules: RuleSet, given: Iterable[str], registry: LayerRegistry | None = None
) -> list[str]:
    """Required inputs of ``rules`` that neither ``given`` (names) nor ``registry`` provides,
    by the precedence of :func:`bind_inputs` (nothing is read).

    >>> from geoeco.zoning.rules import load_rule_set
    >>> unbound_inputs(load_rule_set("default"), [])[:2]
    ['importance_water_conservation', 'importance_biodiversity']
    """
    reg = registry or load_registry()
    have = set(given) | set(_evaluation_layers(reg))
    have |= {n for n, lid in DEFAULT_MASK_LAYERS.items() if lid in reg}
    return [n for n, i in rules.inputs.items() if getattr(i, "required", True) and n not in have]


def _status(value: str | None) -> Status:
    for s in ("real", "approximation", "synthetic"):
        if value == s:
            return s
    raise InvalidInput(f"status must be real, approximation or synthetic; got {value!r}")


def bind_inputs(
    rules: RuleSet,
    grid: Grid,
    stack: contextlib.ExitStack | None = None,
    *,
    given: Mapping[str, Any] | None = None,
    registry: LayerRegistry | None = None,
    cache_dir: Path | None = None,
    statuses: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Map every rule-set input to data; raise naming the missing required inputs.

    Precedence: ``given`` (paths, Rasters, GeoDataFrames or LayerInputs) → a registry layer
    whose ``variable`` is the input's name → the built-in mask layers → user layers by role
    (extra inputs with role ``protected`` or ``development`` join the red line / key control).

    Raster files (given paths and registry layers) are checked here and bound as picklable
    :class:`~geoeco.core.align.AlignedFile` readers that open the file for each read, so that
    the workers of an engine (e.g. Dask) can read their windows themselves. ``stack`` is
    accepted for callers' compatibility: these readers hold nothing open between reads.
    """
    from geoeco.core.align import aligned_file

    del stack
    reg = registry or load_registry()
    layers: dict[str, Any] = {}
    for name, value in (given or {}).items():
        if isinstance(value, str | Path):
            src = aligned_file(value, grid, resampling="nearest", name=Path(value).name)
            layers[name] = LayerInput(src, status=_status((statuses or {}).get(name, "real")))
        else:
            layers[name] = value
    by_variable = _evaluation_layers(reg)
    for name in rules.inputs:
        if name in layers:
            continue
        if name in by_variable:
            layers[name] = _spec_input(by_variable[name], grid, cache_dir)
        elif name in DEFAULT_MASK_LAYERS and DEFAULT_MASK_LAYERS[name] in reg:
            layers[name] = _spec_input(reg.get(DEFAULT_MASK_LAYERS[name]), grid, cache_dir)
    for spec in reg:
        if spec.id.startswith("user.") and spec.role in USER_MASK_ROLES and spec.kind == "vector":
            layers.setdefault(spec.id, _spec_input(spec, grid, cache_dir))
    missing = unbound_inputs(rules, layers, reg)
    if missing:
        raise InvalidInput(
            "the area has no data for these inputs of rule set "
            f"{rules.name!r}: {', '.join(missing)}; give them as rasters (e.g. from "
            "`geoeco evaluate`) or register layers whose variable names them"
        )
    return layers


def on_grid(value: Any, grid: Grid) -> Raster | None:
    """A bound input as a whole-grid Raster (readers are read once; polygons rasterised)."""
    data = value.data if isinstance(value, LayerInput) else value
    if data is None:
        return None
    if isinstance(data, Raster):
        return data
    if hasattr(data, "read_raster"):
        out: Raster = data.read_raster()
        return out
    if hasattr(data, "geometry"):
        from rasterio.features import rasterize

        gdf = data.to_crs(grid.crs)
        arr = rasterize(
            ((g, 1) for g in gdf.geometry if g is not None and not g.is_empty),
            out_shape=grid.shape,
            transform=grid.transform,
            fill=0,
            dtype="uint8",
        )
        return Raster.from_array(arr, grid)
    return None


def read_on_grid(value: Any, grid: Grid) -> Raster | None:
    """An extra input (a raster path or a Raster) read whole onto ``grid``; else ``None``."""
    if isinstance(value, str | Path):
        from geoeco.core.align import aligned_source

        with aligned_source(value, grid, resampling="nearest", name=Path(value).name) as src:
            out: Raster = src.read_raster()
            return out
    return value if isinstance(value, Raster) else None


def counties_for(area: AOI) -> Any:
    """The built-in counties overlapping ``area`` (a GeoDataFrame in EPSG:4490), with their
    province and city names; :class:`InvalidInput` when none does."""
    from geoeco.catalog.admin import admin_units

    c = admin_units("county")
    hit = c[c.intersects(area.lonlat)]
    if hit.empty:
        raise InvalidInput(f"{area.label}: no county of the built-in boundaries overlaps it")
    prov = admin_units("province").set_index("code")["name"]
    city = admin_units("city").set_index("code")["name"]
    hit = hit.copy()
    hit["province_name"] = hit["province_code"].map(prov).fillna("")
    hit["city_name"] = hit["city_code"].map(city).fillna(hit["province_name"])
    return hit


def flag_drivers(flags: Raster) -> dict[str, Raster]:
    """Unit drivers from the overlay's flag bits: Three-North membership, battle area (1-3),
    and whether approximate or synthetic layers decided a pixel."""
    f = np.ma.filled(flags.array, 0).astype(np.uint8)
    battle = np.zeros(f.shape, np.uint8)
    for i, bit in enumerate((8, 16, 32), start=1):
        battle[(f & bit) > 0] = i
    return {
        "three_north": flags.with_array((f & 4) > 0),
        "battle": flags.with_array(battle),
        "depends_approximation": flags.with_array((f & 1) > 0),
        "depends_synthetic": flags.with_array((f & 2) > 0),
    }


__all__ = [
    "ATTRIBUTE_INPUTS",
    "DEFAULT_MASK_LAYERS",
    "USER_MASK_ROLES",
    "bind_inputs",
    "counties_for",
    "flag_drivers",
    "on_grid",
    "read_on_grid",
    "unbound_inputs",
]
