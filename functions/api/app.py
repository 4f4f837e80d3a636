"""The public REST API as a Flask app; functions/main.py serves it as the `api` target."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from functions.api.registry import Principal, api
from functions.api.routing import Route
from shared.bootstrap import Container, container
from shared.errors import Forbidden, Unauthorized, UtioError, error_response
from shared.person_tokens import looks_like_id_token
from shared.services.accounts import authenticate, is_admin, is_agent_token

log = logging.getLogger(__name__)


def _bearer(header: str) -> str | None:
    return header[7:].strip() or None if header[:7].lower() == "bearer " else None


def _raw_key() -> str | None:
    # Behind API Gateway the gateway's own identity token takes the Authorization header
    # and the caller's moves to X-Forwarded-Authorization; a Token header passes as sent.
    # (Read from the WSGI environ, where request.headers finds them, without its lookups:
    # every request asks.)
    environ = request.environ
    forwarded = environ.get("HTTP_X_FORWARDED_AUTHORIZATION", "")
    if forwarded:
        return _bearer(forwarded)
    token = environ.get("HTTP_TOKEN", "").strip()
    return token or _bearer(environ.get("HTTP_AUTHORIZATION", ""))


def create_app(c: Container | None = None) -> Flask:
    app = Flask("utio_api")
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    def get_container() -> Container:
        return c or container()

    def principal(route: Route) -> Principal:
        cont = get_container()
        key = _raw_key()
        idem = request.environ.get("HTTP_IDEMPOTENCY_KEY")
        if route.auth is None:
            return Principal(cont, None)
        if route.auth == "admin":
            if not is_admin(cont.settings.admin_key, key):
                if key and _is_account_key(cont, key):
                    raise Forbidden("this call needs the operator's admin key, not an account key")
                raise Unauthorized("missing or invalid admin key")
            return Principal(cont, None)
        signed_in = looks_like_id_token(key) and bool(cont.settings.identity_backend)
        if route.auth == "person" and not signed_in:  # (an agent's token, an API key)
            raise Unauthorized("this call needs a person's sign-in (an ID token)")
        if is_agent_token(key):
            from functions.api.access import agent_principal

            return agent_principal(cont, route, key, idem)
        if signed_in:  # a person's sign-in
            from functions.api.people_access import person_principal

            return person_principal(cont, route, key, idem)
        return Principal(cont, authenticate(cont, key), idem)

    api.install(app, principal)
    settings = get_container().settings
    if settings.web_dir:  # local: the web app on the API's own origin (the load balancer in production)
        from functions import web_static

        web_static.install(app, settings.web_dir,
                           settings.auth_emulator_host if settings.local else "")

    document: list[bytes] = []  # built on its first request, then the same bytes each time

    @app.get("/v1/openapi.json")
    def openapi():
        if not document:
            document.append(jsonify(api.openapi()).get_data())
        return app.response_class(document[0], mimetype="application/json")

    @app.teardown_request
    def give_back_quota(_exc) -> None:
        # the unspent quota units of leases that ended, after any request, so an instance
        # whose sends stopped holds them no longer than its next request
        # (shared/services/quota_leases.py); nothing when this process took none
        leases = get_container().__dict__.get("quota_leases")
        if leases is not None:
            try:
                leases.give_back_ended()
            except Exception:  # noqa: BLE001 - the answer stands; the next request tries
                log.exception("could not give back quota units")

    @app.errorhandler(UtioError)
    def utio_error(exc: UtioError):
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                415: "unsupported_media_type"}.get(exc.code or 400, "bad_request")
        message = {404: f"no such endpoint: {request.method} {request.path}",
                   405: f"{request.method} is not allowed on {request.path}"}.get(
            exc.code or 400, exc.description or "bad request")
        response = error_response(UtioError(message, code=code, status=exc.code or 400))
        allow = dict(exc.get_headers()).get("Allow")  # a 405 says what is allowed (RFC 9110)
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def internal(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(UtioError("internal error; it has been logged", code="internal",
                                        status=500))

    return app


def _is_account_key(cont: Container, key: str) -> bool:
    try:
        authenticate(cont, key)
        return True
    except UtioError:
        return False
