"""What the API asks of a device's WhatsApp session: linking (QR or pairing code), a
change of number, the profile, and whether numbers are on WhatsApp."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

from shared.deps import Deps
from shared.domain import Device, DeviceStatus, Transport
from shared.errors import Conflict, UtioError
from shared.plans import DEFAULT_PLAN, PLANS
from shared.ports import DocumentStore
from shared.services import linking, quotas
from shared.services.devices import get_device

CHECKS_CACHE = "number_checks_cache"
CHECKS_USAGE = "number_checks_usage"
NUMBER_CHECKS = "number_checks_per_month"  # its limit notice (quotas.NOTICES)
CACHE_FOR = timedelta(days=1)
_ATTEMPTS = 20


class QuotaExceeded(UtioError):
    status, code = 429, "quota_exceeded"


# --- linking ------------------------------------------------------------------------


def scan(deps: Deps, account_id: str, device_id: str, *, wait: float,
         sleep=time.sleep) -> tuple[Device, dict | None]:
    """The device and its current QR code (or pairing code), asking the runner for a new
    one when none is current; None when none came within `wait` seconds."""
    store, clock = deps.store, deps.clock
    device = get_device(deps, account_id, device_id)
    linking.ensure_linkable(device)
    code = linking.current(store, clock, device.id)
    if code is None:
        linking.request_link(deps.tasks, device, now=clock.now())
        code = linking.wait_for_code(store, clock, device.id, wait, sleep=sleep)
        if code is None:  # none came: say why if the device knows it cannot make one
            linking.ensure_can_make_code(get_device(deps, account_id, device_id))
    return device, code


def pairing_code(deps: Deps, account_id: str, device_id: str,
                 phone: str) -> tuple[Device, dict]:
    clock = deps.clock
    device = get_device(deps, account_id, device_id)
    linking.ensure_linkable(device)
    answer = deps.runner_rpc.call("pair", {"device_id": device.id, "phone": phone})
    doc = linking.current(deps.store, clock, device.id) or {}
    return device, {"pairing_code": answer["pairing_code"], "phone": phone,
                    "expires_at": doc.get("expires_at", clock.now() + timedelta(minutes=2))}


def relink(deps: Deps, account_id: str, device_id: str) -> Device:
    """Unlink the current number and link again: id, settings, chats and contacts stay."""
    device = get_device(deps, account_id, device_id)
    linking.clear(deps.store, device.id)
    linking.request_link(deps.tasks, device, logout=True, now=deps.clock.now())
    return device


# --- profile ------------------------------------------------------------------------


def update_profile(deps: Deps, account_id: str, device_id: str, *, name: str | None,
                   description: str | None, image: bytes | None) -> dict:
    clock, devices = deps.clock, deps.repos.devices
    device = get_device(deps, account_id, device_id)
    _require_connected(device)
    payload = {"device_id": device.id, "name": name, "description": description,
               "image": base64.b64encode(image).decode() if image is not None else None}
    deps.runner_rpc.call("profile", payload)
    profile = dict((devices.doc(device.id) or {}).get("profile") or {})
    if name is not None:
        profile["name"] = name
    if description is not None:
        profile["description"] = description
    if image is not None:
        profile["image_updated_at"] = clock.now()
    profile["updated_at"] = clock.now()
    devices.update(device.id, {"profile": profile})
    return profile


def _require_connected(device: Device) -> None:
    if device.status != DeviceStatus.connected:
        raise Conflict(f"device {device.id} is {device.status.value}, not connected; link it "
                       f"first (GET /v1/devices/{device.id}/scan)", code="device_not_connected")


# --- numbers on WhatsApp ------------------------------------------------------------


def check_numbers(deps: Deps, account_id: str, numbers: list[str],
                  device_id: str | None = None) -> dict:
    """Ask WhatsApp, through a connected device of the account, which numbers it knows.
    Each number counts as one check of the device's plan this month; answers are kept a
    day, so asking again does not reach WhatsApp. Without `device_id` the check goes
    through a connected WhatsApp device; a sandbox device (simulated answers) is used only
    when named, or when the account has no WhatsApp device at all (a sandbox-only
    account). Sandbox answers are cached apart from real ones. A check refused for the
    monthly limit mails the owner, once per device and month (quotas.notify_limit)."""
    store, clock = deps.store, deps.clock
    device = _checking_device(deps, account_id, device_id)
    plan = PLANS.get(device.plan, PLANS[DEFAULT_PLAN])
    limit = plan.number_checks_per_month
    period = quotas.period_of(clock.now())
    try:
        used = _reserve(store, f"{device.id}:{period}", len(numbers), limit)
    except QuotaExceeded as refused:
        quotas.notify_limit(
            store, deps.mailer, clock, device, NUMBER_CHECKS, period,
            subject=f"Utio: device {device.alias or device.id} reached its monthly "
                    "number check limit",
            body=f"A number check through device {device.alias or device.id} was refused: "
                 f"{refused.message}.\n\nThe {plan.name} plan includes {limit} number "
                 "checks a month; a larger plan includes more.")
        raise
    now = clock.now()
    answers: dict[str, tuple[bool, bool]] = {}
    missing = []
    scope = account_id if device.transport != Transport.sandbox else f"{account_id}:sandbox"
    for phone in numbers:
        cached = store.get(CHECKS_CACHE, f"{scope}:{phone}")
        if cached and cached["checked_at"] > now - CACHE_FOR:
            answers[phone] = (cached["exists"], True)
        else:
            missing.append(phone)
    if missing:
        try:
            found = deps.runner_rpc.call("exists", {"device_id": device.id, "numbers": missing})["results"]
        except Exception:
            _reserve(store, f"{device.id}:{period}", -len(numbers), limit)  # not charged
            raise
        for phone in missing:
            exists = bool(found.get(phone))
            answers[phone] = (exists, False)
            store.put(CHECKS_CACHE, f"{scope}:{phone}",
                      {"exists": exists, "checked_at": now, "account_id": account_id})
    return {"device": device.id,
            "data": [{"phone": p, "exists": answers[p][0], "cached": answers[p][1]}
                     for p in numbers],
            "usage": {"period": period, "used": used, "limit": limit}}


def _checking_device(deps: Deps, account_id: str, device_id: str | None) -> Device:
    if device_id:
        device = get_device(deps, account_id, device_id)
        _require_connected(device)
        return device
    devices = deps.repos.devices
    connected = devices.with_status(account_id, DeviceStatus.connected)
    for transport in (Transport.whatsapp, Transport.sandbox):
        for device in sorted(connected, key=lambda d: d.id):
            if device.transport != transport:
                continue
            if transport == Transport.sandbox and devices.on_transport(
                    account_id, Transport.whatsapp, limit=1):
                break  # the account has WhatsApp devices: no simulated answers for it
            return device
    raise Conflict("checking numbers needs a connected WhatsApp device in this account, "
                   "and none is connected: link one (GET /v1/devices/{id}/scan); a sandbox "
                   "device answers only when named in `device`",
                   code="no_connected_device")


def _reserve(store: DocumentStore, key: str, amount: int, limit: int) -> int:
    """Add `amount` checks to the month's count, within the limit; the new count."""
    for _ in range(_ATTEMPTS):
        doc = store.get(CHECKS_USAGE, key)
        if doc is None:
            if amount > limit:
                raise _exhausted(0, amount, limit)
            if store.create(CHECKS_USAGE, key, {"count": max(0, amount)}):
                return max(0, amount)
            continue
        used = int(doc.get("count") or 0)
        new = max(0, used + amount)
        if amount > 0 and new > limit:
            raise _exhausted(used, amount, limit)
        if store.update(CHECKS_USAGE, key, {"count": new}, when={"count": doc.get("count")}):
            return new
    raise Conflict("the number check counter is busy; try again", code="busy")


def _exhausted(used: int, asked: int, limit: int) -> QuotaExceeded:
    return QuotaExceeded(f"this check needs {asked} of the device's {limit} monthly number "
                         f"checks, and {used} are used; they renew on the 1st, or upgrade "
                         "the plan", details={"used": used, "limit": limit, "asked": asked})
