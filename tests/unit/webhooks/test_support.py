"""The pieces under webhooks: sealed secrets, per-device sequence numbers, mailers."""

from __future__ import annotations

import socketserver
import threading

import pytest

from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.mailers import FileOutboxMailer, SmtpMailer
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.domain import Event
from shared.ports import DocumentStore
from shared.secrets_crypto import SealedValueError, SecretBox, SecretsConfigError, box, new_key
from shared.secrets_crypto import parse_keys as keys
from shared.services.events import publish
from shared.services.sequence import PROCESS_SEQUENCER, SequencedBus, Sequencer
from shared.settings import Settings
from tests.fakes import in_threads

# --- sealed secrets ------------------------------------------------------------------------


def test_seal_and_open():
    sealer = SecretBox(keys(new_key()))
    token = sealer.seal("whsec_abc", context="webhooks/wh_1/secret")
    assert token.startswith("sealed:v1:") and "whsec_abc" not in token
    assert sealer.open(token, context="webhooks/wh_1/secret") == "whsec_abc"
    assert sealer.seal("whsec_abc", context="x") != sealer.seal("whsec_abc", context="x")
    for context in ("webhooks/wh_2/secret", "webhooks/wh_1/headers"):
        with pytest.raises(SealedValueError):
            sealer.open(token, context=context)
    with pytest.raises(SealedValueError):
        sealer.open(token[:-4] + "AAAA", context="webhooks/wh_1/secret")
    with pytest.raises(SealedValueError):
        sealer.open("whsec_plain", context="webhooks/wh_1/secret")


def test_key_rotation_opens_with_the_old_key():
    old, new = new_key(), new_key()
    token = SecretBox(keys(old)).seal("s", context="c")
    assert SecretBox(keys(f"{new},{old}")).open(token, context="c") == "s"
    with pytest.raises(SealedValueError, match="lacks"):
        SecretBox(keys(new)).open(token, context="c")


def test_production_needs_a_key():
    with pytest.raises(SecretsConfigError, match="UTIO_WEBHOOK_SECRET_KEY is not set"):
        box(Settings(env="production"))
    with pytest.raises(SecretsConfigError, match="32"):
        box(Settings(env="production", webhook_secret_key="c2hvcnQ"))
    assert box(Settings(env="local"))  # a fixed development key
    key = new_key()
    assert key not in repr(Settings(webhook_secret_key=key))


# --- sequence numbers ------------------------------------------------------------------------


def test_sequence_is_strictly_increasing_per_device_across_threads():
    bus = SequencedBus(InProcessBus(threaded=False))
    from shared.clock import SystemClock

    per_thread: list[list[int]] = []

    def publish_many(device):
        mine = []
        for _ in range(200):
            mine.append(publish(bus, SystemClock(), "message:in:new", "acc", device, {}).sequence)
        per_thread.append(mine)

    in_threads(publish_many, ("a", "a", "b", "b"))
    for device in ("a", "b"):
        numbers = [e.sequence for e in bus.published if e.device == device]
        assert len(numbers) == 400 and len(set(numbers)) == 400  # never equal in a process
    for mine in per_thread:  # in the order each thread published them
        assert mine == sorted(set(mine))


def test_sequence_follows_the_clock_and_never_goes_back():
    now = [1_000_000]
    sequencer = Sequencer(lambda: now[0])
    assert sequencer.next() == 1_000_000
    assert sequencer.next() == 1_000_001  # same microsecond: one more
    now[0] = 900_000  # the clock steps back
    assert [sequencer.next() for _ in range(3)] == [1_000_002, 1_000_003, 1_000_004]
    now[0] = 2_000_000  # time moves on: the number follows it
    assert sequencer.next() == 2_000_000


def test_sequence_is_wall_clock_microseconds_safe_in_json():
    import time

    before = time.time_ns() // 1000
    number = SequencedBus(InProcessBus(threaded=False)).sequencer.next()
    assert before <= number <= time.time_ns() // 1000 + 1_000 and number < 2**53


def test_a_process_numbers_from_one_clock_for_every_bus():
    first, second = SequencedBus(InProcessBus(threaded=False)), SequencedBus(
        InProcessBus(threaded=False))
    assert first.sequencer is second.sequencer is PROCESS_SEQUENCER


def test_the_ports_default_increment_is_atomic():
    class PlainStore(MemoryStore):  # only the port's compare-and-set loop
        increment = DocumentStore.increment

    store = PlainStore()
    got: list[int] = []
    lock = threading.Lock()

    def bump():
        for _ in range(100):
            value = store.increment("counters", "c", "n")
            with lock:
                got.append(value)

    in_threads(bump, 4)
    assert sorted(got) == list(range(1, 401))


def test_the_composition_root_numbers_events(tmp_path):
    c = Container(Settings(env="test", mail_outbox=str(tmp_path / "outbox.jsonl")),
                  store=MemoryStore())
    event = Event(id="evt_1", event="message:in:new", created_at="2026-01-01T00:00:00Z",
                  account="acc", device="dev", data={})
    c.bus.handlers.clear()  # the real bus; without fan-out for this check
    c.bus.publish(event)
    assert event.sequence is not None and event.sequence > 1_700_000_000_000_000
    assert isinstance(c.mailer, FileOutboxMailer)


# --- mailers ----------------------------------------------------------------------------------


def test_file_outbox(tmp_path):
    mailer = FileOutboxMailer(tmp_path / "outbox.jsonl")
    mailer.send("ops@acme.example", "Subject é", "Body ✓")
    [mail] = mailer.messages()
    assert (mail["to"], mail["subject"], mail["body"]) == ("ops@acme.example", "Subject é",
                                                           "Body ✓")


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive one message (no TLS)."""

    def handle(self):
        def say(line):
            self.wfile.write(line.encode() + b"\r\n")

        say("220 test")
        data, in_data = [], False
        while line := self.rfile.readline():
            text = line.decode().rstrip("\r\n")
            if in_data:
                if text == ".":
                    in_data = False
                    self.server.messages.append("\n".join(data))
                    say("250 queued")
                else:
                    data.append(text)
                continue
            verb = text.split(" ")[0].upper()
            if verb == "EHLO":
                say("250-test")
                say("250 AUTH PLAIN")
            elif verb == "AUTH":
                self.server.auth.append(text)
                say("235 ok")
            elif verb == "DATA":
                in_data = True
                say("354 go")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")


def test_smtp_mailer(tmp_path):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages, server.auth = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mailer = SmtpMailer(f"smtp://user%40x:p%3Ass@127.0.0.1:{server.server_address[1]}",
                            "no-reply@utio.test")
        assert (mailer.username, mailer.password) == ("user@x", "p:ss")
        with pytest.raises(OSError, match="STARTTLS"):  # this server offers none
            mailer.send("ops@acme.example", "Webhook disabled", "It failed for a day.")
        anonymous = SmtpMailer(f"smtp://127.0.0.1:{server.server_address[1]}", "no-reply@utio.test")
        anonymous.send("ops@acme.example", "Webhook disabled", "It failed for a day.")
    finally:
        server.shutdown()
        server.server_close()
    [message] = server.messages
    assert "Subject: Webhook disabled" in message and "It failed for a day." in message
    assert not server.auth  # the password never went out in clear
    with pytest.raises(ValueError):
        SmtpMailer("http://x", "a@b")
