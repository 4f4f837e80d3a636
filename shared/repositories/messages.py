"""Outbound messages (collection "messages") and the Idempotency-Key claims on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shared.domain import Message, MessageStatus
from shared.ports import Filter
from shared.repositories.base import Collection, Repository

SENT = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.read)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Messages(Repository[Message]):
    name = "messages"
    model = Message
    missing = "message"

    def find_by_wa_id(self, wa_id: str) -> Message | None:
        found = self.find([("wa_id", "==", wa_id)], limit=1)
        return found[0] if found else None

    def doc_by_wa_id(self, wa_id: str) -> dict | None:
        found = self.docs([("wa_id", "==", wa_id)], limit=1)
        return found[0] if found else None

    def queued_for_device(self, device_id: str) -> list[Message]:
        """The device's queued messages, oldest first."""
        found = self.find([("device_id", "==", device_id),
                           ("status", "==", MessageStatus.queued.value)])
        return sorted(found, key=lambda m: m.created_at)

    def queued_count(self, device_id: str) -> int:
        return self.count([("device_id", "==", device_id),
                           ("status", "==", MessageStatus.queued.value)])

    def queued_unscheduled(self, device_id: str, priority: str, *, limit: int,
                           after: tuple[datetime, str] | None = None) -> list[Message]:
        """The device's queued messages of one priority without a deliver_at, oldest
        first (the id breaking ties), after `after` (created_at, id)."""
        return self.find([("device_id", "==", device_id),
                          ("status", "==", MessageStatus.queued.value),
                          ("priority", "==", priority), ("deliver_at", "==", None)],
                         order_by=[("created_at", "asc"), ("id", "asc")], limit=limit,
                         start_after=list(after) if after else None)

    def queued_scheduled(self, device_id: str, *, limit: int,
                         after: tuple[datetime, str] | None = None) -> list[Message]:
        """The device's queued messages with a deliver_at, soonest first, after `after`
        (deliver_at, id)."""
        return self.find([("device_id", "==", device_id),
                          ("status", "==", MessageStatus.queued.value),
                          ("deliver_at", ">", EPOCH)],
                         order_by=[("deliver_at", "asc"), ("id", "asc")], limit=limit,
                         start_after=list(after) if after else None)

    def in_chat(self, device_id: str, to: str, statuses: Sequence[MessageStatus],
                limit: int) -> list[Message]:
        """Messages of the device to `to` (a phone or a group id) in one of `statuses`."""
        field = "group" if to.endswith("@g.us") else "phone"
        values = [s.value for s in statuses]
        status: Filter = ("status", "==", values[0]) if len(values) == 1 else \
            ("status", "in", values)
        return self.find([("device_id", "==", device_id), (field, "==", to), status],
                         limit=limit)

    def statuses(self, account_id: str, message_ids: Sequence[str]) -> dict[str, str]:
        """The status of each of the account's messages among `message_ids`."""
        statuses: dict[str, str] = {}
        for start in range(0, len(message_ids), 30):  # Firestore's limit on "in" values
            chunk = list(message_ids[start:start + 30])
            for doc in self.docs([("account_id", "==", account_id), ("id", "in", chunk)]):
                statuses[doc["id"]] = doc["status"]
        return statuses

    def page(self, where: Sequence[Filter], limit: int,
             after: Sequence[Any] | None) -> list[Message]:
        """Newest first; `after` is (created_at, id) of the previous page's last message."""
        return self.find(where, order_by=[("created_at", "desc"), ("id", "desc")],
                         limit=limit, start_after=after)

    def awaiting_receipts(self, device_id: str) -> list[dict]:
        """The device's messages sent or delivered: those that may still hear a receipt."""
        return self.docs([("device_id", "==", device_id),
                          ("status", "in", [MessageStatus.sent.value,
                                            MessageStatus.delivered.value])])

    def sent_since(self, device_id: str, since: datetime) -> list[Message]:
        """The device's messages sent at or after `since`, oldest first (a runner taking
        the device files those its chats miss: shared/services/chat_filing.py)."""
        return self.find([("device_id", "==", device_id), ("sent_at", ">=", since)],
                         order_by=[("sent_at", "asc")])

    def set_claim(self, message_id: str, holder: str | None, *, was: str | None,
                  guard=None) -> bool:
        """Move the claim of a queued message from `was` to `holder`."""
        return self.update(message_id, {"claimed_by": holder},
                           when={"status": MessageStatus.queued.value, "claimed_by": was},
                           guard=guard)


class IdempotencyKeys(Collection):
    """One document per (account, Idempotency-Key): the message it made and the
    fingerprint of the request body."""

    name = "idempotency"

    def claim(self, key_id: str, *, message_id: str, fingerprint: str, account_id: str,
              now: datetime, until: datetime) -> bool:
        return self.create_doc(key_id, {"message_id": message_id, "fingerprint": fingerprint,
                                        "account_id": account_id, "created_at": now,
                                        "expires_at": until})
