"""The ``effectiveness`` process (issue 18 items 4 and 6): a job on the synthetic series with a
demo zoning job, its effects recomputed independently (Theil–Sen by scipy, units and patches by
point-in-polygon of the pixel centres, the matching by a plain pixel loop), and inputs refused
at submission naming the input."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import theilslopes

from geoeco.catalog.demo_series import series_arrays
from geoeco.core.errors import InvalidProcessInputs
from geoeco.service.process_inputs import ExecutionContext
from geoeco.service.processes import execute, prepare
from geoeco.workflows.demo_change import demo_series_spec

JOB = "c" * 32


@pytest.fixture(scope="module")
def ctx(demo_run_small: Path, tmp_path_factory: pytest.TempPathFactory) -> ExecutionContext:
    runs = tmp_path_factory.mktemp("runs")
    (runs / JOB).mkdir()
    for name in ("units.parquet", "zones.gpkg"):
        (runs / JOB / name).symlink_to(demo_run_small / "zones" / name)
    return ExecutionContext(runs_dir=runs)


def _membership(geoms: Any, xs: Any, ys: Any) -> list[list[int]]:
    """Indices of the geometries containing each pixel centre (one list per pixel)."""
    out: list[list[int]] = [[] for _ in range(xs.size)]
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        for k in np.flatnonzero(shapely.contains_xy(g, xs, ys)):
            out[k].append(i)
    return out


def _matched(cells: dict[Any, list[tuple[Any, bool, float]]], target: Any) -> tuple[float, int]:
    """Effect of a target and its pixels: ``cells`` = stratum -> (owner, in any, slope)."""
    num_in = num_cmp = n = 0.0
    px = 0
    for members in cells.values():
        inside = [s for who, _, s in members if who == target]
        if target[0] == "unit":
            pool = [s for who, _, s in members if who != target]
        else:
            pool = [s for _, any_patch, s in members if not any_patch]
        px += len(inside)
        if inside and len(pool) >= 3:
            num_in += sum(inside)
            num_cmp += len(inside) * sum(pool) / len(pool)
            n += len(inside)
    return ((num_in - num_cmp) / n if n else float("nan")), px


def _expected(
    ndvi: Any, spec: Any, units: Any, patches: Any, bins: int, landcover: Any = None
) -> dict[tuple[str, str], tuple[float, int]]:
    """Effect and pixel count of every unit and patch, pixel by pixel; ``ndvi`` is the stack
    (years, rows, cols) as written, ``landcover`` codes on its grid or None."""
    years = np.arange(ndvi.shape[0], dtype=float)
    g = spec.grid
    units, patches = units.to_crs(g.crs), patches.to_crs(g.crs)
    rows, cols = (a.ravel() for a in np.mgrid[0 : g.height, 0 : g.width])
    xs = spec.left + (cols + 0.5) * spec.res
    ys = spec.top - (rows + 0.5) * spec.res
    in_unit = _membership(units.geometry, xs, ys)
    in_patch = _membership(patches.geometry, xs, ys)
    ok = np.isfinite(ndvi).all(axis=0).ravel()
    start = ndvi[0].ravel()
    edges = np.quantile(start[ok], np.linspace(0, 1, bins + 1)[1:-1])
    counties = units["county_code"].astype(str).tolist()
    lc = np.zeros(rows.size, int) if landcover is None else np.asarray(landcover).ravel()
    cells: dict[Any, list[tuple[Any, bool, float]]] = defaultdict(list)
    patch_cells: dict[Any, list[tuple[Any, bool, float]]] = defaultdict(list)
    for k in np.flatnonzero(ok):
        if not in_unit[k]:
            continue  # no county outside the units: no stratum
        slope = float(theilslopes(ndvi[:, rows[k], cols[k]], years)[0])
        u = in_unit[k][0]
        stratum = (counties[u], int(lc[k]), int(np.searchsorted(edges, start[k])))
        cells[stratum].append((("unit", str(units["code"].iloc[u])), False, slope))
        owner = ("patch", f"patch_{in_patch[k][0] + 1}") if in_patch[k] else None
        patch_cells[stratum].append((owner, bool(in_patch[k]), slope))
    out = {("unit", str(c)): _matched(cells, ("unit", str(c))) for c in units["code"]}
    for i in range(len(patches)):
        key = ("patch", f"patch_{i + 1}")
        out[key] = _matched(patch_cells, key)
    return out


def _check(table: Any, expect: dict[tuple[str, str], tuple[float, int]]) -> None:
    assert set(zip(table["kind"], table["id"].astype(str), strict=True)) == set(expect)
    for row in table.itertuples():
        effect, pixels = expect[(row.kind, str(row.id))]
        assert row.pixels == pixels, (row.kind, row.id)
        assert row.effect == pytest.approx(effect, rel=1e-4, abs=1e-7, nan_ok=True), row.id


def test_effectiveness_process_on_the_demo_equals_a_pixel_loop(ctx, tmp_path) -> None:
    res = execute(
        "effectiveness", {"zoning_job": JOB, "demo_size": "small"}, tmp_path / "o", context=ctx
    )
    assert res.summary["kind"] == "effectiveness" and res.summary["variable"] == "ndvi"
    table = pd.read_csv(tmp_path / "o" / "ndvi_effectiveness.csv", encoding="utf-8-sig")
    spec = demo_series_spec("small")
    ndvi = series_arrays(spec)["ndvi"].astype(np.float32).astype(np.float64)  # as written
    zones = ctx.runs_dir / JOB  # type: ignore[operator]
    units = gpd.read_parquet(zones / "units.parquet")
    patches = gpd.read_file(zones / "zones.gpkg", layer="restoration")
    _check(table, _expected(ndvi, spec, units, patches, bins=5))
    # the small demo's zoning has no key unit, hence no restoration patch since the
    # one-area-truth merge; patches are covered on user layers below
    assert "unit" in set(table["kind"]) and len(table) == len(units) + len(patches)
    assert table["effect"].notna().sum() >= 2  # some targets have a matched comparison


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({}, "zoning_job"),
        ({"zoning_job": "../x"}, "zoning_job"),
        ({"zoning_job": "d" * 32}, "zoning_job"),  # no such job here
        ({"zoning_job": JOB, "stack": {"2001": "user.nope"}, "min_years": 3}, "stack.2001"),
        ({"zoning_job": JOB, "stack": {"20x1": "user.a"}}, "stack"),
        ({"zoning_job": JOB, "variable": "npp"}, "variable"),  # not in the demo series
        ({"zoning_job": JOB, "landcover": "no.such"}, "landcover"),
        ({"zoning_job": JOB, "start_bins": 0}, "start_bins"),
    ],
)
def test_bad_inputs_are_refused_at_submission(ctx, inputs, field) -> None:
    with pytest.raises(InvalidProcessInputs) as info:
        prepare("effectiveness", inputs, context=ctx)
    assert field in str(info.value)


def _box(spec: Any, r0: int, r1: int, c0: int, c1: int) -> Any:
    L, T, R = spec.left, spec.top, spec.res
    return shapely.box(L + c0 * R, T - r1 * R, L + c1 * R, T - r0 * R)


def test_effectiveness_process_on_user_layers_with_patches_and_landcover(tmp_path) -> None:
    """A 20-year user stack, a land-cover layer and a zoning job whose patches cover pixels."""
    from geoeco.catalog.demo_series import SeriesSpec, write_series
    from geoeco.catalog.store import UserLayerOptions, UserLayerStore
    from geoeco.core.io import write_raster
    from geoeco.core.raster import Raster

    spec = SeriesSpec()
    paths = write_series(tmp_path / "files", spec)
    store = UserLayerStore(tmp_path / "layers")
    stack = {}
    for y, p in zip(spec.years, paths["ndvi"], strict=True):
        store.add_file(p, UserLayerOptions(role="vegetation", layer_id=f"user.ndvi_{y}"))
        stack[str(y)] = f"user.ndvi_{y}"
    lc = np.where(np.arange(60)[None, :] < 45, 1, 2).repeat(60, axis=0).astype(np.uint8)
    lc_file = write_raster(
        Raster(np.ma.masked_equal(lc, 0), spec.grid, units="class"),
        tmp_path / "lc.tif",
        dtype="uint8",
        nodata=0,
        cog=False,
    )
    store.add_file(lc_file, UserLayerOptions(role="land_cover", layer_id="user.lc"))
    job = tmp_path / "runs" / JOB
    job.mkdir(parents=True)
    units = gpd.GeoDataFrame(
        {"code": ["A", "B"], "county_code": ["610802", "610802"]},
        geometry=[_box(spec, 0, 60, 0, 30), _box(spec, 0, 60, 30, 60)],
        crs=spec.grid.crs,
    )
    units.to_parquet(job / "units.parquet")
    patches = gpd.GeoDataFrame(
        {"rank": [1, 2]},
        geometry=[_box(spec, 10, 30, 10, 30), _box(spec, 40, 50, 40, 55)],  # improving block
        crs=spec.grid.crs,
    )
    units.to_file(job / "zones.gpkg", layer="units")
    patches.to_file(job / "zones.gpkg", layer="restoration")
    ctx = ExecutionContext(registry=store.registry(), runs_dir=tmp_path / "runs")
    inputs = {"zoning_job": JOB, "stack": stack, "variable": "ndvi", "landcover": "user.lc"}
    res = execute("effectiveness", inputs, tmp_path / "o", context=ctx)
    assert res.summary["method"]["landcover"] is True
    table = pd.read_csv(tmp_path / "o" / "ndvi_effectiveness.csv", encoding="utf-8-sig")
    ndvi = series_arrays(spec)["ndvi"].astype(np.float32).astype(np.float64)
    _check(table, _expected(ndvi, spec, units, patches, bins=5, landcover=lc))
    patch_1 = table[table["id"] == "patch_1"].iloc[0]
    assert patch_1["pixels"] == 400 and patch_1["effect"] > 0.005  # the planted +0.008/a


def test_a_zoning_job_gone_after_submission_is_a_clear_error(tmp_path) -> None:
    from geoeco.core.errors import InvalidInput
    from geoeco.service.process_effect import EffectivenessInputs, run_effectiveness_process

    ctx = ExecutionContext(runs_dir=tmp_path)
    inp = EffectivenessInputs(zoning_job="f" * 32, demo_size="small")
    with pytest.raises(InvalidInput, match="has no units here"):
        run_effectiveness_process(inp, tmp_path / "o", lambda *a: None, ctx)
    assert not (tmp_path / "o").exists()
