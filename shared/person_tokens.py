"""Check the ID token a signed-in person sends (`Authorization: Bearer <ID token>`), issued
by Identity Platform (Firebase Authentication) for our project.

A token is accepted only when it is an RS256 JWT signed by one of Google's securetoken
keys (settings.id_token_certs_url, cached as its Cache-Control allows), unexpired, issued
at a time already passed, for our project (`aud`), by
`https://securetoken.google.com/<project>` (`iss`), for a user (`sub`). Anything else
answers 401. The keys out of reach answer 503: our outage, not the caller's fault.

Locally the Firebase Auth emulator issues unsigned tokens (alg "none"); they are accepted
only when settings.auth_emulator_host is set in a local environment, and every claim is
still checked. Nothing here is imported by a request that carries an API key."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass

from shared.errors import Unauthorized, Unavailable
from shared.settings import Settings

CERTS_TIMEOUT = 10.0
DEFAULT_CERTS_SECONDS = 3600.0  # how long keys are kept when no max-age is given
CLOCK_SKEW = 10  # seconds of tolerance on iat, exp and auth_time

_JWT = re.compile(r"^eyJ[\w-]*\.[\w-]*\.[\w-]*$")


def looks_like_id_token(raw: str | None) -> bool:
    """A JWT (three base64url parts, the header starting with '{"'), not an API key."""
    return bool(raw) and len(raw) < 8192 and bool(_JWT.match(raw))


@dataclass(frozen=True)
class PersonClaims:
    uid: str
    email: str | None
    email_verified: bool
    issued_at: float  # iat
    auth_time: float | None


def project_of(settings: Settings) -> str:
    return settings.identity_project or settings.project


class _Certs:
    """Google's securetoken certificates, fetched once and kept until they expire."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[dict, float]] = {}

    def get(self, url: str) -> dict:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
            if cached and cached[1] > now:
                return cached[0]
        certs, max_age = _fetch(url)
        with self._lock:
            self._cache[url] = (certs, now + max_age)
        return certs

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


CERTS = _Certs()


def _fetch(url: str) -> tuple[dict, float]:
    from google.auth import exceptions
    from google.auth.transport import requests as google_requests

    try:
        response = google_requests.Request()(url, method="GET", timeout=CERTS_TIMEOUT)
        if response.status != 200:
            raise exceptions.TransportError(f"HTTP {response.status}")
        certs = json.loads(response.data.decode("utf-8"))
        if not isinstance(certs, dict) or not certs:
            raise ValueError("not a JSON object of certificates")
    except (exceptions.GoogleAuthError, ValueError, OSError) as exc:
        raise Unavailable(f"cannot check sign-in tokens now: fetching the signing keys failed "
                          f"({type(exc).__name__}); retry", code="id_token_keys_unavailable") from exc
    match = re.search(r"max-age=(\d+)", response.headers.get("cache-control", "") or "")
    return certs, float(match[1]) if match else DEFAULT_CERTS_SECONDS


def _segments(token: str) -> tuple[dict, dict]:
    try:
        header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                           for part in token.split(".")[:2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthorized("invalid sign-in token: not a JWT", code="invalid_id_token") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise Unauthorized("invalid sign-in token: not a JWT", code="invalid_id_token")
    return header, payload


def verify(settings: Settings, token: str, now: float | None = None) -> PersonClaims:
    project = project_of(settings)
    header, payload = _segments(token)
    emulated = settings.local and bool(settings.auth_emulator_host)
    if header.get("alg") == "RS256":
        from google.auth import exceptions, jwt

        certs = CERTS.get(settings.id_token_certs_url)
        if header.get("kid") not in certs:
            raise Unauthorized("invalid sign-in token: signed by an unknown key",
                               code="invalid_id_token")
        try:
            jwt.decode(token, certs=certs, audience=project, clock_skew_in_seconds=CLOCK_SKEW)
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise Unauthorized(f"invalid sign-in token: {_reason(exc)}",
                               code="invalid_id_token") from exc
    elif not (emulated and header.get("alg") == "none"):
        raise Unauthorized("invalid sign-in token: it must be signed with RS256",
                           code="invalid_id_token")
    return _claims(payload, project, time.time() if now is None else now)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "expired" in text.lower():
        return "it has expired; sign in again"
    if "audience" in text.lower():
        return "it is for another project"
    return "its signature or claims do not check out"


def _claims(payload: dict, project: str, now: float) -> PersonClaims:
    def number(name: str) -> float | None:
        value = payload.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    exp, iat, auth_time = number("exp"), number("iat"), number("auth_time")
    if exp is None or exp < now - CLOCK_SKEW:
        raise Unauthorized("invalid sign-in token: it has expired; sign in again",
                           code="id_token_expired")
    if iat is None or iat > now + CLOCK_SKEW or (auth_time is not None and auth_time > now + CLOCK_SKEW):
        raise Unauthorized("invalid sign-in token: issued in the future", code="invalid_id_token")
    if payload.get("aud") != project:
        raise Unauthorized("invalid sign-in token: it is for another project",
                           code="invalid_id_token")
    if payload.get("iss") != f"https://securetoken.google.com/{project}":
        raise Unauthorized("invalid sign-in token: not issued by this project's Identity Platform",
                           code="invalid_id_token")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 128:
        raise Unauthorized("invalid sign-in token: no user", code="invalid_id_token")
    email = payload.get("email")
    return PersonClaims(uid=sub, email=email.lower() if isinstance(email, str) else None,
                        email_verified=payload.get("email_verified") is True, issued_at=iat,
                        auth_time=auth_time)
