"""A receipt that arrives before the runner has recorded the send still moves the
message on, with one event per step."""

from __future__ import annotations

from shared.ports import Receipt
from shared.services import message_transitions
from shared.services import messages as message_service


def test_receipt_before_mark_sent_is_not_lost(container, account, device, make_runner):
    runner, _ = make_runner(container)
    message, _ = message_service.send_message(container, account.id,
        phone="+447911123456", text="hi", device_id=device["id"])
    claimed = message_transitions.claim(container, message.id, runner.shard)
    assert claimed is not None
    runner.on_receipt(device["id"], claimed.wa_id, Receipt.delivered)
    stored = message_service.get_message(container, account.id, message.id)
    assert stored.status.value == "delivered" and stored.sent_at and stored.delivered_at
    assert message_transitions.mark_sent(container, message.id) is None
    names = [e.event for e in container.bus.published if e.data.get("id") == message.id]
    assert names == ["message:out:new", "message:out:sent", "message:out:delivered"]
