"""Optional API keys (401/403) and the per-client token-bucket rate limit (429 + Retry-After).

Retry-After by hand: with 2 requests per minute a bucket refills one token every 60 / 2 = 30 s;
after the burst of 2 is spent the next token is ~30 s away, so Retry-After is "30".
"""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.security import TokenBuckets, require_api_key
from geoeco_api.settings import Settings

router = APIRouter()


@router.post("/work")
def start_work(key: Annotated[str | None, Depends(require_api_key)]) -> dict[str, bool]:
    return {"keyed": key is not None}


def make(settings: Settings, **update: object) -> TestClient:
    app = create_app(settings.model_copy(update=update))
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def test_keys_off_lets_everyone_in(settings: Settings) -> None:
    c = make(settings, api_keys="")
    assert c.post("/work").json() == {"keyed": False}


def test_missing_key_is_401(settings: Settings, problem) -> None:  # type: ignore[no-untyped-def]
    c = make(settings, api_keys="k1,k2")
    r = c.post("/work")
    body = problem(r, 401, "unauthorized")
    assert "X-API-Key" in body["detail"]
    assert r.headers["www-authenticate"].startswith("ApiKey")


def test_bad_key_is_403_good_key_passes(settings: Settings, problem) -> None:  # type: ignore[no-untyped-def]
    c = make(settings, api_keys="k1, k2")
    body = problem(c.post("/work", headers={"X-API-Key": "nope"}), 403, "forbidden")
    assert "nope" not in body["detail"]  # never echo a key
    assert c.post("/work", headers={"X-API-Key": "k2"}).json() == {"keyed": True}


def test_reads_need_no_key(settings: Settings) -> None:
    c = make(settings, api_keys="k1")
    assert c.get("/collections").status_code == 200


def test_rate_limit_429_with_retry_after(settings: Settings, problem) -> None:  # type: ignore[no-untyped-def]
    c = make(settings, rate_limit_per_minute=2)
    assert c.get("/conformance").status_code == 200
    assert c.get("/conformance").status_code == 200
    r = c.get("/conformance")
    body = problem(r, 429, "rate-limited")
    assert r.headers["retry-after"] == "30"
    assert "2 requests per minute" in body["detail"]


def test_rate_limit_buckets_per_valid_key(settings: Settings) -> None:
    c = make(settings, rate_limit_per_minute=1, api_keys="k1")
    assert c.get("/conformance").status_code == 200
    assert c.get("/conformance").status_code == 429  # this IP's bucket is empty
    # a made-up key shares the IP's bucket; a valid key has its own
    assert c.get("/conformance", headers={"X-API-Key": "made-up"}).status_code == 429
    assert c.get("/conformance", headers={"X-API-Key": "k1"}).status_code == 200


def test_rate_limit_burst_setting(settings: Settings) -> None:
    c = make(settings, rate_limit_per_minute=60, rate_limit_burst=3)
    codes = [c.get("/conformance").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_rate_limit_is_per_app(settings: Settings) -> None:
    a, b = make(settings, rate_limit_per_minute=1), make(settings, rate_limit_per_minute=1)
    assert a.get("/conformance").status_code == 200
    assert b.get("/conformance").status_code == 200  # a fresh app has fresh buckets


def test_token_bucket_refill_by_hand() -> None:
    # 120/min = 2 tokens/s, burst 2.
    b = TokenBuckets(120, 2)
    assert [b.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert b.take("a", now=0.25) == pytest.approx(0.25)  # half a token back after 0.25 s
    assert b.take("a", now=0.5) == 0.0
    assert b.take("b", now=0.5) == 0.0  # separate client


def test_token_bucket_memory_is_bounded() -> None:
    b = TokenBuckets(60, 1, max_clients=3)
    for k in "abcde":
        b.take(k, now=0.0)
    assert len(b._state) == 3


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.setenv("GEOECO_API_KEYS", "a,b")
    monkeypatch.setenv("GEOECO_MAX_BODY_BYTES", "5")
    monkeypatch.setenv("GEOECO_CORS_ORIGINS", "")  # empty values are ignored
    monkeypatch.setenv("GEOECO_LAYERS_DIR", str(tmp_path / "l"))
    s = Settings()
    assert sorted(s.api_key_set) == ["a", "b"] and s.max_body_bytes == 5
    assert s.cors_origin_list == [] and s.user_layers_dir == tmp_path / "l"


def test_cors_when_origins_set(settings: Settings) -> None:
    c = make(settings, cors_origins="http://localhost:3000")
    r = c.options(
        "/collections",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    r = c.get("/conformance", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_module_app_is_lazy() -> None:
    # importing geoeco_api.main builds no app (and reads no settings) until `app` is used
    code = (
        "import geoeco_api.main as m, geoeco_api.deps as d; "
        "print('app' in vars(m), d.get_settings.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0"]
