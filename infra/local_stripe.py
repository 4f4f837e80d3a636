"""The local Stripe: a stand-in for Stripe's API on a loopback port that the real stripe
SDK talks to (`UTIO_STRIPE_API_BASE`). It keeps Stripe-shaped objects (in memory, and in
a JSON file under `make dev`), records every request, honours Idempotency-Key, and
answers errors in Stripe's shape. Its API's routes and objects are
infra/local_stripe_api.py.

`make dev` runs it when no `UTIO_STRIPE_SECRET_KEY` is set, so billing works offline: a
Checkout session's `url` is a local checkout page where the test card 4242 4242 4242 4242
pays (4000 0000 0000 0002 is declined); paying creates the subscription and its first
invoice and POSTs the signed events Stripe would send (`checkout.session.completed`,
`customer.subscription.created`, `invoice.paid`) to the `stripe_webhook` function.
Tests drive what Stripe would do on its own (a checkout completing, an invoice) through
the same helpers, and sign webhook events with Stripe's scheme.

    python -m infra.local_stripe --port 8088 --webhook-url http://127.0.0.1:8084/ \
        --webhook-secret whsec_... [--state .utio/stripe.json]
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import requests
from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.local_stripe_api import StripeApi, StripeError


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict
    idempotency_key: str | None


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


TEST_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


class StripeStandIn(StripeApi):
    def __init__(self, api_key: str = "sk_test_utio", *, port: int = 0,
                 state_path: Path | None = None, webhook_url: str | None = None,
                 webhook_secret: str | None = None):
        self.api_key = api_key
        self.calls: list[Call] = []
        self.objects: dict[str, dict[str, dict]] = {}
        self._idem: dict[str, tuple[int, str]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.state_path = state_path
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.delivered: list[tuple[dict, int]] = []  # (event, status of the webhook's answer)
        if state_path is not None and state_path.exists():
            saved = json.loads(state_path.read_text())
            self.objects = saved["objects"]
            self._ids = itertools.count(saved["next_id"])
        self.clock_offset = 0  # seconds added to the server's clock (the Date of answers)
        standin = self

        class Handler(_Quiet):
            def date_time_string(self, timestamp=None) -> str:  # the Date of every answer
                return http_date(standin.now())

        self.server = make_server("127.0.0.1", port, self._wsgi, threaded=True,
                                  request_handler=Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> StripeStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state helpers for tests -------------------------------------------------------

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _save(self) -> None:
        """The objects to the state file (write, then rename: never half a file)."""
        if self.state_path is None:
            return
        with self._lock:
            marker = next(self._ids)  # the counter cannot be read without taking a value
            self._ids = itertools.count(marker)
            data = json.dumps({"objects": self.objects, "next_id": marker})
        tmp = self.state_path.with_suffix(".part")
        tmp.write_text(data)
        os.replace(tmp, self.state_path)

    def table(self, kind: str) -> dict[str, dict]:
        return self.objects.setdefault(kind, {})

    def posts(self, path_prefix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.startswith(path_prefix)]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def complete_checkout(self, session_id: str, status: str = "active") -> dict:
        """What Stripe does when the customer pays: a subscription from the session."""
        with self._lock:
            session = self.table("checkout.session")[session_id]
            data = session["_subscription_data"]
            items = [{"id": self.new_id("si"), "object": "subscription_item",
                      "price": self._price(li["price"]), "quantity": int(li.get("quantity", 1)),
                      "current_period_end": self.now() + 30 * 86400}
                     for li in session["_line_items"]]
            sub = {"id": self.new_id("sub"), "object": "subscription",
                   "customer": session["customer"], "status": status, "created": self.now(),
                   "cancel_at_period_end": False, "metadata": data.get("metadata", {}),
                   "default_tax_rates": [self.table("tax_rate")[t]
                                         for t in data.get("default_tax_rates", [])],
                   "items": {"object": "list", "data": items}}
            self.table("subscription")[sub["id"]] = sub
            session.update(status="complete", subscription=sub["id"])
            return json.loads(json.dumps(sub))

    def set_subscription(self, sub_id: str, **changes) -> dict:
        with self._lock:
            sub = self.table("subscription")[sub_id]
            sub.update(changes)
            return json.loads(json.dumps(sub))

    def add_invoice(self, customer: str, subscription: dict, *, status: str = "paid",
                    subtotal: int = 5900, tax: int = 0, **extra) -> dict:
        with self._lock:
            inv = {"id": self.new_id("in"), "object": "invoice", "customer": customer,
                   "number": f"UTIO-{next(self._ids):04d}", "status": status, "currency": "eur",
                   "subtotal": subtotal, "total": subtotal + tax, "total_excluding_tax": subtotal,
                   "amount_due": subtotal + tax, "amount_paid": subtotal + tax if status == "paid" else 0,
                   "created": self.now(), "period_start": self.now(), "period_end": self.now() + 30 * 86400,
                   "hosted_invoice_url": f"https://invoice.stripe.test/{customer}",
                   "invoice_pdf": None, "next_payment_attempt": None,
                   "parent": {"type": "subscription_details", "subscription_details": {
                       "subscription": subscription["id"],
                       "metadata": subscription.get("metadata", {})}}} | extra
            self.table("invoice")[inv["id"]] = inv
            return json.loads(json.dumps(inv))

    # --- HTTP ----------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        page = re.fullmatch(r"/(c/pay|p/session)/([^/]+)", request.path)
        if page:
            response = (self._checkout_page(request, page.group(2)) if page.group(1) == "c/pay"
                        else self._portal_page(page.group(2)))
            return response(environ, start_response)
        if request.method == "POST":
            params = decode_form(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
        else:
            params = decode_form(list(request.args.items(multi=True)))
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            self.calls.append(Call(request.method, request.path, params, key))
            if key and request.method == "POST" and key in self._idem:
                status, body = self._idem[key]
            else:
                status, body = self._answer(request, params)
                if key and request.method == "POST" and status < 500:
                    self._idem[key] = (status, body)
        if request.method in ("POST", "DELETE"):
            self._save()
        response = Response(body, status=status, content_type="application/json")
        response.headers["Request-Id"] = self.new_id("req")
        return response(environ, start_response)

    def _answer(self, request: Request, params: dict) -> tuple[int, str]:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, json.dumps({"error": {"type": "invalid_request_error",
                                              "message": "Invalid API Key provided"}})
        try:
            return 200, json.dumps(self._route(request.method, request.path, params))
        except StripeError as exc:
            return exc.status, json.dumps({"error": {"type": exc.kind, "code": exc.code,
                                                     "message": str(exc), "param": exc.param}})

    # --- the pages a customer sees: checkout and the portal --------------------------------

    def _checkout_page(self, request: Request, session_id: str) -> Response:
        with self._lock:
            session = self.table("checkout.session").get(session_id)
            if session is None:
                return _page("Checkout", "<p>This checkout session does not exist.</p>", 404)
            if session["status"] != "open":
                return _page("Checkout", f"<p>This checkout session is {session['status']}.</p>"
                             f'<p><a href="{html.escape(session["success_url"])}">Back</a></p>')
            lines = [(self._price(li["price"]), int(li.get("quantity", 1)))
                     for li in session["_line_items"]]
        error = ""
        if request.method == "POST":
            card = re.sub(r"\D", "", request.form.get("card", ""))
            if card == TEST_CARD:
                self.pay(session_id)
                return Response(status=303, headers={"Location": session["success_url"]})
            error = ("Your card was declined." if card == DECLINED_CARD else
                     f"Use the test card {_grouped(TEST_CARD)}: this is the local Stripe.")
        items = "".join(f"<li>{html.escape(str(p.get('lookup_key') or p['id']))} × {q}: "
                        f"€{p['unit_amount'] * q / 100:.2f} every {p['recurring']['interval_count']} "
                        f"{p['recurring']['interval']}s</li>" for p, q in lines)
        body = (f"<p>The local Stripe of <code>make dev</code>: no money moves.</p><ul>{items}</ul>"
                + (f'<p role="alert">{html.escape(error)}</p>' if error else "")
                + '<form method="post"><label>Card number <input name="card" '
                f'inputmode="numeric" autocomplete="cc-number" value="{_grouped(TEST_CARD)}"></label> '
                '<button type="submit">Pay</button></form>'
                f'<p><a href="{html.escape(session["cancel_url"])}">Cancel</a></p>')
        return _page("Checkout", body, 402 if error else 200)

    def _portal_page(self, customer: str) -> Response:
        return _page("Billing portal", "<p>The local Stripe has no customer portal: change "
                     "plans with <code>POST /v1/devices/{id}/subscription</code> and cancel "
                     "with <code>DELETE</code> on it.</p>")

    def pay(self, session_id: str) -> dict:
        """What Stripe does when the customer pays: the subscription, its first invoice,
        and their events sent to the webhook."""
        sub = self.complete_checkout(session_id)
        with self._lock:
            session = self._get("checkout.session", session_id)
            subtotal = sum(i["price"]["unit_amount"] * i["quantity"] for i in sub["items"]["data"])
            percent = sum(rate["percentage"] for rate in sub["default_tax_rates"])
            invoice = self.add_invoice(sub["customer"], sub, subtotal=subtotal,
                                       tax=round(subtotal * percent / 100))
        self._save()
        for kind, obj in (("checkout.session.completed", session),
                          ("customer.subscription.created", sub), ("invoice.paid", invoice)):
            self.send_event(kind, obj)
        return sub

    def send_event(self, kind: str, obj: dict) -> int | None:
        """POST a signed event to the webhook URL, if there is one; its answer's status."""
        if not self.webhook_url or not self.webhook_secret:
            return None
        body = json.dumps(event(kind, obj, self.now())).encode()
        try:
            status = requests.post(self.webhook_url, data=body, timeout=30, headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(body, self.webhook_secret, self.now())}).status_code
        except requests.RequestException:
            status = 0
        self.delivered.append((json.loads(body), status))
        return status


def _grouped(card: str) -> str:
    return " ".join(card[i:i + 4] for i in range(0, len(card), 4))


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" "
                    f"content=\"width=device-width\"><title>{title} · local Stripe</title>"
                    f"<main><h1>{title}</h1>{body}</main></html>", status=status,
                    content_type="text/html; charset=utf-8")


# --- webhooks --------------------------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's scheme: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<payload>"))."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


_events = itertools.count(1)


def event(kind: str, obj: dict, created: int, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{next(_events):06d}", "object": "event", "type": kind,
            "api_version": "2026-10-28.endive", "created": created, "livemode": False,
            "data": {"object": obj}}


def main() -> None:
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m infra.local_stripe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=os.environ.get("UTIO_STRIPE_SECRET_KEY", ""))
    parser.add_argument("--webhook-url", required=True)
    parser.add_argument("--webhook-secret", default=os.environ.get("UTIO_STRIPE_WEBHOOK_SECRET"))
    parser.add_argument("--state", type=Path, default=None)
    args = parser.parse_args()
    standin = StripeStandIn(args.api_key, port=args.port, state_path=args.state,
                            webhook_url=args.webhook_url, webhook_secret=args.webhook_secret)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    standin.start()
    print(f"local Stripe on {standin.url}", flush=True)
    stopping.wait()
    standin.stop()


if __name__ == "__main__":
    main()
