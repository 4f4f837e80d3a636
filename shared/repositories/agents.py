"""The agents of an account's team (collection "agents"); their tokens are stored hashed."""

from __future__ import annotations

from shared.inbox import Agent
from shared.repositories.base import Repository


class Agents(Repository[Agent]):
    name = "agents"
    model = Agent
    missing = "agent"

    def docs_of_account(self, account_id: str) -> list[dict]:
        return self.docs([("account_id", "==", account_id)])

    def with_email(self, account_id: str, email: str) -> list[dict]:
        return self.docs([("account_id", "==", account_id), ("email", "==", email)])

    def by_token_hash(self, token_hash: str) -> Agent | None:
        found = self.find([("token_hash", "==", token_hash)], limit=1)
        return found[0] if found else None
