"""Request and response models of agents."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from functions.api.schemas import Input
from shared.inbox import AgentRole
from shared.model import Model

_T = "2026-11-24T10:00:00Z"
_EMAIL = r"^[^@\s]+@[^@\s]+$"


class CreateAgent(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Ana García", "email": "ana@acme.example", "role": "agent",
         "devices": ["dev_5e6f7a8b9c0d1a2b3c4d"]}]})
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=320, pattern=_EMAIL)
    role: AgentRole = Field(default=AgentRole.agent, description="admin: every device, and may "
                            "manage agents, labels and devices; agent: the chats, contacts and "
                            "groups of the devices granted to it.")
    devices: list[str] = Field(default_factory=list, max_length=500,
                               description="Devices the agent may use (role agent).")


class UpdateAgent(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "admin", "devices": ["dev_5e6f7a8b9c0d1a2b3c4d"], "active": True}]})
    name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=320, pattern=_EMAIL)
    role: AgentRole | None = None
    devices: list[str] | None = Field(default=None, max_length=500,
                                      description="Replaces the agent's device grants.")
    active: bool | None = Field(default=None, description="false: its token stops working.")


class AgentOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "agt_1a2b3c4d5e6f7a8b9c0d", "name": "Ana García", "email": "ana@acme.example",
        "role": "agent", "devices": ["dev_5e6f7a8b9c0d1a2b3c4d"], "active": True,
        "token_prefix": "utio_agt_Zm9v", "created_at": _T, "updated_at": _T}]})
    id: str
    name: str
    email: str
    role: AgentRole
    devices: list[str]
    active: bool
    token_prefix: str = Field(description="The first characters of the token, to tell tokens apart.")
    created_at: datetime
    updated_at: datetime


class AgentCreated(AgentOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "agt_1a2b3c4d5e6f7a8b9c0d", "name": "Ana García", "email": "ana@acme.example",
        "role": "agent", "devices": ["dev_5e6f7a8b9c0d1a2b3c4d"], "active": True,
        "token_prefix": "utio_agt_Zm9v", "created_at": _T, "updated_at": _T,
        "token": "utio_agt_Zm9vYmFyYmF6..."}]})
    token: str = Field(description="The agent's token (send it as the bearer token). Shown once; "
                       "Utio stores only its hash.")


class Seats(Model):
    used: int
    included: int = Field(description="Agents the account may have: what the plans of its "
                          "billed devices that are paid, past due or on an unexpired trial "
                          "include, plus the extra agents bought on their subscriptions. "
                          "Sandbox devices and unpaid or canceled devices grant none.")


class AgentList(Model):
    data: list[AgentOut]
    seats: Seats


class Me(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account_id": "acc_1a2b3c4d5e6f7a8b9c0d", "agent": None, "devices": None}]})
    account_id: str
    agent: AgentOut | None = Field(description="The agent the token belongs to; null for an API key.")
    devices: list[str] | None = Field(description="Devices the caller may use; null for all.")


class DeviceAgent(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "agt_0a1b2c3d4e5f6a7b8c9d", "name": "Ana García", "role": "agent"}]})
    id: str
    name: str
    role: AgentRole


class DeviceAgentList(Model):
    data: list[DeviceAgent] = Field(description="Active agents granted the device, and the "
                                    "account's active admins; by name.")
