"""The local Stripe's API (part of StripeStandIn, infra/local_stripe.py): its routes and
the objects they make and change: products, prices, tax rates, customers and their tax
ids, Checkout sessions, subscriptions, invoices and portal sessions, as Stripe answers
them (its error shape included)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote


class StripeError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 param: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.code, self.param, self.kind = status, code, param, kind


def _bool(value) -> bool:
    return str(value).lower() == "true"


class StripeApi:
    """Part of StripeStandIn: the state (`table`, `new_id`, `now`, `url`) is its."""

    url: str
    table: Callable[[str], dict[str, dict]]
    new_id: Callable[[str], str]
    now: Callable[[], int]

    def _route(self, method: str, path: str, params: dict):
        routes = [
            ("POST", r"/v1/products", self._create_product),
            ("GET", r"/v1/products/([^/]+)", lambda p, i: self._get("product", i)),
            ("POST", r"/v1/products/([^/]+)", lambda p, i: self._update("product", i, p)),
            ("GET", r"/v1/prices", self._list_prices),
            ("POST", r"/v1/prices", self._create_price),
            ("POST", r"/v1/prices/([^/]+)", lambda p, i: self._update("price", i, p)),
            ("GET", r"/v1/tax_rates", self._list_tax_rates),
            ("POST", r"/v1/tax_rates", self._create_tax_rate),
            ("POST", r"/v1/tax_rates/([^/]+)", lambda p, i: self._update("tax_rate", i, p)),
            ("POST", r"/v1/customers", self._create_customer),
            ("GET", r"/v1/customers/([^/]+)", lambda p, i: self._get("customer", i)),
            ("POST", r"/v1/customers/([^/]+)", lambda p, i: self._update("customer", i, p)),
            ("GET", r"/v1/customers/([^/]+)/tax_ids", self._list_tax_ids),
            ("POST", r"/v1/customers/([^/]+)/tax_ids", self._create_tax_id),
            ("DELETE", r"/v1/customers/([^/]+)/tax_ids/([^/]+)", self._delete_tax_id),
            ("POST", r"/v1/checkout/sessions", self._create_session),
            ("POST", r"/v1/checkout/sessions/([^/]+)/expire", self._expire_session),
            ("GET", r"/v1/subscriptions/([^/]+)", lambda p, i: self._get("subscription", i)),
            ("POST", r"/v1/subscriptions/([^/]+)", self._update_subscription),
            ("DELETE", r"/v1/subscriptions/([^/]+)", self._cancel_subscription),
            ("GET", r"/v1/invoices", self._list_invoices),
            ("POST", r"/v1/billing_portal/sessions", self._create_portal),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return handler(params, *match.groups())
        raise StripeError(404, f"Unrecognized request URL ({method}: {path})")

    def _get(self, kind: str, obj_id: str) -> dict:
        obj = self.table(kind).get(obj_id)
        if obj is None:
            raise StripeError(404, f"No such {kind}: '{obj_id}'", "resource_missing", "id")
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _update(self, kind: str, obj_id: str, params: dict) -> dict:
        obj = self.table(kind).get(obj_id)
        if obj is None:
            raise StripeError(404, f"No such {kind}: '{obj_id}'", "resource_missing", "id")
        for field, value in params.items():
            if field == "metadata":
                obj["metadata"] = {**obj.get("metadata", {}), **value}
            elif field == "active":
                obj["active"] = _bool(value)
            elif field != "expand":
                obj[field] = value
        return self._get(kind, obj_id)

    def _list(self, items: list[dict], params: dict, url: str) -> dict:
        limit = int(params.get("limit", 10))
        if params.get("starting_after"):
            ids = [i["id"] for i in items]
            start = ids.index(params["starting_after"]) + 1 if params["starting_after"] in ids else 0
            items = items[start:]
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}

    def _create_product(self, params: dict) -> dict:
        product_id = params.get("id") or self.new_id("prod")
        if product_id in self.table("product"):
            raise StripeError(400, f"Product already exists: {product_id}", "resource_already_exists")
        self.table("product")[product_id] = {"id": product_id, "object": "product", "active": True,
                                             "name": params["name"], "created": self.now(),
                                             "metadata": params.get("metadata", {})}
        return self._get("product", product_id)

    def _price(self, price_id: str) -> dict:
        return self._get("price", price_id)

    def _list_prices(self, params: dict) -> dict:
        keys = params.get("lookup_keys", [])
        found = [p for p in self.table("price").values()
                 if (not keys or p.get("lookup_key") in keys)
                 and ("active" not in params or p["active"] == _bool(params["active"]))]
        return self._list(found, params, "/v1/prices")

    def _create_price(self, params: dict) -> dict:
        key = params.get("lookup_key")
        if key:
            holders = [p for p in self.table("price").values() if p.get("lookup_key") == key]
            if holders and not _bool(params.get("transfer_lookup_key")):
                raise StripeError(400, f"A price ({holders[0]['id']}) already uses that lookup key.",
                                  param="lookup_key")
            for holder in holders:
                holder["lookup_key"] = None
        price = {"id": self.new_id("price"), "object": "price", "active": True,
                 "product": params["product"], "currency": params["currency"],
                 "unit_amount": int(params["unit_amount"]), "lookup_key": key,
                 "tax_behavior": params.get("tax_behavior"), "metadata": params.get("metadata", {}),
                 "recurring": {"interval": params["recurring"]["interval"],
                               "interval_count": int(params["recurring"]["interval_count"])},
                 "type": "recurring", "created": self.now()}
        self.table("price")[price["id"]] = price
        return price

    def _list_tax_rates(self, params: dict) -> dict:
        found = [t for t in self.table("tax_rate").values()
                 if "active" not in params or t["active"] == _bool(params["active"])]
        return self._list(found, params, "/v1/tax_rates")

    def _create_tax_rate(self, params: dict) -> dict:
        rate = {"id": self.new_id("txr"), "object": "tax_rate", "active": True,
                "display_name": params["display_name"], "percentage": float(params["percentage"]),
                "inclusive": _bool(params["inclusive"]), "country": params.get("country"),
                "jurisdiction": params.get("jurisdiction"), "tax_type": params.get("tax_type"),
                "metadata": params.get("metadata", {}), "created": self.now()}
        self.table("tax_rate")[rate["id"]] = rate
        return rate

    def _create_customer(self, params: dict) -> dict:
        customer = {"id": self.new_id("cus"), "object": "customer", "email": params.get("email"),
                    "name": params.get("name"), "metadata": params.get("metadata", {}),
                    "address": None, "tax_exempt": "none", "created": self.now()}
        self.table("customer")[customer["id"]] = customer
        return customer

    def _list_tax_ids(self, params: dict, customer: str) -> dict:
        self._get("customer", customer)
        found = [t for t in self.table("tax_id").values() if t["customer"] == customer]
        return self._list(found, params, f"/v1/customers/{customer}/tax_ids")

    def _create_tax_id(self, params: dict, customer: str) -> dict:
        self._get("customer", customer)
        if params.get("type") != "eu_vat" or not re.fullmatch(r"[A-Z]{2}[0-9A-Z+*]{2,13}",
                                                              params.get("value", "")):
            raise StripeError(400, f"Invalid value for {params.get('type')}.", "tax_id_invalid",
                              "value")
        tax_id = {"id": self.new_id("txi"), "object": "tax_id", "customer": customer,
                  "type": params["type"], "value": params["value"], "created": self.now(),
                  "verification": {"status": "pending"}}
        self.table("tax_id")[tax_id["id"]] = tax_id
        return tax_id

    def _delete_tax_id(self, params: dict, customer: str, tax_id: str) -> dict:
        self.table("tax_id").pop(tax_id, None)
        return {"id": tax_id, "object": "tax_id", "deleted": True}

    def _create_session(self, params: dict) -> dict:
        for item in params.get("line_items", []):
            self._price(item["price"])
        session = {"id": self.new_id("cs_test"), "object": "checkout.session",
                   "mode": params["mode"], "customer": params.get("customer"),
                   "client_reference_id": params.get("client_reference_id"),
                   "metadata": params.get("metadata", {}), "status": "open", "subscription": None,
                   "success_url": params["success_url"], "cancel_url": params["cancel_url"],
                   "created": self.now(),
                   "_line_items": params.get("line_items", []),
                   "_subscription_data": params.get("subscription_data", {})}
        session["url"] = f"{self.url}/c/pay/{session['id']}"
        self.table("checkout.session")[session["id"]] = session
        return self._get("checkout.session", session["id"])

    def _expire_session(self, params: dict, session_id: str) -> dict:
        session = self.table("checkout.session").get(session_id)
        if session is None or session["status"] != "open":
            raise StripeError(400, "Only open sessions can be expired.", "session_expired")
        session["status"] = "expired"
        return self._get("checkout.session", session_id)

    def _update_subscription(self, params: dict, sub_id: str) -> dict:
        sub = self.table("subscription").get(sub_id)
        if sub is None:
            raise StripeError(404, f"No such subscription: '{sub_id}'", "resource_missing", "id")
        items = sub["items"]["data"]
        for change in params.get("items", []):
            if "id" in change:
                item = next(i for i in items if i["id"] == change["id"])
                if _bool(change.get("deleted")):
                    items.remove(item)
                    continue
                if "price" in change:
                    item["price"] = self._price(change["price"])
                if "quantity" in change:
                    item["quantity"] = int(change["quantity"])
            else:
                items.append({"id": self.new_id("si"), "object": "subscription_item",
                              "price": self._price(change["price"]),
                              "quantity": int(change.get("quantity", 1)),
                              "current_period_end": items[0]["current_period_end"]})
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = _bool(params["cancel_at_period_end"])
        if "metadata" in params:
            sub["metadata"] = {**sub.get("metadata", {}), **params["metadata"]}
        if "default_tax_rates" in params:
            rates = params["default_tax_rates"] or []
            sub["default_tax_rates"] = [self.table("tax_rate")[t] for t in rates]
        return self._get("subscription", sub_id)

    def _cancel_subscription(self, params: dict, sub_id: str) -> dict:
        sub = self.table("subscription").get(sub_id)
        if sub is None:
            raise StripeError(404, f"No such subscription: '{sub_id}'", "resource_missing", "id")
        sub.update(status="canceled", canceled_at=self.now(), ended_at=self.now())
        return self._get("subscription", sub_id)

    def _list_invoices(self, params: dict) -> dict:
        found = sorted((i for i in self.table("invoice").values()
                        if i["customer"] == params.get("customer")),
                       key=lambda i: i["id"], reverse=True)
        return self._list(found, params, "/v1/invoices")

    def _create_portal(self, params: dict) -> dict:
        self._get("customer", params["customer"])
        return {"id": self.new_id("bps"), "object": "billing_portal.session",
                "customer": params["customer"], "return_url": params["return_url"],
                "url": f"{self.url}/p/session/{params['customer']}?"
                       f"return_url={quote(params['return_url'], safe='')}"}
