from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal, api
from functions.api.schemas_agents import (
    AgentCreated,
    AgentList,
    AgentOut,
    CreateAgent,
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
    agent, token = agents.create_agent(p.c.store, p.c.clock, p.account_id, name=body.name,
                                       email=body.email, role=body.role, devices=body.devices,
                                       mailer=p.c.mailer)
    if p.c.identity is not None:  # people sign in here: mail the agent a link to set a password
        from shared.services import people

        account = p.c.store.get("accounts", p.account_id) or {}
        try:
            people.invite_agent(p.c.store, p.c.clock, p.c.identity, p.c.mailer,
                                p.c.settings.public_url, agent, account.get("name") or "Utio")
        except Exception:
            agents.delete_agent(p.c.store, p.account_id, agent.id)  # nothing half made
            raise
    return AgentCreated.model_validate(agent.model_dump() | {"token": token})


@api.route("GET", "/v1/agents", response=AgentList, summary="List agents and seats", tag="agents")
def list_agents(p: Principal):
    found = agents.list_agents(p.c.store, p.account_id)
    return AgentList.model_validate({
        "data": [a.model_dump() for a in found],
        "seats": {"used": len(found), "included": agents.seats(p.c.store, p.account_id,
                                                                p.c.clock.now())}})


@agent_route("GET", "/v1/agents/me", response=Me, tag="agents",
             summary="Who is calling: the account, and the agent and its devices for an agent token")
def me(p: Principal):
    agent = agents.get_agent(p.c.store, p.account_id, p.agent_id) if p.agent_id else None
    return Me(account_id=p.account_id, agent=_out(agent) if agent else None,
              devices=sorted(p.devices) if p.devices is not None else None)


@api.route("GET", _AGENT, response=AgentOut, summary="Get an agent", tag="agents", errors=(404,))
def get_agent(p: Principal, agent_id: str):
    return _out(agents.get_agent(p.c.store, p.account_id, agent_id))


@api.route("PATCH", _AGENT, body=UpdateAgent, response=AgentOut, tag="agents", errors=(404, 409),
           summary="Change an agent's name, email, role, device grants or activity")
def update_agent(p: Principal, agent_id: str, body: UpdateAgent):
    return _out(agents.update_agent(p.c.store, p.c.clock, p.account_id, agent_id,
                                    body.model_dump(exclude_unset=True)))


@api.route("DELETE", _AGENT, status=204, summary="Delete an agent", tag="agents", errors=(404,))
def delete_agent(p: Principal, agent_id: str):
    agents.delete_agent(p.c.store, p.account_id, agent_id)
    from shared.services import people

    people.remove_agent(p.c.store, p.c.identity, agent_id)


@api.route("PUT", _AGENT + "/devices/{device_id}", response=AgentOut, tag="agents",
           errors=(404,), summary="Grant an agent access to a device")
def grant_device(p: Principal, agent_id: str, device_id: str):
    return _out(agents.grant_device(p.c.store, p.c.clock, p.account_id, agent_id, device_id))


@api.route("DELETE", _AGENT + "/devices/{device_id}", response=AgentOut, tag="agents",
           errors=(404,), summary="Revoke an agent's access to a device")
def revoke_device(p: Principal, agent_id: str, device_id: str):
    return _out(agents.revoke_device(p.c.store, p.c.clock, p.account_id, agent_id, device_id))


@api.route("POST", _AGENT + "/token", response=AgentCreated, tag="agents", errors=(404,),
           summary="Replace an agent's token; the old one stops working")
def rotate_token(p: Principal, agent_id: str):
    agent, token = agents.rotate_token(p.c.store, p.c.clock, p.account_id, agent_id)
    return AgentCreated.model_validate(agent.model_dump() | {"token": token})
