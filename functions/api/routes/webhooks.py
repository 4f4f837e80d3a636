from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas import (
    CreateWebhook,
    DeliveryList,
    WebhookCreated,
    WebhookList,
    WebhookOut,
)
from shared.services import webhooks


@api.route("POST", "/v1/webhooks", body=CreateWebhook, response=WebhookCreated, status=201,
           summary="Create a webhook", tag="webhooks")
def create_webhook(p: Principal, body: CreateWebhook):
    webhook = webhooks.create_webhook(p.c.store, p.c.settings, p.c.clock, p.account_id,
                                      url=body.url, events=body.events, devices=body.devices)
    return WebhookCreated.model_validate(webhook.model_dump())


@api.route("GET", "/v1/webhooks", response=WebhookList, summary="List webhooks", tag="webhooks")
def list_webhooks(p: Principal):
    found = webhooks.list_webhooks(p.c.store, p.account_id)
    return WebhookList.model_validate({"data": [w.model_dump() for w in found]})


@api.route("GET", "/v1/webhooks/{webhook_id}", response=WebhookOut, summary="Get a webhook",
           tag="webhooks", errors=(404,))
def get_webhook(p: Principal, webhook_id: str):
    return WebhookOut.model_validate(
        webhooks.get_webhook(p.c.store, p.account_id, webhook_id).model_dump())


@api.route("DELETE", "/v1/webhooks/{webhook_id}", status=204, summary="Delete a webhook",
           tag="webhooks", errors=(404,))
def delete_webhook(p: Principal, webhook_id: str):
    webhooks.delete_webhook(p.c.store, p.account_id, webhook_id)


@api.route("GET", "/v1/webhooks/{webhook_id}/deliveries", response=DeliveryList,
           summary="A webhook's recent deliveries and their attempts", tag="webhooks",
           errors=(404,))
def list_deliveries(p: Principal, webhook_id: str):
    found = webhooks.list_deliveries(p.c.store, p.account_id, webhook_id)
    return DeliveryList.model_validate({"data": [d.model_dump() for d in found]})
