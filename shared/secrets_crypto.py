"""Secrets we must be able to read back (webhook signing secrets, custom header values)
are stored sealed: AES-256-GCM under a key from settings (UTIO_WEBHOOK_SECRET_KEY,
from Secret Manager in production), bound to the document and field they belong to, so
a sealed value copied elsewhere does not open.

UTIO_WEBHOOK_SECRET_KEY holds one or more keys, comma-separated, each 32 bytes in
URL-safe base64 (what Terraform generates; `python -m shared.secrets_crypto` prints
one): the first seals, all of them open. To rotate, store "new,old" as the secret's
value; values are sealed with the new key as they are written again. Local and test
runs without a key use a fixed development key; production refuses to run without one."""

from __future__ import annotations

import binascii
import functools
import hashlib
import os

from shared.encoding import b64url, unb64url
from shared.settings import Settings

PREFIX = "sealed:v1:"
_DEV_KEY = hashlib.sha256(b"utio local development key; not a secret").digest()


class SecretsConfigError(RuntimeError):
    """UTIO_WEBHOOK_SECRET_KEY is missing or malformed."""


class SealedValueError(ValueError):
    """A sealed value does not open: another key, another document, or tampered."""


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"utio-key-id" + key).hexdigest()[:8]


class SecretBox:
    def __init__(self, keys: list[bytes]):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # not at cold start

        if not keys or any(len(k) != 32 for k in keys):
            raise SecretsConfigError("secrets keys must be 32 bytes each")
        self._seal_id = _key_id(keys[0])
        self._keys = {_key_id(k): AESGCM(k) for k in keys}

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._seal_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{self._seal_id}:{b64url(nonce + sealed)}"

    def open(self, token: str, *, context: str) -> str:
        if not token.startswith(PREFIX):
            raise SealedValueError("not a sealed value")
        try:
            key_id, data = token[len(PREFIX):].split(":", 1)
            raw = unb64url(data)
        except (ValueError, binascii.Error) as exc:
            raise SealedValueError("malformed sealed value") from exc
        aead = self._keys.get(key_id)
        if aead is None:
            raise SealedValueError(f"sealed with key {key_id}, which UTIO_WEBHOOK_SECRET_KEY lacks")
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise SealedValueError("sealed value does not open in this context") from exc


def parse_keys(raw: str) -> list[bytes]:
    keys = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            key = unb64url(part)
        except (ValueError, binascii.Error) as exc:
            raise SecretsConfigError("UTIO_WEBHOOK_SECRET_KEY: not URL-safe base64") from exc
        if len(key) != 32:
            raise SecretsConfigError(f"UTIO_WEBHOOK_SECRET_KEY: a key is {len(key)} bytes, not 32; "
                                     "make one with `python -m shared.secrets_crypto`")
        keys.append(key)
    return keys


@functools.lru_cache(maxsize=8)
def _box(raw: str, local: bool) -> SecretBox:
    keys = parse_keys(raw)
    if not keys:
        if not local:
            raise SecretsConfigError("UTIO_WEBHOOK_SECRET_KEY is not set; make a key with "
                                     "`python -m shared.secrets_crypto` and store it in "
                                     "Secret Manager")
        keys = [_DEV_KEY]
    return SecretBox(keys)


def box(settings: Settings) -> SecretBox:
    return _box(settings.webhook_secret_key, settings.local)


def new_key() -> str:
    return b64url(os.urandom(32))


if __name__ == "__main__":
    print(new_key())
