"""Linking (QR or pairing code), change of number, profile, numbers on WhatsApp, and the
media devices receive."""

from __future__ import annotations

import base64
import io

from flask import Response, jsonify, request

from functions.api.access import agent_route
from functions.api.registry import Principal, api
from functions.api.schemas import DeviceOut
from functions.api.schemas_sessions import (
    CheckNumbers,
    NumberExistence,
    ProfileOut,
    ProfileUpdate,
    ScanCode,
    ScanFormat,
    ScanQuery,
)
from shared.errors import NotFound
from shared.services import number_checks, profile
from shared.services.devices import get_device
from shared.services.linking import scan as linking

_ACCEPT = {"image/png": ScanFormat.png, "image/svg+xml": ScanFormat.svg,
           "text/plain": ScanFormat.text, "application/json": ScanFormat.json}


def _format(query: ScanQuery) -> ScanFormat:
    if query.format is not None:
        return query.format
    best = request.accept_mimetypes.best_match(list(_ACCEPT), default="image/png")
    return _ACCEPT.get(best or "image/png", ScanFormat.png)


@api.route("GET", "/v1/devices/{device_id}/scan", query=ScanQuery, response=ScanCode,
           summary="The device's current QR code (PNG, SVG, text or JSON), or a pairing code",
           tag="devices", errors=(404, 409))
def scan(p: Principal, device_id: str, query: ScanQuery):
    """Links a device. By default the current QR code as a PNG (`format=svg`, `text` or `json`
    too): show it and scan it in WhatsApp on the phone (Settings, Linked devices, Link a
    device). QR codes change every 20 seconds or so; fetch again (or `wait`) until the
    device's status is `connected`. With `phone=+…` it answers a pairing code instead, to
    type on the phone (Link with phone number instead).

    Errors: 404 when the device is not in this account; 409 when it is already connected (to
    link another number use relink); 422 for a bad format or phone; 503 when the device
    runner is briefly unavailable (retry)."""
    """WhatsApp replaces the QR code every 20 seconds or so; fetch it again after its
    expiry (header Expires, or expires_at). 202 with Retry-After while it is being made."""
    fmt = _format(query)
    if query.phone:
        device, code = linking.pairing_code(p.c, p.account_id, device_id,
                                                    query.phone)
        body = ScanCode(device=device.id, status="linking", **code)
        if fmt == ScanFormat.text:
            return Response(code["pairing_code"], mimetype="text/plain", headers=_no_store())
        return _json(body, 200)
    device, code = linking.scan(p.c, p.account_id, device_id,
                                        wait=p.c.settings.scan_wait)
    if code is None or not code.get("qr"):
        body = ScanCode(device=device.id, status="linking", pairing_code=(code or {}).get(
            "pairing_code"), message="the QR code is being made: try again in a moment")
        response = _json(body, 202)
        response.headers["Retry-After"] = "2"
        return response
    headers = _no_store() | {"Expires": code["expires_at"].strftime("%a, %d %b %Y %H:%M:%S GMT")}
    if fmt == ScanFormat.json:
        response = _json(ScanCode(device=device.id, status="linking", qr=code["qr"],
                                  pairing_code=code.get("pairing_code"),
                                  expires_at=code["expires_at"]), 200)
        response.headers.update(headers)
        return response
    if fmt == ScanFormat.text:
        return Response(code["qr"], mimetype="text/plain", headers=headers)
    import segno

    qr = segno.make(code["qr"], error="l", micro=False)
    out = io.BytesIO()
    if fmt == ScanFormat.svg:
        qr.save(out, kind="svg", scale=8, border=4, xmldecl=False)
        return Response(out.getvalue(), mimetype="image/svg+xml", headers=headers)
    qr.save(out, kind="png", scale=8, border=4)
    return Response(out.getvalue(), mimetype="image/png", headers=headers)


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store"}


def _json(model, status: int) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    response.headers.update(_no_store())
    return response


@api.route("POST", "/v1/devices/{device_id}/relink", response=DeviceOut, status=202,
           summary="Unlink the current number and link again (a change of number): the "
           "device keeps its id, settings, chats and contacts", tag="devices", errors=(404,))
def relink(p: Principal, device_id: str):
    """Unlinks the current number and starts linking again, for a change of number: the
    device keeps its id, settings, chats, contacts and subscription. Then scan the new QR
    code with the new phone.

    Errors: 404 when the device is not in this account."""
    linking.relink(p.c, p.account_id, device_id)
    return DeviceOut.model_validate(get_device(p.c, p.account_id, device_id).model_dump())


@api.route("PATCH", "/v1/devices/{device_id}/profile", body=ProfileUpdate, response=ProfileOut,
           summary="Set the WhatsApp profile's name, description and image", tag="devices",
           errors=(404, 409))
def update_profile(p: Principal, device_id: str, body: ProfileUpdate):
    """Sets the linked WhatsApp account's profile name (up to 25 characters),
    about text (up to 139) and picture (a JPEG or PNG, base64-encoded, at most 5 MB), as
    WhatsApp shows them to your contacts.

    Errors: 404 when the device is not in this account; 409 when it is not connected; 422
    when no field is given or the image is not a JPEG or PNG."""
    image = base64.b64decode(body.image) if body.image is not None else None
    updated = profile.update_profile(p.c, p.account_id, device_id, name=body.name,
                                     description=body.description, image=image)
    return ProfileOut.model_validate(updated)


@api.route("POST", "/v1/numbers/exists", body=CheckNumbers, response=NumberExistence,
           summary="Which numbers have WhatsApp, asked through a connected device (each "
           "number is one of the plan's monthly checks; answers are kept a day)",
           tag="numbers", errors=(404, 409, 429))
def numbers_exist(p: Principal, body: CheckNumbers):
    """Asks WhatsApp, through a connected device of the account, which numbers have an
    account. Each number checked counts against the device plan's monthly number checks
    (1000 on Professional). Check before a first message: messages to numbers without
    WhatsApp fail.

    Errors: 404 when `device` is not in this account; 409 when no device is connected; 422
    for invalid numbers; 429 `quota_exceeded` when the month's checks are used up; 503 when
    the device runner is briefly unavailable."""
    return NumberExistence.model_validate(number_checks.check_numbers(
        p.c, p.account_id, body.numbers, body.device))


@agent_route("GET", "/v1/devices/{device_id}/media/{name}", summary="A media file the device "
           "received (inbound events link here)", tag="devices", errors=(404,),
           content_type="application/octet-stream")
def inbound_media(p: Principal, device_id: str, name: str):
    """Downloads a picture, voice note, video or document the device received. Inbound
    `message:in:new` events link here in `data.media.url`; fetch it with the API key.

    Errors: 404 when the device or the file is not found (received media is kept as long as
    its chat message)."""
    device = get_device(p.c, p.account_id, device_id)
    try:
        data, mime = p.c.inbound_media.get(device.id, name)
    except LookupError as exc:
        raise NotFound(f"no media {name} on device {device.id}") from exc
    return Response(data, mimetype=mime, headers={"Cache-Control": "private, max-age=86400"})
