"""A webhook's health: the first failure after a success is noted, and a webhook that
keeps failing (or answers 410 Gone) is disabled, its owner emailed once."""

from __future__ import annotations

import logging

from shared.deps import Deps
from shared.domain import Attempt, Webhook, WebhookDisabledReason
from shared.services.owner_mail import mail_owner

log = logging.getLogger(__name__)


def track(deps: Deps, webhook: Webhook, *, ok: bool, gone: bool, attempt: Attempt) -> None:
    """Writes to the webhook document only when its state changes (it may take many
    deliveries a second): the first failure after a success, the first success after a
    failure, and disabling."""
    now, webhooks = deps.clock.now(), deps.repos.webhooks
    if ok:
        if webhook.failing_since is not None:
            webhooks.update(webhook.id, {"failing_since": None})
        return
    if gone:
        _disable(deps, webhook, WebhookDisabledReason.gone, attempt)
    elif webhook.failing_since is None:
        webhooks.update(webhook.id, {"failing_since": now}, when={"failing_since": None})
    elif (now - webhook.failing_since).total_seconds() >= deps.settings.webhook_disable_after:
        _disable(deps, webhook, WebhookDisabledReason.failing, attempt)


def _disable(deps: Deps, webhook: Webhook, reason: WebhookDisabledReason,
             attempt: Attempt) -> None:
    now = deps.clock.now()
    flipped = deps.repos.webhooks.update(
        webhook.id, {"enabled": False, "disabled_reason": reason.value, "disabled_at": now,
                     "updated_at": now}, when={"enabled": True})
    if not flipped:
        return  # disabled already, by us or by hand: one email at most
    log.warning("webhook %s disabled (%s)", webhook.id, reason.value)
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
        mail_owner(deps.store, deps.mailer, webhook.account_id,
                   f"Utio: webhook {webhook.id} was disabled", body)
    except Exception:  # a mail outage must not fail the delivery task
        log.exception("could not email the owner of webhook %s", webhook.id)
