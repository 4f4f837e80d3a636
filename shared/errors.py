"""One exception base for everything a caller can get wrong, and the one rendering of it
(`error_response`): {"error": {"code", "message", "details"}} with its status, for the
API, the push and scheduled targets, the Stripe webhook and the device runner alike."""

from __future__ import annotations

from typing import Any


class UtioError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code
        if status:
            self.status = status

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def error_response(exc: UtioError, *, retry_unavailable_after: int | None = None):
    """The Flask response of an error. With `retry_unavailable_after`, a 503 carries
    Retry-After (the push targets and the runner: Pub/Sub and Cloud Tasks push again)."""
    import flask  # where an answer is rendered, a Flask app runs already

    response = flask.jsonify(exc.body())
    response.status_code = exc.status
    if retry_unavailable_after is not None and exc.status == 503:
        response.headers["Retry-After"] = str(retry_unavailable_after)
    return response


class BadRequest(UtioError):
    status, code = 400, "bad_request"


class ValidationFailed(UtioError):
    status, code = 422, "validation_error"


class Unauthorized(UtioError):
    status, code = 401, "unauthorized"


class Forbidden(UtioError):
    status, code = 403, "forbidden"


class NotFound(UtioError):
    status, code = 404, "not_found"


class Conflict(UtioError):
    status, code = 409, "conflict"


class QuotaExceeded(UtioError):
    """A plan's limit (monthly messages, number checks, agents...) is used up."""
    status, code = 429, "quota_exceeded"


class PayloadTooLarge(UtioError):
    status, code = 413, "payload_too_large"


class Unavailable(UtioError):
    """Something we depend on is down; the caller should retry (503)."""
    status, code = 503, "unavailable"
