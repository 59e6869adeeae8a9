"""One way to zone the demo region (geoeco.workflows.demo.zone_demo), used by `geoeco demo`,
`geoeco zone` without --aoi and the zoning process; its analyses come from a folder, the
cache, or a scratch folder that is removed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

import geoeco.workflows.demo as demo_mod
from geoeco.workflows.demo import zone_demo, zone_or_demo
from geoeco.workflows.demo_inputs import SCRATCH_PREFIX, demo_zoning_inputs

RASTERS = ("zone_class.tif", "redline.tif", "flags.tif", "restoration_rank.tif")


def _pixels(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def test_zoning_the_demo_on_its_analyses_gives_run_demos_zones(
    demo_run_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_demo zoned its analyses with zone_demo; zoning them again (no rebuild) gives the
    same rasters, and the result says the inputs are synthetic and the area the demo's."""

    def no_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the analyses were rebuilt")

    monkeypatch.setattr(demo_mod, "build_demo_analyses", no_build)
    result = zone_demo(tmp_path / "z", size="small", analyses=demo_run_small, write_map=False)
    for f in RASTERS:
        a, b = _pixels(tmp_path / "z" / f), _pixels(demo_run_small / "zones" / f)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f
    assert result.area.kind == "demo" and result.res_m == 30.0
    assert result.synthetic_layers  # the demo's inputs are bound as synthetic layers


def test_without_a_folder_the_analyses_are_built_in_scratch_and_removed(
    demo_run_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Path] = []

    def copy_analyses(folder, **kwargs):  # type: ignore[no-untyped-def]
        built.append(Path(folder))
        for sub in ("erosion", "desertification", "evaluation"):
            shutil.copytree(demo_run_small / sub, Path(folder) / sub)

    monkeypatch.setattr(demo_mod, "build_demo_analyses", copy_analyses)
    out = tmp_path / "z"
    zone_demo(out, size="small", write_map=False)
    assert len(built) == 1 and built[0].parent == out and built[0].name.startswith(SCRATCH_PREFIX)
    assert not built[0].exists() and (out / "zone_class.tif").is_file()
    kept = tmp_path / "inputs"  # `geoeco zone` keeps them in OUT/inputs
    zone_demo(tmp_path / "z2", size="small", analyses=kept, write_map=False)
    assert built[-1] == kept and all(p.is_file() for p in demo_zoning_inputs(kept).values())


def test_zone_or_demo_zones_the_demo_only_without_area_and_inputs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(demo_mod, "zone_demo", lambda out, **kw: calls.append(("demo", kw)))
    monkeypatch.setattr(demo_mod, "run_zoning", lambda out, **kw: calls.append(("run", kw)))
    zone_or_demo(tmp_path, demo_size="small", rules="focused")
    zone_or_demo(tmp_path, aoi="610802")
    zone_or_demo(tmp_path, inputs={"erosion_grade": "e.tif"}, demo_size="small")
    assert [c[0] for c in calls] == ["demo", "run", "run"]
    assert calls[0][1]["size"] == "small" and calls[0][1]["rules"] == "focused"
    assert calls[1][1]["res"] == 90.0 and calls[2][1]["demo_size"] == "small"
