"""Layer manifests and the registry: parsing, strictness, immutability, user manifests."""

from __future__ import annotations

import pytest

from geoeco.catalog.layers import LayerRegistry, dump_manifest, load_manifest, parse_manifest
from geoeco.core.errors import GeoecoError, LayerExists, LayerNotFound, ManifestError

GOOD = """
id = "user.parks"
title_zh = "公园"
title_en = "Parks"
kind = "vector"
role = "protected"
status = "real"
version = "2024.1"
crs = "EPSG:4490"
licence = "CC-BY-4.0"
provenance = "test fixture"
geometry_type = "polygon"
[source]
type = "file"
path = "parks.gpkg"
"""


def test_good_manifest_parses_and_round_trips(tmp_path):
    spec = parse_manifest(GOOD)
    assert spec.id == "user.parks" and spec.source.type == "file"
    again = parse_manifest(dump_manifest(spec))
    assert again == spec
    p = tmp_path / "parks.toml"
    p.write_text(GOOD, encoding="utf-8")
    loaded = load_manifest(p)
    assert loaded.file_path() == tmp_path / "parks.gpkg"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (('kind = "vector"', 'kind = "polygon"'), "kind"),
        (('status = "real"', 'status = "official"'), "status"),
        (('crs = "EPSG:4490"', 'crs = "EPSG:999999"'), "crs"),
        (('role = "protected"', 'role = "parks"'), "role"),
        (('licence = "CC-BY-4.0"\n', ""), "licence"),
        (('version = "2024.1"', 'version = "2024.1"\ncolour = 3'), "colour"),  # extra field
        (('type = "file"', 'type = "ftp"'), "source"),
        (('id = "user.parks"', 'id = "User Parks"'), "id"),
    ],
)
def test_bad_manifests_name_the_field(change, needle):
    text = GOOD.replace(*change)
    with pytest.raises(ManifestError) as exc:
        parse_manifest(text, name="bad.toml")
    assert "bad.toml" in str(exc.value) and needle in str(exc.value)


def test_broken_toml_and_duplicate_class_codes():
    with pytest.raises(ManifestError, match="not valid TOML"):
        parse_manifest("id = ", name="x.toml")
    classes = (
        GOOD
        + """
[[classes]]
code = 1
name_zh = "甲"
name_en = "a"
color = "#112233"
[[classes]]
code = 1
name_zh = "乙"
name_en = "b"
color = "#445566"
"""
    )
    with pytest.raises(ManifestError, match="unique"):
        parse_manifest(classes)
    with pytest.raises(ManifestError, match="color"):
        parse_manifest(
            GOOD + '[[classes]]\ncode = 1\nname_zh = "甲"\nname_en = "a"\ncolor = "red"\n'
        )


def test_registry_is_immutable_and_register_returns_a_new_one():
    spec = parse_manifest(GOOD)
    empty = LayerRegistry()
    reg = empty.register(spec)
    assert len(empty) == 0 and len(reg) == 1 and "user.parks" in reg
    with pytest.raises(AttributeError):
        reg.x = 1  # type: ignore[attr-defined]
    with pytest.raises(LayerExists):
        reg.register(spec)
    assert len(reg.register(spec, overwrite=True)) == 1
    with pytest.raises(LayerNotFound, match="known layers: user.parks"):
        reg.get("user.nothing")
    # the error tree: caught as library error and as builtin category
    with pytest.raises(GeoecoError):
        reg.get("x")
    with pytest.raises(LookupError):
        reg.get("x")
    assert [s.id for s in reg.list(kind="raster")] == []


def test_from_dirs_reports_missing_folder(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        LayerRegistry.from_dirs(tmp_path / "nope")
