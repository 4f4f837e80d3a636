"""POST /v1/numbers/exists without a device: a connected WhatsApp device answers; a
sandbox device (simulated answers) only for an account with no WhatsApp device at all,
or when named."""

from __future__ import annotations

import pytest

from shared.errors import Conflict
from shared.runner_rpc import RunnerRpc
from shared.services import number_checks
from tests.fakes import make_container, seed_account, seed_device


class RecordingRpc(RunnerRpc):
    def __init__(self, answer: bool):
        self.answer = answer
        self.asked: list[str] = []

    def call(self, action, payload):
        self.asked.append(payload["device_id"])
        return {"results": {n: self.answer for n in payload["numbers"]}}


@pytest.fixture
def c():
    return make_container()


def connected(c, account_id, transport):
    device = seed_device(c, account_id, transport=transport)
    c.store.update("devices", device.id, {"status": "connected"})
    return device.id


def check(c, rpc, account_id, device_id=None):
    c.__dict__["runner_rpc"] = rpc  # the container's runner, replaced
    return number_checks.check_numbers(c, account_id, ["+447911123456"], device_id)


def test_a_connected_whatsapp_device_is_preferred_to_a_sandbox_one(c):
    account = seed_account(c)
    sandbox = connected(c, account, "sandbox")
    whatsapp = connected(c, account, "whatsapp")
    rpc = RecordingRpc(True)
    assert check(c, rpc, account)["device"] == whatsapp
    assert rpc.asked == [whatsapp]
    # named explicitly, the sandbox answers, and its simulated answer is cached apart
    sandbox_rpc = RecordingRpc(False)
    answer = check(c, sandbox_rpc, account, sandbox)
    assert answer["device"] == sandbox and answer["data"][0]["exists"] is False
    assert answer["data"][0]["cached"] is False and sandbox_rpc.asked == [sandbox]
    again = check(c, RecordingRpc(False), account)
    assert again["device"] == whatsapp and again["data"][0] == {
        "phone": "+447911123456", "exists": True, "cached": True}


def test_no_sandbox_fallback_for_an_account_with_whatsapp_devices(c):
    account = seed_account(c)
    connected(c, account, "sandbox")
    seed_device(c, account, transport="whatsapp")  # not connected
    rpc = RecordingRpc(True)
    with pytest.raises(Conflict) as refused:
        check(c, rpc, account)
    assert refused.value.code == "no_connected_device" and rpc.asked == []


def test_a_sandbox_only_account_checks_through_its_sandbox(c):
    account = seed_account(c)
    sandbox = connected(c, account, "sandbox")
    assert check(c, RecordingRpc(True), account)["device"] == sandbox


class Outbox:
    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to, subject, body):
        self.sent.append((to, subject, body))


def test_the_monthly_check_limit_mails_the_owner_once_a_month(c):
    from shared.errors import QuotaExceeded
    from shared.services.accounts import create_account

    account, _, _ = create_account(c, "Acme", "owner@acme.example")
    device = connected(c, account.id, "whatsapp")
    outbox, rpc = Outbox(), RecordingRpc(True)
    c.__dict__["mailer"] = outbox
    period = c.clock.now().strftime("%Y-%m")
    c.store.put("number_checks_usage", f"{device}:{period}", {"count": 1000})  # Professional
    for _ in range(2):
        with pytest.raises(QuotaExceeded):
            check(c, rpc, account.id)
    [(to, subject, body)] = outbox.sent
    assert to == "owner@acme.example" and "number check limit" in subject
    assert "1000 number checks a month" in body and rpc.asked == []
    c.clock.advance(32 * 86400)  # next month: the count starts again, so does the notice
    nxt = c.clock.now().strftime("%Y-%m")
    c.store.put("number_checks_usage", f"{device}:{nxt}", {"count": 1000})
    with pytest.raises(QuotaExceeded):
        check(c, rpc, account.id)
    assert len(outbox.sent) == 2
