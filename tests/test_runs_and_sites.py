"""Runs opened for queries (geoeco.workflows.runs) and sites as users send them
(geoeco.query.sites): what the CLI and the service's routes call instead of doing it
themselves."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import geoeco.workflows.runs as runs_mod
from geoeco.core.crs import CGCS2000
from geoeco.core.errors import InvalidGeometry
from geoeco.query.context import QueryContext
from geoeco.query.models import ScreeningResult
from geoeco.query.sites import screen_features, screen_file
from geoeco.workflows.runs import OpenedRuns, demo_zoning_run, job_zoning_run

UNIT = shapely.box(109.70, 38.28, 109.72, 38.30)


@pytest.fixture(scope="module")
def ctx() -> QueryContext:
    units = gpd.GeoDataFrame(
        {"code": ["ZH61080210001"], "unit_class": [1]}, geometry=[UNIT], crs=CGCS2000
    )
    return QueryContext.from_frames(units)


def _feature(geom: shapely.Geometry, **props: object) -> dict:
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}


def test_batch_rows_keep_order_and_report_bad_features_in_place(ctx: QueryContext) -> None:
    inside = _feature(shapely.box(109.705, 38.285, 109.706, 38.286), name="in")
    outside = _feature(shapely.box(100.0, 30.0, 100.001, 30.001), name="out")
    features = [inside, "a string", {"type": "Feature", "geometry": None}, outside]
    rows = screen_features(ctx, features, id_field="name")
    assert [r["site_id"] for r in rows] == ["in", "1", "2", "out"]
    assert [r["ok"] for r in rows] == [True, False, False, True]
    assert rows[1]["error"] == "not a GeoJSON Feature"
    assert rows[2]["error"] == "the Feature has no geometry"
    assert len({tuple(r) for r in rows}) == 1  # every row has the same columns
    # the site inside the unit is all in it (a priority unit); the one outside is outside
    site = shapely.box(109.705, 38.285, 109.706, 38.286)
    geodesic = abs(Geod(ellps="GRS80").geometry_area_perimeter(site)[0]) / 1e6
    assert rows[0]["area_km2"] == pytest.approx(geodesic, rel=1e-4)
    assert rows[0]["share_priority"] == pytest.approx(1.0)
    assert rows[0]["unit_codes"] == "ZH61080210001"
    assert rows[3]["inside_analysed_area"] is False and rows[3]["unit_codes"] == ""


def test_a_file_is_read_before_the_run_is_opened(ctx: QueryContext, tmp_path: Path) -> None:
    def never() -> QueryContext:
        raise AssertionError("the run was opened before the site was read")

    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Polygonn", "coordinates": []}', encoding="utf-8")
    with pytest.raises(InvalidGeometry, match="^bad.geojson: "):
        screen_file(never, bad)
    one = tmp_path / "one.geojson"
    one.write_text(json.dumps(_feature(shapely.box(109.705, 38.285, 109.706, 38.286))))
    assert isinstance(screen_file(lambda: ctx, one), ScreeningResult)
    many = tmp_path / "many.geojson"
    feats = [_feature(shapely.Point(109.705, 38.285).buffer(0.001), id=i) for i in range(3)]
    many.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    table = screen_file(ctx, many)
    assert isinstance(table, pd.DataFrame) and len(table) == 3 and table["ok"].all()
    assert isinstance(screen_file(ctx, UNIT.centroid.buffer(0.001).wkt), ScreeningResult)


def test_opened_runs_open_once_reopen_when_rewritten_and_stay_bounded(
    demo_run_small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    real = QueryContext.open

    def counting(folder, **kw):  # type: ignore[no-untyped-def]
        opened.append(Path(folder))
        return real(folder, **kw)

    monkeypatch.setattr(runs_mod.QueryContext, "open", counting)
    demo = demo_zoning_run(demo_run_small.parent.parent, "small")
    assert demo.folder == demo_run_small and demo.zones_gpkg.is_file()
    runs = OpenedRuns(1)
    got: list[QueryContext] = []
    threads = [threading.Thread(target=lambda: got.append(runs.open(demo))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 1 and len({id(c) for c in got}) == 1 and len(runs) == 1
    st = demo.zones_gpkg.stat()
    os.utime(demo.zones_gpkg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    try:
        runs.open(demo)  # the file changed: opened again
        assert len(opened) == 2
        job = job_zoning_run("f" * 32, demo.zones_dir)
        runs.open(job)  # a second run evicts the first (size 1)
        runs.open(demo)
        assert len(opened) == 4 and len(runs) == 1
    finally:
        os.utime(demo.zones_gpkg, ns=(st.st_atime_ns, st.st_mtime_ns))
