"""``/openapi.json`` is a valid OpenAPI 3.0 document, as ``/conformance`` declares (``oas30``).

FastAPI writes OpenAPI 3.1; the service serves the 3.0 rendering of
:mod:`geoeco_api.openapi30`. The document is checked by ``openapi-spec-validator``'s 3.0
validator (an independent implementation of the OpenAPI 3.0 meta-schema), and the rewrites
are checked on the schemas where they matter.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

openapi_spec_validator = pytest.importorskip("openapi_spec_validator")
from openapi_spec_validator import OpenAPIV30SpecValidator, validate  # noqa: E402

OAS30 = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
)


def test_served_document_is_valid_openapi_30(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"] == "3.0.3"
    validate(doc, cls=OpenAPIV30SpecValidator)
    text = json.dumps(doc)
    for keyword in ('"type": "null"', '"const"', '"prefixItems"', '"examples"'):
        assert keyword not in text, keyword
    conforms = client.get("/conformance").json()["conformsTo"]
    assert set(OAS30) <= set(conforms)
    landing = client.get("/").json()["links"]
    desc = next(lk for lk in landing if lk["rel"] == "service-desc")
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"


def test_the_validator_refuses_31_forms(client: TestClient) -> None:
    """What the rendering rewrites is refused by the 3.0 validator: the check can fail."""
    doc = client.get("/openapi.json").json()
    broken = json.loads(json.dumps(doc))
    broken["components"]["schemas"]["Problem"]["properties"]["status"] = {
        "anyOf": [{"type": "integer"}, {"type": "null"}]
    }
    with pytest.raises(Exception, match="null"):
        validate(broken, cls=OpenAPIV30SpecValidator)


def test_nullable_and_tuple_schemas(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    params = {
        p["name"]: p["schema"]
        for p in doc["paths"]["/jobs/{job_id}/tiles/{output}/{z}/{x}/{y}.png"]["get"]["parameters"]
    }
    # an optional query parameter: nullable string, not anyOf [string, null]
    assert params["colormap"].get("nullable") is True and "anyOf" not in params["colormap"]
    schemas = doc["components"]["schemas"]
    bbox = next(
        s["properties"]["bbox"] for s in schemas.values() if "bbox" in s.get("properties", {})
    )
    assert bbox["type"] == "array" and bbox["items"] == {"type": "number"}
    assert bbox["minItems"] == bbox["maxItems"] == 4
