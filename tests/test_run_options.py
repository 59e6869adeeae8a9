"""Each run option is defined once, next to the science, and every edge refers to it (issue 13).

The LS method, routing, soil-loss model, demo size, engine and 三线一单 options have one list
of names and one default; the erosion config, the API's process inputs (their published JSON
Schema) and the service settings take them from there, and values are checked by the one
pydantic model that owns them.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import ValidationError

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE, DEMO_SIZES
from geoeco.core.engine import ENGINES
from geoeco.core.errors import InvalidFields
from geoeco.erosion.config import DEFAULT_MODEL, EROSION_MODELS, ErosionConfig, make_config
from geoeco.service.process_inputs import ErosionInputs, ZoningInputs
from geoeco.terrain.ls import DEFAULT_LS_METHOD, LS_METHODS, ls_factor
from geoeco.terrain.ls_tiled import ls_factor_tiled
from geoeco.terrain.routing import ROUTING_METHODS
from geoeco.workflows.erosion import ErosionOptions, erosion_config
from geoeco.workflows.zoning import SXYD_CRS, run_zoning


def _enum(schema: dict[str, Any], name: str) -> list[Any]:
    prop = schema["properties"][name]
    for alt in prop.get("anyOf", [prop]):
        if "enum" in alt:
            return list(alt["enum"])
    raise AssertionError(f"{name} has no enum: {prop}")


def test_the_names_are_the_documented_ones() -> None:
    # methodology §1.2 and the README: three LS methods, two routings, two models, two sizes
    assert LS_METHODS == ("dg", "lstool", "invest")
    assert ROUTING_METHODS == ("d8", "mfd")
    assert EROSION_MODELS == ("rusle", "csle")
    assert set(DEMO_SIZES) == {"small", "full"} and set(ENGINES) == {"local", "dask"}


def test_one_default_ls_method_everywhere() -> None:
    """lstool: what `geoeco erosion` and the erosion process have always used (ls_factor's
    own default was dg; it now follows the one definition)."""
    assert DEFAULT_LS_METHOD == "lstool"
    assert ErosionConfig.model_fields["ls_method"].default == DEFAULT_LS_METHOD
    assert inspect.signature(ls_factor).parameters["method"].default == DEFAULT_LS_METHOD
    assert inspect.signature(ls_factor_tiled).parameters["method"].default == DEFAULT_LS_METHOD
    cfg = erosion_config(ErosionOptions(r=4000.0, k=0.03, c=0.2))
    assert (cfg.ls_method, cfg.model, cfg.routing) == (DEFAULT_LS_METHOD, DEFAULT_MODEL, None)


def test_process_inputs_publish_the_library_names() -> None:
    ero = ErosionInputs.model_json_schema()
    assert _enum(ero, "ls_method") == list(LS_METHODS)
    assert _enum(ero, "routing") == list(ROUTING_METHODS)
    assert _enum(ero, "model") == list(EROSION_MODELS)
    assert _enum(ero, "demo_size") == list(DEMO_SIZES)
    zon = ZoningInputs.model_json_schema()
    assert _enum(zon, "demo_size") == list(DEMO_SIZES)
    assert _enum(zon, "sxyd_crs") == list(SXYD_CRS)
    assert zon["properties"]["demo_size"]["default"] == DEFAULT_DEMO_SIZE
    assert inspect.signature(run_zoning).parameters["demo_size"].default == DEFAULT_DEMO_SIZE


@pytest.mark.parametrize("field", ["ls_method", "routing", "model"])
def test_a_bad_value_is_refused_by_the_api_and_the_config_alike(field: str) -> None:
    with pytest.raises(ValidationError):
        ErosionInputs(**{field: "x"})
    with pytest.raises(InvalidFields, match=field):
        make_config({"r": 1.0, "k": 1.0, "c": 1.0, field: "x"})


def test_the_service_settings_take_the_library_names() -> None:
    pytest.importorskip("fastapi")
    from geoeco_api.settings import Settings

    assert Settings(query_demo_size="small").query_demo_size == "small"
    with pytest.raises(ValidationError):
        Settings(query_demo_size="huge")
    with pytest.raises(ValidationError):
        Settings(engine="spark")
    assert Settings().query_demo_size == DEFAULT_DEMO_SIZE
