"""Process checks (issue 12, Found 7): what a run would fail on is found before it runs.

Each contradiction below used to be accepted and to fail 15-35 s later in the worker. The
library's ``check_inputs`` (run by ``prepare`` at submission and by ``execute`` before a run)
now refuses it without building the demo or reading a pixel.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from geoeco.core.errors import (
    InvalidFields,
    InvalidInput,
    InvalidProcessInputs,
    ProcessInputTooLarge,
)
from geoeco.erosion.config import ConfigConflict, make_config
from geoeco.erosion.run import check_landcover_codes
from geoeco.service.process_inputs import ExecutionContext
from geoeco.service.processes import check_inputs, execute, prepare

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[110.0, 38.0], [110.1, 38.0], [110.1, 38.1], [110.0, 38.1], [110.0, 38.0]]],
}


def _errors(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc.value.errors}


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"r": 4000.0}, "r", "the demo region's settings give r_daily"),
        ({"routing": "mfd"}, "routing", "the demo region's settings give ls_method"),
        ({"model": "csle"}, "model", "land-use codes [1, 2, 3, 4, 5, 6, 7] have no entry"),
        ({"k": 0.03}, "k", "the demo region's settings give texture"),
        ({"p": 0.5}, "p", "p_method='table'"),
    ],
)
def test_erosion_contradictions_with_the_demo(inputs: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("erosion", {"demo_size": "full", **inputs})
    assert list(_errors(e)) == [field]
    assert words in _errors(e)[field]


def test_erosion_settings_the_demo_accepts() -> None:
    # another LS method may use MFD; C as a number replaces the demo's C from NDVI
    for ok in ({"routing": "mfd", "ls_method": "dg"}, {"c": 0.2}, {"ndvi": "demo.ndvi"}):
        check_inputs("erosion", {"demo_size": "small", **ok})


def test_execute_runs_the_same_check_before_anything(tmp_path: Path) -> None:
    """The worker's path: no demo built, no output folder made, the same error at once."""
    out = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(InvalidProcessInputs, match="give exactly one of r, r_monthly, r_daily"):
        execute("erosion", {"demo_size": "full", "r": 4000.0}, out)
    assert time.perf_counter() - t0 < 5.0  # the run built the 100 km demo first (15-35 s)
    assert not out.exists()


def test_erosion_config_conflicts_name_every_setting() -> None:
    with pytest.raises(InvalidFields) as e:
        make_config({"r": 1.0, "r_daily": "rain.tif", "k": 0.1, "c": 0.2, "routing": "mfd"})
    got = {tuple(x["fields"]) for x in e.value.errors}
    assert got == {("r", "r_monthly", "r_daily"), ("ls_method", "routing")}
    # a config-file contradiction the run used to ignore silently: P given and taken from a table
    with pytest.raises(InvalidFields, match="p is given but p_method='table'"):
        make_config(
            {
                "r": 1.0,
                "k": 0.1,
                "c": 0.2,
                "p": 0.5,
                "p_method": "table",
                "landcover": "lc.tif",
                "landcover_table": {"path": "t.csv"},
            }
        )
    assert issubclass(ConfigConflict, ValueError)


def test_landcover_codes_against_the_demo_table() -> None:
    # the demo's table (geoeco/data/demo_landcover_factors.csv) has codes 1-7
    from geoeco.workflows.erosion import demo_erosion_dir

    table = {"path": str(demo_erosion_dir() / "demo_landcover_factors.csv")}
    cfg = make_config(
        {"r": 1.0, "k": 0.1, "landcover": "lc.tif", "landcover_table": table, "p_method": "table"}
    )
    check_landcover_codes(cfg, [1, 2, 3, 4, 5, 6, 7])
    with pytest.raises(InvalidInput, match=r"land-cover codes \[8\] have no entry"):
        check_landcover_codes(cfg, [1, 8])


def test_zoning_area_limit_and_grid_limit() -> None:
    ctx = ExecutionContext(max_aoi_km2=50.0)
    # SQUARE is 0.1° x 0.1° at 38 °N: about 11.1 km x 8.8 km = 97 km² (equal-area: 97.4)
    with pytest.raises(ProcessInputTooLarge) as e:
        check_inputs("zoning", {"aoi": SQUARE}, context=ctx)
    msg = _errors(e)["aoi"]
    assert "covers 97 km²" in msg and "at most 50 km²" in msg
    # under the limit the area is fine; the builtin registry has no layer for the rule set
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("zoning", {"aoi": SQUARE}, context=ExecutionContext(max_aoi_km2=100.0))
    assert list(_errors(e)) == ["layers"]
    assert "importance_water_conservation" in _errors(e)["layers"]


def test_zoning_layer_names_and_kinds() -> None:
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs(
            "zoning",
            {
                "layers": {
                    "nope": "demo.dem",
                    "importance_biodiversity": "protected.national_parks",
                    "soil_loss": "no.such.layer",
                }
            },
        )
    errs = _errors(e)
    assert "'nope' is not an input of rule set 'default'" in errs["layers.nope"]
    assert "vector layer" in errs["layers.importance_biodiversity"]
    assert "unknown layer id 'no.such.layer'" in errs["layers.soil_loss"]


def test_the_demo_zoning_passes_its_check() -> None:
    sub = prepare("zoning", {"demo_size": "small"})
    # the small demo at its default 30 m: 333 x 333 pixels of the demo grid
    assert sub.cells == 333 * 333 and len(sub.job_id) == 32


def test_screening_needs_results_and_known_project_types(tmp_path: Path) -> None:
    site = {"type": "Point", "coordinates": [109.7, 38.3]}
    ctx = ExecutionContext(runs_dir=tmp_path)
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs(
            "screening",
            {"zoning_job": "0" * 32, "geometry": site, "project_type": ["industry", "nope"]},
            context=ctx,
        )
    errs = _errors(e)
    assert set(errs) == {"zoning_job", "project_type[1]"}
    (tmp_path / ("0" * 32)).mkdir()
    (tmp_path / ("0" * 32) / "zones.gpkg").write_bytes(b"")
    check_inputs("screening", {"zoning_job": "0" * 32, "geometry": site}, context=ctx)
    # a 1.5° box at 38-39.5 °N is about 130 km x 166 km = 21,700 km² (under the 50,000 km² a
    # site may cover); with a 50 km buffer about 230 x 266 km less the rounded corners
    # ((4 - pi) x 50² = 2,146 km²): about 59,000 km², over the limit
    box = {
        "type": "Polygon",
        "coordinates": [[[109, 38], [110.5, 38], [110.5, 39.5], [109, 39.5], [109, 38]]],
    }
    with pytest.raises(ProcessInputTooLarge) as e:
        check_inputs(
            "screening",
            {"zoning_job": "0" * 32, "geometry": box, "buffer_m": 50_000},
            context=ctx,
        )
    assert list(_errors(e)) == ["buffer_m"]
    km2 = float(_errors(e)["buffer_m"].split("covers ")[1].split(" km²")[0].replace(",", ""))
    assert 57_000 < km2 < 61_000  # the hand estimate above, within the Albers distortion


def test_inputs_with_unusable_json_values() -> None:
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("zoning", {"aoi": {"type": "Feature", "properties": {"n": "\ud800"}}})
    assert list(_errors(e)) == ["aoi.properties.n"]
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("erosion", {"r": float("nan")})
    assert list(_errors(e)) == ["r"]
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("erosion", [1, 2])  # type: ignore[arg-type]
    assert list(_errors(e)) == ["inputs"]


def test_zoning_aoi_must_overlap_a_county() -> None:
    # 0.1° square in the East China Sea (125 °E, 30 °N), far from any county
    sea = {
        "type": "Polygon",
        "coordinates": [
            [[125.0, 30.0], [125.1, 30.0], [125.1, 30.1], [125.0, 30.1], [125.0, 30.0]]
        ],
    }
    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("zoning", {"aoi": sea})
    assert "no county of the built-in boundaries overlaps it" in _errors(e)["aoi"]
