"""Google ID tokens for calls between our own private Cloud Run services: the API's
synchronous calls to the runner (shared/runner_rpc.py) and one runner forwarding a task
to another (device_runner/forwarding.py).

The runner shards are private (run.invoker only for the push, api and runner service
accounts): Cloud Run checks the token's signature, audience and the caller's run.invoker
before a request reaches the code, then strips the signature, so the code's own check
(UTIO_VERIFY_OIDC) stays off in production. A call without a token is refused with 403
by Cloud Run, so every call made outside the local stack carries one.

The audience is the target service's URL (scheme and host, no path): Cloud Run accepts a
token for its service URL on every path. Tokens last an hour; one is fetched per audience
and reused until five minutes before it expires."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from shared.encoding import unb64url
from shared.settings import Settings

# audience => a signed ID token (JWT) for it; raises TokenUnavailable when there is none
TokenSource = Callable[[str], str]

REFRESH_BEFORE = 300.0  # seconds before expiry a cached token is replaced
UNKNOWN_LIFETIME = 600.0  # how long a token is reused when its expiry cannot be read


def audience_of(url: str) -> str:
    """The service URL a request to `url` needs a token for: https://host, no path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class TokenUnavailable(Exception):
    """No ID token could be had (no credentials, the metadata server out of reach): the
    call cannot be made now. A TokenSource raises it; anything else it raises is a bug."""


def google_id_token(audience: str) -> str:
    """An ID token of this process's service account (the metadata server on Cloud Run,
    or application default credentials of a service account elsewhere)."""
    from google.auth.exceptions import GoogleAuthError
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    try:
        return id_token.fetch_id_token(Request(), audience)
    except GoogleAuthError as exc:  # also its TransportError: the metadata server is down
        raise TokenUnavailable(f"no ID token for {audience}: {exc}") from exc


def expiry_of(token: str) -> float | None:
    """The `exp` claim of a JWT (not verified: it is our own, fresh from Google)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(unb64url(payload))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class CachedIdTokens:
    """A TokenSource that fetches one token per audience and reuses it until
    REFRESH_BEFORE seconds before its expiry."""

    def __init__(self, fetch: TokenSource = google_id_token, clock: Callable[[], float] = time.time):
        self.fetch, self.clock = fetch, clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, audience: str) -> str:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(audience)
            if cached and cached[1] - REFRESH_BEFORE > now:
                return cached[0]
        token = self.fetch(audience)
        expires = expiry_of(token) or now + UNKNOWN_LIFETIME + REFRESH_BEFORE
        with self._lock:
            self._cache[audience] = (token, expires)
        return token


def for_settings(settings: Settings) -> TokenSource | None:
    """Outside the local stack, cached Google ID tokens; locally (no Cloud Run in front of
    the runner), none."""
    return None if settings.local else CachedIdTokens()


def bearer(tokens: TokenSource | None, url: str) -> dict[str, str]:
    """The Authorization header for a request to `url`, or none without a token source."""
    if tokens is None:
        return {}
    return {"Authorization": "Bearer " + tokens(audience_of(url))}
