"""base64url without padding (RFC 4648 §5), as cursors, sealed secrets and JWTs use it."""

from __future__ import annotations

import base64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    """Padding optional; binascii.Error (a ValueError) on what is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
