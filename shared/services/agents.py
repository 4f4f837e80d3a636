"""Agents: the people of a customer's team. Each has its own token (shown once, stored as
a SHA-256 hash like API keys), a role, and the devices granted to it. The plans of the
account's billed, paying (or trialing) devices, plus the extra agents bought on their
subscriptions, cap how many agents it may have (`seats`)."""

from __future__ import annotations

import secrets
from datetime import datetime

from shared.billing import trials
from shared.clock import Clock, SystemClock
from shared.domain import BillingStatus, Device
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from shared.ids import new_id
from shared.inbox import Agent, AgentRole
from shared.plans import DEFAULT_PLAN, PLANS
from shared.ports import DocumentStore, Mailer
from shared.repositories.accounts import Accounts
from shared.repositories.agents import Agents
from shared.repositories.devices import Devices
from shared.services import quotas
from shared.services.accounts import AGENT_TOKEN_PREFIX, hash_key

# Billing statuses in which a device's plan grants its agents: paid (active), in
# Stripe's dunning (past_due: it still sends), or on Utio's free trial while it lasts.
SEAT_STATUSES = (BillingStatus.active, BillingStatus.past_due, BillingStatus.trialing)


def grants_seats(device: Device, now: datetime | None = None) -> bool:
    """Whether a device's plan counts towards the account's agents: a billed (not
    sandbox) device that is paid, past due or on a trial that has not ended. Sandbox
    devices (free, simulated) and unpaid or canceled devices grant none."""
    if not trials.billed(device) or device.billing_status not in SEAT_STATUSES:
        return False
    ends = trials.trial_ends_at(device)
    return ends is None or (now or SystemClock().now()) < ends


def seats(store: DocumentStore, account_id: str, now: datetime | None = None) -> int:
    """Agents the account may have: for each device that grants seats (`grants_seats`),
    the agents its plan includes plus the extra agents paid on its live subscription.
    Billing keeps those quantities on the account (`extra_agent_seats`, a map of device
    id to quantity, see billing_state.sync_extra_agents); a deleted or stopped device's
    entry counts for nothing."""
    account = Accounts(store).doc(account_id) or {}
    extra = account.get("extra_agent_seats")
    extra = extra if isinstance(extra, dict) else {}
    total = 0
    for device in Devices(store).of_account(account_id):
        if not grants_seats(device, now):
            continue
        plan = PLANS.get(device.plan or DEFAULT_PLAN) or PLANS[DEFAULT_PLAN]
        total += plan.agents_included + int(extra.get(device.id) or 0)
    return total


def _check_devices(store: DocumentStore, account_id: str, devices: list[str]) -> list[str]:
    unique = list(dict.fromkeys(devices))
    for device_id in unique:
        doc = Devices(store).doc(device_id)
        if doc is None or doc["account_id"] != account_id:
            raise ValidationFailed(f"devices: no device {device_id} in this account",
                                   details={"field": "devices"}, code="unknown_device")
    return unique


def _check_email(store: DocumentStore, account_id: str, email: str, agent_id: str | None = None):
    same = Agents(store).with_email(account_id, email)
    if any(doc["id"] != agent_id for doc in same):
        raise Conflict(f"an agent with email {email} exists already in this account",
                       code="agent_exists")


def _new_token() -> str:
    return AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)


AGENTS_LIMIT = "agents"  # its limit notice (quotas.notify_account_limit)


def create_agent(store: DocumentStore, clock: Clock, account_id: str, *, name: str, email: str,
                 role: AgentRole = AgentRole.agent, devices: list[str] = (),
                 mailer: Mailer | None = None) -> tuple[Agent, str]:
    """A new agent and its token (shown once). Refused at the account's agent cap, which
    mails the owner once a month (quotas.notify_account_limit)."""
    email = email.strip().lower()
    _check_email(store, account_id, email)
    devices = _check_devices(store, account_id, list(devices))
    used = len(Agents(store).docs_of_account(account_id))
    allowed = seats(store, account_id, clock.now())
    if used >= allowed:
        message = (f"this account may have {allowed} agent(s) and has {used}: agents come "
                   "with the Platform plans (3, 5 or 10 a paid device; extra agents on "
                   "Platform Enterprise); upgrade a device's plan or delete an agent")
        quotas.notify_account_limit(
            store, mailer, clock, account_id, AGENTS_LIMIT,
            subject="Utio: your account reached its agent limit",
            body=f"Adding agent {email} was refused: {message}.\n")
        raise Forbidden(message, code="agent_limit_reached",
                        details={"agents": used, "seats": allowed})
    raw = _new_token()
    now = clock.now()
    agent = Agent(id=new_id("agt"), account_id=account_id, name=name, email=email, role=role,
                  devices=devices, token_prefix=raw[:13], token_hash=hash_key(raw),
                  created_at=now, updated_at=now)
    Agents(store).add(agent)
    return agent, raw


def get_agent(store: DocumentStore, account_id: str, agent_id: str) -> Agent:
    return Agents(store).owned(account_id, agent_id)


def list_agents(store: DocumentStore, account_id: str) -> list[Agent]:
    return sorted(Agents(store).of_account(account_id), key=lambda a: a.created_at)


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
    Agents(store).update(agent_id, updates)
    return get_agent(store, account_id, agent_id)


def grant_device(store: DocumentStore, clock: Clock, account_id: str, agent_id: str,
                 device_id: str) -> Agent:
    agent = get_agent(store, account_id, agent_id)
    _check_devices(store, account_id, [device_id])
    if device_id not in agent.devices:
        Agents(store).update(agent_id, {"devices": [*agent.devices, device_id],
                                        "updated_at": clock.now()})
    return get_agent(store, account_id, agent_id)


def revoke_device(store: DocumentStore, clock: Clock, account_id: str, agent_id: str,
                  device_id: str) -> Agent:
    agent = get_agent(store, account_id, agent_id)
    if device_id not in agent.devices:
        raise NotFound(f"agent {agent_id} has no grant for device {device_id}")
    Agents(store).update(agent_id, {"devices": [d for d in agent.devices if d != device_id],
                                    "updated_at": clock.now()})
    return get_agent(store, account_id, agent_id)


def rotate_token(store: DocumentStore, clock: Clock, account_id: str,
                 agent_id: str) -> tuple[Agent, str]:
    get_agent(store, account_id, agent_id)
    raw = _new_token()
    Agents(store).update(agent_id, {"token_prefix": raw[:13], "token_hash": hash_key(raw),
                                    "updated_at": clock.now()})
    return get_agent(store, account_id, agent_id), raw


def delete_agent(store: DocumentStore, account_id: str, agent_id: str) -> None:
    get_agent(store, account_id, agent_id)
    Agents(store).delete(agent_id)


def authenticate(store: DocumentStore, raw_token: str) -> Agent:
    agent = Agents(store).by_token_hash(hash_key(raw_token))
    if agent is None:
        raise Unauthorized("invalid agent token")
    if not agent.active:
        raise Unauthorized("this agent is deactivated; an admin can reactivate it",
                           code="agent_inactive")
    return agent


def device_agents(store: DocumentStore, account_id: str, device_id: str) -> list[Agent]:
    """The active agents who may use a device (granted it, or admins), by name: whom the
    web chat offers when assigning a chat."""
    found = [a for a in list_agents(store, account_id) if a.active and
             (a.role == AgentRole.admin or device_id in a.devices)]
    return sorted(found, key=lambda a: a.name.casefold())


def check_assignee(store: DocumentStore, account_id: str, device_id: str, agent_id: str) -> None:
    """An agent may be assigned a chat when it is active and may use the chat's device."""
    doc = Agents(store).doc(agent_id)
    if doc is None or doc.get("account_id") != account_id:
        raise ValidationFailed(f"assigned_to: no agent {agent_id} in this account",
                               details={"field": "assigned_to"}, code="unknown_agent")
    if doc.get("role") != "admin" and device_id not in (doc.get("devices") or []):
        raise ValidationFailed(f"assigned_to: agent {agent_id} has no grant for device "
                               f"{device_id}; grant it first", details={"field": "assigned_to"},
                               code="agent_not_granted")
    if doc.get("active") is False:
        raise ValidationFailed(f"assigned_to: agent {agent_id} is deactivated",
                               details={"field": "assigned_to"}, code="agent_inactive")
