"""People who sign in (collection "people", keyed by their Identity Platform uid): the
account each belongs to and their role there."""

from __future__ import annotations

from shared.repositories.base import Collection


class People(Collection):
    name = "people"

    def of_agent(self, agent_id: str) -> list[dict]:
        return self.docs([("agent_id", "==", agent_id)])
