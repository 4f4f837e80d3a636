"""A WhatsApp chatbot on Utio in one file: a webhook receiver that verifies each delivery's
signature (Standard Webhooks) and answers inbound text messages through the API.

    pip install standardwebhooks
    UTIO_API_KEY=utio_... python bot.py

On start it registers its webhook (unless UTIO_WEBHOOK_SECRET names the secret of one you
made), then listens on PORT. See docs/guides/chatbot.md."""

import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

API = os.environ.get("UTIO_API", "http://127.0.0.1:8080/v1")
KEY = os.environ["UTIO_API_KEY"]
PORT = int(os.environ.get("PORT", "9100"))
URL = os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{PORT}/webhook")  # where Utio calls us
DEVICE = os.environ.get("UTIO_DEVICE")  # answer on this device only; unset: every device


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(
        API + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json",
                 **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def answer(text):
    """The bot's brain: replace with your own (a FAQ, an LLM, your order system...)."""
    words = text.lower()
    if any(greeting in words for greeting in ("hi", "hello", "hola")):
        return "Hello! I am the Utio demo bot. Ask me about 'hours' or 'prices'."
    if "hour" in words:
        return "We are open Monday to Friday, 9:00 to 18:00."
    if "price" in words:
        return "Plans start at 29 EUR a month per number. Reply 'human' to talk to a person."
    return f"You said: {text}"


def on_event(event):
    data = event["data"]
    if event["event"] != "message:in:new" or data.get("type") != "text" or data.get("group"):
        return  # this bot answers one-to-one text messages only
    call("POST", "/messages",
         {"phone": data["phone"], "device": event["device"], "message": answer(data["message"]),
          "reference": f"reply-{data['id']}"},
         # a retried delivery of the same event sends no second answer
         headers={"Idempotency-Key": f"reply-{data['id']}"})


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:  # verify on the raw bytes before trusting anything in them
            event = verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
        except WebhookVerificationError:
            self.send_response(401)
            self.end_headers()
            return
        try:
            on_event(event)
        except Exception as exc:  # noqa: BLE001 - answer 500: Utio retries the delivery
            print("could not answer:", exc, flush=True)
            self.send_response(500)
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhook_secret():
    if os.environ.get("UTIO_WEBHOOK_SECRET"):
        return os.environ["UTIO_WEBHOOK_SECRET"]
    hook = call("POST", "/webhooks", {"url": URL, "events": ["message:in:new"],
                                      "devices": [DEVICE] if DEVICE else None,
                                      "description": "chatbot example"})
    print(f"registered webhook {hook['id']} for {URL}", flush=True)
    return hook["secret"]


if __name__ == "__main__":
    verifier = Webhook(webhook_secret())
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"chatbot listening on port {PORT}", flush=True)
    server.serve_forever()
