"""One user-layer store for `geoeco layers add` and `POST /uploads` (geoeco.catalog.store)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from geoeco.catalog.layers import load_registry
from geoeco.catalog.store import INCOMING, UserLayerOptions, UserLayerStore
from geoeco.cli import main
from geoeco.core.errors import InvalidInput, LayerExists, LayerNotFound


@pytest.fixture
def parks(tmp_path: Path) -> Path:
    f = tmp_path / "My Parks.geojson"
    frame = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[box(109, 38, 109.1, 38.1)] * 2)
    frame.set_crs(4490).to_file(f, driver="GeoJSON")
    return f


def _store(tmp_path: Path) -> UserLayerStore:
    return UserLayerStore(tmp_path / "layers", uploads_dir=tmp_path / "uploads")


def _upload(store: UserLayerStore, data: bytes, name: str, role: str = "protected"):  # type: ignore[no-untyped-def]
    lid, shown = store.upload_id(None, name)
    with store.reserve_upload(lid) as folder:
        (folder / INCOMING).write_bytes(data)
        return store.add_upload(folder, UserLayerOptions(role=role), shown=shown)


def test_cli_and_upload_register_a_file_the_same_way(tmp_path, parks, capsys):
    cli_dir = tmp_path / "cli-layers"
    assert main(["layers", "add", str(parks), "--role", "protected", "--layers", str(cli_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    by_cli = load_registry(cli_dir).get(printed["id"])
    by_api = _upload(_store(tmp_path), parks.read_bytes(), parks.name)
    assert by_cli.id == by_api.id == "user.my_parks"
    same = ("kind", "role", "status", "crs", "expect", "title_zh", "title_en", "nodata")
    assert {k: getattr(by_cli, k) for k in same} == {k: getattr(by_api, k) for k in same}
    assert by_cli.title_en == "My Parks" and by_cli.expect.feature_count == 2
    # where the file lives and where it came from differ, as they should
    assert by_cli.file_path() == parks.resolve()
    assert by_api.file_path().parent == (tmp_path / "uploads" / "user.my_parks").resolve()
    assert by_api.provenance == "uploaded file My Parks.geojson"


def test_taken_ids_are_refused_and_failed_uploads_leave_nothing(tmp_path, parks):
    store = _store(tmp_path)
    store.add_file(parks, UserLayerOptions(role="protected", layer_id="user.parks"))
    with pytest.raises(LayerExists, match="taken"), store.reserve_upload("user.parks"):
        pass
    with pytest.raises(LayerExists, match="already registered"):
        store.add_file(parks, UserLayerOptions(role="protected", layer_id="user.parks"))
    with store.reserve_upload("user.busy"), pytest.raises(LayerExists, match="being uploaded"):
        with store.reserve_upload("user.busy"):
            pass
    with pytest.raises(InvalidInput, match="empty"):
        _upload(store, b"", "nothing.geojson")
    with pytest.raises(InvalidInput, match="not a GeoTIFF, GeoPackage, GeoJSON or zip"):
        _upload(store, b"<VRTDataset/>", "trick.tif")
    # only the reservation that ended without an error keeps its folder
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["user.busy"]
    assert [p.name for p in (tmp_path / "layers").iterdir()] == ["user.parks.toml"]


def test_uploads_are_listed_measured_and_removed_alone(tmp_path, parks):
    store = _store(tmp_path)
    store.add_file(parks, UserLayerOptions(role="protected", layer_id="user.local"))
    archive = tmp_path / "parks.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(parks, "parks.geojson")
    spec = _upload(store, archive.read_bytes(), "parks.zip", role="development")
    assert [s.id for s in store.uploads()] == [spec.id] == ["user.parks"]
    info = store.upload_info(spec.id)
    assert info.bytes == parks.stat().st_size and info.created is not None
    with pytest.raises(LayerNotFound):
        store.remove_upload("user.local")  # registered in place, not uploaded here
    store.remove_upload(spec.id)
    assert store.uploads() == [] and not (tmp_path / "uploads" / spec.id).exists()
    assert "user.local" in store.registry() and "user.parks" not in store.registry()
