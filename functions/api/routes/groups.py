from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal, api
from functions.api.schemas import Accepted
from functions.api.schemas_groups import (
    CreateGroup,
    GroupCreated,
    GroupList,
    GroupOut,
    InviteLink,
    OperationOut,
    Participants,
    UpdateGroup,
)
from shared.inbox import GroupOperationKind
from shared.services import devices, groups

_GROUP = "/v1/devices/{device_id}/groups/{group_id}"
_ASYNC = "The change is queued for the device (202); the operation and event group:update tell how it went."


def _group(group) -> GroupOut:
    return GroupOut.model_validate(groups.group_data(group))


def _op(op) -> OperationOut:
    return OperationOut.model_validate(groups.operation_data(op))


@agent_route("GET", "/v1/devices/{device_id}/groups", response=GroupList, tag="groups",
             errors=(404,), summary="List the device's groups (refreshed from WhatsApp every few minutes)")
def list_groups(p: Principal, device_id: str):
    devices.get_device(p.c, p.account_id, device_id)
    found = groups.list_groups(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id)
    return GroupList(data=[_group(g) for g in found])


@api.route("POST", "/v1/devices/{device_id}/groups/sync", response=Accepted, status=202,
           tag="groups", errors=(404,), summary="Refresh the device's groups from WhatsApp now")
def sync_groups(p: Principal, device_id: str):
    devices.get_device(p.c, p.account_id, device_id)
    groups.request_sync(p.c.store, p.c.tasks, p.c.clock, device_id, force=True)
    return Accepted()


@api.route("POST", "/v1/devices/{device_id}/groups", body=CreateGroup, response=GroupCreated,
           status=202, tag="groups", errors=(404, 409),
           summary="Create a group: it has its id at once, status creating until WhatsApp made it")
def create_group(p: Principal, device_id: str, body: CreateGroup):
    group, op = groups.create_group(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id,
                                    subject=body.subject, participants=body.participants,
                                    description=body.description, announce=body.announce)
    return GroupCreated(group=_group(group), operation=_op(op))


@agent_route("GET", _GROUP, response=GroupOut, tag="groups", errors=(404,),
             summary="Get a group by its id or its WhatsApp id")
def get_group(p: Principal, device_id: str, group_id: str):
    return _group(groups.get_group(p.c.store, p.account_id, device_id, group_id))


@api.route("PATCH", _GROUP, body=UpdateGroup, response=OperationOut, status=202, tag="groups",
           errors=(404, 409), summary="Change a group's subject, description or announcement mode. "
           + _ASYNC)
def update_group(p: Principal, device_id: str, group_id: str, body: UpdateGroup):
    return _op(groups.update_group(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id,
                                   group_id, body.model_dump(exclude_unset=True)))


def _participants_route(kind: GroupOperationKind, summary: str) -> None:
    def change(p: Principal, device_id: str, group_id: str, body: Participants):
        return _op(groups.change_participants(p.c.store, p.c.tasks, p.c.clock, p.account_id,
                                              device_id, group_id, kind, body.phones))

    change.__name__ = f"{kind.value}_participants"
    api.route("POST", f"{_GROUP}/participants/{kind.value}", body=Participants,
              response=OperationOut, status=202, tag="groups", errors=(404, 409),
              summary=f"{summary}. {_ASYNC}")(change)


_participants_route(GroupOperationKind.add, "Add participants")
_participants_route(GroupOperationKind.remove, "Remove participants")
_participants_route(GroupOperationKind.promote, "Make participants admins")
_participants_route(GroupOperationKind.demote, "Make admins plain participants")


@agent_route("GET", _GROUP + "/invite", response=InviteLink, tag="groups", errors=(404, 409),
             summary="The group's invite link (the device must be a group admin)")
def invite_link(p: Principal, device_id: str, group_id: str):
    return InviteLink(url=groups.invite_link(p.c.store, p.account_id, device_id, group_id))


@api.route("POST", _GROUP + "/invite/reset", response=OperationOut, status=202, tag="groups",
           errors=(404, 409), summary="Revoke the invite link and make a new one. " + _ASYNC)
def reset_invite(p: Principal, device_id: str, group_id: str):
    return _op(groups.reset_invite(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id,
                                   group_id))


@agent_route("GET", _GROUP + "/operations/{operation_id}", response=OperationOut, tag="groups",
             errors=(404,), summary="A group operation and its outcome")
def get_operation(p: Principal, device_id: str, group_id: str, operation_id: str):
    return _op(groups.get_operation(p.c.store, p.account_id, device_id, group_id, operation_id))
