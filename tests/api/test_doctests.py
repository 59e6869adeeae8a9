"""The examples in the service's docstrings run (pytest collects doctests only under geoeco/)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["errors", "bodies", "security", "settings", "openapi30", "heap", "responses"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    module = importlib.import_module(f"geoeco_api.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"geoeco_api.{name} has no examples"
    assert result.failed == 0
