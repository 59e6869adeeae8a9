"""Fixtures of the inputs tests: the loopback fixture (built once), its server, and catalog
configurations under a fresh URL alias per test (so GDAL's per-URL HTTP cache of one test
cannot answer another test's requests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from geoeco.inputs.cache import WindowCache
from geoeco.inputs.config import CatalogConfig
from geoeco.inputs.remote import RemoteOptions

from .fixture import Fixture, build_fixture, build_fixture_inputs
from .rangeserver import FixtureServer, serve

#: Fast retries for tests (the defaults wait seconds).
FAST = RemoteOptions(retries=1, retry_delay_s=0.01, timeout_s=5)


@pytest.fixture(scope="session")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("inputs-fixture"))


@pytest.fixture(scope="session")
def server(fx: Fixture) -> Iterator[FixtureServer]:
    yield from serve(fx.root)


@pytest.fixture
def base(server: FixtureServer) -> str:
    """A fresh URL prefix of the fixture (``http://127.0.0.1:PORT/a-<token>/``)."""
    server.log.clear()
    return f"{server.url}/a-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def static_http(base: str) -> CatalogConfig:
    return CatalogConfig.http_mirror(base + "catalog.json", name="loopback-static")


@pytest.fixture
def api_http(base: str) -> CatalogConfig:
    return CatalogConfig(
        name="loopback-api", kind="api", url=base + "api", allowed_prefixes=(base,)
    )


@pytest.fixture
def soil_http(base: str) -> CatalogConfig:
    return CatalogConfig(
        name="loopback-soilgrids",
        kind="files",
        url=base + "soilgrids/",
        allowed_prefixes=(base + "soilgrids/",),
    )


@pytest.fixture
def cache(tmp_path: Path) -> WindowCache:
    return WindowCache(tmp_path / "cache")


@pytest.fixture(scope="session")
def inputs_folder(server: FixtureServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw inputs folder ``geoeco.build_inputs`` writes for the fixture county (built
    once per session over loopback HTTP; read it, do not modify it)."""
    out = tmp_path_factory.mktemp("inputs-folder") / "county"
    build_fixture_inputs(f"{server.url}/a-{uuid.uuid4().hex[:12]}/catalog.json", out)
    return out
