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
    """The WhatsApp groups the device belongs to, with subject, participants and roles, as last
    read from WhatsApp (refreshed every few minutes; `POST .../groups/sync` refreshes now).
    A device in 50+ groups gets slower: leave the ones you do not need.

    Errors: 404 when the device is not in this account."""
    devices.get_device(p.c, p.account_id, device_id)
    found = groups.list_groups(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id)
    return GroupList(data=[_group(g) for g in found])


@api.route("POST", "/v1/devices/{device_id}/groups/sync", response=Accepted, status=202,
           tag="groups", errors=(404,), summary="Refresh the device's groups from WhatsApp now")
def sync_groups(p: Principal, device_id: str):
    """Asks the device to read its groups from WhatsApp now, for example right after it was
    added to one. The list updates within seconds.

    Errors: 404 when the device is not in this account."""
    devices.get_device(p.c, p.account_id, device_id)
    groups.request_sync(p.c.store, p.c.tasks, p.c.clock, device_id, force=True)
    return Accepted()


@api.route("POST", "/v1/devices/{device_id}/groups", body=CreateGroup, response=GroupCreated,
           status=202, tag="groups", errors=(404, 409),
           summary="Create a group: it has its id at once, status creating until WhatsApp made it")
def create_group(p: Principal, device_id: str, body: CreateGroup):
    """Creates a group with the device as its owner and the given participants. The answer has
    the group's id at once with status `creating`; WhatsApp makes it within seconds, then
    `group:update` arrives and the status turns `active`. With `announce: true` only admins
    write (a read-only group for announcements).

    Errors: 404 when the device is not in this account; 409 when the device is not connected;
    422 for a missing subject, more than 100 characters, or invalid numbers."""
    group, op = groups.create_group(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id,
                                    subject=body.subject, participants=body.participants,
                                    description=body.description, announce=body.announce)
    return GroupCreated(group=_group(group), operation=_op(op))


@agent_route("GET", _GROUP, response=GroupOut, tag="groups", errors=(404,),
             summary="Get a group by its id or its WhatsApp id")
def get_group(p: Principal, device_id: str, group_id: str):
    """One group, by Utio's id (`grp_…`) or its WhatsApp id (`…@g.us`), with its participants
    and their roles.

    Errors: 404 when the device or the group is not found."""
    return _group(groups.get_group(p.c.store, p.account_id, device_id, group_id))


@api.route("PATCH", _GROUP, body=UpdateGroup, response=OperationOut, status=202, tag="groups",
           errors=(404, 409), summary="Change a group's subject, description or announcement mode. "
           + _ASYNC)
def update_group(p: Principal, device_id: str, group_id: str, body: UpdateGroup):
    """Changes the subject, description, or announcement mode (`announce: true`: only admins
    send, a read-only group). The change is queued for the device: the answer is an
    operation (202) whose outcome arrives as `group:update` or with `GET
    .../operations/{operation_id}`. The device must be a group admin.

    Errors: 404 when the device or the group is not found; 409 when the device is not
    connected or the group is not active; 422 when nothing is given."""
    return _op(groups.update_group(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id,
                                   group_id, body.model_dump(exclude_unset=True)))


def _participants_route(kind: GroupOperationKind, summary: str, description: str) -> None:
    def change(p: Principal, device_id: str, group_id: str, body: Participants):
        return _op(groups.change_participants(p.c.store, p.c.tasks, p.c.clock, p.account_id,
                                              device_id, group_id, kind, body.phones))

    change.__name__ = f"{kind.value}_participants"
    change.__doc__ = description
    api.route("POST", f"{_GROUP}/participants/{kind.value}", body=Participants,
              response=OperationOut, status=202, tag="groups", errors=(404, 409),
              summary=f"{summary}. {_ASYNC}")(change)


_participants_route(GroupOperationKind.add, "Add participants", """\
Adds numbers to the group (the device must be an admin). Queued for the device (202):
each number's outcome is in the operation (`GET .../operations/{operation_id}`) and the
`group:update` event; a number can be refused alone, for example by its privacy settings.
Add only people who asked to join: being added by strangers is what gets numbers reported.

Errors: 404 when the device or the group is not found; 409 when the device is not
connected or the group is not active; 422 for an empty list or invalid numbers.""")
_participants_route(GroupOperationKind.remove, "Remove participants", """\
Removes numbers from the group (the device must be an admin). Queued for the device
(202); the outcome arrives as `group:update` and in the operation.

Errors: 404 when the device or the group is not found; 409 when the device is not
connected or the group is not active; 422 for an empty list or invalid numbers.""")
_participants_route(GroupOperationKind.promote, "Make participants admins", """\
Makes participants admins of the group. Queued for the device (202); the outcome arrives
as `group:update` and in the operation.

Errors: 404 when the device or the group is not found; 409 when the device is not
connected or the group is not active; 422 for an empty list or invalid numbers.""")
_participants_route(GroupOperationKind.demote, "Make admins plain participants", """\
Makes admins plain participants again. Queued for the device (202); the outcome arrives
as `group:update` and in the operation.

Errors: 404 when the device or the group is not found; 409 when the device is not
connected or the group is not active; 422 for an empty list or invalid numbers.""")


@agent_route("GET", _GROUP + "/invite", response=InviteLink, tag="groups", errors=(404, 409),
             summary="The group's invite link (the device must be a group admin)")
def invite_link(p: Principal, device_id: str, group_id: str):
    """The group's `https://chat.whatsapp.com/…` invite link, to share where people may join.

    Errors: 404 when the device or the group is not found; 409 when the device is not an
    admin of the group, or the group is not active."""
    return InviteLink(url=groups.invite_link(p.c.store, p.account_id, device_id, group_id))


@api.route("POST", _GROUP + "/invite/reset", response=OperationOut, status=202, tag="groups",
           errors=(404, 409), summary="Revoke the invite link and make a new one. " + _ASYNC)
def reset_invite(p: Principal, device_id: str, group_id: str):
    """Revokes the current invite link (it stops working) and makes a new one; queued for the
    device like every group change (202, then `group:update`).

    Errors: 404 when the device or the group is not found; 409 when the device is not
    connected, not an admin, or the group is not active."""
    return _op(groups.reset_invite(p.c.store, p.c.tasks, p.c.clock, p.account_id, device_id,
                                   group_id))


@agent_route("GET", _GROUP + "/operations/{operation_id}", response=OperationOut, tag="groups",
             errors=(404,), summary="A group operation and its outcome")
def get_operation(p: Principal, device_id: str, group_id: str, operation_id: str):
    """A queued group change and how it ended: `status` (`pending`, `succeeded`, `failed`
    with `failure_reason`) and, for participant changes, the outcome for each number (a
    number can fail alone, for example when its privacy settings refuse being added).

    Errors: 404 when the device, the group or the operation is not found."""
    return _op(groups.get_operation(p.c.store, p.account_id, device_id, group_id, operation_id))
