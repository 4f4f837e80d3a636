"""The dead-letter replay of the operator's guide acknowledges a message only after its
publish is confirmed, and a dry run acknowledges nothing."""

from __future__ import annotations

import io
import json

import pytest

from infra.replay_dead_letters import DeadLetter, replay


class Hold:
    """A dead-letter subscription: pulled messages come back until acknowledged."""

    def __init__(self, count: int):
        self.waiting = [DeadLetter(f"ack-{i}", json.dumps({"id": f"evt_{i}", "event": "device:status"})
                                   .encode(), {"account": "acc_1", "event": "device:status"})
                        for i in range(count)]
        self.acked: list[str] = []
        self.published: list[tuple[bytes, dict]] = []

    def pull(self, count: int) -> list[DeadLetter]:
        return [m for m in self.waiting if m.ack_id not in self.acked][:count]

    def publish(self, data: bytes, attributes: dict) -> None:
        self.published.append((data, attributes))

    def ack(self, ids: list[str]) -> None:
        self.acked += ids


def test_replays_every_letter_once_with_its_attributes():
    hold = Hold(7)
    assert replay(hold.pull, hold.publish, hold.ack, limit=100, batch=3, out=io.StringIO()) == 7
    assert hold.acked == [f"ack-{i}" for i in range(7)]
    assert [json.loads(d)["id"] for d, _ in hold.published] == [f"evt_{i}" for i in range(7)]
    assert all(a == {"account": "acc_1", "event": "device:status"} for _, a in hold.published)


def test_stops_at_the_limit():
    hold = Hold(7)
    assert replay(hold.pull, hold.publish, hold.ack, limit=4, batch=3, out=io.StringIO()) == 4
    assert len(hold.acked) == 4


def test_a_failed_publish_acknowledges_nothing_more():
    hold = Hold(3)

    def publish(data, attributes):
        if len(hold.published) == 1:
            raise TimeoutError("publish not confirmed")
        hold.publish(data, attributes)

    with pytest.raises(TimeoutError):
        replay(hold.pull, publish, hold.ack, limit=10, out=io.StringIO())
    assert hold.acked == ["ack-0"]


def test_dry_run_lists_and_acknowledges_nothing():
    hold, out = Hold(2), io.StringIO()
    assert replay(hold.pull, hold.publish, hold.ack, limit=10, dry_run=True, out=out) == 2
    assert hold.acked == [] and hold.published == []
    assert "would replay evt_0 device:status account=acc_1" in out.getvalue()
