"""Check the OIDC token that Cloud Tasks and Pub/Sub push send with each request."""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.errors import Unauthorized
from shared.settings import Settings


def service_url(url: str) -> str:
    """The scheme and host of a URL: the audience Cloud Run accepts for a service (the
    token for a task to https://svc.run.app/tasks/messages is for https://svc.run.app)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def verify_push(settings: Settings, authorization: str | None, url: str) -> None:
    if not settings.verify_oidc:
        return
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("push endpoint needs an OIDC bearer token")
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_oauth2_token(authorization[7:], google_requests.Request(),
                                              audience=settings.oidc_audience or service_url(url))
    except ValueError as exc:
        raise Unauthorized(f"invalid OIDC token: {exc}") from exc
    if settings.tasks_service_account and claims.get("email") != settings.tasks_service_account:
        raise Unauthorized("OIDC token is not from the expected service account")
