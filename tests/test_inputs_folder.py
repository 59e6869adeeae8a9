"""A raw inputs folder (``inputs.json``, the contract of ``geoeco inputs --out``) run through
``geoeco zone|erosion|evaluate --inputs-from``: the analyses run first and the summary says
so, the zones equal the demo's own zoning on the same layers, statuses follow the files,
attribution reaches the summary, the map and the report, and hostile folders are refused
before anything is written.

The folders are made here from the small demo region's layers, with ``inputs.json`` written by
the test as the contract describes it (not by geoeco's own manifest writer).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geoeco.cli import main
from geoeco.core.errors import InvalidInput
from geoeco.workflows.erosion import demo_erosion_dir
from geoeco.workflows.raw_inputs import read_inputs_folder

#: The rasters of the contract (plus the demo's daily rain, which its erosion settings use).
FILES = (
    "dem ndvi npp landcover sand silt clay soc texture_class infiltration aridity wind_days "
    "precip_monthly temp_monthly wind2m_monthly rh_monthly rain_daily"
).split()
SOURCES = [
    {
        "recipe": "cop-dem",
        "title": "Copernicus DEM GLO-30",
        "licence": "CC-BY-4.0 (test licence)",
        "attribution": "© DLR e.V. 2010-2014 and © Airbus Defence and Space GmbH 2014-2018",
        "citation": "x",
        "catalog": "loopback",
        "items": 1,
    },
    {"recipe": "soilgrids", "title": "SoilGrids 250 m", "licence": "CC-BY-4.0", "items": 4},
]


def make_folder(
    src: Path,
    dest: Path,
    *,
    statuses: dict[str, str] | None = None,
    settings: str | None = None,
) -> Path:
    """A raw inputs folder at ``dest`` from the demo layers in ``src`` (every file
    ``synthetic`` unless ``statuses`` says otherwise), with the demo's erosion settings."""
    dest.mkdir(parents=True)
    for n in FILES:
        shutil.copy(src / f"{n}.tif", dest / f"{n}.tif")
    text = (demo_erosion_dir() / "demo_erosion.toml").read_text(encoding="utf-8")
    (dest / "erosion.toml").write_text(settings or text, encoding="utf-8")
    shutil.copy(demo_erosion_dir() / "demo_landcover_factors.csv", dest)
    st = {n: (statuses or {}).get(n, "synthetic") for n in FILES}
    write_manifest(dest, {n: {"file": f"{n}.tif", "status": s} for n, s in st.items()})
    return dest


def write_manifest(dest: Path, files: dict[str, dict[str, str]], **extra: object) -> None:
    """``inputs.json`` as the contract lays it out."""
    with rasterio.open(dest / "dem.tif") as ds:
        grid = {
            "crs": ds.crs.to_string(),
            "transform": list(ds.transform)[:6],
            "width": ds.width,
            "height": ds.height,
            "res_m": ds.res[0],
        }
    manifest = {
        "kind": "geoeco-inputs",
        "version": 1,
        "status": "synthetic",
        **grid,
        "aoi": {"label": "test county", "code": None},
        "year": 2020,
        "erosion_settings": "erosion.toml",
        "files": files,
        "sources": SOURCES,
        **extra,
    }
    (dest / "inputs.json").write_text(json.dumps(manifest), encoding="utf-8")


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def raw(demo_small_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(demo_small_dir, tmp_path_factory.mktemp("raw") / "county")


@pytest.fixture(scope="module")
def zoned(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``geoeco zone --inputs-from RAW`` once for this module."""
    out = tmp_path_factory.mktemp("zoned") / "z"
    assert main(["zone", "--inputs-from", str(raw), "--out", str(out)]) == 0
    return out


def test_zone_on_a_raw_folder_runs_the_analyses_and_says_so(zoned: Path, raw: Path) -> None:
    summary = json.loads((zoned / "summary.json").read_text(encoding="utf-8"))
    src = summary["inputs_from"]
    assert src["folder"] == "county" and src["status"] == "synthetic"
    assert src["erosion_settings"] == "erosion.toml" and src["year"] == 2020
    assert [a["analysis"] for a in src["analyses"]] == ["erosion", "desertification", "evaluation"]
    assert {a["folder"] for a in src["analyses"]} == {
        "inputs/erosion",
        "inputs/desertification",
        "inputs/evaluation",
    }
    assert {a["status"] for a in src["analyses"]} == {"synthetic"}
    assert set(src["files"]) == set(FILES)
    assert all(f["status"] == "synthetic" for f in src["files"].values())
    for f in ("erosion/soil_loss.tif", "desertification/fvc.tif", "evaluation/importance_max.tif"):
        assert (zoned / "inputs" / f).is_file()
    # every bound input is synthetic (the demo's layers), and the area is the folder's extent
    assert "erosion_grade" in summary["synthetic_layers"]
    assert "sensitivity_sanding" in summary["synthetic_layers"]
    assert summary["aoi"]["label"] == "test county" and summary["grid"]["res_m"] == 30.0
    assert str(raw.parent) not in json.dumps(summary)  # the folder by its name only


def test_zone_on_a_raw_folder_equals_the_demo_zoning(zoned: Path, demo_run_small: Path) -> None:
    """Same layers, same chain: the zone classes and red line are the demo's, pixel for pixel
    (the demo zoning is built by ``geoeco demo``'s own path, zone_demo)."""
    for name in ("zone_class.tif", "redline.tif"):
        mine, demo = read(zoned / name), read(demo_run_small / "zones" / name)
        assert mine.shape == demo.shape and np.array_equal(mine, demo), name
    assert len(np.unique(read(zoned / "redline.tif"))) >= 3  # a real comparison: 0 and 2 types
    a = json.loads((zoned / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((demo_run_small / "zones" / "summary.json").read_text(encoding="utf-8"))
    assert a["class_totals_km2"] == b["class_totals_km2"]


def test_attribution_in_summary_and_map(zoned: Path) -> None:
    summary = json.loads((zoned / "summary.json").read_text(encoding="utf-8"))
    assert [s["title"] for s in summary["attribution"]] == [
        "Copernicus DEM GLO-30",
        "SoilGrids 250 m",
    ]
    page = (zoned / "map.html").read_text(encoding="utf-8")
    block = page.split('class="geoeco-attribution"')[1].split("</div>")[0]
    assert "Data sources" in block and "Copernicus DEM GLO-30" in block
    assert "licence: CC-BY-4.0 (test licence)" in block and "SoilGrids 250 m" in block
    assert "© DLR e.V. 2010-2014" in block


def test_attribution_in_the_report(zoned: Path) -> None:
    import geopandas as gpd

    from geoeco.query.context import QueryContext
    from geoeco.query.report import render_report
    from geoeco.query.screening import screen_site

    units = gpd.read_file(zoned / "zones.gpkg", layer="units").to_crs(4326)
    point = units.geometry.iloc[0].representative_point()
    r = screen_site(QueryContext.open(zoned), point.buffer(0.001))
    page = render_report(r)
    part = page.split("Data sources")[1]
    assert "Copernicus DEM GLO-30" in part and "licence: CC-BY-4.0 (test licence)" in part


def test_the_demo_says_synthetic_demo_data(demo_run_small: Path) -> None:
    summary = json.loads((demo_run_small / "zones" / "summary.json").read_text("utf-8"))
    assert [s["title"] for s in summary["attribution"]] == ["synthetic demo data (geoeco)"]
    page = (demo_run_small / "zones" / "map.html").read_text(encoding="utf-8")
    assert "synthetic demo data (geoeco)" in page.split('class="geoeco-attribution"')[1]
    manifest = json.loads((demo_run_small / "layers" / "inputs.json").read_text("utf-8"))
    assert manifest["kind"] == "geoeco-inputs" and manifest["status"] == "synthetic"
    assert read_inputs_folder(demo_run_small / "layers").status == "synthetic"


def test_erosion_and_evaluate_take_a_raw_folder(
    raw: Path, demo_run_small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``geoeco erosion|evaluate --inputs-from`` give the demo's own erosion and evaluation
    on the same layers; the evaluation folder then feeds ``zone --inputs-from`` by name."""
    from geoeco.workflows.demo_inputs import demo_zoning_inputs
    from geoeco.workflows.input_folders import inputs_from_folder, zoning_input_names

    ero = tmp_path / "ero"
    assert main(["erosion", "--inputs-from", str(raw), "--out", str(ero)]) == 0
    for name in ("soil_loss.tif", "erosion_grade.tif"):
        assert np.array_equal(read(ero / name), read(demo_run_small / "erosion" / name))
    ev = tmp_path / "ev"
    assert main(["evaluate", "--inputs-from", str(raw), "--out", str(ev)]) == 0
    for name in ("sensitivity_sanding.tif", "importance_max.tif"):
        assert np.array_equal(read(ev / name), read(demo_run_small / "evaluation" / name))
    summary = json.loads((ev / "summary.json").read_text(encoding="utf-8"))
    assert summary["inputs_from"]["folder"] == "county"
    assert [a["folder"] for a in summary["inputs_from"]["analyses"]] == [
        "erosion",
        "desertification",
        ".",
    ]
    found = inputs_from_folder(ev, zoning_input_names(None))
    # every analysis output the zoning reads, erosion/ and desertification/ kept beside
    assert set(demo_zoning_inputs(ev)) <= set(found.files)
    capsys.readouterr()
    code = main(["erosion", "--inputs-from", str(raw), "--dem", str(raw / "dem.tif"), "--out", "x"])
    assert code == 2 and "--inputs-from" in capsys.readouterr().err
    assert main(["evaluate", "--out", str(tmp_path / "e2")]) == 2
    assert not (tmp_path / "e2").exists()


def _retag(path: Path, status: str) -> None:
    """Give a copied demo layer another status tag (as ``geoeco inputs`` tags real files)."""
    with rasterio.open(path, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.update_tags(GEOECO_STATUS=status)


def test_real_files_give_real_analyses(
    demo_small_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file real but the wind days (synthetic, read by the evaluation only): erosion and
    desertification are real, the evaluation synthetic; the zoning binds erosion_grade and
    desertification_degree as real and the evaluation's outputs as synthetic. R comes from
    monthly rain here (Fournier), as in a real folder without daily rain."""
    from geoeco.workflows.demo import zone_or_demo

    text = (demo_erosion_dir() / "demo_erosion.toml").read_text(encoding="utf-8")
    settings = text.replace('r_daily = "rain_daily.tif"', 'r_monthly = "precip_monthly.tif"')
    assert settings != text
    statuses = dict.fromkeys(FILES, "real") | {"wind_days": "synthetic"}
    folder = make_folder(demo_small_dir, tmp_path / "real", statuses=statuses, settings=settings)
    for n, s in statuses.items():
        _retag(folder / f"{n}.tif", s)
    res = zone_or_demo(tmp_path / "z", inputs_from=folder, write_map=False)
    summary = res.summary()
    st = {a["analysis"]: a["status"] for a in summary["inputs_from"]["analyses"]}
    assert st == {"erosion": "real", "desertification": "real", "evaluation": "synthetic"}
    bound = {k: v["status"] for k, v in summary["zones"]["inputs"].items() if "status" in v}
    assert bound["erosion_grade"] == "real" and bound["desertification_degree"] == "real"
    assert bound["sensitivity_sanding"] == "synthetic"
    assert "erosion_grade" not in summary["synthetic_layers"]
    assert "sensitivity_sanding" in summary["synthetic_layers"]
    with rasterio.open(tmp_path / "z" / "inputs" / "erosion" / "soil_loss.tif") as ds:
        assert ds.tags()["GEOECO_STATUS"] == "real"


# --------------------------------------------------------------------------- hostile folders


@pytest.fixture
def copy(raw: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "bad"
    shutil.copytree(raw, dest)
    return dest


def _manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "inputs.json").read_text(encoding="utf-8"))


def _save(folder: Path, m: dict) -> None:  # type: ignore[type-arg]
    (folder / "inputs.json").write_text(json.dumps(m), encoding="utf-8")


def _refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, int, str, bool]:
    """The library's refusal of ``folder`` and ``geoeco zone``'s on it: the error message,
    the command's exit code, its stderr and whether it wrote an output folder."""
    with pytest.raises(InvalidInput) as info:
        read_inputs_folder(folder)
    out = folder.parent / "zout"
    capsys.readouterr()
    code = main(["zone", "--inputs-from", str(folder), "--out", str(out)])
    return str(info.value), code, capsys.readouterr().err, out.exists()


def _cleanly(folder: Path, code: int, err: str, wrote: bool) -> bool:
    """Exit 2, no server path and no traceback in the message, nothing written."""
    return code == 2 and str(folder.parent) not in err and "Traceback" not in err and not wrote


def test_malformed_manifests_are_refused(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / "inputs.json").write_text("{not json", encoding="utf-8")
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("not valid JSON", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    (copy / "inputs.json").write_text("[1, 2]", encoding="utf-8")
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("must be a JSON object", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    _save(copy, {"kind": "something-else", "version": 1})
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("kind must be 'geoeco-inputs'", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    _save(copy, {"kind": "geoeco-inputs", "version": 99, "files": {}})
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("version 99", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    _save(copy, {"kind": "geoeco-inputs", "version": 1, "files": "dem.tif"})
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("'files' must be a non-empty object", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)


def test_bad_statuses_and_sources_are_refused(
    raw: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = _manifest(raw)
    m["files"]["ndvi"]["status"] = "trusted"
    _save(copy, m)
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search(r"files\.ndvi\.status: status must be one of", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    m = _manifest(raw)
    m["sources"] = "Copernicus"
    _save(copy, m)
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("'sources' must be a list of objects", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)


@pytest.mark.parametrize(
    "name",
    ["../dem.tif", "/etc/passwd", "sub/../../dem.tif", "C:\\dem.tif", "..\\dem.tif", ""],
)
def test_paths_outside_the_folder_are_refused(
    raw: Path, copy: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(copy / "dem.tif", copy.parent / "dem.tif")  # a real file outside it
    m = _manifest(raw)
    m["files"]["dem"]["file"] = name
    _save(copy, m)
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("must be a file inside the folder", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)


def test_a_symbolic_link_out_of_the_folder_is_refused(
    raw: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = copy.parent / "elsewhere.tif"
    shutil.copy(copy / "ndvi.tif", outside)
    os.symlink(outside, copy / "link.tif")
    m = _manifest(raw)
    m["files"]["ndvi"]["file"] = "link.tif"
    _save(copy, m)
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("must be a file inside the folder", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)


def test_erosion_settings_pointing_outside_are_refused(
    raw: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(copy / "rain_daily.tif", copy.parent / "rain.tif")
    text = (copy / "erosion.toml").read_text(encoding="utf-8")
    (copy / "erosion.toml").write_text(text.replace('"rain_daily.tif"', '"../rain.tif"'), "utf-8")
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search(r"r_daily = '\.\./rain\.tif': must be a file inside", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    m = _manifest(raw)
    m["erosion_settings"] = "/tmp/erosion.toml"
    _save(copy, m)
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("erosion_settings = '/tmp/erosion.toml': must be a file inside", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)


def test_missing_files_are_refused(
    raw: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "npp.tif").unlink()
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search(r"files\.npp\.file = 'npp\.tif': file not found", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    m = _manifest(raw)
    del m["files"]["npp"], m["files"]["aridity"]
    _save(copy, m)
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("files lacks npp, aridity", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    shutil.copy(raw / "npp.tif", copy / "npp.tif")
    m = _manifest(raw)
    del m["files"]["soc"]  # named by the erosion settings only
    _save(copy, m)
    (copy / "soc.tif").unlink()
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search(r"erosion\.toml: texture\.soc: file 'soc\.tif' not found", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)


def _rewrite(path: Path, transform: object = None, crs: str | None = None) -> None:
    """Rewrite a raster with the same pixels on a shifted grid or in another CRS."""
    with rasterio.open(path) as ds:
        data, profile = ds.read(), ds.profile
    profile.update(driver="GTiff")
    profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    if transform is not None:
        profile["transform"] = transform
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def test_files_on_other_grids_are_refused(
    raw: Path, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from affine import Affine

    with rasterio.open(raw / "ndvi.tif") as ds:
        t = ds.transform
    _rewrite(copy / "ndvi.tif", transform=t * Affine.translation(1, 0))  # one pixel east
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search(r"bad: ndvi not on the grid of dem \(EPSG:4546, 333x333 px of 30 m\)", msg), (
        msg
    )
    assert _cleanly(copy, code, err, wrote), (code, err)
    shutil.copy(raw / "ndvi.tif", copy / "ndvi.tif")
    _rewrite(copy / "aridity.tif", crs="EPSG:4547")  # climate may be coarser, not elsewhere
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("aridity not on the grid of dem", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    shutil.copy(raw / "aridity.tif", copy / "aridity.tif")
    with rasterio.open(raw / "wind_days.tif") as ds:
        w = ds.transform
    _rewrite(copy / "wind_days.tif", transform=w * Affine.translation(2, 0))  # misses the west
    msg, code, err, wrote = _refused(copy, capsys)
    assert re.search("wind_days not on the grid of dem", msg), msg
    assert _cleanly(copy, code, err, wrote), (code, err)
    shutil.copy(raw / "wind_days.tif", copy / "wind_days.tif")
    assert read_inputs_folder(copy).grid.shape == (333, 333)  # restored: accepted again


def test_the_manifest_county_is_the_default_area(raw: Path, tmp_path: Path) -> None:
    """A manifest with ``aoi.code`` zones that county: the 10 km folder covers a small part of
    横山区 (610803), so the run stops on the coverage rule and leaves nothing behind, unless
    partial coverage is allowed (then the summary gives the share)."""
    from geoeco.core.errors import PartialCoverage
    from geoeco.workflows.demo import zone_or_demo

    folder = tmp_path / "coded"
    shutil.copytree(raw, folder)
    m = _manifest(raw)
    m["aoi"] = {"label": "横山区", "code": "610803"}
    _save(folder, m)
    out = tmp_path / "z"
    with pytest.raises(PartialCoverage):
        zone_or_demo(out, inputs_from=folder, res=500.0, write_map=False)
    assert not out.exists()  # the analyses written into out/inputs went with it
    res = zone_or_demo(out, inputs_from=folder, res=500.0, write_map=False, allow_partial=True)
    summary = res.summary()
    assert summary["aoi"]["code"] == "610803" and summary["aoi"]["kind"] == "county"
    # the 100 km² folder, partly in 榆阳区, covers under 1 % of the county's 4,294 km²
    assert 0 < summary["coverage_share"] < 0.02
