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
from shared.domain import DeviceSettings, Transport
from shared.services import billing, devices


def _out(device) -> DeviceOut:
    return DeviceOut.model_validate(device.model_dump())


@api.route("POST", "/v1/devices", body=CreateDevice, response=DeviceOut, status=201,
           summary="Create a device (on a free trial of its plan)", tag="devices", errors=(409,))
def create_device(p: Principal, body: CreateDevice):
    settings = DeviceSettings.model_validate(
        body.settings.model_dump(exclude_none=True) if body.settings else {})
    transport = body.transport or Transport(p.c.settings.default_transport)
    device = devices.create_device(p.c, p.account_id,
                                   transport=transport, alias=body.alias, settings=settings,
                                   **({"plan": body.plan.value} if body.plan else {}))
    return _out(device)


@api.route("GET", "/v1/devices", response=DeviceList, summary="List devices", tag="devices")
def list_devices(p: Principal):
    return DeviceList(data=[_out(d) for d in devices.list_devices(p.c, p.account_id)
                            if p.sees(d.id)])


@api.route("GET", "/v1/devices/{device_id}", response=DeviceOut, summary="Get a device",
           tag="devices", errors=(404,))
def get_device(p: Principal, device_id: str):
    return _out(devices.get_device(p.c, p.account_id, device_id))


@api.route("PATCH", "/v1/devices/{device_id}", body=UpdateDevice, response=DeviceOut,
           summary="Update a device's alias and settings", tag="devices", errors=(404,))
def update_device(p: Principal, device_id: str, body: UpdateDevice):
    changes = body.model_dump(exclude_unset=True)
    if body.settings is not None:
        changes["settings"] = body.settings.model_dump(exclude_none=True)
    device = devices.update_device(p.c, p.account_id, device_id,
                                   changes)
    return _out(device)


@api.route("DELETE", "/v1/devices/{device_id}", status=204,
           summary="Delete a device; its queued messages fail with device_deleted",
           tag="devices", errors=(404,))
def delete_device(p: Principal, device_id: str):
    billing.release_device(p.c.store, p.c.billing, p.account_id, device_id)  # ends its subscription
    devices.delete_device(p.c, p.account_id, device_id)


@api.route("POST", "/v1/devices/{device_id}/sandbox/inbound", body=SandboxInbound,
           response=Accepted, status=202, tag="devices", errors=(404,),
           summary="Inject an inbound message into a sandbox device")
def sandbox_inbound(p: Principal, device_id: str, body: SandboxInbound):
    devices.inject_sandbox_inbound(p.c, p.account_id, device_id, body.phone,
                                   body.message)
    return Accepted()
