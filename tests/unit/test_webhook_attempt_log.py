"""webhook_deliver writes one JSON line per attempt; the webhook failure-rate alert
(terraform/modules/monitoring) counts these lines by `utio_log` and `outcome`."""

from __future__ import annotations

import json

import flask

from functions.webhook_deliver import handle_deliver
from shared.domain import Event
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks import registration
from tests.fakes import FakeHttp, make_container, make_settings


def _deliver_once(http: FakeHttp, capsys) -> dict:
    c = make_container(http=http, fanout=False)
    hook = registration.create_webhook(c, "acc_1",
                                   url="https://example.com/hook", events=["*"], devices=None)
    event = Event(id="evt_1", event="webhook:test", account="acc_1", device=None,
                  created_at=c.clock.now(), data={})
    delivery_id = webhook_fanout.enqueue_delivery(c, hook, event)
    app = flask.Flask(__name__)
    with app.test_request_context("/", method="POST", json={"delivery_id": delivery_id}):
        handle_deliver(c, flask.request)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    assert len(lines) == 1
    return lines[0]


def test_success_is_logged(capsys):
    line = _deliver_once(FakeHttp([204]), capsys)
    assert line["utio_log"] == "webhook_attempt"
    assert line["outcome"] == "succeeded"
    assert line["severity"] == "INFO"


def test_failure_is_logged_as_a_warning(capsys):
    line = _deliver_once(FakeHttp([503]), capsys)
    assert line["utio_log"] == "webhook_attempt"
    assert line["outcome"] == "pending"
    assert line["severity"] == "WARNING"


def test_an_inline_attempt_is_logged_once_and_its_task_logs_nothing(capsys):
    c = make_container(http=FakeHttp([204]), fanout=False,
                       settings=make_settings(webhook_inline_attempts=1))
    registration.create_webhook(c, "acc_1", url="https://example.com/hook", events=["*"],
                                devices=None)
    event = Event(id="evt_1", event="webhook:test", account="acc_1", device=None,
                  created_at=c.clock.now(), data={})
    [delivery_id] = webhook_fanout.fan_out(c, event)
    app = flask.Flask(__name__)
    with app.test_request_context("/", method="POST",
                                  json={"delivery_id": delivery_id, "attempt": 0}):
        handle_deliver(c, flask.request)  # the first attempt's task, once due
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    assert [line["outcome"] for line in lines] == ["succeeded"]
