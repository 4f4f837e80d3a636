"""Delivering: one signed POST an attempt (Standard Webhooks), recorded once however
often its task runs, then the next attempt scheduled, or the delivery finished."""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from standardwebhooks.webhooks import Webhook as Signer

from shared.clock import Clock
from shared.deps import Deps
from shared.domain import Attempt, Delivery, DeliveryFailure, DeliveryStatus, Webhook
from shared.errors import ValidationFailed
from shared.settings import Settings
from shared.urlguard import Resolver, check_url, resolve_target

from . import health
from .fanout import enqueue_attempt

EXCERPT = 256  # characters of the receiver's answer kept in the log
MAX_LOGGED_ATTEMPTS = 50  # the newest are kept; attempt_count keeps counting
_BODY_ORDER = ("id", "event", "created_at", "device", "sequence", "data")


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


def _finish(deps: Deps, delivery: Delivery, reason: DeliveryFailure) -> DeliveryStatus:
    deps.repos.deliveries.update(
        delivery.id, {"status": DeliveryStatus.failed.value, "reason": reason.value,
                      "next_attempt_at": None},
        when={"status": DeliveryStatus.pending.value, "attempt_count": delivery.attempt_count})
    return DeliveryStatus.failed


def deliver(deps: Deps, delivery_id_: str, attempt_: int | None = None, *,
            resolver: Resolver | None = None) -> DeliveryStatus | None:
    """Attempt number `attempt_` of a delivery (None: whichever is next). Records it,
    schedules the next one on failure, and tracks the webhook's health."""
    delivery = deps.repos.deliveries.get(delivery_id_)
    if delivery is None:
        return None
    return attempt(deps, delivery, attempt_, resolver=resolver)


def attempt(deps: Deps, delivery: Delivery, attempt_: int | None = None, *,
            resolver: Resolver | None = None, timeout: float | None = None
            ) -> DeliveryStatus | None:
    """deliver(), for a delivery already read (fan-out's inline first attempt hands the
    one it just made). `timeout`: the POST's, if shorter than settings.webhook_timeout."""
    deliveries = deps.repos.deliveries
    if delivery.status != DeliveryStatus.pending:
        return delivery.status
    number = delivery.attempt_count
    if attempt_ is not None and attempt_ != number:
        if attempt_ < number:
            # This attempt was recorded by a run that died before queuing the next one.
            enqueue_attempt(deps.tasks, delivery)
        return delivery.status
    webhook = deps.repos.webhooks.get(delivery.webhook_id)
    if webhook is None:
        return _finish(deps, delivery, DeliveryFailure.webhook_deleted)
    if not webhook.enabled:
        return _finish(deps, delivery, DeliveryFailure.webhook_disabled)

    now = deps.clock.now()
    record, answer_headers = _post(deps, webhook, delivery, resolver, timeout)
    status, reason, next_at = _outcome(deps.settings, delivery, record, answer_headers, now)
    ok, gone = status == DeliveryStatus.succeeded, reason == DeliveryFailure.gone
    logged = [a.model_dump() for a in delivery.attempts] + [record.model_dump()]
    changes = {"attempts": logged[-MAX_LOGGED_ATTEMPTS:],
               "attempt_count": number + 1, "status": status.value,
               "reason": reason.value if reason else None, "next_attempt_at": next_at}
    if not deliveries.update(delivery.id, changes,
                             when={"attempt_count": number,
                                   "status": DeliveryStatus.pending.value}):
        latest = deliveries.doc(delivery.id)  # a duplicate task recorded it first
        return DeliveryStatus(latest["status"]) if latest else None
    log_attempt(delivery.id, status.value)
    if status == DeliveryStatus.pending:
        enqueue_attempt(deps.tasks, delivery.model_copy(update={"attempt_count": number + 1,
                                                                "next_attempt_at": next_at}))
    health.track(deps, webhook, ok=ok, gone=gone, attempt=record)
    return status


def log_attempt(delivery_id: str, outcome: str) -> None:
    """One JSON line per attempt made and recorded (by webhook_deliver, or inline by
    webhook_fanout; a task that finds its attempt made writes none). Cloud Logging
    parses it, and the alert on the webhook failure rate (terraform/modules/monitoring)
    counts these lines by outcome: `succeeded`, or `pending` / `failed` for an attempt
    that did not get a 2xx."""
    line = {"severity": "INFO" if outcome == "succeeded" else "WARNING",
            "message": f"webhook delivery {delivery_id}: {outcome}",
            "utio_log": "webhook_attempt", "outcome": outcome, "delivery_id": delivery_id}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _post(deps: Deps, webhook: Webhook, delivery: Delivery, resolver: Resolver | None,
          timeout: float | None = None) -> tuple[Attempt, dict[str, str]]:
    """One signed POST; the attempt as the log keeps it, and the answer's headers."""
    settings, now = deps.settings, deps.clock.now()
    body = json.dumps(_in_order(delivery.event), separators=(",", ":"), ensure_ascii=False)
    started = time.monotonic()
    status_code, error, excerpt, answer_headers = None, None, None, {}
    try:
        address = None  # locally the client resolves the host itself: nothing to guard
        if settings.allow_private_webhooks:
            check_url(webhook.url, allow_private=True)
        else:
            address = resolve_target(webhook.url, allow_private=False, resolver=resolver).address
        headers = webhook.headers | sign(webhook.signing_secrets(now), delivery.event_id,
                                         deps.clock, body)
        answer = deps.http.post(webhook.url, body.encode(), headers,
                                min(timeout or settings.webhook_timeout,
                                    settings.webhook_timeout), address=address)
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
    is retried on the schedule (at least a 429/503's Retry-After later), then at its last
    step, for as long as the webhook stays enabled: a delivery gives up only once it is
    older than `webhook_disable_after`, by which time a webhook that failed all along has
    been disabled (the same attempt disables it). So no event is dropped while its webhook
    is enabled, and every one that failed is there for `recover` (docs/events.md)."""
    code = record.status_code
    if code is not None and 200 <= code < 300:
        return DeliveryStatus.succeeded, None, None
    if code == 410:
        return DeliveryStatus.failed, DeliveryFailure.gone, None
    if delivery.manual:
        return DeliveryStatus.failed, DeliveryFailure.manual_attempt_failed, None
    schedule = settings.webhook_retry_schedule
    scheduled = sum(1 for a in delivery.attempts if not a.manual) + 1
    age = (now - delivery.created_at).total_seconds()
    if scheduled > len(schedule) and age >= settings.webhook_disable_after:
        return DeliveryStatus.failed, DeliveryFailure.retries_exhausted, None
    hint = retry_after_seconds(answer_headers.get("retry-after"), now) \
        if code in (429, 503) else None
    step = min(scheduled, len(schedule)) - 1
    return (DeliveryStatus.pending, None,
            now + timedelta(seconds=retry_delay(settings, step, hint)))


def _in_order(body: dict) -> dict:
    """The body's keys in the documented order (a stored map may come back in any)."""
    ordered = {key: body[key] for key in _BODY_ORDER if key in body}
    return ordered | {key: value for key, value in body.items() if key not in ordered}
