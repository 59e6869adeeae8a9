"""The ``trend`` and ``change`` processes (issue 18 item 5): runs on user layers and on the
synthetic series, per-unit tables from a zoning job, and inputs refused before any run."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geoeco.catalog.demo_series import SeriesSpec, block_mask, write_series
from geoeco.catalog.store import UserLayerOptions, UserLayerStore
from geoeco.core.errors import InvalidProcessInputs
from geoeco.service.process_inputs import ExecutionContext
from geoeco.service.processes import execute, prepare

SPEC = SeriesSpec()


@pytest.fixture(scope="module")
def store_ctx(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExecutionContext, dict]:
    base = tmp_path_factory.mktemp("store")
    paths = write_series(base / "files", SPEC)
    store = UserLayerStore(base / "layers")
    ids: dict[str, dict[str, str]] = {}
    for var in ("soil_loss", "ndvi", "precipitation"):
        role = "climate" if var == "precipitation" else "evaluation"
        for y, p in zip(SPEC.years, paths[var], strict=True):
            lid = f"user.{var}_{y}"
            store.add_file(p, UserLayerOptions(role=role, layer_id=lid))
            ids.setdefault(var, {})[str(y)] = lid
    return ExecutionContext(registry=store.registry()), ids


def test_trend_process_on_user_layers_recovers_the_planted_trend(store_ctx, tmp_path) -> None:
    ctx, ids = store_ctx
    inputs = {"stack": ids["soil_loss"], "variable": "loss"}
    res = execute("trend", inputs, tmp_path / "o", context=ctx)
    v = res.summary["variables"]["loss"]
    assert v["increase_is"] == "degradation" and v["n_years"] == 20
    with rasterio.open(tmp_path / "o" / "loss_trend_class.tif") as ds:
        cls = ds.read(1)
    assert (cls[block_mask(SPEC, "improving")] == 1).all()
    assert (cls[block_mask(SPEC, "degrading")] == 3).all()
    assert "inputs" not in res.summary  # the short summary


def test_trend_process_restrend_with_precipitation_layers(store_ctx, tmp_path) -> None:
    ctx, ids = store_ctx
    inputs = {"stack": ids["ndvi"], "variable": "ndvi", "precipitation": ids["precipitation"]}
    res = execute("trend", inputs, tmp_path / "o", context=ctx)
    assert res.summary["variables"]["ndvi"]["restrend"]["precipitation"] == "precipitation"
    with rasterio.open(tmp_path / "o" / "ndvi_restrend_slope.tif") as ds:
        slope = ds.read(1, masked=True)
    assert np.ma.median(slope[block_mask(SPEC, "improving")]) == pytest.approx(0.008, rel=0.1)


def test_change_process_on_the_demo_with_a_zoning_job(demo_run_small, tmp_path) -> None:
    runs = tmp_path / "runs"
    job = "a" * 32
    (runs / job).mkdir(parents=True)
    (runs / job / "units.parquet").symlink_to(demo_run_small / "zones" / "units.parquet")
    ctx = ExecutionContext(runs_dir=runs)
    res = execute("change", {"demo_size": "small", "zoning_job": job}, tmp_path / "o", context=ctx)
    s = res.summary
    assert s["variable"] == "soil_loss_grade" and s["units"] > 0 and s["counties"] >= 1
    assert s["improved_km2"] > 0 and s["worsened_km2"] > 0
    assert (tmp_path / "o" / "soil_loss_grade_units.csv").is_file()


@pytest.mark.parametrize(
    ("process", "inputs", "field"),
    [
        ("trend", {"stack": {"2001": "user.nope"}, "min_years": 3}, "stack.2001"),
        ("trend", {"stack": {"20x1": "user.a"}}, "stack"),
        ("trend", {"stack": {"2001": "user.soil_loss_2001"}}, "stack"),  # 1 year < 10
        ("change", {"before": "user.soil_loss_2001"}, "before"),
        ("change", {"zoning_job": "b" * 32}, "zoning_job"),
        ("change", {"table": "no-such-table"}, "table"),
        ("trend", {"variable": "../x"}, "variable"),
        (
            "trend",
            {
                "stack": {"2001": "user.ndvi_2001"},
                "min_years": 3,
                "variable": "precipitation",
                "precipitation": {"2001": "user.precipitation_2001"},
            },
            "variable",
        ),
    ],
)
def test_bad_inputs_are_refused_at_submission(store_ctx, process, inputs, field) -> None:
    ctx, _ = store_ctx
    with pytest.raises(InvalidProcessInputs) as info:
        prepare(process, inputs, context=ctx)
    assert field in str(info.value)
