"""Coverage, stated and enforced (issue 14 item 1): a zoning run whose inputs cover only part
of its area of interest fails naming them, unless partial results are allowed; then the
summary says the share and what each input left out.

The reproduction of the issue: 榆阳区 (610802) zoned with the small demo region's rasters,
which cover only about 100 km² of its 6,804 km².
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geoeco.cli import main
from geoeco.core.coverage import Coverage, check_coverage
from geoeco.core.errors import PartialCoverage
from geoeco.workflows.demo_inputs import demo_zoning_inputs
from geoeco.workflows.zoning import run_zoning
from geoeco.zoning.aoi import resolve_aoi

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


def _inputs(demo: Path) -> dict[str, Path]:
    return {k: v for k, v in demo_zoning_inputs(demo).items() if k in RULE_INPUTS}


def test_coverage_words_and_threshold_by_hand() -> None:
    """840 of 1000 pixels of 0.01 km²: 84 %, 1.6 km² missing; 99 % required fails, 80 % not."""
    c = Coverage.of(aoi_px=1000, analysed_px=840, px_km2=0.01, missing_px={"a": 160, "b": 0})
    assert c.share == 0.84 and c.missing_km2 == {"a": 1.6, "b": 0.0} and c.partial
    assert c.short_inputs() == ["a"]
    with pytest.raises(PartialCoverage, match=r"84\.0 %.*input a has no data on 1\.6 km²"):
        check_coverage(c, what="zoning")
    assert check_coverage(c, what="zoning", min_share=0.8) is c
    zh, en = c.words()
    assert "84.0%" in zh and "84.0 %" in en and "a 1.6 km²" in en
    full = Coverage.of(aoi_px=10, analysed_px=10, px_km2=1.0)
    assert full.share == 1.0 and not full.partial and full.words() == ("", "")


def test_county_with_partial_rasters_fails_then_succeeds_with_allow_partial(
    demo_run_small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`geoeco zone --aoi 610802` on the small demo's rasters: exit 2 with PartialCoverage
    naming the inputs, no output folder left; run_zoning(allow_partial=True) zones the part
    and says its share, which matches the written raster and the county's own area."""
    given = _inputs(demo_run_small)
    args = [f"--input={k}={v}" for k, v in given.items()]
    out = tmp_path / "cli"
    code = main(["zone", "--aoi", "610802", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2 and "PartialCoverage" in err and "erosion_grade" in err
    assert "--allow-partial" in err and str(tmp_path) not in err
    assert not out.exists()
    with pytest.raises(PartialCoverage, match="sensitivity_sanding"):
        run_zoning(tmp_path / "py", aoi="610802", inputs=given, write_map=False)
    assert not (tmp_path / "py").exists()

    res = run_zoning(
        tmp_path / "ok", aoi="610802", inputs=given, write_map=False, allow_partial=True
    )
    s = json.loads((tmp_path / "ok" / "summary.json").read_text())
    with rasterio.open(tmp_path / "ok" / "zone_class.tif") as ds:
        zc = ds.read(1)
        cell_km2 = abs(ds.transform.a * ds.transform.e) / 1e6
    zoned_km2 = np.count_nonzero(zc) * cell_km2
    county_km2 = resolve_aoi("610802").summary()["area_km2"]  # polygon area, equal-area
    cov = s["coverage"]
    assert cov["analysed_km2"] == pytest.approx(zoned_km2, rel=1e-6)
    assert cov["aoi_km2"] == pytest.approx(county_km2, rel=0.002)  # pixel centres vs polygon
    assert s["coverage_share"] == pytest.approx(zoned_km2 / cov["aoi_km2"], abs=1e-6)
    assert 0 < s["coverage_share"] < 0.05  # a 10 km square in a 6,804 km² county
    # every input has the demo's extent: each leaves all the unzoned part without data
    assert set(s["coverage_missing_km2"]) == set(RULE_INPUTS)
    for v in s["coverage_missing_km2"].values():
        assert v == pytest.approx(cov["aoi_km2"] - zoned_km2, rel=1e-6)
    assert "Partial coverage" in cov["note_en"] and "部分覆盖" in cov["note_zh"]
    areas = s["zones"]["area_km2"]
    assert areas["outside_aoi"] + areas["nodata_in_aoi"] == pytest.approx(areas["nodata_in_grid"])
    assert res.coverage is not None and res.coverage.share == s["coverage_share"]


def test_full_coverage_reads_nothing_more_and_says_so(demo_run_small: Path, tmp_path: Path) -> None:
    """The demo zoned on its own rasters: every pixel of its area zoned, nothing missing."""
    s = run_zoning(
        tmp_path / "z", inputs=_inputs(demo_run_small), demo_size="small", write_map=False
    ).summary()
    assert s["coverage_share"] == 1.0
    assert s["coverage_missing_km2"] == dict.fromkeys(sorted(RULE_INPUTS), 0.0)
    assert s["coverage"]["note_en"] == "" and not s["coverage"]["partial"]


def test_erosion_states_coverage_of_the_dem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Erosion on a DEM of 30 x 10 valid pixels with a K raster covering only its 10 east
    columns' right half (5 columns): half the DEM's valid area is analysed, and K is named for
    the other half (150 pixels of 100 m² = 0.015 km²). Erosion does not fail for coverage."""
    from rasterio.transform import from_origin

    t = from_origin(400000, 4250000, 10, 10)
    z = np.repeat(((30 - np.arange(30)) * 1.0 + 1000)[:, None], 10, axis=1).astype("float32")
    k = np.full((30, 10), 0.03, "float32")
    k[:, :5] = -9999  # nodata on the west half
    for name, a, nd in (("dem.tif", z, None), ("k.tif", k, -9999)):
        with rasterio.open(
            tmp_path / name,
            "w",
            driver="GTiff",
            width=10,
            height=30,
            count=1,
            dtype="float32",
            crs="EPSG:4546",
            transform=t,
            nodata=nd,
        ) as dst:
            dst.write(a, 1)  # fmt: skip
    code = main(["erosion", "--dem", str(tmp_path / "dem.tif"), "--r", "500", "--k",
                 str(tmp_path / "k.tif"), "--c", "0.2", "--out", str(tmp_path / "e")])  # fmt: skip
    assert code == 0
    s = json.loads((tmp_path / "e" / "summary.json").read_text("utf-8"))
    with rasterio.open(tmp_path / "e" / "ls.tif") as ds:
        dem_px = int(np.isfinite(ds.read(1, masked=True).filled(np.nan)).sum())
    with rasterio.open(tmp_path / "e" / "soil_loss.tif") as ds:
        done = ds.read(1, masked=True).filled(np.nan)
    analysed = int(np.isfinite(done).sum())
    assert analysed == int(np.isfinite(done[:, 5:]).sum()) and analysed > 0  # east half only
    assert s["coverage_share"] == pytest.approx(analysed / dem_px, abs=1e-6)
    assert 0.4 < s["coverage_share"] < 0.6
    # 100 m² pixels, within the Gauss-Krüger scale error (< 0.1 %) of the equal-area figure
    assert s["coverage_missing_km2"]["K"] == pytest.approx((dem_px - analysed) * 1e-4, rel=1e-3)
    assert s["coverage_missing_km2"]["R"] == 0.0 and s["coverage"]["basis"] == "DEM's valid area"
