from __future__ import annotations

from shared.bootstrap import Container
from shared.settings import LOCAL_RETRY_SCHEDULE, PRODUCTION_RETRY_SCHEDULE, Settings


def test_from_env_reads_prefixed_variables_with_their_types():
    settings = Settings.from_env({
        "UTIO_ENV": "production", "UTIO_ALLOW_PRIVATE_WEBHOOKS": "yes", "UTIO_VERIFY_OIDC": "0",
        "UTIO_WEBHOOK_TIMEOUT": "2.5", "UTIO_ADMIN_KEY": "k", "IRRELEVANT": "x"})
    assert settings.env == "production" and not settings.local
    assert settings.allow_private_webhooks is True
    assert settings.verify_oidc is False
    assert settings.webhook_timeout == 2.5
    assert settings.admin_key == "k"
    assert settings.webhook_retry_schedule == PRODUCTION_RETRY_SCHEDULE


def test_local_mode_gets_the_compressed_retry_schedule():
    assert Settings.from_env({}).webhook_retry_schedule == LOCAL_RETRY_SCHEDULE
    assert Settings.from_env({"UTIO_ENV": "test"}).local


def test_overrides_win():
    assert Settings.from_env({"UTIO_ENV": "local"}, env="production").env == "production"


def test_container_builds_nothing_until_asked():
    c = Container(Settings(store_backend="firestore", bus_backend="pubsub",
                           tasks_backend="cloudtasks"))
    assert not {"store", "bus", "tasks", "http"} & set(vars(c))
    assert c.task_urls()["runner.messages"].endswith("/tasks/messages")
