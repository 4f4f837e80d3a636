"""Receipts moved on from the message as the runner sent it (shared.caches.Caches.sent):
no look-up, the same statuses and events as from the document, and the document read
again whenever someone changed the message since."""

from __future__ import annotations

import pytest

from shared.content import Text
from shared.domain import Message
from shared.ports import Receipt
from shared.services import message_transitions as transitions
from shared.services import messages as message_service
from shared.services import outbound
from shared.services.accounts import create_account
from shared.services.devices import create_device
from tests.fakes import make_container, make_settings


@pytest.fixture
def c():
    return make_container(settings=make_settings(caches=True))


def _sent(c) -> Message:
    account, _, _ = create_account(c, "Acme")
    device = create_device(c, account.id, transport="sandbox")
    message, _ = message_service.send_message(c, account.id, phone="+447911123456",
                                              text="hi", device_id=device.id)
    claimed = transitions.claim(c, message.id, "runner-test")
    c.caches.moved_on(transitions.mark_sent(c, message.id, current=claimed))
    return message


@pytest.fixture
def sent(c) -> Message:
    return _sent(c)


@pytest.fixture
def lookups(c) -> list:
    found = []
    find = c.repos.messages.find_by_wa_id
    c.repos.messages.find_by_wa_id = lambda wa_id: found.append(wa_id) or find(wa_id)
    return found


def _events(c, message_id):
    return [e for e in c.bus.published if e.data.get("id") == message_id]


def test_receipts_of_a_kept_message_need_no_look_up(c, sent, lookups):
    outbound.record_receipt(c, sent.wa_id, Receipt.delivered)
    outbound.record_receipt(c, sent.wa_id, Receipt.read)
    assert lookups == []
    stored = c.repos.messages.get(sent.id)
    assert stored.status.value == "read" and stored.delivered_at and stored.read_at
    events = _events(c, sent.id)
    assert [e.event for e in events] == ["message:out:new", "message:out:sent",
                                         "message:out:delivered", "message:out:read"]
    assert events[-1].data == message_service.get_message(c, sent.account_id, sent.id) \
        .model_dump(mode="json", exclude=set(Message.INTERNAL))


def test_a_read_receipt_first_still_announces_delivered_before_read(c, sent, lookups):
    outbound.record_receipt(c, sent.wa_id, Receipt.read)
    assert [e.event for e in _events(c, sent.id)][-2:] == ["message:out:delivered",
                                                           "message:out:read"]
    outbound.record_receipt(c, sent.wa_id, Receipt.delivered)  # late: changes nothing
    assert len(_events(c, sent.id)) == 4 and lookups == []


def test_a_message_edited_since_is_read_again_and_its_event_shows_the_edit(c, sent, lookups):
    c.store.update("messages", sent.id, {"message": "edited", "edited_at": c.clock.now(),
                                         "content": Text(text="edited").model_dump()})
    outbound.record_receipt(c, sent.wa_id, Receipt.delivered)
    assert lookups == [sent.wa_id]
    delivered = _events(c, sent.id)[-1]
    assert delivered.event == "message:out:delivered" and delivered.data["message"] == "edited"


def test_without_the_caches_each_receipt_looks_the_message_up():
    c = make_container()
    message = _sent(c)
    found = []
    find = c.repos.messages.find_by_wa_id
    c.repos.messages.find_by_wa_id = lambda wa_id: found.append(wa_id) or find(wa_id)
    outbound.record_receipt(c, message.wa_id, Receipt.delivered)
    outbound.record_receipt(c, message.wa_id, Receipt.read)
    assert found == [message.wa_id] * 2
    assert c.repos.messages.get(message.id).status.value == "read"
