from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas import (
    Accepted,
    CreateDevice,
    DeviceList,
    DeviceOut,
    SandboxInbound,
    UpdateDevice,
)
from shared.billing import subscriptions
from shared.domain import DeviceSettings, Transport
from shared.services import devices


def _out(device) -> DeviceOut:
    return DeviceOut.model_validate(device.model_dump())


@api.route("POST", "/v1/devices", body=CreateDevice, response=DeviceOut, status=201,
           summary="Create a device (on a free trial of its plan)", tag="devices", errors=(409,))
def create_device(p: Principal, body: CreateDevice):
    """A device is one WhatsApp number linked to Utio. Creating it starts a free trial of its
    `plan` (default `messaging-professional`); link it next with `GET
    /v1/devices/{device_id}/scan` (QR code or pairing code). On the local stack and in tests
    a `sandbox` device links by itself within a second, on a simulated network.

    Trials: in the account's first 24 hours it may try up to 3 plans, one trial device at a
    time (delete one to try another); later devices start unpaid until subscribed. Sandbox
    devices are not billed.

    Errors: 409 `trial_device_exists` or `trial_limit_reached` for a trial the rules above
    refuse, or when another device is being created at the same moment; 422 for an unknown
    plan or a delivery speed above the plan's."""
    given = body.settings.model_dump(exclude_none=True) if body.settings else {}
    if given.get("daily_limit") == 0:
        given.pop("daily_limit")  # 0: no daily cap, the default
    settings = DeviceSettings.model_validate(given)
    transport = body.transport or Transport(p.c.settings.default_transport)
    device = devices.create_device(p.c, p.account_id,
                                   transport=transport, alias=body.alias, settings=settings,
                                   **({"plan": body.plan.value} if body.plan else {}))
    return _out(device)


@api.route("GET", "/v1/devices", response=DeviceList, summary="List devices", tag="devices")
def list_devices(p: Principal):
    """Every device of the account with its status (`pending`, `linking`, `connected`,
    `disconnected`, `non_operative`, `logged_out`, `banned`), phone, plan and settings. An
    agent's token lists only its granted devices.

    Errors: 401 without a valid API key."""
    return DeviceList(data=[_out(d) for d in devices.list_devices(p.c, p.account_id)
                            if p.sees(d.id)])


@api.route("GET", "/v1/devices/{device_id}", response=DeviceOut, summary="Get a device",
           tag="devices", errors=(404,))
def get_device(p: Principal, device_id: str):
    """One device: its status and `status_code` (why it is in that status), linked number,
    plan, settings and warnings (such as too many open chats). Poll it after linking, or take
    the `device:status` webhook event instead.

    Errors: 404 when the device is not in this account."""
    return _out(devices.get_device(p.c, p.account_id, device_id))


@api.route("PATCH", "/v1/devices/{device_id}", body=UpdateDevice, response=DeviceOut,
           summary="Update a device's alias and settings", tag="devices", errors=(404,))
def update_device(p: Principal, device_id: str, body: UpdateDevice):
    """Changes the alias and settings, among them `delivery_speed` (messages a minute, up to
    the plan's maximum; slower looks more human), `daily_limit` (messages a UTC day; 0
    removes it), `warmup` (the daily cap of a newly linked number: `first_day` messages on
    the day it was linked, doubling each day for `days` days; on by default for WhatsApp
    devices, off for sandbox ones) and chat clean-up. Messages beyond a day's cap wait in
    the queue for the next day; they do not fail.

    Errors: 404 when the device is not in this account; 422 for a speed above the plan's or an
    unknown setting."""
    changes = body.model_dump(exclude_unset=True)
    if body.settings is not None:
        changes["settings"] = body.settings.model_dump(exclude_none=True)
        if "read_on_reply" in body.settings.model_fields_set:  # null: as the account's
            changes["settings"]["read_on_reply"] = body.settings.read_on_reply
    device = devices.update_device(p.c, p.account_id, device_id,
                                   changes)
    return _out(device)


@api.route("DELETE", "/v1/devices/{device_id}", status=204,
           summary="Delete a device; its queued messages fail with device_deleted",
           tag="devices", errors=(404,))
def delete_device(p: Principal, device_id: str):
    """Unlinks the number, ends the device's subscription and deletes the device. Its queued
    and scheduled messages fail with `device_deleted` (each with its event). This cannot be
    undone; to link another number to the same device use `POST
    /v1/devices/{device_id}/relink` instead.

    Errors: 404 when the device is not in this account."""
    subscriptions.release_device(p.c.store, p.c.billing, p.account_id, device_id)  # ends its subscription
    devices.delete_device(p.c, p.account_id, device_id)


@api.route("POST", "/v1/devices/{device_id}/sandbox/inbound", body=SandboxInbound,
           response=Accepted, status=202, tag="devices", errors=(404,),
           summary="Inject an inbound message into a sandbox device")
def sandbox_inbound(p: Principal, device_id: str, body: SandboxInbound):
    """For sandbox devices only (the local stack and tests): pretends that `phone` sent
    `message` to the device. It arrives like a real inbound message: stored in the chat and
    sent to your webhooks as `message:in:new`. Use it to try a chatbot without a phone.
    With `lid`, the sender is presented by an anonymous WhatsApp id, as WhatsApp does for
    many contacts: beside their number when `phone` is given too (the device learns the
    pair), alone when not (then filed under the number if the device learnt it before).

    Errors: 400 when the device is a real WhatsApp device; 404 when the device is not in this
    account; 422 when the number is not valid E.164 or the text is empty or too long."""
    devices.inject_sandbox_inbound(p.c, p.account_id, device_id, body.phone,
                                   body.message, lid=body.lid)
    return Accepted()
