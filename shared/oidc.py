"""Check the OIDC token that Cloud Tasks, Pub/Sub push and Cloud Scheduler send with each
request (when UTIO_VERIFY_OIDC is on).

A token that is missing, malformed, unsigned, badly signed, expired, not issued by
Google, for another audience or from another service account answers 401. Google's
signing certificates (settings.oidc_certs_url) that cannot be fetched answer 503, so
the push is retried: it is our outage, not the caller's fault.

Why it stays although every deployment here runs with it off: behind Cloud Run's IAM
(terraform/main.tf) the platform checks each token and strips its signature, so this
check cannot run there; it is the only check for a push target deployed without that
IAM in front (a public URL, another host). It costs nothing at cold start (google.auth
is imported on the first token) and test_oidc.py keeps it working."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from shared.errors import Unauthorized, Unavailable
from shared.settings import Settings

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CERTS_TIMEOUT = 10.0  # seconds to fetch the signing certificates


def service_url(url: str) -> str:
    """The scheme and host of a URL: the audience Cloud Run accepts for a service (the
    token for a task to https://svc.run.app/tasks/messages is for https://svc.run.app)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _certificates(url: str) -> dict:
    from google.auth import exceptions
    from google.auth.transport import requests as google_requests

    try:
        response = google_requests.Request()(url, method="GET", timeout=CERTS_TIMEOUT)
        if response.status != 200:
            raise exceptions.TransportError(f"HTTP {response.status}")
        certs = json.loads(response.data.decode("utf-8"))
        if not isinstance(certs, dict):
            raise ValueError("not a JSON object")
    except (exceptions.GoogleAuthError, ValueError, OSError) as exc:
        raise Unavailable(f"cannot check OIDC tokens now: fetching the signing certificates "
                          f"failed ({type(exc).__name__}); retry",
                          code="oidc_certificates_unavailable") from exc
    return certs


def verify_push(settings: Settings, authorization: str | None, url: str) -> None:
    if not settings.verify_oidc:
        return
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("push endpoint needs an OIDC bearer token")
    from google.auth import exceptions, jwt

    certs = _certificates(settings.oidc_certs_url)
    try:
        claims = jwt.decode(authorization[7:].strip(), certs=certs,
                            audience=settings.oidc_audience or service_url(url))
    except (ValueError, exceptions.GoogleAuthError) as exc:
        raise Unauthorized(f"invalid OIDC token: {exc}") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise Unauthorized("OIDC token is not issued by Google")
    if settings.tasks_service_account and claims.get("email") != settings.tasks_service_account:
        raise Unauthorized("OIDC token is not from the expected service account")
