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


def test_a_value_that_does_not_parse_names_its_variable():
    import pytest

    with pytest.raises(ValueError) as refused:
        Settings.from_env({"UTIO_WEBHOOK_TIMEOUT": "fast", "UTIO_VERIFY_OIDC": "maybe"})
    assert "UTIO_WEBHOOK_TIMEOUT='fast'" in str(refused.value)
    assert "UTIO_VERIFY_OIDC='maybe'" in str(refused.value)
    with pytest.raises(ValueError, match="UTIO_SHARD_CAPACITY"):
        Settings.from_env({"UTIO_SHARD_CAPACITY": "1.5"})


def test_types_come_from_the_annotations():
    settings = Settings.from_env({"UTIO_SHARD_CAPACITY": "7", "UTIO_VERIFY_OIDC": "",
                                  "UTIO_ALLOW_PRIVATE_WEBHOOKS": " ON ",
                                  "UTIO_WEBHOOK_RETRY_SCHEDULE": "1, 2,3"})
    assert settings.shard_capacity == 7 and settings.verify_oidc is False
    assert settings.allow_private_webhooks is True
    assert settings.webhook_retry_schedule == (1.0, 2.0, 3.0)
