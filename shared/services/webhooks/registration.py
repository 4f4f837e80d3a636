"""Registering webhooks: the URL (no private addresses outside local mode), the events
and devices it takes, custom headers, and its signing secret."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import timedelta

from shared.deps import Deps
from shared.domain import Webhook, WebhookDisabledReason
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import known_pattern
from shared.ids import new_id
from shared.urlguard import Resolver, check_url

from .fanout import plan_catch_up

ROTATION_GRACE = timedelta(hours=24)  # the old secret still signs this long after a rotation

MAX_HEADERS = 10
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 1000
MAX_HEADERS_BYTES = 4096
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field-name
RESERVED_HEADERS = frozenset({
    "host", "content-type", "content-length", "content-encoding", "transfer-encoding",
    "connection", "keep-alive", "te", "trailer", "upgrade", "expect", "user-agent",
    "accept-encoding", "date", "forwarded", "via", "cookie",
})
RESERVED_PREFIXES = ("webhook-", "x-utio-", "proxy-", "sec-", "x-forwarded-", "x-cloudtasks-")
UPDATABLE = ("url", "events", "devices", "enabled", "headers", "description")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if not known_pattern(e)]
    if unknown:
        raise ValidationFailed(f"events: unknown event names {unknown}; GET /v1/webhooks/events "
                               "lists them", details={"field": "events", "unknown": unknown},
                               code="unknown_event")
    return events


def _check_devices(deps: Deps, account_id: str, devices: list[str] | None) -> None:
    for device_id in devices or []:
        doc = deps.repos.devices.doc(device_id)
        if doc is None or doc.get("account_id") != account_id:
            raise ValidationFailed(f"devices: no device {device_id} in this account",
                                   details={"field": "devices"}, code="unknown_device")


def masked(value: str) -> str:
    """How the API shows a custom header's value: never in full, as it is usually a
    credential (the last four characters of a long one, so one can tell which)."""
    return "****" + value[-4:] if len(value) >= 16 else "****"


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: masked(value) for name, value in headers.items()}


def _unmasked(new: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """A PATCH that sends back a header as shown (masked) keeps its stored value."""
    return {name: current[name] if name in current and value == masked(current[name])
            else value for name, value in new.items()}


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Custom headers: few, short, printable, and none that is ours or the transport's."""
    def refuse(message: str, name: str | None = None) -> ValidationFailed:
        return ValidationFailed(f"headers: {message}",
                                details={"field": f"headers.{name}" if name else "headers"},
                                code="invalid_header")

    if len(headers) > MAX_HEADERS:
        raise refuse(f"at most {MAX_HEADERS} custom headers")
    seen: set[str] = set()
    total = 0
    for name, value in headers.items():
        lower = name.lower()
        if not _TOKEN.match(name) or len(name) > MAX_HEADER_NAME:
            raise refuse(f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~, "
                         f"at most {MAX_HEADER_NAME})", name)
        if lower in RESERVED_HEADERS or lower.startswith(RESERVED_PREFIXES):
            raise refuse(f"{name} is set by Utio or the HTTP transport and cannot be custom", name)
        if lower in seen:
            raise refuse(f"{name} is given twice", name)
        seen.add(lower)
        # HTTP sends header values as Latin-1: anything else could never be delivered.
        if len(value) > MAX_HEADER_VALUE or any(ord(ch) < 0x20 and ch != "\t" or ord(ch) == 0x7F
                                                or ord(ch) > 0xFF for ch in value):
            raise refuse(f"the value of {name} must be at most {MAX_HEADER_VALUE} Latin-1 "
                         "characters without control characters", name)
        total += len(name) + len(value.encode())
    if total > MAX_HEADERS_BYTES:
        raise refuse(f"custom headers may hold at most {MAX_HEADERS_BYTES} bytes in all")
    return dict(headers)


def create_webhook(deps: Deps, account_id: str, *, url: str, events: list[str],
                   devices: list[str] | None, headers: dict[str, str] | None = None,
                   description: str | None = None, enabled: bool = True,
                   resolver: Resolver | None = None) -> Webhook:
    check_url(url, allow_private=deps.settings.allow_private_webhooks, resolver=resolver)
    _check_events(events)
    _check_devices(deps, account_id, devices)
    now = deps.clock.now()
    webhook = Webhook(id=new_id("wh"), account_id=account_id, url=url, events=events,
                      devices=devices, enabled=enabled, description=description,
                      headers=check_headers(headers or {}), secret=new_secret(),
                      disabled_reason=None if enabled else WebhookDisabledReason.manual,
                      disabled_at=None if enabled else now, created_at=now, updated_at=now,
                      taking_since=now if enabled else None)
    if enabled:
        plan_catch_up(deps, webhook.id)  # its first events, from fan-outs not aware of it yet
    deps.repos.webhooks.add(webhook)
    deps.caches.webhooks_changed(account_id)
    return webhook


def get_webhook(deps: Deps, account_id: str, webhook_id: str) -> Webhook:
    return deps.repos.webhooks.owned(account_id, webhook_id)


def list_webhooks(deps: Deps, account_id: str) -> list[Webhook]:
    return sorted(deps.repos.webhooks.of_account(account_id), key=lambda w: w.created_at)


def update_webhook(deps: Deps, account_id: str, webhook_id: str, changes: dict, *,
                   resolver: Resolver | None = None) -> Webhook:
    """Apply the fields given (see UPDATABLE); `devices: None` means all devices,
    `headers: None` none. Enabling a webhook clears why it was disabled."""
    current = get_webhook(deps, account_id, webhook_id)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValidationFailed(f"cannot change {sorted(unknown)}", code="validation_error")
    now = deps.clock.now()
    updates: dict = {"updated_at": now}
    if "url" in changes:
        updates["url"] = check_url(changes["url"],
                                   allow_private=deps.settings.allow_private_webhooks,
                                   resolver=resolver)
    if "events" in changes:
        updates["events"] = _check_events(changes["events"])
    if "devices" in changes:
        _check_devices(deps, account_id, changes["devices"])
        updates["devices"] = changes["devices"]
    if "description" in changes:
        updates["description"] = changes["description"]
    if "headers" in changes:
        updates["headers_sealed"] = deps.repos.webhooks.sealed_headers(
            webhook_id, check_headers(_unmasked(changes["headers"] or {}, current.headers)))
    if "enabled" in changes and changes["enabled"] != current.enabled:
        if changes["enabled"]:
            updates |= {"enabled": True, "disabled_reason": None, "disabled_at": None,
                        "failing_since": None, "taking_since": now}
        else:
            updates |= {"enabled": False, "disabled_reason": WebhookDisabledReason.manual.value,
                        "disabled_at": now}
    if _may_take_more(current, changes):
        plan_catch_up(deps, webhook_id)
    if not deps.repos.webhooks.update(webhook_id, updates):
        raise NotFound(f"webhook {webhook_id} not found")
    deps.caches.webhooks_changed(account_id)
    return get_webhook(deps, account_id, webhook_id)


def _may_take_more(current: Webhook, changes: dict) -> bool:
    """Whether the change may give the webhook events it did not take: enabled, or its
    events or devices changed while it stays enabled (fanout.catch_up's cases)."""
    enabled = changes.get("enabled", current.enabled)
    return bool(enabled) and (not current.enabled or "events" in changes or "devices" in changes)


def delete_webhook(deps: Deps, account_id: str, webhook_id: str) -> None:
    webhooks = deps.repos.webhooks
    webhooks.owned_doc(account_id, webhook_id)
    webhooks.delete(webhook_id)
    deps.caches.webhooks_changed(account_id)


def rotate_secret(deps: Deps, account_id: str, webhook_id: str) -> Webhook:
    """A new secret signs from now on; the current one keeps signing beside it for
    ROTATION_GRACE, so receivers can switch without losing a delivery. A rotation within
    the grace period drops the oldest secret."""
    webhooks, now = deps.repos.webhooks, deps.clock.now()
    doc = webhooks.owned_doc(account_id, webhook_id)
    webhook = webhooks.load(doc)
    rotated = webhook.model_copy(update={
        "secret": new_secret(), "previous_secret": webhook.secret,
        "previous_secret_expires_at": now + ROTATION_GRACE, "updated_at": now})
    sealed = webhooks.sealed(rotated)
    changes = {"secret_sealed": sealed["secret_sealed"],
               "previous_secret_sealed": sealed["previous_secret_sealed"],
               "previous_secret_expires_at": rotated.previous_secret_expires_at,
               "updated_at": rotated.updated_at}
    if not webhooks.update(webhook_id, changes, when={"secret_sealed": doc["secret_sealed"]}):
        raise Conflict("the secret was rotated by another request at the same time; "
                       "read it with GET /v1/webhooks/{id}/secret", code="concurrent_rotation")
    return rotated
