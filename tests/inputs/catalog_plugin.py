"""A job plugin (``GEOECO_JOB_PLUGINS``) that points the ``inputs`` process's configured
catalogs at the loopback fixture: the operator's way to configure catalogs in the job workers,
which run in their own processes. The catalogs come from the JSON in the environment variable
``GEOECO_TEST_INPUT_CATALOGS`` (name -> CatalogConfig fields), set by the test."""

from __future__ import annotations

import json
import os

from geoeco.inputs.config import CatalogConfig
from geoeco.service import process_build_inputs

_RAW = json.loads(os.environ.get("GEOECO_TEST_INPUT_CATALOGS", "{}"))
_CATALOGS = {name: CatalogConfig.model_validate(body) for name, body in _RAW.items()}
if _CATALOGS:
    process_build_inputs.configured_catalogs = lambda: dict(_CATALOGS)
