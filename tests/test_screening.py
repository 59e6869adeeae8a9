"""Site screening on the hand-built tiny run of test_query (see its docstring for the layout).

Sites (ALBERS_CHINA metres, y relative to Y0) and hand-worked overlaps:

* S1 = x 250–1250, y 200–700 (0.5 km²): unit A (priority) x 250–1000 → 0.375 km², 75 %;
  unit B (key) x 1000–1250 → 0.125 km², 25 %; red line 13 x 250–500 → 0.125 km², 25 %;
  park x 0–250 only touches the edge → no overlap.
* S2 = x 2100–2400, y 100–400 (0.09 km²): unit C (general) only, 100 %.
* S3 = x 1100–1400, y 100–400: unit B (key) only.
* S4 = x 2800–3200, y 0–1000 (0.4 km²): unit C x 2800–3000 → 50 %, outside → 50 %;
  battle x 2800–3200 → 100 %.
* S5 = x 5000–5100: outside every unit.
* P0 = x 100 (park and red line), a point.
* L1 = line from (200, 500) to (1800, 500): 1.6 km; A 0.8 km (50 %), B 0.8 km (50 %),
  red line 0.3 km (x 200–500), park 0.05 km (x 200–250).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import shapely
from test_query import albers_box, albers_point, open_tiny

from geoeco.core.crs import wgs84_to_gcj02
from geoeco.core.errors import InvalidInput, ManifestError, OversizeRequest
from geoeco.core.geometry import from_albers
from geoeco.query.compliance import load_compliance, project_types, verdicts
from geoeco.query.context import QueryContext
from geoeco.query.models import VERDICT_ORDER
from geoeco.query.screening import screen_batch, screen_site

S1 = albers_box(250, 200, 1250, 700)
S2 = albers_box(2100, 100, 2400, 400)
S3 = albers_box(1100, 100, 1400, 400)
S4 = albers_box(2800, 0, 3200, 1000)
S5 = albers_box(5000, 100, 5100, 200)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> QueryContext:
    return open_tiny(tmp_path_factory.mktemp("stiny"))


def _by_key(items):  # type: ignore[no-untyped-def]
    return {o.key: (round(o.amount, 6), round(o.share, 6)) for o in items}


def test_overlaps_by_hand(tiny: QueryContext) -> None:
    r = screen_site(tiny, S1)
    assert r.site.area_km2 == pytest.approx(0.5, rel=1e-6)
    assert _by_key(r.by_class) == {"1": (0.375, 0.75), "2": (0.125, 0.25)}
    assert _by_key(r.by_unit) == {"ZH62010210001": (0.375, 0.75), "ZH62010220001": (0.125, 0.25)}
    assert _by_key(r.redline) == {"13": (0.125, 0.25)}
    assert r.redline[0].extra["reason_en"].startswith("extremely important ecological function")
    assert r.national_parks == [] and r.battles == []
    assert r.inside_analysed_area and r.outside_share == 0.0


def test_partly_outside_and_battle(tiny: QueryContext) -> None:
    r = screen_site(tiny, S4)
    assert _by_key(r.by_class) == {"3": (0.2, 0.5)}
    assert r.outside_share == pytest.approx(0.5, rel=1e-6)
    assert _by_key(r.battles) == {"ji_bend": (0.4, 1.0)}
    assert any("50.0% of the site lies outside" in n for n in r.notes)


def test_coverage_of_sites_by_hand(tiny: QueryContext) -> None:
    """Coverage is reported, never enforced: S1 is analysed whole; S4 (0.4 km²) half, so
    0.2 km² of it lies outside the run; S5 not at all (0.01 km² missing); a point outside
    has coverage 0 and a point inside 1 (issue 14)."""
    r1, r4, r5 = (screen_site(tiny, s) for s in (S1, S4, S5))
    assert r1.coverage_share == 1.0 and r1.coverage_missing_km2 == {}
    assert r4.coverage_share == pytest.approx(0.5, abs=1e-6)
    assert r4.coverage_missing_km2["zoning run"] == pytest.approx(0.2, rel=1e-6)
    assert r5.coverage_share == 0.0
    assert r5.coverage_missing_km2["zoning run"] == pytest.approx(0.01, rel=1e-6)
    assert any("outside the analysed area" in n for n in r4.notes)


def test_outside_site_has_no_verdict(tiny: QueryContext) -> None:
    r = screen_site(tiny, S5, project_type="industry")
    assert not r.inside_analysed_area and r.by_unit == [] and r.outside_share == 1.0
    assert r.verdicts[0].verdict is None and "outside the analysed area" in r.verdicts[0].note
    assert r.zonal[0].count == 0


def test_zonal_in_screening(tiny: QueryContext) -> None:
    """Same hand values as test_zonal: soil loss over S1 count 49, sum 3450. Screening
    densifies the lon-lat edges (every 0.01°) before projecting, so its edges are straight in
    lon-lat rather than in Albers: that moves the 1 km edges by millimetres (rel. 1e-6)."""
    r = screen_site(tiny, S1)
    z = {s.layer: s for s in r.zonal}
    assert z["soil_loss"].sum == pytest.approx(3450.0, rel=1e-5)
    hist = {c.code: c.share for c in z["zone_class"].histogram}
    assert hist == pytest.approx({1: 0.75, 2: 0.25})
    assert z["zone_class"].histogram[0].name_en == "priority protection"
    # redline.tif has 0 as nodata: only red-line pixels are valid, so the histogram share is
    # 1.0 of the valid part, whose area is the red-line overlap 0.125 km² (12.5 pixels)
    assert z["redline"].count == pytest.approx(12.5, rel=1e-5)
    assert z["redline"].histogram[0].area_km2 == pytest.approx(0.125, rel=1e-5)


# Expected verdicts per project type on the hand run, read from compliance.toml:
# scopes touched → most severe verdict.
EXPECTED = {
    # S1 touches red line + priority + key
    "S1": {
        "industry": "forbidden",
        "mining": "forbidden",
        "wind_energy": "restricted",
        "solar_energy": "forbidden",
        "linear_infrastructure": "restricted",
        "housing": "forbidden",
        "agriculture": "restricted",
        "tourism": "restricted",
        "water_works": "restricted",
        "ecological_restoration": "conditional",
    },
    # S2 touches general only
    "S2": dict.fromkeys(project_types(), "allowed"),
    # S3 touches key only
    "S3": {
        t: ("allowed" if t == "ecological_restoration" else "conditional") for t in project_types()
    },
}


@pytest.mark.parametrize("site", ["S1", "S2", "S3"])
def test_verdict_per_project_type(tiny: QueryContext, site: str) -> None:
    r = screen_site(tiny, globals()[site], zonal=False)
    got = {v.project_type: v.verdict for v in r.verdicts}
    assert got == EXPECTED[site]


def test_verdict_parts_and_access_text(tiny: QueryContext) -> None:
    r = screen_site(tiny, S1, project_type=["linear_infrastructure"], zonal=False)
    v = r.verdicts[0]
    assert [p.scope for p in v.parts] == ["redline", "priority", "key"]
    assert [p.verdict for p in v.parts] == ["restricted", "conditional", "conditional"]
    assert v.parts[0].tag == "R" and "linear infrastructure" in v.parts[0].reason_en
    assert "no-development area" in v.parts[0].access_en  # red-line add-on of access_lists
    assert v.parts[1].units == ["ZH62010210001"] and v.parts[2].units == ["ZH62010220001"]
    assert v.parts[2].access_zh.startswith("优化空间布局")  # key class template


def test_verdicts_per_class_table() -> None:
    """Per class, the rules of §4.1–4.2: red line forbids industry, linear infra restricted;
    priority forbids industry and housing; key is conditional; general allowed."""
    rs = load_compliance()
    table = {s: {t: rs.rule(s, t).verdict for t in project_types()} for s in rs.scope}
    assert table["redline"]["industry"] == "forbidden"
    assert table["redline"]["linear_infrastructure"] == "restricted"
    assert table["redline"]["wind_energy"] in ("restricted", "conditional")
    assert table["priority"]["industry"] == table["priority"]["housing"] == "forbidden"
    assert set(table["key"].values()) <= {"conditional", "allowed"}
    assert set(table["general"].values()) == {"allowed"}
    for s in ("redline", "national_park"):
        for t in project_types():
            assert VERDICT_ORDER.index(table[s][t]) >= VERDICT_ORDER.index(table["general"][t])
    assert verdicts({"national_park": ["p"]}, ["mining"])[0].verdict == "forbidden"


def test_bad_rules_and_types(tiny: QueryContext) -> None:
    with pytest.raises(InvalidInput, match="unknown project type 'casino'"):
        screen_site(tiny, S1, project_type="casino")
    with pytest.raises(ManifestError, match="scopes must be exactly"):
        load_compliance({"version": "1", "project_type": [], "scope": {}})
    with pytest.raises(InvalidInput, match="buffer_m"):
        screen_site(tiny, S1, buffer_m=-5)


def test_gcj02_site_same_answer(tiny: QueryContext) -> None:
    """S1 shifted to GCJ-02 and declared as such gives the WGS 84 answer (the inverse is
    exact to 1e-10°, so the park edge S1 shares at x=250 stays a sub-m² sliver)."""
    gcj = shapely.transform(
        S1, lambda c: shapely.get_coordinates(shapely.points(*wgs84_to_gcj02(c[:, 0], c[:, 1])))
    )
    a = screen_site(tiny, S1, zonal=False, map_data=False)
    b = screen_site(tiny, gcj, crs="gcj02", zonal=False, map_data=False)
    assert _by_key(b.by_unit) == _by_key(a.by_unit)
    assert _by_key(b.redline) == _by_key(a.redline)
    assert [v.verdict for v in b.verdicts] == [v.verdict for v in a.verdicts]


def test_point_and_line_sites(tiny: QueryContext) -> None:
    p = screen_site(tiny, shapely.Point(*albers_point(100, 500)), project_type="tourism")
    assert p.by_unit[0].measure == "points" and p.by_unit[0].share == 1.0
    assert [o.key for o in p.national_parks] == ["test_park"]
    assert p.verdicts[0].verdict == "restricted"  # red line and park both restrict tourism
    assert any("no zonal statistics" in n for n in p.notes)
    line = from_albers(shapely.LineString([(200, 4_200_500), (1800, 4_200_500)]))
    r = screen_site(tiny, line, buffer_m=100, project_type="linear_infrastructure")
    assert r.site.length_km == pytest.approx(1.6, rel=1e-6)
    assert _by_key(r.by_unit) == {"ZH62010210001": (0.8, 0.5), "ZH62010220001": (0.8, 0.5)}
    assert _by_key(r.redline) == {"13": (0.3, 0.1875)}
    assert _by_key(r.national_parks) == {"test_park": (0.05, 0.03125)}
    assert any("over the buffer" in n for n in r.notes) and r.zonal


def test_proximity_within_buffer(tiny: QueryContext) -> None:
    """S2 (x 2100–2400) with a 300 m buffer reaches x 1800–2700: unit B at 100 m, the battle
    area at 100 m (x 2500); park (x ≤ 250) and red line (x ≤ 500) are beyond it."""
    r = screen_site(tiny, S2, buffer_m=300)
    prox = {(p.layer, p.id): round(p.distance_km, 6) for p in r.proximity}
    assert prox == {
        ("units", "ZH62010230001"): 0.0,
        ("units", "ZH62010220001"): 0.1,
        ("battles", "ji_bend"): 0.1,
    }
    assert r.proximity[0].overlaps_site


def test_oversize_and_empty(tiny: QueryContext) -> None:
    with pytest.raises(OversizeRequest, match="km²"):
        screen_site(tiny, S1, max_area_km2=0.1)
    with pytest.raises(OversizeRequest, match="buffer"):
        screen_site(tiny, S1, buffer_m=5000, max_area_km2=1.0)
    from geoeco.core.errors import EmptyArea

    with pytest.raises(EmptyArea):
        screen_site(tiny, "POLYGON EMPTY")


def test_batch_with_bad_rows(tiny: QueryContext, tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "s1",
                "properties": {},
                "geometry": shapely.geometry.mapping(S1),
            },
            {
                "type": "Feature",
                "id": "bad",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [10, 200]},
            },
            {"type": "Feature", "id": "none", "properties": {}, "geometry": None},
            {
                "type": "Feature",
                "id": "s2",
                "properties": {},
                "geometry": shapely.geometry.mapping(S2),
            },
        ],
    }
    df = screen_batch(tiny, json.dumps(fc), project_type=["industry", "tourism"])
    assert list(df["site_id"]) == ["s1", "bad", "none", "s2"]
    assert list(df["ok"]) == [True, False, False, True]
    assert list(df["error_type"].fillna("")) == ["", "InvalidGeometry", "EmptyArea", ""]
    assert "latitude out of range" in df.loc[1, "error"]
    assert df.loc[0, "share_priority"] == pytest.approx(0.75)
    assert df.loc[0, "unit_codes"] == "ZH62010210001,ZH62010220001"
    assert (
        df.loc[0, "verdict_industry"] == "forbidden" and df.loc[3, "verdict_tourism"] == "allowed"
    )

    csv = tmp_path / "sites.csv"
    pd.DataFrame({"id": ["a", "b"], "wkt": [S3.wkt, "POLYGON ((1 2, 3"]}).to_csv(csv, index=False)
    df2 = screen_batch(tiny, csv, project_type="industry")
    assert list(df2["ok"]) == [True, False] and df2.loc[0, "verdict_industry"] == "conditional"
    assert df2.loc[1, "error_type"] == "InvalidGeometry"

    import geopandas as gpd

    from geoeco.core.io import write_vector

    gdf = gpd.GeoDataFrame({"name": ["x"]}, geometry=[S2], crs=4490).to_crs(3857)
    write_vector(gdf, tmp_path / "sites.gpkg")
    df3 = screen_batch(tiny, tmp_path / "sites.gpkg", id_field="name")
    assert df3.loc[0, "site_id"] == "x" and df3.loc[0, "share_general"] == pytest.approx(1.0)


def test_large_sites_compute_overlaps_beside_zonal_with_the_same_answer(
    tiny: QueryContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``PARALLEL_KM2`` the overlaps run in a worker thread beside the zonal statistics
    (issue 16); the answer is the same, byte for byte, as computing them one after the other,
    and an error in the zonal statistics still surfaces (after the worker finished)."""
    import geoeco.query.screening as scr

    monkeypatch.setattr(scr, "PARALLEL_KM2", 1e12)
    one_by_one = screen_site(tiny, S1, buffer_m=300).model_dump_json()
    monkeypatch.setattr(scr, "PARALLEL_KM2", 0.0)
    pools = []
    real_pool = scr._pool
    monkeypatch.setattr(scr, "_pool", lambda: pools.append(1) or real_pool())
    assert screen_site(tiny, S1, buffer_m=300).model_dump_json() == one_by_one
    assert pools == [1]  # the worker thread was used

    def boom(*args: object) -> None:
        raise InvalidInput("zonal failed")

    monkeypatch.setattr(scr, "_zonal", boom)
    with pytest.raises(InvalidInput, match="zonal failed"):
        screen_site(tiny, S1)


def test_parallel_path_from_many_threads_gives_the_same_answer(
    tiny: QueryContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads screening at once through the worker-thread path (two workers shared by
    all) each get the single-threaded answer."""
    from concurrent.futures import ThreadPoolExecutor

    import geoeco.query.screening as scr

    sites = [S1, albers_box(100, 100, 1900, 900), albers_box(600, 300, 800, 500)]
    want = [screen_site(tiny, s, buffer_m=200).model_dump_json() for s in sites]
    monkeypatch.setattr(scr, "PARALLEL_KM2", 0.0)
    with ThreadPoolExecutor(8) as ex:
        jobs = [
            (i % 3, ex.submit(screen_site, tiny, sites[i % 3], buffer_m=200)) for i in range(48)
        ]
        got = [(i, j.result().model_dump_json()) for i, j in jobs]
    assert all(g == want[i] for i, g in got)


_FORKED: dict[str, QueryContext] = {}


def _screen_in_child() -> str:
    return screen_site(_FORKED["ctx"], S1, buffer_m=200).model_dump_json()


def test_forked_child_makes_its_own_worker_threads(
    tiny: QueryContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process forked after the worker threads started (as servers fork workers) does not
    wait forever on the parent's pool, which has no threads in the child."""
    import multiprocessing

    import geoeco.query.screening as scr

    monkeypatch.setattr(scr, "PARALLEL_KM2", 0.0)
    want = screen_site(tiny, S1, buffer_m=200).model_dump_json()  # the parent's pool exists now
    _FORKED["ctx"] = tiny
    with multiprocessing.get_context("fork").Pool(1) as child:
        got = child.apply_async(_screen_in_child).get(timeout=120)
    assert got == want
