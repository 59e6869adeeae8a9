"""Ecological control zoning end to end: AOI → aligned inputs → zones → units → outputs.

:func:`run_zoning` is what ``geoeco zone`` and the API call:

1. resolve the area of interest (a county/city/province code, a vector file, a geometry, or
   the demo region) and lay an equal-area grid (``ALBERS_CHINA``) over it;
2. bind every input of the rule set: class rasters (importance, sensitivity, erosion grade,
   desertification degree) warped onto the grid with nearest-neighbour resampling, and polygon
   masks (national parks, Three-North, battle areas, the user's protected and development
   layers), each with the status of its layer (real / approximation / synthetic);
3. classify zones and the red line window by window
(:func:`geoeco.zoning.overlay.run.compute_zones`),
   in this process or on a Dask cluster (``engine``, see :mod:`geoeco.core.engine`);
4. build control units per county (:func:`geoeco.zoning.units.build.build_units`) with access lists;
5. tabulate areas (county × class × erosion grade × desertification degree);
6. rank restoration priorities inside key control units and select under a budget;
7. write ``zones.gpkg`` (layers ``units``, ``redline``, ``restoration`` and the statistics
   tables), COGs, CSV/XLSX, GeoParquet, the 三线一单 export and ``summary.json``.

Everything that can be checked is checked before heavy work: unknown rule inputs, missing
raster inputs (named in the message), an empty area, layers that do not overlap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.layers import LayerRegistry, LayerSpec, load_registry
from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.engine import Engine, check_engine, using_engine
from geoeco.core.errors import InvalidInput
from geoeco.core.raster import Grid, Raster
from geoeco.core.windows import engine_info, write_json
from geoeco.zoning.aoi import AOI, analysis_grid, resolve_aoi
from geoeco.zoning.overlay.inputs import LayerInput
from geoeco.zoning.overlay.outputs import ZoningSummary
from geoeco.zoning.overlay.run import compute_zones
from geoeco.zoning.rules import RuleSet, load_rule_set

Progress = Callable[[str, float], None]

#: Built-in layers bound to rule-set mask inputs when the caller gives none (the rule set's
#: own ``select`` picks the battle).
DEFAULT_MASK_LAYERS: dict[str, str] = {
    "national_parks": "protected.national_parks",
    "three_north": "programme.three_north",
    "battle_ji_bend": "programme.battles",
    "battle_horqin_hunshandake": "programme.battles",
    "battle_hexi_taklimakan": "programme.battles",
}


def _spec_input(
    spec: LayerSpec, grid: Grid, stack: contextlib.ExitStack, cache_dir: Path | None
) -> LayerInput:
    from geoeco.catalog.sources import layer_raster_path, read_layer_vector
    from geoeco.core.align import aligned_file

    if spec.kind == "vector":
        gdf = read_layer_vector(spec)
        return LayerInput(gdf, status=spec.status, role=spec.role, version=spec.version)
    path = layer_raster_path(spec, cache_dir=cache_dir)
    src = aligned_file(path, grid, resampling="nearest", name=spec.id)
    return LayerInput(src, status=spec.status, role=spec.role, version=spec.version)


#: Inputs of :func:`run_zoning` besides the rule set's: unit attributes and restoration.
ATTRIBUTE_INPUTS = ("soil_loss", "fvc", "importance_max")


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
    have = set(given)
    have |= {
        s.variable for s in reg if s.variable and s.kind == "raster" and s.role == "evaluation"
    }
    have |= {n for n, lid in DEFAULT_MASK_LAYERS.items() if lid in reg}
    return [n for n, i in rules.inputs.items() if getattr(i, "required", True) and n not in have]


def bind_inputs(
    rules: RuleSet,
    grid: Grid,
    stack: contextlib.ExitStack,
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
    :class:`~geoeco.core.align.AlignedFile` readers that open the file for each read, so that the
    workers of an engine (e.g. Dask) can read their windows themselves. ``stack`` stays for
    callers' compatibility: these readers hold nothing open between reads.
    """
    from geoeco.core.align import aligned_file

    reg = registry or load_registry()
    statuses = dict(statuses or {})
    layers: dict[str, Any] = {}
    for name, value in (given or {}).items():
        if isinstance(value, str | Path):
            src = aligned_file(value, grid, resampling="nearest", name=Path(value).name)
            layers[name] = LayerInput(src, status=statuses.get(name, "real"))  # type: ignore[arg-type]
        else:
            layers[name] = value
    by_variable = {
        s.variable: s for s in reg if s.variable and s.kind == "raster" and s.role == "evaluation"
    }
    for name in rules.inputs:
        if name in layers:
            continue
        if name in by_variable:
            layers[name] = _spec_input(by_variable[name], grid, stack, cache_dir)
        elif name in DEFAULT_MASK_LAYERS and DEFAULT_MASK_LAYERS[name] in reg:
            layers[name] = _spec_input(reg.get(DEFAULT_MASK_LAYERS[name]), grid, stack, cache_dir)
    for spec in reg:
        if (
            spec.id.startswith("user.")
            and spec.role in ("protected", "development")
            and spec.kind == "vector"
        ):
            layers.setdefault(spec.id, _spec_input(spec, grid, stack, cache_dir))
    missing = unbound_inputs(rules, layers, reg)
    if missing:
        raise InvalidInput(
            "the area has no data for these inputs of rule set "
            f"{rules.name!r}: {', '.join(missing)}; give them as rasters (e.g. from "
            "`geoeco evaluate`) or register layers whose variable names them"
        )
    return layers


def _on_grid(value: Any, grid: Grid) -> Raster | None:
    """A bound input as a whole-grid Raster (readers are read once; polygons rasterised)."""
    data = value.data if isinstance(value, LayerInput) else value
    if data is None:
        return None
    if isinstance(data, Raster):
        return data
    if hasattr(data, "read_raster"):
        return data.read_raster()
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


def counties_for(area: AOI):  # type: ignore[no-untyped-def]
    """The built-in counties overlapping ``area``, with province and city names."""
    from geoeco.catalog.admin import admin_units

    c = admin_units("county")
    hit = c[c.intersects(area.geometry)]
    if hit.empty:
        raise InvalidInput(f"{area.label}: no county of the built-in boundaries overlaps it")
    prov = admin_units("province").set_index("code")["name"]
    city = admin_units("city").set_index("code")["name"]
    hit = hit.copy()
    hit["province_name"] = hit["province_code"].map(prov).fillna("")
    hit["city_name"] = hit["city_code"].map(city).fillna(hit["province_name"])
    return hit


def _flag_drivers(flags: Raster) -> dict[str, Raster]:
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


def _polygons(raster: Raster, *, name: str) -> Any:
    """Polygons of the non-zero values of a uint8 raster (one row per connected part)."""
    import geopandas as gpd
    from rasterio.features import shapes

    a = np.ma.filled(raster.array, 0).astype(np.uint8)
    parts = [
        (shapely_shape(g), int(v))
        for g, v in shapes(a, mask=a > 0, transform=raster.transform, connectivity=8)
    ]
    gdf = gpd.GeoDataFrame(
        {name: [v for _, v in parts]}, geometry=[g for g, _ in parts], crs=raster.crs
    )
    return gdf


def shapely_shape(geojson: Any) -> Any:
    """A shapely geometry from a GeoJSON-like mapping."""
    from shapely.geometry import shape

    return shape(geojson)


def _redline_layer(redline: Raster) -> Any:
    from geoeco.zoning.rules import REDLINE_CODES

    gdf = _polygons(redline, name="LXBM")
    if gdf.empty:
        return gdf
    gdf = gdf.dissolve(by="LXBM", as_index=False)
    gdf["type_zh"] = gdf["LXBM"].map(lambda c: REDLINE_CODES.get(c, ("", ""))[0])
    gdf["type_en"] = gdf["LXBM"].map(lambda c: REDLINE_CODES.get(c, ("", ""))[1])
    gdf["area_km2"] = gdf.to_crs(ALBERS_CHINA).area / 1e6
    return gdf


def _compare(a: Raster, b: Raster, cell_km2: float) -> tuple[Raster, Any]:
    """Transition raster (10·class_a + class_b, 0 nodata) and a transition table in km²."""
    import pandas as pd

    from geoeco.zoning.rules import ZONE_CLASSES

    za = np.ma.filled(a.array, 0).astype(np.uint8)
    zb = np.ma.filled(b.array, 0).astype(np.uint8)
    change = np.where((za > 0) & (zb > 0), za * 10 + zb, 0).astype(np.uint8)
    counts = np.bincount(change.ravel(), minlength=34)
    rows = []
    for ca in (1, 2, 3):
        for cb in (1, 2, 3):
            rows.append(
                {
                    "class_a": ca,
                    "class_a_en": ZONE_CLASSES[ca][1],
                    "class_b": cb,
                    "class_b_en": ZONE_CLASSES[cb][1],
                    "area_km2": float(counts[ca * 10 + cb]) * cell_km2,
                }
            )
    table = pd.DataFrame(rows)
    return a.with_array(change), table


#: Grids above this many pixels build their control units in county batches of at most this
#: size (identical units). Whole-grid units cost about 55 B/px: 600 MB on the 30 m demo
#: (11 Mpx), which took the whole demo chain there to 1.6-2.1 GB peak RSS.
UNIT_BATCH_PIXELS = 4_000_000


def run_zoning(
    out_dir: str | Path,
    *,
    aoi: Any = None,
    rules: str | Path | RuleSet = "default",
    inputs: Mapping[str, Any] | None = None,
    statuses: Mapping[str, str] | None = None,
    registry: LayerRegistry | None = None,
    res: float = 90.0,
    budget_km2: float | None = None,
    compare: str | Path | RuleSet | None = None,
    cache_dir: str | Path | None = None,
    min_unit_km2: float = 0.1,
    simplify_m: float | None = None,
    sxyd_crs: str = "cgcs2000",
    sxyd_format: str = "gpkg",
    demo_size: str = "full",
    write_map: bool = True,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
) -> dict[str, Any]:
    """Zone an area and write every output into ``out_dir``; return the summary.

    ``inputs`` maps rule-set input names (and ``soil_loss``, ``fvc``, ``importance_max`` for
    unit attributes and restoration) to raster paths, Rasters, GeoDataFrames or
    :class:`~geoeco.zoning.overlay.run.LayerInput`; ``statuses`` gives the status of path inputs.

    ``engine`` (a :class:`~geoeco.core.engine.Engine`, ``"local"`` (default) or ``"dask"``, see
    :func:`geoeco.core.engine.get_engine`) is where
    :func:`~geoeco.zoning.overlay.run.compute_zones` runs its
    per-tile work, for the rule set and for ``compare``. Raster paths and registry layers are
    bound as picklable file readers, so Dask workers read them themselves; with an in-memory
    Raster input it runs locally (``summary["compute"]["note"]`` says so). Every engine gives
    identical outputs; ``summary["compute"]`` records where each step of the rule set's run
    ran. An engine made here from a name is closed at the end; an Engine passed in is left
    open for reuse.
    """
    import pandas as pd

    from geoeco.core.io import write_geopackage, write_raster, write_table, write_vector
    from geoeco.core.windows import equal_area_factor
    from geoeco.zoning.access import write_sxyd
    from geoeco.zoning.units.build import build_units
    from geoeco.zoning.zonestats import area_table, class_totals

    check_engine(engine)
    step = progress or (lambda s, f: None)
    out = Path(out_dir)
    rs = load_rule_set(rules)
    rs_b = load_rule_set(compare) if compare is not None else None
    area = resolve_aoi(aoi, demo_size=demo_size)
    grid = analysis_grid(area, res)
    aoi_geom = area.to_crs(ALBERS_CHINA)
    cache = Path(cache_dir) if cache_dir else None
    extra = {k: v for k, v in (inputs or {}).items() if k not in rs.inputs}
    rule_inputs = {k: v for k, v in (inputs or {}).items() if k in rs.inputs}
    step("checking inputs", 0.02)
    counties = counties_for(area)
    with contextlib.ExitStack() as stack:
        eng = stack.enter_context(using_engine(engine))
        out.mkdir(parents=True, exist_ok=True)
        layers = bind_inputs(
            rs,
            grid,
            stack,
            given=rule_inputs,
            registry=registry,
            cache_dir=cache,
            statuses=statuses,
        )
        step("zones and red line", 0.1)
        # tiles spill into ``out`` (workers see it; a killed run leaves them only there)
        zres = compute_zones(rs, layers, grid, aoi=aoi_geom, engine=eng, scratch_dir=out)
        zres_b = (
            compute_zones(rs_b, layers, grid, aoi=aoi_geom, engine=eng, scratch_dir=out)
            if rs_b is not None
            else None
        )
        step("reading drivers", 0.4)
        drivers: dict[str, Raster] = {}
        for key, name in (
            ("erosion_grade", "erosion_grade"),
            ("desertification_degree", "desertification"),
        ):
            if key in layers:
                r = _on_grid(layers[key], grid)
                if r is not None:
                    drivers[name] = r
        if "national_parks" in layers:
            park = _on_grid(layers["national_parks"], grid)
            if park is not None:
                drivers["park"] = park
        extra_rasters: dict[str, Raster] = {}
        for k, v in extra.items():
            if isinstance(v, str | Path):
                from geoeco.core.align import aligned_source

                with aligned_source(v, grid, resampling="nearest", name=Path(v).name) as src:
                    extra_rasters[k] = src.read_raster()
            elif isinstance(v, Raster):
                extra_rasters[k] = v
        if "soil_loss" in extra_rasters:
            drivers["soil_loss"] = extra_rasters["soil_loss"]
        sens = {}
        for key, name in (
            ("sensitivity_sanding", "sanding_sensitivity"),
            ("sensitivity_soil_erosion", "water_sensitivity"),
        ):
            if key in layers:
                r = _on_grid(layers[key], grid)
                if r is not None:
                    sens[name] = r
    drivers.update(_flag_drivers(zres.flags))
    step("control units", 0.5)
    units = build_units(
        zres.zone_class,
        zres.redline,
        counties,
        drivers=drivers,
        min_area_km2=min_unit_km2,
        simplify_m=simplify_m,
        # county batches keep memory bounded on large grids (results are identical)
        batch_pixels=UNIT_BATCH_PIXELS if grid.width * grid.height > UNIT_BATCH_PIXELS else None,
    )
    units = _membership_columns(units, zres.summary)
    step("statistics", 0.7)
    table = area_table(
        zres.zone_class,
        grid=grid,
        counties=counties,
        erosion=drivers.get("erosion_grade"),
        desertification=drivers.get("desertification"),
    )
    totals = class_totals(table)
    step("restoration priorities", 0.75)
    rest_in: dict[str, Raster] = {"zone_class": zres.zone_class}
    for src_name, dst_name in (
        ("erosion_grade", "erosion"),
        ("desertification", "desertification"),
    ):
        if src_name in drivers:
            rest_in[dst_name] = drivers[src_name]
    rest_in.update(sens)
    if "importance_max" in extra_rasters and "fvc" in extra_rasters:
        rest_in["importance"] = extra_rasters["importance_max"]
        rest_in["fvc"] = extra_rasters["fvc"]
    rest_in["protected"] = zres.redline.with_array(np.ma.filled(zres.redline.array, 0) > 0)
    rest_in["battle"] = drivers["battle"].with_array(np.ma.filled(drivers["battle"].array, 0) > 0)
    rest = _prioritise_or_empty(rest_in, budget_km2)
    step("writing outputs", 0.85)
    rasters = {
        "zone_class.tif": zres.zone_class,
        "redline.tif": zres.redline,
        "flags.tif": zres.flags,
        "restoration_rank.tif": rest.rank,
        "restoration_score.tif": rest.score,
        "restoration_selection.tif": rest.selection,
    }
    # class rasters carry their class table's colours (the single source for every legend)
    colour_tables = {
        "zone_class.tif": "ZHGKDYFL",
        "redline.tif": "LXBM",
        "restoration_selection.tif": "Restoration-selection",
    }
    for fname, r in rasters.items():
        kind = np.dtype(r.dtype).kind
        cmap = None
        if fname in colour_tables:
            from geoeco.catalog.classes import get_table

            cmap = get_table(colour_tables[fname]).colormap()
        write_raster(
            r,
            out / fname,
            nodata=0 if kind == "u" else None,
            dtype="uint8" if kind in "ub" else "float32",
            colormap=cmap,
        )
    redline_gdf = _redline_layer(zres.redline)
    sel = rest.selection.with_array(np.ma.filled(rest.selection.array, 0) == 2)
    rest_gdf = _polygons(
        sel.with_array(np.ma.filled(sel.array, 0).astype(np.uint8)), name="selected"
    )
    rest_gdf["area_km2"] = rest_gdf.to_crs(ALBERS_CHINA).area / 1e6
    units_out = units.to_crs(CGCS2000)
    gpkg = {
        "units": units_out,
        "redline": redline_gdf.to_crs(CGCS2000),
        "restoration": rest_gdf.to_crs(CGCS2000),
        "statistics": table,
        "class_totals": totals,
        "restoration_coverage": rest.coverage
        if len(rest.coverage.columns)
        else pd.DataFrame({"need": ["eligible"], "total_km2": [0.0], "selected_km2": [0.0]}),
    }
    comparison = None
    if zres_b is not None:
        cell_km2 = grid.cell_area / 1e6 * equal_area_factor(grid)
        change, trans = _compare(zres.zone_class, zres_b.zone_class, cell_km2)
        write_raster(change, out / "zone_change.tif", nodata=0, dtype="uint8")
        write_table(trans, out / "comparison.csv")
        gpkg["comparison"] = trans
        comparison = {
            "rules_b": rs_b.name,
            "rules_b_sha256": rs_b.sha256(),  # type: ignore[union-attr]
            "area_km2_by_class_b": zres_b.summary.area_km2.to_dict(),
            "transitions_km2": trans.to_dict(orient="records"),
        }
    from geoeco.catalog.styles import ZONING_STYLES, categorized_qml

    styles = {layer: categorized_qml(attr, table) for layer, (attr, table) in ZONING_STYLES.items()}
    write_geopackage(gpkg, out / "zones.gpkg", styles=styles)
    write_vector(units_out, out / "units.parquet")
    write_table(table, out / "statistics.csv")
    write_table(table, out / "statistics.xlsx", sheet="statistics")
    write_table(rest.coverage, out / "restoration_coverage.csv")
    if sxyd_format not in ("gpkg", "shp"):
        raise InvalidInput(f"三线一单 export format must be gpkg or shp, got {sxyd_format!r}")
    sxyd_name = f"units_sxyd.{sxyd_format}"
    write_sxyd(units, out / sxyd_name, crs=sxyd_crs)  # type: ignore[arg-type]
    step("web map", 0.95)
    map_note = _write_map(out) if write_map else "not requested"
    zones_summary = {k: v for k, v in zres.summary.to_dict().items() if k != "compute"}
    summary = {
        "kind": "zoning",
        "engine": engine_info(),
        "compute": zres.summary.compute,
        "aoi": {
            "label": area.label,
            "kind": area.kind,
            "code": area.code,
            "area_km2": area.area_km2(),
        },
        "grid": {
            "crs": "ALBERS_CHINA (CGCS2000, 25N/47N, 105E)",
            "res_m": res,
            "shape": list(grid.shape),
        },
        "rule_set": {"name": rs.name, "version": rs.version, "sha256": rs.sha256()},
        "zones": zones_summary,
        "units": {
            "count": int(len(units)),
            "by_class": units["class_en"].value_counts().to_dict() if "class_en" in units else {},
            "min_area_km2": min_unit_km2,
        },
        "class_totals_km2": dict(zip(totals.iloc[:, 0], totals["area_km2"], strict=True)),
        "restoration": {"budget_km2": budget_km2, **rest.params.to_dict()},
        "comparison": comparison,
        "approximation_layers": list(zres.summary.approximation_layers),
        "synthetic_layers": list(zres.summary.synthetic_layers),
        "map": map_note,
        "outputs": sorted(
            [
                *rasters,
                "zones.gpkg",
                "units.parquet",
                "statistics.csv",
                "statistics.xlsx",
                "restoration_coverage.csv",
                sxyd_name,
                *(["zone_change.tif", "comparison.csv"] if comparison else []),
                *(["map.html"] if map_note == "map.html" else []),
            ]
        ),
    }
    write_json(summary, out / "summary.json")
    step("done", 1.0)
    return summary


def _membership_columns(units: Any, summary: ZoningSummary) -> Any:
    """Readable membership and dependency attributes from the flag shares."""
    from geoeco.zoning.rules import BATTLES

    u = units.copy()
    if "three_north_share" in u:
        u["in_three_north"] = u["three_north_share"] >= 0.5
    if "battle_ids" in u:
        names = dict(enumerate(BATTLES, start=1))
        u["battles"] = u["battle_ids"].map(
            lambda s: (
                ",".join(
                    names[int(i)]
                    for i in str(s).split(",")
                    if i.strip().isdigit() and int(i) in names
                )
                if s
                else ""
            )
        )
    approx = summary.approximation_layers
    synth = summary.synthetic_layers
    if "depends_approximation_share" in u:
        u["depends_on_approximation"] = u["depends_approximation_share"] > 0
        u["approximation_layers"] = np.where(u["depends_on_approximation"], ",".join(approx), "")
    if "depends_synthetic_share" in u:
        u["depends_on_synthetic"] = u["depends_synthetic_share"] > 0
        u["synthetic_layers"] = np.where(u["depends_on_synthetic"], ",".join(synth), "")
    return u


def _write_map(out: Path) -> str:
    """Write the self-contained ``map.html`` (needs the ``maps`` extra); say what happened.

    The map is a view of the results: if it cannot be drawn the zoning still stands, and the
    summary says why there is no map.
    """
    import logging

    try:
        from geoeco.maps.zone import write_zone_map

        write_zone_map(out, out / "map.html")
    except ImportError as exc:
        return f"not written: {exc}"
    except Exception as exc:
        logging.getLogger(__name__).warning("map.html not written", exc_info=exc)
        return f"not written: {type(exc).__name__}"
    return "map.html"


def _prioritise_or_empty(inputs: dict[str, Raster], budget_km2: float | None) -> Any:
    """Restoration priorities, or an empty result when no cell is a candidate.

    An area with no key control unit (or no data in the scored inputs there) has nothing to
    restore under the rules: the zoning stands, the restoration outputs are empty, and the
    summary says why.
    """
    import pandas as pd

    from geoeco.core.errors import EmptyArea
    from geoeco.restoration.run import NoCandidates, RestorationResult, prioritise

    try:
        return prioritise(inputs, budget_km2=budget_km2)
    except EmptyArea as exc:
        zc = inputs["zone_class"]
        nan = zc.with_array(np.full(zc.grid.shape, np.nan, dtype="float32"))
        zero = zc.with_array(np.zeros(zc.grid.shape, dtype="uint8"))
        return RestorationResult(
            score=nan,
            rank=nan,
            selection=zero,
            coverage=pd.DataFrame(),
            params=NoCandidates(f"no restoration candidates: {exc}"),
        )
