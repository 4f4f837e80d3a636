"""Whether numbers are on WhatsApp, asked through a connected device of the account and
counted against its plan's monthly number checks; answers are kept a day."""

from __future__ import annotations

from datetime import timedelta

from shared.deps import Deps
from shared.domain import Device, DeviceStatus, Transport
from shared.errors import Conflict, QuotaExceeded
from shared.plans import DEFAULT_PLAN, PLANS
from shared.ports import DocumentStore
from shared.repositories.usage import NumberCheckCache, NumberCheckUsage
from shared.services import quotas
from shared.services.devices import get_device, require_connected

NUMBER_CHECKS = "number_checks_per_month"  # its limit notice (quotas.notify_limit)
CACHE_FOR = timedelta(days=1)


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
    cache = NumberCheckCache(store)
    scope = account_id if device.transport != Transport.sandbox else f"{account_id}:sandbox"
    for phone in numbers:
        cached = cache.doc(f"{scope}:{phone}")
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
            cache.put_doc(f"{scope}:{phone}",
                          {"exists": exists, "checked_at": now, "account_id": account_id})
    return {"device": device.id,
            "data": [{"phone": p, "exists": answers[p][0], "cached": answers[p][1]}
                     for p in numbers],
            "usage": {"period": period, "used": used, "limit": limit}}


def _checking_device(deps: Deps, account_id: str, device_id: str | None) -> Device:
    if device_id:
        device = get_device(deps, account_id, device_id)
        require_connected(device)
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
    """Add `amount` checks to the month's count (one atomic increment), within the limit
    when adding; the new count. A negative `amount` gives checks back."""
    usage = NumberCheckUsage(store)
    new = usage.increment(key, "count", amount, maximum=limit if amount > 0 else None)
    if new is None:
        used = int((usage.doc(key) or {}).get("count") or 0)
        raise _exhausted(used, amount, limit)
    return max(0, new)


def _exhausted(used: int, asked: int, limit: int) -> QuotaExceeded:
    return QuotaExceeded(f"this check needs {asked} of the device's {limit} monthly number "
                         f"checks, and {used} are used; they renew on the 1st, or upgrade "
                         "the plan", details={"used": used, "limit": limit, "asked": asked})
