"""Agents: the people of a customer's team. Each has its own token (shown once, stored as
a SHA-256 hash like API keys), a role, and the devices granted to it. The plans of the
account's devices cap how many agents it may have."""

from __future__ import annotations

import secrets

from shared.clock import Clock
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from shared.ids import new_id
from shared.inbox import Agent, AgentRole
from shared.plans import DEFAULT_PLAN, PLANS
from shared.ports import DocumentStore
from shared.services.accounts import hash_key

TOKEN_PREFIX = "utio_agt_"


def is_agent_token(raw: str | None) -> bool:
    return bool(raw) and raw.startswith(TOKEN_PREFIX)


def seats(store: DocumentStore, account_id: str) -> int:
    """Agents the account may have: what each device's plan includes, plus the extra
    seats billing records on the account (`extra_agent_seats`)."""
    included = 0
    for doc in store.query("devices", [("account_id", "==", account_id)]):
        plan = PLANS.get(doc.get("plan") or DEFAULT_PLAN) or PLANS[DEFAULT_PLAN]
        included += plan.agents_included
    account = store.get("accounts", account_id) or {}
    return included + int(account.get("extra_agent_seats") or 0)


def _check_devices(store: DocumentStore, account_id: str, devices: list[str]) -> list[str]:
    unique = list(dict.fromkeys(devices))
    for device_id in unique:
        doc = store.get("devices", device_id)
        if doc is None or doc["account_id"] != account_id:
            raise ValidationFailed(f"devices: no device {device_id} in this account",
                                   details={"field": "devices"}, code="unknown_device")
    return unique


def _check_email(store: DocumentStore, account_id: str, email: str, agent_id: str | None = None):
    same = store.query("agents", [("account_id", "==", account_id), ("email", "==", email)])
    if any(doc["id"] != agent_id for doc in same):
        raise Conflict(f"an agent with email {email} exists already in this account",
                       code="agent_exists")


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_agent(store: DocumentStore, clock: Clock, account_id: str, *, name: str, email: str,
                 role: AgentRole = AgentRole.agent, devices: list[str] = ()) -> tuple[Agent, str]:
    email = email.strip().lower()
    _check_email(store, account_id, email)
    devices = _check_devices(store, account_id, list(devices))
    used = len(store.query("agents", [("account_id", "==", account_id)]))
    allowed = seats(store, account_id)
    if used >= allowed:
        raise Forbidden(
            f"this account may have {allowed} agent(s) and has {used}: agents come with the "
            "Platform plans (3, 5 or 10 a device); upgrade a device's plan or delete an agent",
            code="agent_limit_reached", details={"agents": used, "seats": allowed})
    raw = _new_token()
    now = clock.now()
    agent = Agent(id=new_id("agt"), account_id=account_id, name=name, email=email, role=role,
                  devices=devices, token_prefix=raw[:13], token_hash=hash_key(raw),
                  created_at=now, updated_at=now)
    store.put("agents", agent.id, agent.to_doc())
    return agent, raw


def get_agent(store: DocumentStore, account_id: str, agent_id: str) -> Agent:
    doc = store.get("agents", agent_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"agent {agent_id} not found")
    return Agent.model_validate(doc)


def list_agents(store: DocumentStore, account_id: str) -> list[Agent]:
    docs = store.query("agents", [("account_id", "==", account_id)])
    return sorted((Agent.model_validate(d) for d in docs), key=lambda a: a.created_at)


def update_agent(store: DocumentStore, clock: Clock, account_id: str, agent_id: str,
                 changes: dict) -> Agent:
    agent = get_agent(store, account_id, agent_id)
    updates: dict = {"updated_at": clock.now()}
    for field in ("name", "active"):
        if changes.get(field) is not None:
            updates[field] = changes[field]
    if changes.get("role") is not None:
        updates["role"] = AgentRole(changes["role"]).value
    if changes.get("email") is not None:
        email = changes["email"].strip().lower()
        _check_email(store, account_id, email, agent.id)
        updates["email"] = email
    if changes.get("devices") is not None:
        updates["devices"] = _check_devices(store, account_id, changes["devices"])
    store.update("agents", agent_id, updates)
    return get_agent(store, account_id, agent_id)


def grant_device(store: DocumentStore, clock: Clock, account_id: str, agent_id: str,
                 device_id: str) -> Agent:
    agent = get_agent(store, account_id, agent_id)
    _check_devices(store, account_id, [device_id])
    if device_id not in agent.devices:
        store.update("agents", agent_id, {"devices": [*agent.devices, device_id],
                                          "updated_at": clock.now()})
    return get_agent(store, account_id, agent_id)


def revoke_device(store: DocumentStore, clock: Clock, account_id: str, agent_id: str,
                  device_id: str) -> Agent:
    agent = get_agent(store, account_id, agent_id)
    if device_id not in agent.devices:
        raise NotFound(f"agent {agent_id} has no grant for device {device_id}")
    store.update("agents", agent_id, {"devices": [d for d in agent.devices if d != device_id],
                                      "updated_at": clock.now()})
    return get_agent(store, account_id, agent_id)


def rotate_token(store: DocumentStore, clock: Clock, account_id: str,
                 agent_id: str) -> tuple[Agent, str]:
    get_agent(store, account_id, agent_id)
    raw = _new_token()
    store.update("agents", agent_id, {"token_prefix": raw[:13], "token_hash": hash_key(raw),
                                      "updated_at": clock.now()})
    return get_agent(store, account_id, agent_id), raw


def delete_agent(store: DocumentStore, account_id: str, agent_id: str) -> None:
    get_agent(store, account_id, agent_id)
    store.delete("agents", agent_id)


def authenticate(store: DocumentStore, raw_token: str) -> Agent:
    docs = store.query("agents", [("token_hash", "==", hash_key(raw_token))], limit=1)
    if not docs:
        raise Unauthorized("invalid agent token")
    agent = Agent.model_validate(docs[0])
    if not agent.active:
        raise Unauthorized("this agent is deactivated; an admin can reactivate it",
                           code="agent_inactive")
    return agent
