"""The chatbot starters of examples/chatbot (Python and Node.js) run against the local
stack as the chatbot guide says: each registers its webhook, verifies the signed
deliveries and answers; an inbound message injected into a sandbox device gets the bot's
answer sent and delivered."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.stack import ROOT, free_base, running_stack, wait_until

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples" / "chatbot"
BOTS = {
    "python": [sys.executable, str(EXAMPLES / "python" / "bot.py")],
    "node": [shutil.which("node") or "node", str(EXAMPLES / "node" / "bot.mjs")],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not (EXAMPLES / "node" / "node_modules" / "standardwebhooks").is_dir():
        pytest.fail("examples/chatbot/node is not installed: make test runs npm ci there")
    with running_stack(tmp_path_factory.mktemp("chatbots"), {}) as running:
        yield running


def api(stack, method: str, path: str, body=None):
    answer = requests.request(method, stack.api + path, json=body, timeout=30,
                              headers={"Authorization": f"Bearer {stack.key}"})
    assert answer.ok, answer.text
    return answer.json() if answer.content else None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("language", sorted(BOTS))
def test_the_bot_answers_an_inbound_message(stack, tmp_path, language):
    device = api(stack, "POST", "/devices", {"transport": "sandbox", "alias": language})["id"]
    wait_until(lambda: api(stack, "GET", f"/devices/{device}")["status"] == "connected", 60,
               "the sandbox device to connect")
    port = free_base()
    log = tmp_path / "bot.log"
    env = dict(os.environ) | {"UTIO_API": stack.api, "UTIO_API_KEY": stack.key,
                              "PORT": str(port), "UTIO_DEVICE": device}
    env.pop("UTIO_WEBHOOK_SECRET", None)
    with open(log, "wb") as out:
        bot = subprocess.Popen(BOTS[language], env=env, stdout=out, stderr=subprocess.STDOUT,
                               cwd=Path(BOTS[language][1]).parent)
    try:
        wait_until(lambda: "listening" in log.read_text() or bot.poll() is not None, 30,
                   "the bot to listen")
        assert bot.poll() is None, log.read_text()
        phone = "+34600200" + str(port)[-3:]
        api(stack, "POST", f"/devices/{device}/sandbox/inbound",
            {"phone": phone, "message": "Hello, what are your hours?"})

        def answered():
            found = api(stack, "GET", f"/messages?device={device}&phone=%2B{phone[1:]}")["data"]
            return found if found and found[0]["status"] in ("delivered", "read") else None

        try:
            replies = wait_until(answered, 60, "the bot's answer to be delivered")
        except AssertionError as exc:
            raise AssertionError(f"no answer delivered; the bot said: {log.read_text()}") from exc
        assert len(replies) == 1, replies  # one answer, even if a delivery is retried
        assert replies[0]["message"].startswith("Hello! I am the Utio demo bot")
        assert replies[0]["reference"].startswith("reply-msg_")
    finally:
        bot.terminate()
        bot.wait(10)
