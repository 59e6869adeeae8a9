"""``geoeco inputs-mirror``: a local static STAC catalog of the county's windows, written from
the loopback server; with the server stopped, a build from the mirror gives the same rasters
(pixel hashes) as the build over HTTP, and the mirror is a fraction of the source tiles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pystac
import rasterio
import shapely

from geoeco.inputs.config import CatalogConfig
from geoeco.workflows.build_inputs import mirror_inputs

from .conftest import FAST
from .fixture import COUNTY_BOX, COUNTY_YEAR, Fixture, build_fixture_inputs
from .rangeserver import serve


def _pixels_sha(path: Path) -> str:
    with rasterio.open(path) as ds:
        data = ds.read(masked=True).astype("float64").filled(np.nan)
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()


def test_mirror_then_offline_build_gives_the_same_rasters(
    fx: Fixture, inputs_folder: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    for srv in serve(fx.root):
        catalogs = {
            "planetary-computer": CatalogConfig.http_mirror(
                srv.url + "/catalog.json", name="loopback"
            ),
            "isric-soilgrids": CatalogConfig(
                name="loopback-soil",
                kind="files",
                url=srv.url + "/soilgrids/",
                allowed_prefixes=(srv.url + "/soilgrids/",),
            ),
        }
        report = mirror_inputs(
            shapely.box(*COUNTY_BOX),
            year=COUNTY_YEAR,
            res=250.0,
            out=mirror,
            catalogs=catalogs,
            options=FAST,
        )
        tifs = [h for h in srv.log.snapshot() if h.path.endswith(".tif")]
        assert tifs and all(h.range is not None for h in tifs if h.method == "GET")
    # the server is stopped: everything below reads the mirror only
    cat = pystac.Catalog.from_file(str(mirror / "catalog.json"))
    ids = {c.id: sorted(i.id for i in c.get_items()) for c in cat.get_children()}
    assert ids["modis-13Q1-061"] == [
        f"MOD13Q1.A{d}.h26v05.061.2021200000000" for d in ("2021097", "2021113", "2021129")
    ]
    assert ids["esa-worldcover"] == ["ESA_WorldCover_10m_2021_v200_N36E111"]
    assert (mirror / "soilgrids" / "sand" / "sand_0-5cm_mean.vrt").is_file()
    assert report.items["modis-13q1.ndvi"] == 3
    assert report.nbytes < 0.3 * sum(fx.tile_bytes.values())
    offline = build_fixture_inputs(mirror, tmp_path / "offline")
    man = json.loads((inputs_folder / "inputs.json").read_text())
    for name, entry in man["files"].items():
        assert _pixels_sha(tmp_path / "offline" / entry["file"]) == _pixels_sha(
            inputs_folder / entry["file"]
        ), name
    assert offline.manifest["sources"][0]["catalog"] == "local-mirror"
