"""Provenance that survives every path (issue 14 item 3): rasters geoeco writes carry their
status and lineage in GDAL tags, inputs given by path inherit it, files without the tags are
``user``; class rasters name their classes (item 8)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geoeco.core.provenance import raster_lineage, resolve_status, worst_status
from geoeco.core.windows import file_status
from geoeco.workflows.demo_inputs import demo_zoning_inputs
from geoeco.workflows.zoning import run_zoning

RULE_INPUTS = (
    "importance_water_conservation",
    "importance_biodiversity",
    "importance_soil_conservation",
    "importance_windbreak",
    "sensitivity_soil_erosion",
    "sensitivity_sanding",
    "erosion_grade",
    "desertification_degree",
)


def _plain_copy(src: Path, dest: Path) -> Path:
    """The pixels and georeferencing of ``src`` in a plain GeoTIFF without any tag."""
    with rasterio.open(src) as ds:
        profile = {
            "driver": "GTiff",
            "width": ds.width,
            "height": ds.height,
            "count": 1,
            "dtype": ds.dtypes[0],
            "crs": ds.crs,
            "transform": ds.transform,
            "nodata": ds.nodata,
        }
        data = ds.read(1)
    with rasterio.open(dest, "w", **profile) as out:
        out.write(data, 1)
    return dest


def test_status_rules_by_hand() -> None:
    """Untagged files are the user's unless vouched for; tags can be lowered, never raised."""
    assert resolve_status(None, None) == "user"
    assert resolve_status("real", None) == "real"
    assert resolve_status("real", "synthetic") == "synthetic"
    assert resolve_status("approximation", "real") == "approximation"
    assert worst_status(["user", "real"]) == "user"
    assert worst_status(["user", "approximation"]) == "approximation"


def test_demo_rasters_by_path_stay_synthetic_and_plain_files_are_user(
    demo_run_small: Path, tmp_path: Path
) -> None:
    """The demo's analyses given by path are recorded synthetic (tags, not the caller); the
    same pixels in a plain GeoTIFF are ``user`` (no warning flag); the outputs carry the
    least trusted status and a lineage naming each input's."""
    given = {k: v for k, v in demo_zoning_inputs(demo_run_small).items() if k in RULE_INPUTS}
    for k in RULE_INPUTS:
        assert file_status(given[k]) == "synthetic", k
    given["erosion_grade"] = _plain_copy(given["erosion_grade"], tmp_path / "mine.tif")
    assert file_status(given["erosion_grade"]) == "user"
    # the caller cannot raise a synthetic raster to real
    statuses = dict.fromkeys(RULE_INPUTS, "real")
    s = run_zoning(
        tmp_path / "z", inputs=given, statuses=statuses, demo_size="small", write_map=False
    ).summary()
    ins = s["zones"]["inputs"]
    assert ins["erosion_grade"]["status"] == "real"  # vouched for by the caller, untagged
    assert ins["sensitivity_sanding"]["status"] == "synthetic"
    s2 = run_zoning(tmp_path / "z2", inputs=given, demo_size="small", write_map=False).summary()
    ins2 = s2["zones"]["inputs"]
    assert ins2["erosion_grade"]["status"] == "user"
    assert "erosion_grade" not in s2["synthetic_layers"] + s2["approximation_layers"]
    assert "sensitivity_sanding" in s2["synthetic_layers"]
    rec = raster_lineage(tmp_path / "z2" / "zone_class.tif")
    assert rec["status"] == "synthetic" and rec["version"]
    assert rec["lineage"]["inputs"]["erosion_grade"] == "user"
    assert rec["lineage"]["inputs"]["importance_biodiversity"] == "synthetic"


def test_user_only_inputs_give_user_outputs(make_raster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A class raster made by hand is ``user``; a raster geoeco derives from it too."""
    p = make_raster(np.full((20, 20), 2, "uint8"), "classes.tif", nodata=0)
    assert file_status(p) == "user" and raster_lineage(p)["status"] is None


def test_class_cogs_name_their_classes_for_gdalinfo(demo_run_small: Path) -> None:
    """gdalinfo (Debian gdal-bin, an independent reader) lists the class names of the class
    COGs geoeco writes, from the file alone (no side-car), and the status tag."""
    z = demo_run_small / "zones" / "zone_class.tif"
    e = demo_run_small / "erosion" / "erosion_grade.tif"
    for p in (z, e):
        assert not Path(str(p) + ".aux.xml").exists()
    info = json.loads(
        subprocess.run(
            ["gdalinfo", "-json", str(z)], capture_output=True, text=True, check=True
        ).stdout
    )
    band = info["bands"][0]["metadata"][""]
    assert band["CLASS_1"] == "优先保护单元 priority protection"
    assert band["CLASS_2"] == "重点管控单元 key control"
    assert band["CLASS_3"] == "一般管控单元 general control"
    assert info["metadata"][""]["GEOECO_STATUS"] == "synthetic"
    text = subprocess.run(["gdalinfo", str(e)], capture_output=True, text=True, check=True).stdout
    assert "CLASS_6=" in text and "GEOECO_STATUS=synthetic" in text


@pytest.mark.parametrize("name", ["soil_loss.tif", "erosion_grade.tif", "ls.tif"])
def test_erosion_outputs_of_the_demo_are_synthetic(demo_run_small: Path, name: str) -> None:
    """Erosion on the demo's DEM (given by path) writes synthetic outputs."""
    assert raster_lineage(demo_run_small / "erosion" / name)["status"] == "synthetic"


def test_processes_on_the_demo_say_so_and_keep_provenance(tmp_path: Path) -> None:
    """The desertification process without an NDVI layer runs on the synthetic demo: its
    answer says so, states the status, and keeps ``provenance`` (the short job summary used
    to drop it, with the unverified-parameter flags)."""
    from geoeco.service.process_inputs import ExecutionContext
    from geoeco.service.processes import execute

    res = execute("desertification", {"demo_size": "small"}, tmp_path / "d",
                  context=ExecutionContext())  # fmt: skip
    s = dict(res.summary)
    assert s["inputs"] == "synthetic demo region" and s["status"] == "synthetic"
    full = json.loads((tmp_path / "d" / "summary.json").read_text("utf-8"))
    assert "provenance" in full and s["provenance"] == full["provenance"]
    assert raster_lineage(tmp_path / "d" / "desertification_degree.tif")["status"] == "synthetic"


def test_short_summary_states_the_least_trusted_input() -> None:
    from geoeco.workflows.summaries import short_summary

    s = {"kind": "zoning", "zones": {"inputs": {"a": {"status": "user"}, "b": {"status": "real"}}},
         "provenance": {"unverified": ["x"]}}  # fmt: skip
    assert short_summary(s) == {"kind": "zoning", "provenance": {"unverified": ["x"]},
                                "status": "user"}  # fmt: skip
