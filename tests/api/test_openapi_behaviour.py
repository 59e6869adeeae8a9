"""The OpenAPI document says what the service does: error media types and ``Allow`` on 405.

- every documented error response (4xx/5xx) is ``application/problem+json`` with the
  ``Problem`` schema, and ``POST /screen`` documents its 400 (unparsable body);
- a method no route has on a path is a 405 problem whose ``Allow`` header lists exactly the
  methods the OpenAPI document gives that path (Starlette alone names only the first matching
  route's methods: ``GET`` for ``/jobs/{id}``, which also has ``DELETE``).
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def test_error_responses_are_documented_as_problems(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    checked = 0
    for path, item in doc["paths"].items():
        for op in item.values():
            for code, response in op["responses"].items():
                if code[0] not in "45":
                    continue
                assert list(response["content"]) == ["application/problem+json"], (path, code)
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
                checked += 1
    assert checked > 100
    assert "400" in doc["paths"]["/screen"]["post"]["responses"]


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", template)


def test_405_allow_lists_every_documented_method(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    multi = 0
    for path, item in doc["paths"].items():
        documented = {m.upper() for m in item if m in METHODS}
        multi += len(documented) > 1
        r = client.request("PATCH", _concrete(path))
        assert r.status_code == 405, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        allow = {m.strip() for m in r.headers["allow"].split(",")}
        assert allow == documented, path
    assert multi >= 2  # /jobs/{id} (GET, DELETE) and /uploads (GET, POST) at least
