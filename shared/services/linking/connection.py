"""A device's connection state as the runner sees it: every transition recorded (fenced
by the runner's lease) and published, and the non-operative rule: a device disconnected
for longer than a threshold becomes non_operative and its owner gets one email; its
recovery is a device:status event too."""

from __future__ import annotations

from datetime import timedelta

from shared.clock import Clock
from shared.device_states import MESSAGES, StatusCode, code_for
from shared.domain import DeviceStatus
from shared.events import EventName
from shared.ports import DocumentStore, EventBus, Guard, Mailer, Write
from shared.repositories.devices import Devices
from shared.services import event_log
from shared.services.event_log import new_event
from shared.services.owner_mail import mail_owner

_ATTEMPTS = 5


def record_status(store: DocumentStore, bus: EventBus, clock: Clock, device_id: str,
                  status: DeviceStatus, *, code: StatusCode | str | None = None,
                  phone: str | None = None, detail: str | None = None,
                  guard: Guard | None = None) -> bool:
    """Record a transition and publish device:status; False when nothing changed, or the
    fence (the device's lease epoch) says another runner holds the device now."""
    wanted = (status, code_for(status, code))
    for _ in range(_ATTEMPTS):  # the condition is what we read: re-read if it moved
        doc = Devices(store).doc(device_id)
        if doc is None:
            return False
        status, code = wanted
        previous = DeviceStatus(doc.get("status") or DeviceStatus.pending)
        if previous == DeviceStatus.non_operative and status == DeviceStatus.disconnected:
            status, code = previous, StatusCode.non_operative  # still down: stays so
        if (previous == status and doc.get("status_code") == code.value
                and (phone is None or doc.get("phone") == phone)):
            return False
        data = {"status": status.value, "previous": previous.value, "code": code.value,
                "message": MESSAGES[code], "detail": detail, "phone": phone or doc.get("phone")}
        if phone and doc.get("phone") and phone != doc["phone"]:
            data["previous_phone"] = doc["phone"]  # re-linked to another number: same device
        if status == DeviceStatus.connected and previous == DeviceStatus.non_operative:
            data["recovered"] = True
        event = new_event(bus, clock, EventName.device_status, doc["account_id"], device_id,
                          data)
        if _write(store, bus, clock, doc, status, code, phone, detail, guard, event):
            return True
        if guard is not None and not _fence_holds(store, guard):
            return False
    return False


def _write(store, bus, clock, doc, status, code, phone, detail, guard, event) -> bool:
    """The device's new state and its device:status event, one commit (the event log)."""
    now = clock.now()
    changes: dict = {"status": status.value, "status_code": code.value, "updated_at": now,
                     "status_detail": detail}
    if phone is not None:
        changes["phone"] = phone
        if phone != doc.get("phone"):
            changes["linked_at"] = now  # a number newly linked: its warm-up starts today
    if status == DeviceStatus.disconnected and doc.get("disconnected_since") is None:
        changes["disconnected_since"] = now
    elif status not in (DeviceStatus.disconnected, DeviceStatus.non_operative):
        changes["disconnected_since"] = None
        changes["non_operative_notified_at"] = None
    when = {"status": doc.get("status"), "status_code": doc.get("status_code")}
    same_doc = guard is not None and (guard.collection, guard.doc_id) == (Devices.name, doc["id"])
    if same_doc:
        when |= guard.when
    return event_log.commit(bus, store, [Write.update(Devices.name, doc["id"], changes,
                                                      when=when)],
                            [event], guard=None if same_doc else guard)


def _fence_holds(store: DocumentStore, guard: Guard) -> bool:
    doc = store.get(guard.collection, guard.doc_id) or {}
    return all(doc.get(field) == value for field, value in guard.when.items())


def sweep_non_operative(store: DocumentStore, bus: EventBus, clock: Clock, mailer: Mailer,
                        device_ids: list[str], *, after: float,
                        fence=lambda device_id: None) -> list[str]:
    """Mark devices disconnected for longer than `after` seconds non_operative and email
    their owners once per outage. Returns the devices it marked."""
    marked = []
    limit = clock.now() - timedelta(seconds=after)
    for device_id in device_ids:
        doc = Devices(store).doc(device_id)
        if doc is None or doc.get("status") != DeviceStatus.disconnected.value:
            continue
        if doc.get("status_code") == StatusCode.transport_unavailable.value:
            continue  # the runner cannot run its transport: the operator's fault, not the owner's
        since = doc.get("disconnected_since")
        if since is None or since > limit:
            continue
        if not record_status(store, bus, clock, device_id, DeviceStatus.non_operative,
                             code=StatusCode.non_operative, detail=doc.get("status_code"),
                             guard=fence(device_id)):
            continue
        marked.append(device_id)
        if Devices(store).update(device_id, {"non_operative_notified_at": clock.now()},
                                 when={"non_operative_notified_at": None}):
            _email_owner(store, mailer, doc, after)
    return marked


def _email_owner(store: DocumentStore, mailer: Mailer, device: dict, after: float) -> None:
    name = device.get("alias") or device.get("phone") or device["id"]
    last = device.get("status_code")
    reason = MESSAGES.get(StatusCode(last), "") if last in StatusCode._value2member_map_ else ""
    mail_owner(store, mailer, device["account_id"], f"Your WhatsApp device {name} is not working",
               f"Utio has not been able to reach WhatsApp on device {name} ({device['id']}) "
               f"for more than {round(after / 60)} minutes.\n\nLast state: {last}. {reason}\n\n"
               "Check that the phone is online and WhatsApp is open on it. If the device was "
               "logged out, link it again: GET /v1/devices/" f"{device['id']}/scan.\n\n"
               "You will get one email per outage; Utio keeps reconnecting meanwhile and sends "
               "a device:status event when the device recovers.\n")
