"""One exception base for everything a caller can get wrong; the API renders it as
{"error": {"code", "message", "details"}} with its status."""

from __future__ import annotations

from typing import Any


class UtioError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


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
