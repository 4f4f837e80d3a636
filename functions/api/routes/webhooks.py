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
    return EventList(data=[EventInfo(name=name.value, description=spec.description,
                                     example=example_body(name))
                           for name, spec in CATALOG.items()])


@api.route("POST", "/v1/webhooks", body=CreateWebhook, response=WebhookCreated, status=201,
           summary="Create a webhook", tag=TAG)
def create_webhook(p: Principal, body: CreateWebhook):
    webhook = registration.create_webhook(p.c, p.account_id, url=body.url, events=body.events,
        devices=body.devices, headers=body.headers, description=body.description,
        enabled=body.enabled)
    return _out(webhook, WebhookCreated)


@api.route("GET", "/v1/webhooks", response=WebhookList, summary="List webhooks", tag=TAG)
def list_webhooks(p: Principal):
    found = registration.list_webhooks(p.c, p.account_id)
    return WebhookList(data=[_out(w) for w in found])


@api.route("GET", "/v1/webhooks/{webhook_id}", response=WebhookOut, summary="Get a webhook",
           tag=TAG, errors=(404,))
def get_webhook(p: Principal, webhook_id: str):
    return _out(registration.get_webhook(p.c, p.account_id, webhook_id))


@api.route("PATCH", "/v1/webhooks/{webhook_id}", body=UpdateWebhook, response=WebhookOut,
           summary="Change a webhook; {\"enabled\": true} re-enables a disabled one", tag=TAG,
           errors=(404,))
def update_webhook(p: Principal, webhook_id: str, body: UpdateWebhook):
    return _out(registration.update_webhook(p.c, p.account_id,
                                        webhook_id, body.changes()))


@api.route("DELETE", "/v1/webhooks/{webhook_id}", status=204, summary="Delete a webhook",
           tag=TAG, errors=(404,))
def delete_webhook(p: Principal, webhook_id: str):
    registration.delete_webhook(p.c, p.account_id, webhook_id)


@api.route("GET", "/v1/webhooks/{webhook_id}/secret", response=WebhookSecret, tag=TAG,
           summary="The webhook's signing secret", errors=(404,))
def get_webhook_secret(p: Principal, webhook_id: str):
    webhook = registration.get_webhook(p.c, p.account_id, webhook_id)
    expires = webhook.previous_secret_expires_at if len(
        webhook.signing_secrets(p.c.clock.now())) > 1 else None
    return WebhookSecret(secret=webhook.secret, previous_secret_expires_at=expires)


@api.route("POST", "/v1/webhooks/{webhook_id}/rotate-secret", response=WebhookSecret, tag=TAG,
           summary="Replace the signing secret; the old one keeps signing beside it for 24 hours",
           errors=(404, 409))
def rotate_webhook_secret(p: Principal, webhook_id: str):
    webhook = registration.rotate_secret(p.c, p.account_id, webhook_id)
    return WebhookSecret(secret=webhook.secret,
                         previous_secret_expires_at=webhook.previous_secret_expires_at)


@api.route("POST", "/v1/webhooks/{webhook_id}/test", response=DeliveryOut, status=202, tag=TAG,
           summary="Send a webhook:test event to this webhook", errors=(404, 409))
def send_webhook_test(p: Principal, webhook_id: str):
    delivery = delivery_log.send_test(p.c, p.account_id, webhook_id)
    return DeliveryOut.model_validate(delivery.model_dump())


@api.route("GET", "/v1/webhooks/{webhook_id}/deliveries", query=DeliveryQuery,
           response=DeliveryList, tag=TAG, errors=(404,),
           summary="The webhook's deliveries, newest first, with every attempt")
def list_webhook_deliveries(p: Principal, webhook_id: str, query: DeliveryQuery):
    page, cursor = delivery_log.list_deliveries(p.c, p.account_id, webhook_id,
                                            limit=query.limit, cursor=query.cursor,
                                            status=query.status)
    return DeliveryList(data=[DeliveryOut.model_validate(d.model_dump()) for d in page],
                        next_cursor=cursor)


@api.route("GET", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}", response=DeliveryOut,
           summary="One delivery and its attempts", tag=TAG, errors=(404,))
def get_webhook_delivery(p: Principal, webhook_id: str, delivery_id: str):
    delivery = delivery_log.get_delivery(p.c, p.account_id, webhook_id, delivery_id)
    return DeliveryOut.model_validate(delivery.model_dump())


@api.route("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
           response=DeliveryOut, status=202, tag=TAG, errors=(404, 409),
           summary="Deliver a finished delivery once more, now")
def retry_webhook_delivery(p: Principal, webhook_id: str, delivery_id: str):
    delivery = delivery_log.retry_delivery(p.c, p.account_id,
                                       webhook_id, delivery_id)
    return DeliveryOut.model_validate(delivery.model_dump())


@api.route("POST", "/v1/webhooks/{webhook_id}/recover", body=RecoverDeliveries,
           response=Recovered, status=202, tag=TAG, errors=(404, 409),
           summary="Retry every delivery that failed since a time (after re-enabling)")
def recover_webhook_deliveries(p: Principal, webhook_id: str, body: RecoverDeliveries):
    retried, more = delivery_log.recover(p.c, p.account_id, webhook_id,
                                     body.since)
    return Recovered(retried=retried, more=more)
