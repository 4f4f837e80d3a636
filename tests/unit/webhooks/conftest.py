"""Fixtures of the webhook tests: the composition root over fakes, with a bus that
numbers events per device and feeds fan-out, as the real one does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.api.app import create_app
from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.mailers import FileOutboxMailer
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.services.accounts import create_account
from shared.services.webhooks.fanout import fan_out
from shared.settings import Settings
from tests.fakes import ADMIN_KEY, SECRETS_KEY, Caller, FakeClock, FakeHttp, FakeTaskQueue

SCHEDULE = (1.0, 2.0, 4.0)


def settings(**overrides) -> Settings:
    values = dict(env="test", admin_key=ADMIN_KEY, default_transport="sandbox",
                  allow_private_webhooks=True, webhook_retry_schedule=SCHEDULE,
                  webhook_disable_after=86400.0, webhook_secret_key=SECRETS_KEY,
                  runner_shard="runner-test",
                  # attempts run from their tasks, to be driven step by step; fan-out's
                  # inline first attempt is tested on its own (test_inline.py)
                  webhook_inline_attempts=0)
    return Settings(**(values | overrides))


def build(tmp_path, *, settings_: Settings | None = None, http: FakeHttp | None = None,
          clock: FakeClock | None = None) -> Container:
    store, tasks = MemoryStore(), FakeTaskQueue()
    clock = clock or FakeClock(datetime.now(UTC).replace(microsecond=0))  # verifiers check time
    publisher = InProcessBus(threaded=False)  # under the container's own SequencedBus
    c = Container(settings_ or settings(), store=store, tasks=tasks, publisher=publisher,
                  clock=clock, http=http or FakeHttp(),
                  mailer=FileOutboxMailer(tmp_path / "outbox.jsonl"))
    publisher.subscribe(lambda event: fan_out(c, event))
    return c


@pytest.fixture
def c(tmp_path) -> Container:
    return build(tmp_path)


def caller(c: Container, name: str = "Acme", email: str | None = "ops@acme.example") -> Caller:
    account, _, key = create_account(c, name, email)
    return Caller(create_app(c).test_client(), key, account.id)


@pytest.fixture
def api(c) -> Caller:
    return caller(c)


@pytest.fixture
def other(c) -> Caller:
    return caller(c, "Other", None)


def add_device(c: Container, account_id: str, device_id: str) -> str:
    now = c.clock.now()
    c.store.put("devices", device_id, {"account_id": account_id, "transport": "sandbox",
                                       "created_at": now, "updated_at": now})
    return device_id
