from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas_webhooks import (
    CreateWebhook,
    DeliveryList,
    DeliveryOut,
    DeliveryQuery,
    EventInfo,
    EventList,
    RecoverDeliveries,
    Recovered,
    UpdateWebhook,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookSecret,
)
from shared.events import CATALOG, example_body
from shared.services.webhooks import delivery_log, registration

TAG = "webhooks"


def _out(webhook, model=WebhookOut):
    """Custom headers are write-only: shown masked (see registration.masked)."""
    return model.model_validate(webhook.model_dump() | {
        "headers": registration.mask_headers(webhook.headers)})


@api.route("GET", "/v1/webhooks/events", response=EventList, auth=None, tag=TAG,
           summary="Every event a webhook can receive, with a description and an example body")
def list_webhook_events(p: Principal):
    """Every event a webhook can receive, with what it means and an example body. No API key
    needed. The same catalogue, with each event's schema, is in this document's `webhooks`
    section."""
    return EventList(data=[EventInfo(name=name.value, description=spec.description,
                                     example=example_body(name))
                           for name, spec in CATALOG.items()])


@api.route("POST", "/v1/webhooks", body=CreateWebhook, response=WebhookCreated, status=201,
           summary="Create a webhook", tag=TAG)
def create_webhook(p: Principal, body: CreateWebhook):
    """Registers a URL that receives events as signed JSON POSTs. The answer holds the
    webhook's `secret` (`whsec_…`): verify every delivery with it (Standard Webhooks:
    `webhook-id`, `webhook-timestamp` and `webhook-signature` headers). Choose `events`
    (names, `message:*`, or `*`) and `devices` (null for all). A receiver that does not answer
    2xx gets each event again with exponential backoff for about a day. Outside the local
    stack the URL must be https on a public address.

    Errors: 422 for a bad URL (private or unresolvable hosts are refused), unknown event
    names, a device not in this account, or bad custom headers."""
    webhook = registration.create_webhook(p.c, p.account_id, url=body.url, events=body.events,
        devices=body.devices, headers=body.headers, description=body.description,
        enabled=body.enabled)
    return _out(webhook, WebhookCreated)


@api.route("GET", "/v1/webhooks", response=WebhookList, summary="List webhooks", tag=TAG)
def list_webhooks(p: Principal):
    """The account's webhooks, with their events, devices, whether each is enabled and, for a
    disabled one, why (`manual`, `failing`, `gone`).

    Errors: 401 without a valid API key."""
    found = registration.list_webhooks(p.c, p.account_id)
    return WebhookList(data=[_out(w) for w in found])


@api.route("GET", "/v1/webhooks/{webhook_id}", response=WebhookOut, summary="Get a webhook",
           tag=TAG, errors=(404,))
def get_webhook(p: Principal, webhook_id: str):
    """One webhook, with `failing_since` when its deliveries have been failing.

    Errors: 404 when the webhook is not in this account."""
    return _out(registration.get_webhook(p.c, p.account_id, webhook_id))


@api.route("PATCH", "/v1/webhooks/{webhook_id}", body=UpdateWebhook, response=WebhookOut,
           summary="Change a webhook; {\"enabled\": true} re-enables a disabled one", tag=TAG,
           errors=(404,))
def update_webhook(p: Principal, webhook_id: str, body: UpdateWebhook):
    """Changes only the fields given: `url`, `events`, `devices`, `headers`, `description`,
    and `enabled` (false pauses deliveries; true re-enables a webhook that was disabled for
    failing a day or for a 410 answer). Then `POST .../recover` sends what it missed.

    Errors: 404 when the webhook is not in this account; 422 for a bad URL, unknown events
    or no field at all."""
    return _out(registration.update_webhook(p.c, p.account_id,
                                        webhook_id, body.changes()))


@api.route("DELETE", "/v1/webhooks/{webhook_id}", status=204, summary="Delete a webhook",
           tag=TAG, errors=(404,))
def delete_webhook(p: Principal, webhook_id: str):
    """Deletes the webhook; its pending retries stop and no further events are sent to its
    URL. To pause it instead, `PATCH` it with `enabled: false`.

    Errors: 404 when the webhook is not in this account."""
    registration.delete_webhook(p.c, p.account_id, webhook_id)


@api.route("GET", "/v1/webhooks/{webhook_id}/secret", response=WebhookSecret, tag=TAG,
           summary="The webhook's signing secret", errors=(404,))
def get_webhook_secret(p: Principal, webhook_id: str):
    """The current signing secret, and after a rotation until when the previous one still
    signs beside it.

    Errors: 404 when the webhook is not in this account."""
    webhook = registration.get_webhook(p.c, p.account_id, webhook_id)
    expires = webhook.previous_secret_expires_at if len(
        webhook.signing_secrets(p.c.clock.now())) > 1 else None
    return WebhookSecret(secret=webhook.secret, previous_secret_expires_at=expires)


@api.route("POST", "/v1/webhooks/{webhook_id}/rotate-secret", response=WebhookSecret, tag=TAG,
           summary="Replace the signing secret; the old one keeps signing beside it for 24 hours",
           errors=(404, 409))
def rotate_webhook_secret(p: Principal, webhook_id: str):
    """Makes a new signing secret. For 24 hours each delivery carries two signatures (new and
    old), so you can deploy the new secret to your receiver without losing an event.

    Errors: 404 when the webhook is not in this account; 409 when another rotation happened
    at the same moment (retry)."""
    webhook = registration.rotate_secret(p.c, p.account_id, webhook_id)
    return WebhookSecret(secret=webhook.secret,
                         previous_secret_expires_at=webhook.previous_secret_expires_at)


@api.route("POST", "/v1/webhooks/{webhook_id}/test", response=DeliveryOut, status=202, tag=TAG,
           summary="Send a webhook:test event to this webhook", errors=(404, 409))
def send_webhook_test(p: Principal, webhook_id: str):
    """Sends a `webhook:test` event to this webhook only, whatever its event filter, and answers
    with the delivery (202): read its outcome in the delivery log a moment later. Use it to
    check the URL and your signature verification.

    Errors: 404 when the webhook is not in this account; 409 when the webhook is disabled."""
    delivery = delivery_log.send_test(p.c, p.account_id, webhook_id)
    return DeliveryOut.model_validate(delivery.model_dump())


@api.route("GET", "/v1/webhooks/{webhook_id}/deliveries", query=DeliveryQuery,
           response=DeliveryList, tag=TAG, errors=(404,),
           summary="The webhook's deliveries, newest first, with every attempt")
def list_webhook_deliveries(p: Principal, webhook_id: str, query: DeliveryQuery):
    """The webhook's delivery log, newest first: each event sent, its status (`pending`,
    `succeeded`, `failed`), and every attempt with the receiver's status code, latency and
    the start of its answer. Filter by `status` or `event`; page with `cursor`.

    Errors: 404 when the webhook is not in this account; 422 for a bad filter or cursor."""
    page, cursor = delivery_log.list_deliveries(p.c, p.account_id, webhook_id,
                                                limit=query.limit, after=query.cursor,
                                                status=query.status)
    return DeliveryList(data=[DeliveryOut.model_validate(d.model_dump()) for d in page],
                        next_cursor=cursor)


@api.route("GET", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}", response=DeliveryOut,
           summary="One delivery and its attempts", tag=TAG, errors=(404,))
def get_webhook_delivery(p: Principal, webhook_id: str, delivery_id: str):
    """One delivery and all its attempts (the newest 50 are kept), with the event body the
    receiver got and when the next attempt is due.

    Errors: 404 when the webhook or the delivery is not found."""
    delivery = delivery_log.get_delivery(p.c, p.account_id, webhook_id, delivery_id)
    return DeliveryOut.model_validate(delivery.model_dump())


@api.route("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
           response=DeliveryOut, status=202, tag=TAG, errors=(404, 409),
           summary="Deliver a finished delivery once more, now")
def retry_webhook_delivery(p: Principal, webhook_id: str, delivery_id: str):
    """Sends a finished delivery (succeeded or failed) once more, now, as a new attempt with
    the same `webhook-id`, for example after fixing a bug in the receiver.

    Errors: 404 when the webhook or the delivery is not found; 409 when the webhook is
    disabled or the delivery is still being delivered."""
    delivery = delivery_log.retry_delivery(p.c, p.account_id,
                                       webhook_id, delivery_id)
    return DeliveryOut.model_validate(delivery.model_dump())


@api.route("POST", "/v1/webhooks/{webhook_id}/recover", body=RecoverDeliveries,
           response=Recovered, status=202, tag=TAG, errors=(404, 409),
           summary="Retry every delivery that failed since a time (after re-enabling)")
def recover_webhook_deliveries(p: Principal, webhook_id: str, body: RecoverDeliveries):
    """Retries every delivery that failed since `since` (a time), for example after the
    receiver was down or the webhook was disabled and re-enabled. Up to a batch at a time:
    call again while `more` is true.

    Errors: 404 when the webhook is not in this account; 409 when the webhook is disabled
    (enable it first); 422 for a bad time."""
    retried, more = delivery_log.recover(p.c, p.account_id, webhook_id,
                                     body.since)
    return Recovered(retried=retried, more=more)
