"""A session whose set-up raises (the saved session unreadable, the client not built, its
handlers not attached) retries like a failed connection instead of dying; a session
thread that dies anyway never leaves connect() a no-op."""

from __future__ import annotations

import pytest

from shared.domain import DeviceStatus
from tests.fakes import wait_until
from tests.unit.whatsapp.test_adapter import DEVICE, RecordingListener, Waits, make, store, world  # noqa: F401


@pytest.mark.parametrize("broken", ["jid_of", "new_client", "_wire"])
def test_a_session_whose_set_up_raises_retries_and_connects(make, world, broken):  # noqa: F811
    waits = Waits()
    transport, listener = make(wait=waits), RecordingListener()
    failures = [RuntimeError(f"{broken} failed")]
    target = transport.directory if broken == "jid_of" else transport
    real = getattr(target, broken)

    def once(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    setattr(target, broken, once)
    transport.connect(DEVICE, listener)
    wait_until(lambda: world.clients.get(DEVICE), message="a client after the retry")
    client = world.client(DEVICE)
    client.show_qr("2@first")
    client.scan("+34600555111")
    assert waits.delays, "the failed set-up waits its backoff"
    failed = [s for s in listener.statuses if s[1] == "wa-connection-failed"]
    assert failed and f"{broken} failed" in failed[0][3]
    wait_until(lambda: listener.statuses[-1][0] == DeviceStatus.connected)


def test_a_session_thread_that_dies_lets_connect_start_a_new_one(make, world, store):  # noqa: F811
    transport = make()

    class Exploding(RecordingListener):
        def on_status(self, device_id, status, phone=None, detail=None, code=None):
            super().on_status(device_id, status, phone, detail, code)
            if status == DeviceStatus.disconnected:
                raise OSError("store out of reach")

    listener = Exploding()
    world.outcomes.append(RuntimeError("connect failed"))  # the first connect fails...
    transport.connect(DEVICE, listener)
    # ...the listener raises reporting it, and the session thread ends
    wait_until(lambda: DEVICE not in transport.clients, message="the dead session forgotten")
    again = RecordingListener()
    transport.connect(DEVICE, again)  # not a no-op
    wait_until(lambda: len(world.clients.get(DEVICE, [])) == 2, message="a second client")
    world.client(DEVICE).show_qr("2@again")
    assert again.links and again.links[-1][0] == "2@again"
