"""Who may see and dismiss a job: with API keys on, every read of a job checks its owner.

Two keys (``ka``, ``kb``) and an admin key (``root``). Two successful zoning jobs are made by
hand, as in ``test_maps.py``: ``JA`` belongs to ``ka`` and ``JB`` to ``kb`` (rows finished in
the store, the small demo run's ``zones`` folder copied in as results; no worker runs). Every
route that takes a job id is asked for ``JA`` with ``ka`` (it works), with ``kb``, with no key
and with a made-up key (each answers exactly like an id that does not exist), and with
``root`` (it works). With keys off, dismissing needs the job's token or the admin key.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.routers.jobs import access_code
from geoeco_api.settings import Settings

from geoeco.service.job_model import key_digest, new_job, result_manifest, token_digest
from geoeco.workflows.demo_cache import ensure_demo_run

from .conftest import assert_problem
from .test_maps import tile_of

pytest.importorskip("folium")

JA, JB, UNKNOWN = "a1" * 16, "b2" * 16, "c3" * 16
KA, KB, ADMIN = {"X-API-Key": "ka"}, {"X-API-Key": "kb"}, {"X-API-Key": "root"}
STRANGERS = {"key kb": KB, "no key": {}, "made-up key": {"X-API-Key": "zz"}}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "geoeco-shared-cache"


@pytest.fixture(scope="module")
def zones(cache: Path) -> Path:
    return ensure_demo_run(cache, "small") / "zones"


@pytest.fixture(scope="module")
def centre(zones: Path) -> tuple[float, float]:
    units = gpd.read_file(zones / "zones.gpkg", layer="units").to_crs(4326)
    c = units.union_all().representative_point()
    return float(c.x), float(c.y)


def _finished_zoning_job(app: Any, job_id: str, owner: str, zones: Path) -> None:
    svc = app.state.job_service
    svc.store.submit(new_job(job_id, "zoning", {"demo_size": "small", "n": job_id}, owner=owner))
    assert svc.store.claim("test-worker").id == job_id
    folder = svc.results_dir / job_id
    shutil.copytree(zones, folder)
    assert svc.store.finish(job_id, 1, files=result_manifest(folder), result={"units": {}})


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, cache: Path, zones: Path
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("owners")
    settings = Settings(
        data_dir=tmp / "data",
        layers_dir=tmp / "layers",
        cache_dir=cache,
        rate_limit_per_minute=0,
        query_demo_size="small",
        api_keys="ka,kb",
        admin_keys="root",
        log_json=False,
    )
    app = create_app(settings.model_copy(update={"job_run_workers": False}))
    with TestClient(app, raise_server_exceptions=False) as c:
        _finished_zoning_job(app, JA, key_digest("ka"), zones)
        _finished_zoning_job(app, JB, key_digest("kb"), zones)
        yield c


def _site(lon: float, lat: float) -> dict[str, Any]:
    d = 0.005
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def reads(job: str, centre: tuple[float, float]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every read of ``job``: name -> (method, url, request keywords)."""
    lon, lat = centre
    x, y = tile_of(lon, lat, 13)
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                                                      "geometry": _site(lon, lat)}]}  # fmt: skip
    return {
        "status": ("GET", f"/jobs/{job}", {}),
        "results": ("GET", f"/jobs/{job}/results", {}),
        "file": ("GET", f"/jobs/{job}/files/zones.gpkg", {}),
        "tile": ("GET", f"/jobs/{job}/tiles/zone_class/13/{x}/{y}.png", {}),
        "map": ("GET", f"/maps/jobs/{job}", {}),
        "point": ("GET", "/query/point", {"params": {"lon": lon, "lat": lat, "run": job}}),
        "screen": ("POST", "/screen", {"json": {"geometry": _site(lon, lat), "run": job}}),
        "batch": ("POST", "/screen/batch", {"json": fc, "params": {"run": job}}),
    }


READS = list(reads(JA, (0.0, 0.0)))


def send(c: TestClient, method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
    return c.request(method, url, headers=headers, **kw)


@pytest.mark.parametrize("route", READS)
def test_owner_and_admin_read_every_route(client: TestClient, centre, route: str) -> None:  # type: ignore[no-untyped-def]
    method, url, kw = reads(JA, centre)[route]
    for who in (KA, ADMIN):
        r = send(client, method, url, who, **kw)
        assert r.status_code == 200, (route, who, r.text[:300])
        assert not r.headers["content-type"].startswith("application/problem")


@pytest.mark.parametrize("route", READS)
@pytest.mark.parametrize("stranger", list(STRANGERS))
def test_others_get_the_answer_of_an_unknown_id(  # type: ignore[no-untyped-def]
    client: TestClient, centre, route: str, stranger: str
) -> None:
    method, url, kw = reads(JA, centre)[route]
    r = send(client, method, url, STRANGERS[stranger], **kw)
    body = assert_problem(r, 404, "no-such-job")
    u_method, u_url, u_kw = reads(UNKNOWN, centre)[route]
    unknown = assert_problem(send(client, u_method, u_url, KA, **u_kw), 404, "no-such-job")
    assert body["detail"] == unknown["detail"].replace(UNKNOWN, JA)  # nothing tells them apart
    assert set(body) == set(unknown)


def test_job_list_shows_each_key_its_own_jobs(client: TestClient) -> None:
    def ids(headers: dict[str, str]) -> list[str]:
        body = client.get("/jobs", headers=headers).json()
        assert body["numberMatched"] == len(body["jobs"])
        return sorted(j["jobID"] for j in body["jobs"])

    assert ids(KA) == [JA] and ids(KB) == [JB]
    assert ids({}) == [] and ids({"X-API-Key": "zz"}) == []
    assert ids(ADMIN) == sorted([JA, JB])


def test_access_code_opens_one_jobs_map_and_tiles_only(client: TestClient, centre) -> None:  # type: ignore[no-untyped-def]
    links = client.get(f"/jobs/{JA}/results", headers=KA).json()["links"]
    code = client.app.state.job_service.store.get(JA)  # type: ignore[attr-defined]
    expected = access_code(code)
    map_link = next(lk["href"] for lk in links if lk["rel"] == "alternate")
    tile_link = next(lk["href"] for lk in links if lk["rel"] == "tiles")
    assert map_link.endswith(f"/maps/jobs/{JA}?access={expected}")
    assert tile_link.endswith(
        f"/jobs/{JA}/tiles/{{output}}/{{z}}/{{x}}/{{y}}.png?access={expected}"
    )
    # a browser (no header) opens the map with the code, and the page's tiles carry it
    page = client.get(f"/maps/jobs/{JA}", params={"access": expected})
    assert page.status_code == 200 and f"access={expected}" in page.text
    lon, lat = centre
    x, y = tile_of(lon, lat, 13)
    tile = client.get(f"/jobs/{JA}/tiles/zone_class/13/{x}/{y}.png", params={"access": expected})
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    assert "x-tile-empty" not in tile.headers  # the demo centre is zoned
    # the code opens nothing else: not JB's tiles, not JA's status, results or files
    other = f"/jobs/{JB}/tiles/zone_class/13/{x}/{y}.png"
    assert_problem(client.get(other, params={"access": expected}), 404, "no-such-job")
    for url in (f"/jobs/{JA}", f"/jobs/{JA}/results", f"/jobs/{JA}/files/zones.gpkg"):
        assert_problem(client.get(url, params={"access": expected}), 404, "no-such-job")
    assert_problem(client.get(f"/maps/jobs/{JA}", params={"access": "0" * 32}), 404)


def test_screening_process_cannot_use_another_keys_zoning_job(client: TestClient) -> None:
    inputs = {"zoning_job": JA, "geometry": {"type": "Point", "coordinates": [109.7, 38.2]}}
    h = {"Prefer": "respond-async"}
    theirs = client.post(
        "/processes/screening/execution", json={"inputs": inputs}, headers={**KB, **h}
    )
    body = assert_problem(theirs, 422, "InvalidProcessInputs")
    unknown = client.post(
        "/processes/screening/execution",
        json={"inputs": {**inputs, "zoning_job": UNKNOWN}},
        headers={**KB, **h},
    )
    assert assert_problem(unknown, 422)["detail"] == body["detail"].replace(JA, UNKNOWN)
    mine = client.post(
        "/processes/screening/execution", json={"inputs": inputs}, headers={**KA, **h}
    )
    assert mine.status_code == 201, mine.text
    assert "jobToken" not in mine.json()  # keys on: the owner's key dismisses, no token
    assert client.delete(f"/jobs/{mine.json()['jobID']}", headers=KA).status_code == 200


def test_dismiss_with_keys_on(client: TestClient, zones: Path) -> None:
    app = client.app
    jc = "d4" * 16
    _finished_zoning_job(app, jc, key_digest("ka"), zones)
    assert_problem(client.delete(f"/jobs/{jc}"), 401, "unauthorized")
    assert_problem(client.delete(f"/jobs/{jc}", headers={"X-API-Key": "zz"}), 403, "forbidden")
    assert_problem(client.delete(f"/jobs/{jc}", headers=KB), 404, "no-such-job")
    assert client.get(f"/jobs/{jc}", headers=KA).json()["status"] == "successful"
    r = client.delete(f"/jobs/{jc}", headers=KA)
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    je = "e5" * 16
    _finished_zoning_job(app, je, key_digest("kb"), zones)
    assert client.delete(f"/jobs/{je}", headers=ADMIN).json()["status"] == "dismissed"


# --------------------------------------------------------------------------- keys off


@pytest.fixture
def open_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        rate_limit_per_minute=0,
        admin_keys="root",
        log_json=False,
    )
    app = create_app(settings.model_copy(update={"job_run_workers": False}))  # jobs stay accepted
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _submit(c: TestClient, size: str) -> Any:
    return c.post(
        "/processes/zoning/execution",
        json={"inputs": {"demo_size": size}},
        headers={"Prefer": "respond-async"},
    )


def test_keys_off_dismissal_needs_the_jobs_token(open_client: TestClient) -> None:
    c = open_client
    first = _submit(c, "small")
    assert first.status_code == 201, first.text
    job, token = first.json()["jobID"], first.json()["jobToken"]
    assert first.headers["x-job-token"] == token and len(token) >= 43
    other = _submit(c, "full")
    other_token = other.json()["jobToken"]
    assert other_token != token
    # the token is stored hashed: not in the database file, not in any read
    folder = c.app.state.job_service.results_dir  # type: ignore[attr-defined]
    db = b"".join(p.read_bytes() for p in folder.glob("jobs.sqlite3*"))
    assert token.encode() not in db and token_digest(token).encode() in db
    assert token not in c.get(f"/jobs/{job}").text and token not in c.get("/jobs").text
    # a repeat finds the active job: no token for the second caller
    again = _submit(c, "small")
    assert again.status_code == 200 and "jobToken" not in again.json()
    assert "x-job-token" not in again.headers
    assert_problem(c.delete(f"/jobs/{job}"), 401, "unauthorized")
    assert_problem(c.delete(f"/jobs/{job}", headers={"X-Job-Token": other_token}), 403)
    assert_problem(c.delete(f"/jobs/{job}", headers={"X-Job-Token": "x" * 43}), 403)
    assert_problem(c.delete(f"/jobs/{job}", headers={"X-API-Key": "zz"}), 401)
    assert c.get(f"/jobs/{job}").json()["status"] == "accepted"
    r = c.delete(f"/jobs/{job}", headers={"X-Job-Token": token})
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    # a new attempt gets a new token; the old one no longer dismisses it
    rerun = _submit(c, "small")
    assert rerun.status_code == 201 and rerun.json()["attempt"] == 2
    new_token = rerun.json()["jobToken"]
    assert new_token != token
    assert_problem(c.delete(f"/jobs/{job}", headers={"X-Job-Token": token}), 403)
    # the admin key dismisses any job
    assert c.delete(f"/jobs/{other.json()['jobID']}", headers=ADMIN).status_code == 200


def test_keys_off_every_caller_reads_every_job(open_client: TestClient) -> None:
    job = _submit(open_client, "small").json()["jobID"]
    assert open_client.get(f"/jobs/{job}").status_code == 200
    assert open_client.get(f"/jobs/{job}", headers={"X-API-Key": "anything"}).status_code == 200
    assert open_client.get("/jobs").json()["numberMatched"] == 1


def test_admin_key_is_accepted_where_a_key_is(client: TestClient) -> None:
    h = {**ADMIN, "Prefer": "respond-async"}
    r = client.post(
        "/processes/zoning/execution", json={"inputs": {"demo_size": "full"}}, headers=h
    )
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    assert_problem(client.get(f"/jobs/{job}", headers=KA), 404, "no-such-job")  # not ka's
    assert client.delete(f"/jobs/{job}", headers=ADMIN).json()["status"] == "dismissed"
