"""The files a zoning run writes (:func:`geoeco.workflows.zoning.run_zoning`, step 7).

* class and score rasters as COGs (:data:`RASTER_OUTPUTS`; class rasters carry the colours of
  their class tables);
* ``zones.gpkg``: layers ``units``, ``redline``, ``restoration`` and the statistics tables,
  with QGIS styles; ``units.parquet``; ``statistics.csv``/``.xlsx``;
  ``restoration_coverage.csv``; the 三线一单 export (``units_sxyd.gpkg`` or ``.shp``);
* with a second rule set, ``zone_change.tif`` and ``comparison.csv``;
* ``map.html`` (:func:`write_web_map`), when asked and the ``maps`` extra is installed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.raster import Raster
from geoeco.restoration.run import RestorationResult

#: Output rasters, by file name.
RASTER_OUTPUTS = (
    "zone_class.tif",
    "redline.tif",
    "flags.tif",
    "restoration_rank.tif",
    "restoration_score.tif",
    "restoration_selection.tif",
)
#: Class rasters and the class table whose colours they carry (the one source of legends).
COLOUR_TABLES = {
    "zone_class.tif": "ZHGKDYFL",
    "redline.tif": "LXBM",
    "restoration_selection.tif": "Restoration-selection",
}
#: Table files every run writes besides its rasters.
TABLE_OUTPUTS = (
    "zones.gpkg",
    "units.parquet",
    "statistics.csv",
    "statistics.xlsx",
    "restoration_coverage.csv",
)
COMPARISON_OUTPUTS = ("zone_change.tif", "comparison.csv")


def write_rasters(
    rasters: dict[str, Raster], out: Path, tags: dict[str, str] | None = None
) -> None:
    """Write each raster as ``out/<name>``: unsigned and boolean rasters as uint8 with nodata
    0 (class rasters with their colour table and class names), the rest as float32; every
    one with ``tags`` (status and lineage, :mod:`geoeco.core.provenance`)."""
    from geoeco.catalog.classes import get_table
    from geoeco.core.io import write_raster
    from geoeco.core.provenance import TAG_CLASS_TABLE

    for fname, r in rasters.items():
        kind = np.dtype(r.dtype).kind
        table = get_table(COLOUR_TABLES[fname]) if fname in COLOUR_TABLES else None
        extra = {} if table is None else {TAG_CLASS_TABLE: f"{table.name} ({table.version})"}
        write_raster(
            r,
            out / fname,
            nodata=0 if kind == "u" else None,
            dtype="uint8" if kind in "ub" else "float32",
            colormap=None if table is None else table.colormap(),
            categories=None if table is None else table.category_names(),
            tags={**(tags or {}), **extra},
        )


def shapely_shape(geojson: Any) -> Any:
    """A shapely geometry from a GeoJSON-like mapping."""
    from shapely.geometry import shape

    return shape(geojson)


def polygons(raster: Raster, *, name: str) -> Any:
    """Polygons of the non-zero values of a uint8 raster (one row per connected part)."""
    import geopandas as gpd
    from rasterio.features import shapes

    a = np.ma.filled(raster.array, 0).astype(np.uint8)
    parts = [
        (shapely_shape(g), int(v))
        for g, v in shapes(a, mask=a > 0, transform=raster.transform, connectivity=8)
    ]
    return gpd.GeoDataFrame(
        {name: [v for _, v in parts]}, geometry=[g for g, _ in parts], crs=raster.crs
    )


def redline_layer(redline: Raster) -> Any:
    """Red-line polygons dissolved by type (``LXBM``) with names and equal-area km²."""
    from geoeco.zoning.rules import REDLINE_CODES

    gdf = polygons(redline, name="LXBM")
    if gdf.empty:
        return gdf
    gdf = gdf.dissolve(by="LXBM", as_index=False)
    gdf["type_zh"] = gdf["LXBM"].map(lambda c: REDLINE_CODES.get(c, ("", ""))[0])
    gdf["type_en"] = gdf["LXBM"].map(lambda c: REDLINE_CODES.get(c, ("", ""))[1])
    gdf["area_km2"] = gdf.to_crs(ALBERS_CHINA).area / 1e6
    return gdf


def restoration_layer(rest: RestorationResult) -> Any:
    """Polygons of the cells selected for restoration (selection code 2), with km²."""
    sel = rest.selection.with_array(np.ma.filled(rest.selection.array, 0) == 2)
    gdf = polygons(sel.with_array(np.ma.filled(sel.array, 0).astype(np.uint8)), name="selected")
    gdf["area_km2"] = gdf.to_crs(ALBERS_CHINA).area / 1e6
    return gdf


def coverage_table(rest: RestorationResult) -> Any:
    """The restoration coverage table, or an all-zero row when nothing was eligible (a
    GeoPackage layer needs a column)."""
    import pandas as pd

    if len(rest.coverage.columns):
        return rest.coverage
    return pd.DataFrame({"need": ["eligible"], "total_km2": [0.0], "selected_km2": [0.0]})


def compare_zones(a: Raster, b: Raster, cell_km2: float) -> tuple[Raster, Any]:
    """Transition raster (10·class_a + class_b, 0 nodata) and a transition table in km²."""
    import pandas as pd

    from geoeco.zoning.rules import ZONE_CLASSES

    za = np.ma.filled(a.array, 0).astype(np.uint8)
    zb = np.ma.filled(b.array, 0).astype(np.uint8)
    change = np.where((za > 0) & (zb > 0), za * 10 + zb, 0).astype(np.uint8)
    counts = np.bincount(change.ravel(), minlength=34)
    rows = [
        {
            "class_a": ca,
            "class_a_en": ZONE_CLASSES[ca][1],
            "class_b": cb,
            "class_b_en": ZONE_CLASSES[cb][1],
            "area_km2": float(counts[ca * 10 + cb]) * cell_km2,
        }
        for ca in (1, 2, 3)
        for cb in (1, 2, 3)
    ]
    return a.with_array(change), pd.DataFrame(rows)


def write_comparison(change: Raster, transitions: Any, out: Path) -> None:
    """``zone_change.tif`` and ``comparison.csv`` of a comparison with a second rule set."""
    from geoeco.core.io import write_raster, write_table

    write_raster(change, out / "zone_change.tif", nodata=0, dtype="uint8")
    write_table(transitions, out / "comparison.csv")


def write_vectors_and_tables(gpkg: dict[str, Any], rest: RestorationResult, out: Path) -> None:
    """``zones.gpkg`` (styled) of the layers ``gpkg``, ``units.parquet`` (its units), the
    statistics (CSV and XLSX) and the restoration coverage table."""
    from geoeco.catalog.styles import ZONING_STYLES, categorized_qml
    from geoeco.core.io import write_geopackage, write_table, write_vector

    styles = {layer: categorized_qml(attr, t) for layer, (attr, t) in ZONING_STYLES.items()}
    write_geopackage(gpkg, out / "zones.gpkg", styles=styles)
    write_vector(gpkg["units"], out / "units.parquet")
    write_table(gpkg["statistics"], out / "statistics.csv")
    write_table(gpkg["statistics"], out / "statistics.xlsx", sheet="statistics")
    write_table(rest.coverage, out / "restoration_coverage.csv")


#: Areas in the written tables are rounded to 0.0001 km² (100 m², a ninth of a 30 m pixel).
AREA_DECIMALS = 4


def _class_names(codes: Any, table: str, zh: bool) -> Any:
    """The names (zh or en) of class ``codes`` of class table ``table``; "" for 0 (no data)."""
    from geoeco.catalog.classes import get_table

    names = {c.code: c.name_zh if zh else c.name_en for c in get_table(table).classes}
    return codes.map(lambda c: names.get(int(c), ""))


def readable_statistics(table: Any, counties: Any = None) -> Any:
    """The statistics as written: whole pixel counts (pixel-centre counts are integers),
    areas rounded to :data:`AREA_DECIMALS`, and names beside the codes (county name, zone
    class, erosion grade and desertification degree in Chinese and English).

    The county name comes from the ``name`` column of ``counties`` (keyed by ``code``).
    """
    t = table.copy()
    px = t["pixels"].to_numpy(dtype=float)
    whole = np.allclose(px, np.rint(px), rtol=0, atol=1e-9)
    t["pixels"] = np.rint(px).astype(np.int64) if whole else np.round(px, AREA_DECIMALS)
    t["area_km2"] = t["area_km2"].round(AREA_DECIMALS)
    names = {} if counties is None else dict(zip(counties["code"], counties["name"], strict=True))
    t.insert(1, "county_name", t["county"].map(lambda c: names.get(c, "")))
    for col, table_name in (
        ("zone_class", "ZHGKDYFL"),
        ("erosion_grade", "SL190-2007/water"),
        ("desertification_degree", "WangTao-2003"),
    ):
        if col in t:
            t[f"{col}_zh"] = _class_names(t[col], table_name, True)
            t[f"{col}_en"] = _class_names(t[col], table_name, False)
    return t


def readable_totals(totals: Any) -> Any:
    """The class totals as written: zone class names and areas rounded to
    :data:`AREA_DECIMALS`."""
    from geoeco.zoning.rules import ZONE_CLASSES

    names = {str(c): n for c, n in ZONE_CLASSES.items()}
    t = totals.copy()
    codes = t[t.columns[0]].astype(str)
    t.insert(1, "class_zh", codes.map(lambda c: names.get(c, ("合计", ""))[0]))
    t.insert(2, "class_en", codes.map(lambda c: names.get(c, ("", "total"))[1]))
    t["area_km2"] = t["area_km2"].round(AREA_DECIMALS)
    return t


def geopackage_layers(
    units: Any,
    redline: Raster,
    rest: RestorationResult,
    table: Any,
    totals: Any,
    counties: Any = None,
) -> dict[str, Any]:
    """The layers of ``zones.gpkg``: units, red line and restoration polygons in CGCS2000, and
    the statistics (:func:`readable_statistics`, county names from ``counties``), class
    totals and restoration coverage tables."""
    return {
        "units": units.to_crs(CGCS2000),
        "redline": redline_layer(redline).to_crs(CGCS2000),
        "restoration": restoration_layer(rest).to_crs(CGCS2000),
        "statistics": readable_statistics(table, counties),
        "class_totals": readable_totals(totals),
        "restoration_coverage": coverage_table(rest),
    }


def write_web_map(
    out: Path, banner: list[str] | None = None, attribution: list[dict[str, Any]] | None = None
) -> str:
    """Write the self-contained ``map.html`` (needs the ``maps`` extra); say what happened.
    ``banner``: its warning lines (:func:`geoeco.maps.banner.banner_lines`); ``attribution``:
    the data sources and licences it lists (default for both: from ``out/summary.json``).

    The map is a view of the results: if it cannot be drawn the zoning still stands, and the
    summary says why there is no map.
    """
    try:
        from geoeco.maps.zone import write_zone_map

        write_zone_map(out, out / "map.html", banner=banner, attribution=attribution)
    except ImportError as exc:
        return f"not written: {exc}"
    except Exception as exc:
        logging.getLogger(__name__).warning("map.html not written", exc_info=exc)
        return f"not written: {type(exc).__name__}"
    return "map.html"


__all__ = [
    "COLOUR_TABLES",
    "COMPARISON_OUTPUTS",
    "RASTER_OUTPUTS",
    "TABLE_OUTPUTS",
    "compare_zones",
    "coverage_table",
    "geopackage_layers",
    "polygons",
    "redline_layer",
    "restoration_layer",
    "shapely_shape",
    "write_comparison",
    "write_web_map",
    "write_rasters",
    "write_vectors_and_tables",
]
