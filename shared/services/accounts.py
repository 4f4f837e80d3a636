"""Accounts and API keys. Keys are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shared.clock import Clock
from shared.domain import Account, ApiKey
from shared.errors import NotFound, Unauthorized
from shared.ids import new_id
from shared.ports import DocumentStore

KEY_PREFIX = "utio_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_account(store: DocumentStore, clock: Clock, name: str, email: str | None = None,
                   raw_key: str | None = None) -> tuple[Account, ApiKey, str]:
    account = Account(id=new_id("acc"), name=name, email=email, created_at=clock.now())
    store.put("accounts", account.id, account.to_doc())
    key, raw = create_api_key(store, clock, account.id, "default", raw_key=raw_key)
    return account, key, raw


def ensure_account_with_key(store: DocumentStore, clock: Clock, name: str,
                            raw_key: str, email: str | None = None) -> str:
    """The account that `raw_key` opens, created with that key if none does (dev setup);
    given an email, an account without one gets it."""
    existing = store.query("api_keys", [("hash", "==", hash_key(raw_key))], limit=1)
    if existing:
        account_id = existing[0]["account_id"]
        if email:
            store.update("accounts", account_id, {"email": email}, when={"email": None})
        return account_id
    account, _, _ = create_account(store, clock, name, email=email, raw_key=raw_key)
    return account.id


def create_api_key(store: DocumentStore, clock: Clock, account_id: str, name: str,
                   raw_key: str | None = None) -> tuple[ApiKey, str]:
    raw = raw_key or new_raw_key()
    key = ApiKey(id=new_id("key"), account_id=account_id, name=name, prefix=raw[:9],
                 hash=hash_key(raw), created_at=clock.now())
    store.put("api_keys", key.id, key.to_doc())
    return key, raw


def list_api_keys(store: DocumentStore, account_id: str) -> list[ApiKey]:
    docs = store.query("api_keys", [("account_id", "==", account_id)])
    return sorted((ApiKey.model_validate(d) for d in docs), key=lambda k: k.created_at)


def delete_api_key(store: DocumentStore, account_id: str, key_id: str) -> None:
    doc = store.get("api_keys", key_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"API key {key_id} not found")
    store.delete("api_keys", key_id)


def authenticate(store: DocumentStore, raw_key: str | None) -> str:
    """The account id of a raw API key, or Unauthorized."""
    if not raw_key:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'Token: <key>'")
    docs = store.query("api_keys", [("hash", "==", hash_key(raw_key))], limit=1)
    if not docs:
        raise Unauthorized("invalid API key")
    return docs[0]["account_id"]


def is_admin(admin_key: str, raw_key: str | None) -> bool:
    return bool(admin_key) and bool(raw_key) and hmac.compare_digest(admin_key, raw_key)
