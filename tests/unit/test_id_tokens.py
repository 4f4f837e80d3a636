"""Calls to the private runner shards carry a Google ID token outside the local stack:
the API's synchronous calls (HttpRunnerRpc) and a runner forwarding to another
(HttpForwarder). Cloud Run checks the token (UTIO_VERIFY_OIDC is off in production), so
a call without one would be refused with 403."""

from __future__ import annotations

import base64
import json

import pytest

from device_runner.forwarding import FORWARDED_HEADER, HttpForwarder
from shared import id_tokens
from shared.id_tokens import CachedIdTokens, audience_of, expiry_of
from shared.runner_rpc import HttpRunnerRpc, RunnerUnavailable
from shared.settings import Settings

RUNNER = "https://utio-runner-0-123456789.europe-west1.run.app"
OTHER = "https://utio-runner-1-123456789.europe-west1.run.app"


def jwt(exp: float) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'aud': 'x'})}.signature"


class FakeTokens:
    def __init__(self):
        self.audiences: list[str] = []

    def __call__(self, audience: str) -> str:
        self.audiences.append(audience)
        return f"token-for-{audience}"


class FakeResponse:
    status_code = 200

    def __init__(self, body):
        self.body = body

    def json(self):
        return self.body


@pytest.fixture
def sent(monkeypatch):
    """Every requests.post (module function or Session method): (url, headers)."""
    import requests

    calls: list[tuple[str, dict]] = []

    def post(*args, **kwargs):
        url = args[-1] if isinstance(args[-1], str) else kwargs["url"]
        calls.append((url, kwargs.get("headers") or {}))
        return FakeResponse({"ok": True})

    monkeypatch.setattr(requests, "post", post)
    monkeypatch.setattr(requests.Session, "post", lambda self, *a, **k: post(*a, **k))
    return calls


def production(**overrides) -> Settings:
    return Settings(env="production", runner_url=RUNNER, verify_oidc=False, **overrides)


def test_the_api_calls_the_runner_with_a_token_for_its_service_url(sent):
    tokens = FakeTokens()
    assert HttpRunnerRpc(production(), tokens=tokens).call("pair", {"device_id": "d"}) == {"ok": True}
    assert sent == [(RUNNER + "/rpc/pair", {"Authorization": f"Bearer token-for-{RUNNER}"})]
    assert tokens.audiences == [RUNNER]


def test_a_forward_carries_a_token_for_the_other_shard(sent):
    tokens = FakeTokens()
    status, answer = HttpForwarder(production(), tokens=tokens).forward(
        OTHER + "/", "/tasks/devices", {"device_id": "d"}, "runner-0")
    assert (status, answer) == (200, {"ok": True})
    [(url, headers)] = sent
    assert url == OTHER + "/tasks/devices"
    assert headers["Authorization"] == f"Bearer token-for-{OTHER}"
    assert headers[FORWARDED_HEADER] == "runner-0"


@pytest.mark.parametrize("env", ["local", "test"])
def test_no_token_on_the_local_stack(sent, env):
    local = Settings(env=env, runner_url="http://127.0.0.1:8081")
    assert HttpRunnerRpc(local).tokens is None and HttpForwarder(local).tokens is None
    HttpRunnerRpc(local).call("pair", {})
    HttpForwarder(local).forward("http://127.0.0.1:8181", "/tasks/devices", {}, "runner-0")
    assert [h.get("Authorization") for _, h in sent] == [None, None]


def test_production_tokens_come_from_google_by_default():
    for client in (HttpRunnerRpc(production()), HttpForwarder(production())):
        assert isinstance(client.tokens, CachedIdTokens)
        assert client.tokens.fetch is id_tokens.google_id_token


@pytest.mark.parametrize("raised,rpc_error,forward_error", [
    (id_tokens.TokenUnavailable("metadata server unreachable"), RunnerUnavailable, OSError),
    (KeyError("oops"), KeyError, KeyError),
])
def test_no_token_means_no_call(sent, raised, rpc_error, forward_error):
    """Only TokenUnavailable means "try again later" (503, which Cloud Tasks retries for
    ever); any other exception of a token source is a bug and surfaces as itself, so it
    is logged and answered 500."""
    def source(audience):
        raise raised

    with pytest.raises(rpc_error):
        HttpRunnerRpc(production(), tokens=source).call("pair", {})
    with pytest.raises(forward_error):
        HttpForwarder(production(), tokens=source).forward(OTHER, "/x", {}, "runner-0")
    assert sent == []


def test_googles_auth_errors_are_token_unavailable(monkeypatch):
    from google.auth import exceptions
    from google.oauth2 import id_token

    def refuse(request, audience):
        raise exceptions.DefaultCredentialsError("no credentials here")

    monkeypatch.setattr(id_token, "fetch_id_token", refuse)
    with pytest.raises(id_tokens.TokenUnavailable, match="no credentials here"):
        id_tokens.google_id_token(RUNNER)


def test_a_token_is_reused_per_audience_until_near_its_expiry():
    now = [1_000_000.0]
    fetched: list[str] = []

    def fetch(audience):
        fetched.append(audience)
        return jwt(now[0] + 3600)

    tokens = CachedIdTokens(fetch, clock=lambda: now[0])
    first = tokens(RUNNER)
    assert tokens(RUNNER) == first and fetched == [RUNNER]
    tokens(OTHER)
    assert fetched == [RUNNER, OTHER]
    now[0] += 3600 - id_tokens.REFRESH_BEFORE - 1
    assert tokens(RUNNER) == first and len(fetched) == 2
    now[0] += 2
    tokens(RUNNER)
    assert fetched == [RUNNER, OTHER, RUNNER]


def test_a_token_without_a_readable_expiry_is_reused_briefly():
    now = [0.0]
    fetched = []
    tokens = CachedIdTokens(lambda a: fetched.append(a) or "opaque", clock=lambda: now[0])
    tokens(RUNNER)
    tokens(RUNNER)
    assert len(fetched) == 1
    now[0] += id_tokens.UNKNOWN_LIFETIME + 1
    tokens(RUNNER)
    assert len(fetched) == 2


def test_the_audience_is_the_service_url():
    assert audience_of(RUNNER + "/rpc/pair") == RUNNER
    assert audience_of(OTHER + "/") == OTHER
    assert expiry_of(jwt(42)) == 42.0
    assert expiry_of("not a jwt") is None
