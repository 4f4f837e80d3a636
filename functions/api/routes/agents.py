from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal, api
from functions.api.schemas_agents import (
    AgentCreated,
    AgentList,
    AgentOut,
    CreateAgent,
    DeviceAgent,
    DeviceAgentList,
    Me,
    UpdateAgent,
)
from shared.services import agents

_AGENT = "/v1/agents/{agent_id}"


def _out(agent) -> AgentOut:
    return AgentOut.model_validate(agent.model_dump())


@api.route("POST", "/v1/agents", body=CreateAgent, response=AgentCreated, status=201,
           tag="agents", errors=(403, 409),
           summary="Create an agent and its token (the plan caps how many); where people sign in, "
           "also email the agent a link to set a password")
def create_agent(p: Principal, body: CreateAgent):
    """Agents are the people who answer chats in the web chat. Each gets a token
    (`utio_agt_…`, shown once in `token`) that works on the chat, contact, label and group
    endpoints of the devices it is granted (`devices`); an `admin` agent sees every device.
    Agents need a platform plan: the account's seats are the agents its devices' plans
    include (3, 5 or 10 per device on Platform Professional, Business and Enterprise,
    while the device is paid or on trial; sandbox devices grant none).

    Errors: 403 `agent_limit_reached` when every seat is taken (add a platform device or
    extra agents to the plan); 409 when an agent with that email exists; 422 when a granted
    device is not in this account."""
    agent, token = agents.create_agent(p.c.store, p.c.clock, p.account_id, name=body.name,
                                       email=body.email, role=body.role, devices=body.devices,
                                       mailer=p.c.mailer)
    if p.c.identity is not None:  # people sign in here: mail the agent a link to set a password
        from shared.services import people

        account = p.c.repos.accounts.doc(p.account_id) or {}
        try:
            people.invite_agent(p.c.store, p.c.clock, p.c.identity, p.c.mailer,
                                p.c.settings.public_url, agent, account.get("name") or "Utio")
        except Exception:
            agents.delete_agent(p.c.store, p.account_id, agent.id)  # nothing half made
            raise
    return AgentCreated.model_validate(agent.model_dump() | {"token": token})


@api.route("GET", "/v1/agents", response=AgentList, summary="List agents and seats", tag="agents")
def list_agents(p: Principal):
    """Lists the account's agents and its seats (`seats.used` of `seats.included`), to see
    who has access and whether another agent fits.

    Errors: 401 without a valid API key."""
    found = agents.list_agents(p.c.store, p.account_id)
    return AgentList.model_validate({
        "data": [a.model_dump() for a in found],
        "seats": {"used": len(found), "included": agents.seats(p.c.store, p.account_id,
                                                                p.c.clock.now())}})


@agent_route("GET", "/v1/agents/me", response=Me, tag="agents",
             summary="Who is calling: the account, and the agent and its devices for an agent token")
def me(p: Principal):
    """Tells who is calling. With an API key: the account, with `agent` and `devices` null.
    With an agent's token: the agent and the devices it may use, which is what the web chat
    reads to show an agent their inboxes.

    Errors: 401 when the key or token is missing, invalid, or the agent is deactivated."""
    agent = agents.get_agent(p.c.store, p.account_id, p.agent_id) if p.agent_id else None
    return Me(account_id=p.account_id, agent=_out(agent) if agent else None,
              devices=sorted(p.devices) if p.devices is not None else None)


@agent_route("GET", "/v1/devices/{device_id}/agents", response=DeviceAgentList, tag="agents",
             errors=(404,), summary="The agents who may use a device (to assign its chats)")
def device_agents(p: Principal, device_id: str):
    """The active agents granted this device and the account's active admins: the people a
    chat of the device can be assigned to (`PATCH …/chats/{chat_id}` with `assigned_to`).
    Agents may call it for their own devices; it shows names and roles, not emails.

    Errors: 404 when the device is not in this account (or not granted to the agent)."""
    from shared.services import devices

    devices.get_device(p.c, p.account_id, device_id)
    return DeviceAgentList(data=[DeviceAgent.model_validate(a.model_dump())
                                 for a in agents.device_agents(p.c.store, p.account_id, device_id)])


@api.route("GET", _AGENT, response=AgentOut, summary="Get an agent", tag="agents", errors=(404,))
def get_agent(p: Principal, agent_id: str):
    """Reads one agent: name, email, role, the devices granted, whether it is active and its
    token's prefix (never the token).

    Errors: 404 when the agent is not in this account."""
    return _out(agents.get_agent(p.c.store, p.account_id, agent_id))


@api.route("PATCH", _AGENT, body=UpdateAgent, response=AgentOut, tag="agents", errors=(404, 409),
           summary="Change an agent's name, email, role, device grants or activity")
def update_agent(p: Principal, agent_id: str, body: UpdateAgent):
    """Changes only the fields given. `devices` replaces the grants; `active: false` stops
    the agent's token at once without deleting the agent (true turns it back on); `role:
    admin` lets it see every device.

    Errors: 404 when the agent is not in this account; 409 when another agent has the new
    email; 422 when a granted device is not in this account."""
    return _out(agents.update_agent(p.c.store, p.c.clock, p.account_id, agent_id,
                                    body.model_dump(exclude_unset=True)))


@api.route("DELETE", _AGENT, status=204, summary="Delete an agent", tag="agents", errors=(404,))
def delete_agent(p: Principal, agent_id: str):
    """Deletes the agent and ends its token at once; it frees a seat. Chats it answered stay
    as they are.

    Errors: 404 when the agent is not in this account."""
    agents.delete_agent(p.c.store, p.account_id, agent_id)
    from shared.services import people

    people.remove_agent(p.c.store, p.c.identity, agent_id)


@api.route("PUT", _AGENT + "/devices/{device_id}", response=AgentOut, tag="agents",
           errors=(404,), summary="Grant an agent access to a device")
def grant_device(p: Principal, agent_id: str, device_id: str):
    """Lets the agent see and answer the chats of one more device. Granting a device twice
    changes nothing.

    Errors: 404 when the agent or the device is not in this account."""
    return _out(agents.grant_device(p.c.store, p.c.clock, p.account_id, agent_id, device_id))


@api.route("DELETE", _AGENT + "/devices/{device_id}", response=AgentOut, tag="agents",
           errors=(404,), summary="Revoke an agent's access to a device")
def revoke_device(p: Principal, agent_id: str, device_id: str):
    """Takes one device away from the agent; its other grants stay.

    Errors: 404 when the agent is not in this account or has no grant for that device."""
    return _out(agents.revoke_device(p.c.store, p.c.clock, p.account_id, agent_id, device_id))


@api.route("POST", _AGENT + "/token", response=AgentCreated, tag="agents", errors=(404,),
           summary="Replace an agent's token; the old one stops working")
def rotate_token(p: Principal, agent_id: str):
    """Makes a new token for the agent (in `token`, shown once) and ends the old one at once,
    for example when a token leaked or a laptop was lost.

    Errors: 404 when the agent is not in this account."""
    agent, token = agents.rotate_token(p.c.store, p.c.clock, p.account_id, agent_id)
    return AgentCreated.model_validate(agent.model_dump() | {"token": token})
