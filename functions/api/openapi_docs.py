"""The prose of the OpenAPI document beside the routes' own descriptions (their handlers'
docstrings): the introduction, a description of each tag, and the `webhooks` section
built from the event catalogue (shared/events.py)."""

from __future__ import annotations

from typing import Any

INTRO = """Send and receive WhatsApp messages over HTTPS. New here? Start with the
[quick start](/docs/guides/quick-start), then the other [guides](/docs/guides): sending
messages, devices, webhooks, numbers, chats and contacts, groups, agents and the web chat,
plans and billing, and how to avoid a ban. The whole reference is also a
[Postman collection](/docs/utio.postman_collection.json).

**Authentication.** Send your API key in `Authorization: Bearer <key>` (or in a `Token`
header). Enter it under *Authentication* on this page and every *Test Request* button
sends real requests with it, to this server.

**Errors.** A failed request answers a 4xx status and a body
`{"error": {"code": "...", "message": "...", "details": ...}}`: `code` is stable, for
programs; `message` says what to fix, for people. 401 means the key is missing or wrong,
404 that the object is not in your account (another account's objects are 404 too), 409
that it is not in a state that allows the call, 422 that the input is invalid (`details`
lists each field), 429 that a monthly quota is used up, 503 that something we depend on is
briefly unavailable (retry with backoff).

**Conventions.** JSON in and out, times in ISO 8601 UTC, phone numbers in E.164
(`+447911123456`); text in UTF-8 (a lone surrogate such as `\\ud800` is a 400). Each query
parameter is given once (a list is comma-separated). Lists answer newest first, a page at a
time: pass `next_cursor` back as `cursor` until it is null. Events come to your webhooks
(see *Webhooks* below), signed per [Standard Webhooks](https://www.standardwebhooks.com)."""

TAGS = {
    "meta": "The API's own state: is it up, and which version answers.",
    "accounts": "Accounts (created by the operator with the admin key) and their API keys.",
    "agents": "The people who answer chats in the web chat, their tokens and which devices "
              "each may use (platform plans).",
    "billing": "Plans and prices, each device's subscription through Stripe, the account's "
               "tax details and invoices.",
    "chats": "A device's conversations, their messages, labels and read state.",
    "contacts": "Everyone a device exchanged messages with, with your own names, metadata "
                "and labels.",
    "devices": "A device is one linked WhatsApp number: create it, link it by QR code or "
               "pairing code, set its delivery speed and profile, watch its usage.",
    "groups": "WhatsApp groups of a device: create them, change subject and participants, "
              "invite links, read-only (announcement) groups.",
    "labels": "Labels that sort chats and contacts, shared by every device of the account.",
    "files": "Files stored for media messages, uploaded once and sent many times.",
    "messages": "Send messages of every type, one a request, queued by priority and paced "
                "per device; follow each one's status.",
    "numbers": "Check phone numbers: their format (free) and whether they have WhatsApp "
               "(counted against the plan).",
    "webhooks": "Where events are delivered, signed, with retries, a delivery log and "
                "recovery.",
    "events": "The log of every event, to read, replay or long-poll instead of (or beside) "
              "webhooks, and as Server-Sent Events.",
    "people": "People signing in to the web app with Identity Platform: its public "
              "settings, sign-up, and who is signed in.",
}

_SIGNATURE_HEADERS = [
    ("webhook-id", "The event's id; the same on every retry of it: use it to drop duplicates."),
    ("webhook-timestamp", "Seconds since 1970 when this attempt was signed; refuse old ones "
     "(Standard Webhooks libraries allow five minutes)."),
    ("webhook-signature", "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the "
     "webhook's secret; two, space-separated, for 24 hours after a secret rotation."),
]


def webhooks(message_schema: dict[str, Any]) -> dict[str, Any]:
    """One entry per event: the POST a receiver gets, its body's schema and an example."""
    from shared.events import CATALOG, DATA_SCHEMAS, DEVICELESS, MESSAGE_EVENTS, example_body

    outbound = MESSAGE_EVENTS
    section: dict[str, Any] = {}
    for name, spec in CATALOG.items():
        data = message_schema if name in outbound else DATA_SCHEMAS[name]
        envelope = {
            "type": "object",
            "required": ["id", "event", "created_at", "device", "data"],
            "properties": {
                "id": {"type": "string", "description": "Also the webhook-id header."},
                "event": {"const": name.value},
                "created_at": {"type": "string", "format": "date-time"},
                "device": ({"type": "null"} if name in DEVICELESS
                           else {"type": "string", "description": "The device's id."}),
                "sequence": {"type": "integer", "description": "Orders a device's events "
                             "(microseconds, increasing, not consecutive)."},
                "data": data,
            },
        }
        section[name.value] = {"post": {
            "summary": name.value,
            "description": spec.description + "\n\nAnswer any 2xx within 10 seconds to "
                           "acknowledge it; anything else, or no answer, is retried with "
                           "backoff for about a day under the same webhook-id.",
            "operationId": "event_" + name.name,
            "tags": ["webhooks"],
            "parameters": [{"name": header, "in": "header", "required": True,
                            "description": text, "schema": {"type": "string"}}
                           for header, text in _SIGNATURE_HEADERS],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": envelope, "example": example_body(name)}}},
            "responses": {"2XX": {"description": "Acknowledged: not sent again."}},
        }}
    return section


# Example answers for the operations whose response model has no example of its own
# (tests/unit/test_openapi_examples.py checks each against its schema).
_AT = "2026-11-24T10:00:00Z"
_DEVICE = "dev_5e6f7a8b9c0d1a2b3c4d"
_WEBHOOK = "wh_9c0d1a2b3c4d5e6f7a8b"
_CHAT = {"id": "+34600100999", "kind": "user", "unread": 1, "labels": ["lbl_0a1b2c3d4e5f6a7b8c9d"],
         "last_message": {"id": "msg_7c8d9e0f1a2b3c4d5e6f", "direction": "inbound", "type": "text",
                          "message": "Is my order on its way?", "at": _AT},
         "last_message_at": _AT, "created_at": "2026-11-20T09:12:00Z", "updated_at": _AT}
_DELIVERY = {"id": "dlv_2c3d4e5f6a7b8c9d0e1f", "webhook_id": _WEBHOOK,
             "event_id": "evt_1f2e3d4c5b6a79881726",
             "event": {"id": "evt_1f2e3d4c5b6a79881726", "event": "webhook:test", "created_at": _AT,
                       "device": None, "data": {"webhook_id": _WEBHOOK, "message": "A test event "
                                                "from Utio. Answer 2xx to acknowledge it."}},
             "status": "succeeded", "reason": None,
             "attempts": [{"at": _AT, "status_code": 204, "error": None, "latency_ms": 84,
                           "response": "", "manual": False}],
             "next_attempt_at": None, "created_at": _AT}
RESPONSE_EXAMPLES: dict[str, Any] = {
    "health": {"status": "ok", "version": "0.1.0"},
    "list_api_keys": {"data": [{"id": "key_3f9a0c1d2e4b5a6c7d8e", "name": "backend",
                                "prefix": "utio_Zm9v", "created_at": _AT}]},
    "list_agents": {"data": [{"id": "agt_1a2b3c4d5e6f7a8b9c0d", "name": "Ana García",
                              "email": "ana@acme.example", "role": "agent", "devices": [_DEVICE],
                              "active": True, "token_prefix": "utio_agt_Zm9v", "created_at": _AT,
                              "updated_at": _AT}],
                    "seats": {"used": 1, "included": 3}},
    "list_invoices": {"has_more": False, "data": [{
        "id": "in_1QxYz2AbCdEfGh", "number": "UTIO-0007", "status": "paid", "currency": "eur",
        "subtotal": 2900, "tax": 551, "total": 3451, "amount_due": 3451, "amount_paid": 3451,
        "created": _AT, "period_start": "2026-10-24T10:00:00Z", "period_end": _AT,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_inv",
        "invoice_pdf": "https://pay.stripe.com/invoice/acct_1/test_inv/pdf",
        "subscription": "sub_1QxYz2AbCdEfGh", "device_id": _DEVICE}]},
    "billing_return": {"status": "ok", "message": "Done. You can close this page; the device's "
                       "subscription updates within a few seconds "
                       "(GET /v1/devices/{id}/subscription)."},
    "list_chats": {"data": [_CHAT], "next_cursor": None},
    "list_chat_messages": {"data": [
        {"id": "msg_7c8d9e0f1a2b3c4d5e6f", "wa_id": "WA_3EB0C767D26A1D8F", "seq": 2,
         "direction": "inbound", "type": "text", "phone": "+34600100999",
         "message": "Is my order on its way?", "at": _AT, "status": None, "content": None},
        {"id": "msg_0a1b2c3d4e5f6a7b8c9d", "wa_id": "3EB0A1B2C3D4E5F6A7B8", "seq": 1,
         "direction": "outbound", "type": "text", "phone": "+34600100999",
         "message": "Your order #1042 has shipped", "at": "2026-11-24T09:58:00Z",
         "status": "read", "content": None}], "next_cursor": None},
    "list_contacts": {"data": [{"phone": "+34600100999", "name": "Ana García",
                                "metadata": {"crm_id": "C-1042"},
                                "labels": ["lbl_0a1b2c3d4e5f6a7b8c9d"],
                                "created_at": "2026-11-20T09:12:00Z", "updated_at": _AT}],
                      "next_cursor": None},
    "device_usage": {"device": _DEVICE, "plan": "messaging-professional",
                     "plan_name": "Professional", "period": "2026-11",
                     "resets_at": "2026-12-01T00:00:00Z",
                     "messages": {"used": 1250, "limit": 10000, "remaining": 8750},
                     "media_limits": {"image": 2097152, "audio": 8388608, "video": 12582912,
                                      "document": 12582912},
                     "delivery_speed": {"configured": 20, "plan_max": 20, "effective": 20},
                     "daily": {"day": "2026-11-24", "used": 18, "limit": 40, "warmup_day": 2,
                               "resets_at": "2026-11-25T00:00:00Z"}},
    "send_webhook_test": _DELIVERY | {"status": "pending", "attempts": [],
                                      "next_attempt_at": _AT},
    "list_webhook_deliveries": {"data": [_DELIVERY], "next_cursor": None},
    "get_webhook_delivery": _DELIVERY,
    "retry_webhook_delivery": _DELIVERY | {"status": "pending", "next_attempt_at": _AT},
    "recover_webhook_deliveries": {"retried": 3, "more": False},
}
