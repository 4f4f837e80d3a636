from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.api.route_table import ROUTES
from functions.api.routing import Api
from shared.bootstrap import Container

VERSION = "0.1.0"
api = Api("Utio API", VERSION, ROUTES, "functions.api.routes")


@dataclass
class Principal:
    """Who is calling, and the collaborators a handler passes to services."""

    c: Container
    account_id: str | None
    idempotency_key: str | None = None
    agent_id: str | None = None  # set when an agent's token authenticated the call
    devices: frozenset[str] | None = None  # the devices an agent may see; None: all
    person: Any = None  # the PersonClaims of the person whose ID token authenticated the call

    def sees(self, device_id: str) -> bool:
        return self.devices is None or device_id in self.devices
