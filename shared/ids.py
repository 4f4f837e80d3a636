from __future__ import annotations

import hashlib
import os
import threading

# Ids take their randomness from the OS 4 KiB at a time rather than one getrandom() call
# each: every system call lets go of the GIL, and in a busy process (the runner's many
# threads) taking it back costs up to the switch interval, several milliseconds. The bytes
# are the same kind as secrets.token_hex's; a forked child starts on fresh ones.
_CHUNK = 4096
_lock = threading.Lock()
_pool = {"bytes": b"", "at": 0}


def _forget_pool() -> None:
    _pool["bytes"], _pool["at"] = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def random_hex(nbytes: int) -> str:
    with _lock:
        at = _pool["at"]
        if at + nbytes > len(_pool["bytes"]):
            _pool["bytes"], at = os.urandom(_CHUNK), 0
        _pool["at"] = at + nbytes
        return _pool["bytes"][at:at + nbytes].hex()


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_hex(10)}"


def wa_message_id(message_id: str) -> str:
    """The WhatsApp message id we send a message under. Derived from our id so that a
    resend after a crash reuses it and the recipient sees one message."""
    return "3EB0" + hashlib.sha256(message_id.encode()).hexdigest()[:16].upper()
