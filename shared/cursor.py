"""Opaque page cursors, the one codec of every listing: the values the next page starts
after, as a JSON list, base64url-encoded."""

from __future__ import annotations

import binascii
import json
from datetime import UTC, datetime

from shared.encoding import b64url, unb64url
from shared.errors import ValidationFailed


def encode(*values: str | int) -> str:
    return b64url(json.dumps(list(values), separators=(",", ":")).encode())


def decode_all(cursor: str, *kinds: type) -> tuple:
    """The values inside a cursor from `encode`, of these types, or a 422 naming the field."""
    try:
        values = json.loads(unb64url(cursor))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise invalid()
    if not all(isinstance(v, k) and not isinstance(v, bool)
               for v, k in zip(values, kinds, strict=True)):
        raise invalid()
    return tuple(values)


def decode(cursor: str, kind: type) -> str | int:
    """The one value inside a cursor from `encode`."""
    (value,) = decode_all(cursor, kind)
    return value


def timestamp(text: object) -> datetime:
    """A time a cursor carries, as this API wrote it (ISO 8601 with its offset, as UTC);
    ValueError for anything else: a cursor is only base64 of JSON, so a forged one can
    hold a time without a zone (which no stored time compares with) or out of range."""
    if not isinstance(text, str):
        raise ValueError("not a time")
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("a time without its offset")
    try:
        return at.astimezone(UTC)
    except OverflowError:  # (0001-01-01T00:00:00+01:00: before the first instant in UTC)
        raise ValueError("a time out of range in UTC") from None


def invalid() -> ValidationFailed:
    return ValidationFailed("cursor: not a cursor this API returned; pass next_cursor as is",
                            details={"field": "cursor"}, code="invalid_cursor")
