"""Webhooks (collection "webhooks", their secrets and custom headers sealed at rest by
shared.secrets_crypto: only this repository opens them) and their deliveries
("deliveries", one per event and webhook, with the log of its attempts)."""

from __future__ import annotations

import json

from shared.domain import Delivery, DeliveryStatus, Webhook, WebhookRoute
from shared.repositories.base import Repository
from shared.secrets_crypto import box


def patterns_taking(event_name: str) -> list[str]:
    """Every event pattern a webhook may list that takes `event_name`: the name, "*", and
    "<prefix>:*" for each of its prefixes ("message:*", "message:out:*")."""
    patterns = [event_name, "*"]
    cut = event_name.find(":")
    while cut != -1:
        patterns.append(event_name[:cut + 1] + "*")
        cut = event_name.find(":", cut + 1)
    return patterns


def _context(webhook_id: str, field: str) -> str:
    return f"webhooks/{webhook_id}/{field}"


class Webhooks(Repository[Webhook]):
    name = "webhooks"
    model = Webhook
    missing = "webhook"

    def sealed(self, webhook: Webhook) -> dict:
        """The sealed fields of a webhook document."""
        sealer = box(self.settings)
        return {
            "secret_sealed": sealer.seal(webhook.secret, context=_context(webhook.id, "secret")),
            "previous_secret_sealed": sealer.seal(
                webhook.previous_secret, context=_context(webhook.id, "previous_secret"))
            if webhook.previous_secret else None,
            "headers_sealed": self.sealed_headers(webhook.id, webhook.headers),
        }

    def sealed_headers(self, webhook_id: str, headers: dict[str, str]) -> str | None:
        if not headers:
            return None
        return box(self.settings).seal(json.dumps(headers),
                                       context=_context(webhook_id, "headers"))

    def dump(self, item: Webhook) -> dict:
        doc = item.model_dump(mode="python", exclude={"secret", "previous_secret", "headers"})
        return doc | self.sealed(item)

    def load(self, doc: dict) -> Webhook:
        opener = box(self.settings)
        webhook_id = doc["id"]
        values = {k: v for k, v in doc.items() if not k.endswith("_sealed")}
        if "secret_sealed" in doc:  # else a document from before sealing, with a plain secret
            values["secret"] = opener.open(doc["secret_sealed"],
                                           context=_context(webhook_id, "secret"))
        if doc.get("previous_secret_sealed"):
            values["previous_secret"] = opener.open(
                doc["previous_secret_sealed"], context=_context(webhook_id, "previous_secret"))
        if doc.get("headers_sealed"):
            values["headers"] = json.loads(opener.open(doc["headers_sealed"],
                                                       context=_context(webhook_id, "headers")))
        return Webhook.model_validate(values)

    def routes_of(self, account_id: str) -> list[WebhookRoute]:
        """What fan-out needs of the account's webhooks, nothing opened."""
        return [WebhookRoute.model_validate(d)
                for d in self.docs([("account_id", "==", account_id)])]

    def routes_for(self, account_id: str, event_name: str) -> list[WebhookRoute]:
        """The account's webhooks that name `event_name` or a pattern that takes it, so
        that an event costs the webhooks that may match it, not all of the account's
        (reads: one per webhook found, one if none). Equality filters only: Firestore's
        single-field indexes serve it."""
        return [WebhookRoute.model_validate(d) for d in self.docs(
            [("account_id", "==", account_id),
             ("events", "array_contains_any", patterns_taking(event_name))])]

    def owned_route(self, account_id: str, webhook_id: str) -> WebhookRoute:
        return WebhookRoute.model_validate(self.owned_doc(account_id, webhook_id))


class Deliveries(Repository[Delivery]):
    name = "deliveries"
    model = Delivery
    missing = "delivery"

    def page(self, webhook_id: str, *, status: DeliveryStatus | None, before: str | None,
             limit: int) -> list[Delivery]:
        """Newest first; `before`: the sort_key of the previous page's last delivery.
        Firestore index: deliveries (webhook_id, [status,] sort_key desc)."""
        where: list = [("webhook_id", "==", webhook_id)]
        if status is not None:
            where.append(("status", "==", status.value))
        if before:
            where.append(("sort_key", "<", before))
        return self.find(where, order_by=[("sort_key", "desc")], limit=limit)

    def failed_since(self, webhook_id: str, since_key: str, limit: int) -> list[Delivery]:
        """Oldest first: the failed deliveries whose sort_key is at least `since_key`."""
        return self.find([("webhook_id", "==", webhook_id),
                          ("status", "==", DeliveryStatus.failed.value),
                          ("sort_key", ">=", since_key)],
                         order_by=[("sort_key", "asc")], limit=limit)
