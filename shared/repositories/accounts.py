"""Accounts (collection "accounts") and their API keys ("api_keys", stored hashed)."""

from __future__ import annotations

from shared.domain import Account, ApiKey
from shared.repositories.base import Repository


class Accounts(Repository[Account]):
    name = "accounts"
    model = Account
    missing = "account"

    def email_of(self, account_id: str) -> str | None:
        return (self.doc(account_id) or {}).get("email") or None


class ApiKeys(Repository[ApiKey]):
    name = "api_keys"
    model = ApiKey
    missing = "API key"

    def by_hash(self, key_hash: str) -> ApiKey | None:
        found = self.find([("hash", "==", key_hash)], limit=1)
        return found[0] if found else None
