"""Accounts, their settings and API keys. Keys are shown once and stored as SHA-256
hashes. An account setting applies to every device of the account whose own setting of
the same name is null (read_on_reply); the runner resolves it when it loads a device, so
a change asks each device's runner to reload it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shared import names
from shared.deps import Deps
from shared.domain import Account, AccountSettings, ApiKey, Device
from shared.errors import NotFound, Unauthorized
from shared.ids import new_id

KEY_PREFIX = "utio_"
AGENT_TOKEN_PREFIX = "utio_agt_"  # an agent's token (shared/services/agents.py), not a key


def is_agent_token(raw: str | None) -> bool:
    return bool(raw) and raw.startswith(AGENT_TOKEN_PREFIX)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_account(deps: Deps, name: str, email: str | None = None,
                   raw_key: str | None = None) -> tuple[Account, ApiKey, str]:
    account = Account(id=new_id("acc"), name=name, email=email, created_at=deps.clock.now())
    deps.repos.accounts.add(account)
    key, raw = create_api_key(deps, account.id, "default", raw_key=raw_key)
    return account, key, raw


def ensure_account_with_key(deps: Deps, name: str, raw_key: str,
                            email: str | None = None) -> str:
    """The account that `raw_key` opens, created with that key if none does (dev setup);
    given an email, an account without one gets it."""
    existing = deps.repos.api_keys.by_hash(hash_key(raw_key))
    if existing is not None:
        if email:
            deps.repos.accounts.update(existing.account_id, {"email": email},
                                       when={"email": None})
        return existing.account_id
    account, _, _ = create_account(deps, name, email=email, raw_key=raw_key)
    return account.id


def create_api_key(deps: Deps, account_id: str, name: str,
                   raw_key: str | None = None) -> tuple[ApiKey, str]:
    raw = raw_key or new_raw_key()
    key = ApiKey(id=new_id("key"), account_id=account_id, name=name, prefix=raw[:9],
                 hash=hash_key(raw), created_at=deps.clock.now())
    deps.repos.api_keys.add(key)
    return key, raw


def list_api_keys(deps: Deps, account_id: str) -> list[ApiKey]:
    return sorted(deps.repos.api_keys.of_account(account_id), key=lambda k: k.created_at)


def delete_api_key(deps: Deps, account_id: str, key_id: str) -> None:
    keys = deps.repos.api_keys
    doc = keys.owned_doc(account_id, key_id)
    keys.delete(key_id)
    deps.caches.key_removed(doc["hash"])  # refused by this process at once


def authenticate(deps: Deps, raw_key: str | None) -> str:
    """The account id of a raw API key, or Unauthorized. Through the key cache: a key
    revoked by another process is refused within shared.caches.API_KEY_STALENESS."""
    if not raw_key:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'Token: <key>'")
    account_id = deps.caches.account_of_key(hash_key(raw_key))
    if account_id is None:
        raise Unauthorized("invalid API key")
    return account_id


def is_admin(admin_key: str, raw_key: str | None) -> bool:
    return bool(admin_key) and bool(raw_key) and hmac.compare_digest(admin_key, raw_key)


def get_settings(deps: Deps, account_id: str) -> AccountSettings:
    account = deps.repos.accounts.get(account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account.settings


def update_settings(deps: Deps, account_id: str, changes: dict) -> AccountSettings:
    merged = get_settings(deps, account_id).model_dump() | changes
    settings = AccountSettings.model_validate(merged)
    deps.repos.accounts.update(account_id, {"settings": settings.model_dump()})
    for device in deps.repos.devices.of_account(account_id):  # their runners resolve it anew
        deps.tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES,
                           {"device_id": device.id, "action": "refresh"})
    return settings


def with_account_settings(deps: Deps, device: Device) -> Device:
    """The device as its runner sends for it: its null settings take the account's."""
    if device.settings.read_on_reply is not None:
        return device
    account = deps.repos.accounts.get(device.account_id)
    inherited = account.settings.read_on_reply if account is not None else False
    return device.model_copy(update={"settings": device.settings.model_copy(
        update={"read_on_reply": inherited})})
