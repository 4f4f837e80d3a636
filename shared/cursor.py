"""Opaque page cursors: the value the next page starts after, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json

from shared.errors import ValidationFailed


def encode(value: str | int) -> str:
    raw = json.dumps([value], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: type) -> str | int:
    """The value inside a cursor from `encode`, or a 422 naming the field."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        (value,) = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValidationFailed("cursor: not a cursor this API returned; pass next_cursor as is",
                               details={"field": "cursor"}, code="invalid_cursor")
    return value
