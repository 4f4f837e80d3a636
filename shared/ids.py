from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def wa_message_id(message_id: str) -> str:
    """The WhatsApp message id we send a message under. Derived from our id so that a
    resend after a crash reuses it and the recipient sees one message."""
    return "3EB0" + hashlib.sha256(message_id.encode()).hexdigest()[:16].upper()
