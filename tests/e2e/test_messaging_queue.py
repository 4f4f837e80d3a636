"""The send queue on the local stack as `make dev` runs it (Firestore and Pub/Sub
emulators, the task dispatcher, the runner and the API as processes), over HTTP:
urgent messages overtake a backlog of low ones, and a device is paced to its speed.

Kept short: the speed is the Professional plan's maximum (20 a minute), and few
messages are sent."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from tests.e2e.stack import running_stack
from tests.fakes import wait_until

pytestmark = pytest.mark.e2e
SPEED = 20  # messages a minute: the Professional plan's cap


@pytest.fixture(scope="module")
def api(emulators, tmp_path_factory):
    data = tmp_path_factory.mktemp("queue-stack")
    with running_stack(data, dict(emulators.env)) as running:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {running.key}"
        session.base = running.api
        yield session


def device_at_speed(api, alias: str) -> str:
    device = api.post(f"{api.base}/devices", json={"alias": alias,
                                                   "settings": {"delivery_speed": SPEED}}).json()
    wait_until(lambda: api.get(f"{api.base}/devices/{device['id']}").json()["status"] == "connected",
               15, "the sandbox device to link", interval=0.1)
    return device["id"]


def send(api, device: str, text: str, priority: str = "normal") -> dict:
    response = api.post(f"{api.base}/messages", json={"device": device, "phone": "+447911123456",
                                                      "message": text, "priority": priority})
    assert response.status_code == 201, response.text
    return response.json()


def fetch(api, message: dict) -> dict:
    return api.get(f"{api.base}/messages/{message['id']}").json()


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_urgent_messages_overtake_a_low_backlog(api):
    device = device_at_speed(api, "priorities")
    low = [send(api, device, f"low {i}", "low") for i in range(6)]
    urgent = [send(api, device, f"urgent {i}", "urgent") for i in range(3)]

    wait_until(lambda: all(fetch(api, m)["sent_at"] for m in urgent), 30, "the urgent sends",
               interval=0.1)
    # what is left of the backlog is cancelled: it is still queued
    for m in low:
        answer = api.delete(f"{api.base}/messages/{m['id']}")
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 409:  # it was being sent at that moment
            assert fetch(api, m)["status"] in ("sent", "delivered", "read")
    sent = sorted((m for m in (fetch(api, m) for m in low + urgent) if m["sent_at"]),
                  key=lambda m: stamp(m["sent_at"]))
    names = [m["message"] for m in sent]
    first_urgent = names.index("urgent 0")
    # only lows already on their way when the urgent ones arrived went first
    assert first_urgent <= 1, names
    assert names[first_urgent:first_urgent + 3] == ["urgent 0", "urgent 1", "urgent 2"], names
    assert all(fetch(api, m)["status"] == "cancelled" for m in low
               if m["message"] not in names)


def test_a_device_is_paced_to_its_delivery_speed(api):
    device = device_at_speed(api, "pacing")
    usage = api.get(f"{api.base}/devices/{device}/usage").json()
    assert usage["delivery_speed"]["effective"] == SPEED
    messages = [send(api, device, f"paced {i}") for i in range(8)]
    wait_until(lambda: all(fetch(api, m)["sent_at"] for m in messages), 45, "eight sends",
               interval=0.1)
    times = sorted(stamp(fetch(api, m)["sent_at"]) for m in messages)
    measured = (len(times) - 1) / (times[-1] - times[0]).total_seconds() * 60
    print(f"pacing: configured {SPEED}/min, measured {measured:.2f}/min")
    assert abs(measured - SPEED) <= 0.10 * SPEED, measured
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    nominal = 60 / SPEED
    assert all(0.8 * nominal <= gap <= 1.2 * nominal for gap in gaps), gaps  # jitter ±15%
    assert len({round(gap, 2) for gap in gaps}) > 1  # and there is jitter
