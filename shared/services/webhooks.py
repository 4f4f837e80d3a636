"""Webhooks: registration, fan-out of events to deliveries, and signed delivery with
retries that survive any restart.

- Fan-out makes one delivery per matching webhook; the delivery's id derives from
  (event, webhook), so a repeated Pub/Sub push finds the delivery it made before and
  creates nothing new. Each attempt is a named Cloud Task, so a repeated enqueue of
  the same attempt is dropped by the queue.
- Delivery is at least once: an attempt is recorded (conditionally on the attempt
  count, so a duplicate task cannot record it twice) and the next attempt enqueued
  before the task answers 2xx. A process that dies anywhere in between leaves the task
  unanswered; Cloud Tasks runs it again, and it either repeats the POST (same
  webhook-id: the receiver de-duplicates) or, if the attempt was recorded, only makes
  sure the next one is queued.
- Secrets and custom header values are sealed at rest (shared.secrets_crypto); only
  this module's repository functions open them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from standardwebhooks.webhooks import Webhook as Signer

from shared import names
from shared.clock import Clock
from shared.domain import (
    Attempt,
    Delivery,
    DeliveryFailure,
    DeliveryStatus,
    Event,
    Webhook,
    WebhookDisabledReason,
    WebhookRoute,
)
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import EventName, known_pattern
from shared.ids import new_id
from shared.ports import DocumentStore, HttpClient, Mailer, TaskQueue
from shared.secrets_crypto import box
from shared.settings import Settings
from shared.urlguard import Resolver, check_url, resolve_target

log = logging.getLogger(__name__)

ROTATION_GRACE = timedelta(hours=24)  # the old secret still signs this long after a rotation
DELIVERY_RETENTION = timedelta(days=30)  # Firestore TTL on deliveries.expire_at
EXCERPT = 256  # characters of the receiver's answer kept in the log
STUCK = timedelta(minutes=5)  # a pending delivery this late has lost its task
RECOVER_BATCH = 500
MAX_LOGGED_ATTEMPTS = 50  # the newest are kept; attempt_count keeps counting

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


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# --- the repository: secrets sealed at rest ------------------------------------------


def _context(webhook_id: str, field: str) -> str:
    return f"webhooks/{webhook_id}/{field}"


def _sealed(settings: Settings, webhook: Webhook) -> dict:
    """The sealed fields of a webhook document."""
    sealer = box(settings)
    return {
        "secret_sealed": sealer.seal(webhook.secret, context=_context(webhook.id, "secret")),
        "previous_secret_sealed": sealer.seal(
            webhook.previous_secret, context=_context(webhook.id, "previous_secret"))
        if webhook.previous_secret else None,
        "headers_sealed": sealer.seal(json.dumps(webhook.headers),
                                      context=_context(webhook.id, "headers"))
        if webhook.headers else None,
    }


def _to_doc(settings: Settings, webhook: Webhook) -> dict:
    doc = webhook.model_dump(mode="python", exclude={"secret", "previous_secret", "headers"})
    return doc | _sealed(settings, webhook)


def _from_doc(settings: Settings, doc: dict) -> Webhook:
    opener = box(settings)
    webhook_id = doc["id"]
    values = {k: v for k, v in doc.items() if not k.endswith("_sealed")}
    if "secret_sealed" in doc:  # else a document from before sealing, with a plain secret
        values["secret"] = opener.open(doc["secret_sealed"],
                                       context=_context(webhook_id, "secret"))
    if doc.get("previous_secret_sealed"):
        values["previous_secret"] = opener.open(doc["previous_secret_sealed"],
                                                context=_context(webhook_id, "previous_secret"))
    if doc.get("headers_sealed"):
        values["headers"] = json.loads(opener.open(doc["headers_sealed"],
                                                   context=_context(webhook_id, "headers")))
    return Webhook.model_validate(values)


def _own_doc(store: DocumentStore, account_id: str, webhook_id: str) -> dict:
    doc = store.get("webhooks", webhook_id)
    if doc is None or doc.get("account_id") != account_id:
        raise NotFound(f"webhook {webhook_id} not found")
    return doc


# --- registration ---------------------------------------------------------------------


def _check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if not known_pattern(e)]
    if unknown:
        raise ValidationFailed(f"events: unknown event names {unknown}; GET /v1/webhooks/events "
                               "lists them", details={"field": "events", "unknown": unknown},
                               code="unknown_event")
    return events


def _check_devices(store: DocumentStore, account_id: str, devices: list[str] | None) -> None:
    for device_id in devices or []:
        doc = store.get("devices", device_id)
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
        if len(value) > MAX_HEADER_VALUE or any(ord(ch) < 0x20 and ch != "\t" or ord(ch) == 0x7F
                                                for ch in value):
            raise refuse(f"the value of {name} must be at most {MAX_HEADER_VALUE} characters "
                         "without control characters", name)
        total += len(name) + len(value.encode())
    if total > MAX_HEADERS_BYTES:
        raise refuse(f"custom headers may hold at most {MAX_HEADERS_BYTES} bytes in all")
    return dict(headers)


def create_webhook(store: DocumentStore, settings: Settings, clock: Clock, account_id: str, *,
                   url: str, events: list[str], devices: list[str] | None,
                   headers: dict[str, str] | None = None, description: str | None = None,
                   enabled: bool = True, resolver: Resolver | None = None) -> Webhook:
    check_url(url, allow_private=settings.allow_private_webhooks, resolver=resolver)
    _check_events(events)
    _check_devices(store, account_id, devices)
    now = clock.now()
    webhook = Webhook(id=new_id("wh"), account_id=account_id, url=url, events=events,
                      devices=devices, enabled=enabled, description=description,
                      headers=check_headers(headers or {}), secret=new_secret(),
                      disabled_reason=None if enabled else WebhookDisabledReason.manual,
                      disabled_at=None if enabled else now, created_at=now, updated_at=now)
    store.put("webhooks", webhook.id, _to_doc(settings, webhook))
    return webhook


def get_webhook(store: DocumentStore, settings: Settings, account_id: str,
                webhook_id: str) -> Webhook:
    return _from_doc(settings, _own_doc(store, account_id, webhook_id))


def list_webhooks(store: DocumentStore, settings: Settings, account_id: str) -> list[Webhook]:
    docs = store.query("webhooks", [("account_id", "==", account_id)])
    return sorted((_from_doc(settings, d) for d in docs), key=lambda w: w.created_at)


UPDATABLE = ("url", "events", "devices", "enabled", "headers", "description")


def update_webhook(store: DocumentStore, settings: Settings, clock: Clock, account_id: str,
                   webhook_id: str, changes: dict, *, resolver: Resolver | None = None) -> Webhook:
    """Apply the fields given (see UPDATABLE); `devices: None` means all devices,
    `headers: None` none. Enabling a webhook clears why it was disabled."""
    current = get_webhook(store, settings, account_id, webhook_id)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValidationFailed(f"cannot change {sorted(unknown)}", code="validation_error")
    now = clock.now()
    updates: dict = {"updated_at": now}
    if "url" in changes:
        updates["url"] = check_url(changes["url"], allow_private=settings.allow_private_webhooks,
                                   resolver=resolver)
    if "events" in changes:
        updates["events"] = _check_events(changes["events"])
    if "devices" in changes:
        _check_devices(store, account_id, changes["devices"])
        updates["devices"] = changes["devices"]
    if "description" in changes:
        updates["description"] = changes["description"]
    if "headers" in changes:
        headers = check_headers(_unmasked(changes["headers"] or {}, current.headers))
        updates["headers_sealed"] = box(settings).seal(
            json.dumps(headers), context=_context(webhook_id, "headers")) if headers else None
    if "enabled" in changes and changes["enabled"] != current.enabled:
        if changes["enabled"]:
            updates |= {"enabled": True, "disabled_reason": None, "disabled_at": None,
                        "failing_since": None}
        else:
            updates |= {"enabled": False, "disabled_reason": WebhookDisabledReason.manual.value,
                        "disabled_at": now}
    if not store.update("webhooks", webhook_id, updates):
        raise NotFound(f"webhook {webhook_id} not found")
    return get_webhook(store, settings, account_id, webhook_id)


def delete_webhook(store: DocumentStore, account_id: str, webhook_id: str) -> None:
    _own_doc(store, account_id, webhook_id)
    store.delete("webhooks", webhook_id)


def rotate_secret(store: DocumentStore, settings: Settings, clock: Clock, account_id: str,
                  webhook_id: str) -> Webhook:
    """A new secret signs from now on; the current one keeps signing beside it for
    ROTATION_GRACE, so receivers can switch without losing a delivery. A rotation within
    the grace period drops the oldest secret."""
    doc = _own_doc(store, account_id, webhook_id)
    webhook = _from_doc(settings, doc)
    rotated = webhook.model_copy(update={
        "secret": new_secret(), "previous_secret": webhook.secret,
        "previous_secret_expires_at": clock.now() + ROTATION_GRACE, "updated_at": clock.now()})
    sealed = _sealed(settings, rotated)
    changes = {"secret_sealed": sealed["secret_sealed"],
               "previous_secret_sealed": sealed["previous_secret_sealed"],
               "previous_secret_expires_at": rotated.previous_secret_expires_at,
               "updated_at": rotated.updated_at}
    if not store.update("webhooks", webhook_id, changes,
                        when={"secret_sealed": doc["secret_sealed"]}):
        raise Conflict("the secret was rotated by another request at the same time; "
                       "read it with GET /v1/webhooks/{id}/secret", code="concurrent_rotation")
    return rotated


# --- fan-out ----------------------------------------------------------------------------


def delivery_id(event_id: str, webhook_id: str) -> str:
    return "dlv_" + hashlib.sha256(f"{event_id}:{webhook_id}".encode()).hexdigest()[:24]


def _sort_key(at: datetime, delivery_id_: str) -> str:
    return f"{at.strftime('%Y%m%dT%H%M%S.%f')}~{delivery_id_}"


def fanout(store: DocumentStore, tasks: TaskQueue, clock: Clock, event: Event) -> list[str]:
    """One delivery (and one task) per matching webhook; repeatable without duplicates.
    An exception leaves the Pub/Sub message unacknowledged: it is pushed again, and
    after the subscription's attempts it goes to the dead-letter topic."""
    made = []
    docs = store.query("webhooks", [("account_id", "==", event.account)])
    body = event.body()
    for route in (WebhookRoute.model_validate(d) for d in docs):
        if route.matches(event):
            made.append(enqueue_delivery(store, tasks, clock, route, event, body))
    return made


def enqueue_delivery(store: DocumentStore, tasks: TaskQueue, clock: Clock,
                     webhook: WebhookRoute, event: Event, body: dict | None = None) -> str:
    now = clock.now()
    dlv_id = delivery_id(event.id, webhook.id)
    delivery = Delivery(id=dlv_id, webhook_id=webhook.id, account_id=webhook.account_id,
                        event_id=event.id, event=body or event.body(), created_at=now,
                        next_attempt_at=now, sort_key=_sort_key(now, dlv_id),
                        expire_at=now + DELIVERY_RETENTION)
    if not store.create("deliveries", dlv_id, delivery.to_doc()):
        existing = store.get("deliveries", dlv_id)
        if existing is None or existing["status"] != DeliveryStatus.pending.value:
            return dlv_id
        # Made before by a fan-out that may have died before enqueuing: enqueue again.
        # The task's name repeats, so the queue drops it if it exists.
        delivery = Delivery.model_validate(existing)
    _enqueue_attempt(tasks, delivery)
    return dlv_id


def _task_name(delivery: Delivery) -> str:
    if delivery.manual:
        return f"{delivery.id}-{delivery.attempt_count}-m{delivery.manual_retries}"
    return f"{delivery.id}-{delivery.attempt_count}"


def _enqueue_attempt(tasks: TaskQueue, delivery: Delivery) -> None:
    """The task for the delivery's next attempt; named, so enqueuing it again is harmless."""
    later = delivery.attempt_count > 0 and not delivery.manual
    tasks.enqueue(names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER,
                  {"delivery_id": delivery.id, "attempt": delivery.attempt_count},
                  name=_task_name(delivery),
                  schedule_at=delivery.next_attempt_at if later else None)


# --- delivery ---------------------------------------------------------------------------


def sign(secret: str | list[str], msg_id: str, clock: Clock, body: str) -> dict[str, str]:
    """Standard Webhooks headers; with several secrets (a rotation), one signature each,
    space-separated, so a receiver that knows either secret verifies."""
    now = clock.now()
    keys = [secret] if isinstance(secret, str) else secret
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Signer(k).sign(msg_id, now, body) for k in keys),
        "content-type": "application/json",
        "user-agent": "Utio-Webhooks/1",
    }


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError, IndexError):
        return None


def retry_delay(settings: Settings, index: int, retry_after: float | None = None) -> float:
    """The wait before retry number `index` (0-based): the schedule's step, scaled by a
    random factor of 1 ± jitter so that deliveries that failed together spread out; at
    least what a 429/503 Retry-After asked for, capped at the schedule's longest step."""
    schedule = settings.webhook_retry_schedule
    jitter = settings.webhook_retry_jitter
    delay = schedule[index] * random.uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


def _finish(store: DocumentStore, delivery: Delivery, reason: DeliveryFailure) -> DeliveryStatus:
    store.update("deliveries", delivery.id, {"status": DeliveryStatus.failed.value,
                                             "reason": reason.value, "next_attempt_at": None},
                 when={"status": DeliveryStatus.pending.value,
                       "attempt_count": delivery.attempt_count})
    return DeliveryStatus.failed


def deliver(store: DocumentStore, tasks: TaskQueue, clock: Clock, settings: Settings,
            http: HttpClient, delivery_id_: str, attempt: int | None = None, *,
            mailer: Mailer | None = None, resolver: Resolver | None = None
            ) -> DeliveryStatus | None:
    """Attempt number `attempt` of a delivery (None: whichever is next). Records it,
    schedules the next one on failure, and tracks the webhook's health."""
    doc = store.get("deliveries", delivery_id_)
    if doc is None:
        return None
    delivery = Delivery.model_validate(doc)
    if delivery.status != DeliveryStatus.pending:
        return delivery.status
    number = delivery.attempt_count
    if attempt is not None and attempt != number:
        if attempt < number:
            # This attempt was recorded by a run that died before queuing the next one.
            _enqueue_attempt(tasks, delivery)
        return delivery.status
    webhook_doc = store.get("webhooks", delivery.webhook_id)
    if webhook_doc is None:
        return _finish(store, delivery, DeliveryFailure.webhook_deleted)
    webhook = _from_doc(settings, webhook_doc)
    if not webhook.enabled:
        return _finish(store, delivery, DeliveryFailure.webhook_disabled)

    now = clock.now()
    record, answer_headers = _post(http, clock, settings, webhook, delivery, resolver)
    status, reason, next_at = _outcome(settings, delivery, record, answer_headers, now)
    ok, gone = status == DeliveryStatus.succeeded, reason == DeliveryFailure.gone
    logged = [a.model_dump() for a in delivery.attempts] + [record.model_dump()]
    changes = {"attempts": logged[-MAX_LOGGED_ATTEMPTS:],
               "attempt_count": number + 1, "status": status.value,
               "reason": reason.value if reason else None, "next_attempt_at": next_at}
    if not store.update("deliveries", delivery.id, changes,
                        when={"attempt_count": number, "status": DeliveryStatus.pending.value}):
        latest = store.get("deliveries", delivery.id)  # a duplicate task recorded it first
        return DeliveryStatus(latest["status"]) if latest else None
    if status == DeliveryStatus.pending:
        _enqueue_attempt(tasks, delivery.model_copy(update={"attempt_count": number + 1,
                                                            "next_attempt_at": next_at}))
    _track_health(store, clock, settings, mailer, webhook, ok=ok, gone=gone, attempt=record)
    return status


def _post(http: HttpClient, clock: Clock, settings: Settings, webhook: Webhook,
          delivery: Delivery, resolver: Resolver | None) -> tuple[Attempt, dict[str, str]]:
    """One signed POST; the attempt as the log keeps it, and the answer's headers."""
    now = clock.now()
    body = json.dumps(_in_order(delivery.event), separators=(",", ":"), ensure_ascii=False)
    started = time.monotonic()
    status_code, error, excerpt, answer_headers = None, None, None, {}
    try:
        address = None  # locally the client resolves the host itself: nothing to guard
        if settings.allow_private_webhooks:
            check_url(webhook.url, allow_private=True)
        else:
            address = resolve_target(webhook.url, allow_private=False, resolver=resolver).address
        headers = webhook.headers | sign(webhook.signing_secrets(now), delivery.event_id, clock,
                                         body)
        answer = http.post(webhook.url, body.encode(), headers, settings.webhook_timeout,
                           address=address)
        status_code, excerpt, answer_headers = answer.status, answer.body, answer.headers
    except ValidationFailed as exc:  # the URL now resolves somewhere it must not go
        error = exc.message
    except (OSError, ValueError) as exc:  # network, TLS, timeout; a URL the client refuses
        error = (str(exc) or type(exc).__name__)[:300]
    record = Attempt(at=now, status_code=status_code, error=error,
                     latency_ms=int((time.monotonic() - started) * 1000),
                     response=(excerpt or "")[:EXCERPT] or None, manual=delivery.manual)
    return record, answer_headers


def _outcome(settings: Settings, delivery: Delivery, record: Attempt,
             answer_headers: dict[str, str], now: datetime
             ) -> tuple[DeliveryStatus, DeliveryFailure | None, datetime | None]:
    """2xx succeeds; 410 fails for good; a manual attempt is not retried; anything else
    is retried on the schedule (at least a 429/503's Retry-After later) until it ends."""
    code = record.status_code
    if code is not None and 200 <= code < 300:
        return DeliveryStatus.succeeded, None, None
    if code == 410:
        return DeliveryStatus.failed, DeliveryFailure.gone, None
    if delivery.manual:
        return DeliveryStatus.failed, DeliveryFailure.manual_attempt_failed, None
    scheduled = sum(1 for a in delivery.attempts if not a.manual) + 1
    if scheduled > len(settings.webhook_retry_schedule):
        return DeliveryStatus.failed, DeliveryFailure.retries_exhausted, None
    hint = retry_after_seconds(answer_headers.get("retry-after"), now) \
        if code in (429, 503) else None
    return (DeliveryStatus.pending, None,
            now + timedelta(seconds=retry_delay(settings, scheduled - 1, hint)))


def _track_health(store: DocumentStore, clock: Clock, settings: Settings,
                  mailer: Mailer | None, webhook: Webhook, *, ok: bool, gone: bool,
                  attempt: Attempt) -> None:
    """Writes to the webhook document only when its state changes (it may take many
    deliveries a second): the first failure after a success, the first success after a
    failure, and disabling."""
    now = clock.now()
    if ok:
        if webhook.failing_since is not None:
            store.update("webhooks", webhook.id, {"failing_since": None})
        return
    if gone:
        _disable(store, clock, mailer, webhook, WebhookDisabledReason.gone, attempt)
    elif webhook.failing_since is None:
        store.update("webhooks", webhook.id, {"failing_since": now}, when={"failing_since": None})
    elif (now - webhook.failing_since).total_seconds() >= settings.webhook_disable_after:
        _disable(store, clock, mailer, webhook, WebhookDisabledReason.failing, attempt)


def _disable(store: DocumentStore, clock: Clock, mailer: Mailer | None, webhook: Webhook,
             reason: WebhookDisabledReason, attempt: Attempt) -> None:
    now = clock.now()
    flipped = store.update("webhooks", webhook.id,
                           {"enabled": False, "disabled_reason": reason.value, "disabled_at": now,
                            "updated_at": now}, when={"enabled": True})
    if not flipped:
        return  # disabled already, by us or by hand: one email at most
    log.warning("webhook %s disabled (%s)", webhook.id, reason.value)
    account = store.get("accounts", webhook.account_id) or {}
    if mailer is None or not account.get("email"):
        return
    why = ("answered 410 Gone, which asks us to stop" if reason == WebhookDisabledReason.gone
           else f"has failed every delivery since {webhook.failing_since:%Y-%m-%d %H:%M} UTC")
    last = f"HTTP {attempt.status_code}" if attempt.status_code else (attempt.error or "no answer")
    body = (f"Your webhook {webhook.id} ({webhook.url}) {why}, so Utio has disabled it.\n\n"
            f"Last attempt: {last}.\n\n"
            "Events that happen while it is disabled are not sent to it. Once the receiver "
            "works again, enable it:\n\n"
            f"  PATCH /v1/webhooks/{webhook.id}  {{\"enabled\": true}}\n\n"
            "and send the deliveries that failed again:\n\n"
            f"  POST /v1/webhooks/{webhook.id}/recover  {{\"since\": \"<ISO 8601 time>\"}}\n")
    try:
        mailer.send(account["email"], f"Utio: webhook {webhook.id} was disabled", body)
    except Exception:  # a mail outage must not fail the delivery task
        log.exception("could not email %s about webhook %s", account["email"], webhook.id)


# --- the delivery log, retries by hand, test events ------------------------------------


def _cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> str:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor: not a cursor from this list", code="invalid_cursor",
                               details={"field": "cursor"}) from exc
    if "~dlv_" not in key:
        raise ValidationFailed("cursor: not a cursor from this list", code="invalid_cursor",
                               details={"field": "cursor"})
    return key


def list_deliveries(store: DocumentStore, account_id: str, webhook_id: str, *, limit: int = 20,
                    cursor: str | None = None, status: DeliveryStatus | None = None
                    ) -> tuple[list[Delivery], str | None]:
    """Newest first; returns a page and the cursor of the next one (None at the end).
    Firestore index: deliveries (webhook_id, [status,] sort_key desc)."""
    _own_doc(store, account_id, webhook_id)
    where: list = [("webhook_id", "==", webhook_id)]
    if status is not None:
        where.append(("status", "==", status.value))
    if cursor:
        where.append(("sort_key", "<", _uncursor(cursor)))
    docs = store.query("deliveries", where, order_by=[("sort_key", "desc")], limit=limit + 1)
    page = [Delivery.model_validate(d) for d in docs[:limit]]
    return page, (_cursor(page[-1].sort_key) if len(docs) > limit else None)


def get_delivery(store: DocumentStore, account_id: str, webhook_id: str,
                 delivery_id_: str) -> Delivery:
    _own_doc(store, account_id, webhook_id)
    doc = store.get("deliveries", delivery_id_)
    if doc is None or doc.get("webhook_id") != webhook_id or doc.get("account_id") != account_id:
        raise NotFound(f"delivery {delivery_id_} not found")
    return Delivery.model_validate(doc)


def _require_enabled(doc: dict) -> None:
    if not doc.get("enabled", True):
        raise Conflict(f"webhook {doc['id']} is disabled; enable it with PATCH "
                       "{\"enabled\": true} first", code="webhook_disabled")


def retry_delivery(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                   webhook_id: str, delivery_id_: str) -> Delivery:
    """Deliver a finished delivery (succeeded or failed) once more, now: one attempt,
    marked manual, with no automatic retries after it."""
    _require_enabled(_own_doc(store, account_id, webhook_id))
    delivery = get_delivery(store, account_id, webhook_id, delivery_id_)
    now = clock.now()
    if delivery.status == DeliveryStatus.pending:
        if delivery.next_attempt_at and now - delivery.next_attempt_at > STUCK:
            _enqueue_attempt(tasks, delivery)  # its task was lost: queue it again
            return delivery
        raise Conflict(f"delivery {delivery.id} is still being delivered; its next attempt is "
                       f"at {delivery.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}", code="delivery_pending",
                       details={"next_attempt_at": delivery.next_attempt_at.isoformat()
                                if delivery.next_attempt_at else None})
    changes = {"status": DeliveryStatus.pending.value, "reason": None, "manual": True,
               "manual_retries": delivery.manual_retries + 1, "next_attempt_at": now}
    if not store.update("deliveries", delivery.id, changes,
                        when={"status": delivery.status.value,
                              "manual_retries": delivery.manual_retries}):
        raise Conflict(f"delivery {delivery.id} was retried by another request",
                       code="delivery_pending")
    retried = delivery.model_copy(update={"status": DeliveryStatus.pending, "reason": None,
                                          "manual": True, "next_attempt_at": now,
                                          "manual_retries": delivery.manual_retries + 1})
    _enqueue_attempt(tasks, retried)
    return retried


def recover(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
            webhook_id: str, since: datetime) -> tuple[int, bool]:
    """Retry by hand the failed deliveries made since `since`, oldest first, up to
    RECOVER_BATCH a call; returns how many, and whether more remain (call again)."""
    _require_enabled(_own_doc(store, account_id, webhook_id))
    docs = store.query("deliveries", [("webhook_id", "==", webhook_id),
                                      ("status", "==", DeliveryStatus.failed.value),
                                      ("sort_key", ">=", _sort_key(since.astimezone(UTC), ""))],
                       order_by=[("sort_key", "asc")], limit=RECOVER_BATCH + 1)
    retried = 0
    for doc in docs[:RECOVER_BATCH]:
        try:
            retry_delivery(store, tasks, clock, account_id, webhook_id, doc["id"])
            retried += 1
        except Conflict:
            continue  # retried meanwhile
    return retried, len(docs) > RECOVER_BATCH


def send_test(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
              webhook_id: str) -> Delivery:
    """A webhook:test event to this webhook only, whatever its filters; delivered (and
    retried) like any other."""
    doc = _own_doc(store, account_id, webhook_id)
    _require_enabled(doc)
    event = Event(id=new_id("evt"), event=EventName.webhook_test.value, created_at=clock.now(),
                  account=account_id, device=None,
                  data={"webhook_id": webhook_id,
                        "message": "A test event from Utio. Answer 2xx to acknowledge it."})
    made = enqueue_delivery(store, tasks, clock, WebhookRoute.model_validate(doc), event)
    return Delivery.model_validate(store.get("deliveries", made))


_BODY_ORDER = ("id", "event", "created_at", "device", "sequence", "data")


def _in_order(body: dict) -> dict:
    """The body's keys in the documented order (a stored map may come back in any)."""
    ordered = {key: body[key] for key in _BODY_ORDER if key in body}
    return ordered | {key: value for key, value in body.items() if key not in ordered}
