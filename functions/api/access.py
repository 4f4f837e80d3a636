"""Who may call what. An API key opens everything in its account. An agent token opens
what its role allows: an admin agent everything but API keys; an agent only the routes
declared with `agent_route`, and of those only the ones on devices granted to it (others
answer 404, as objects of another account do)."""

from __future__ import annotations

from collections.abc import Callable

from flask import request

from functions.api.registry import Principal, api
from functions.api.routing import Route
from shared.bootstrap import Container
from shared.errors import Forbidden, NotFound
from shared.inbox import Agent, AgentRole
from shared.services import agents

AGENT_ROUTES: set[tuple[str, str]] = {("GET", "/v1/devices"), ("GET", "/v1/devices/{device_id}")}
KEY_ONLY_PREFIXES = ("/v1/api-keys",)


def agent_route(method: str, path: str, **options) -> Callable:
    """`api.route`, and open the route to agents (on their granted devices)."""
    AGENT_ROUTES.add((method, path))
    return api.route(method, path, **options)


def agent_principal(c: Container, route: Route, raw_token: str,
                    idempotency_key: str | None) -> Principal:
    return principal_of_agent(c, route, agents.authenticate(c.store, raw_token), idempotency_key)


def principal_of_agent(c: Container, route: Route, agent: Agent, idempotency_key: str | None,
                       person=None) -> Principal:
    """What an agent may call, whether its token or its person's sign-in authenticated it."""
    if agent.role == AgentRole.admin:
        if route.path.startswith(KEY_ONLY_PREFIXES):
            raise Forbidden("API keys are managed with an API key, not an agent token",
                            code="agent_forbidden")
        return Principal(c, agent.account_id, idempotency_key, agent_id=agent.id, person=person)
    if (route.method, route.path) not in AGENT_ROUTES:
        raise Forbidden(f"an agent cannot call {route.method} {route.path}: it needs an API key "
                        "or an agent with role admin", code="agent_forbidden")
    devices = frozenset(agent.devices)
    device_id = (request.view_args or {}).get("device_id")
    if device_id is not None and device_id not in devices:
        raise NotFound(f"device {device_id} not found")
    return Principal(c, agent.account_id, idempotency_key, agent_id=agent.id, devices=devices,
                     person=person)
