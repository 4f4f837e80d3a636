from __future__ import annotations

import pytest

from shared.bootstrap import Container
from shared.settings import (
    LOCAL_DISABLE_AFTER,
    LOCAL_RETRY_SCHEDULE,
    PRODUCTION_RETRY_SCHEDULE,
    Settings,
)


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


def test_each_value_parses_as_the_whole_dataclass_schema_parses_it():
    # from_env parses each value given by its field's type alone; pydantic's schema of the
    # whole dataclass is what it stands for, values and refusals alike
    from pydantic import TypeAdapter, ValidationError

    whole = TypeAdapter(Settings)
    given = [
        {"env": "production", "verify_oidc": "off", "shard_capacity": "12", "caches": "true",
         "coalesce_chats": "0", "webhook_retry_schedule": ["1", "2.5"], "lease_seconds": "3"},
        {"allow_private_webhooks": "YES", "webhook_timeout": 4, "caches": None, "nope": 1},
        {"shard_capacity": 3.0, "self_signup": "false", "web_dir": "web/dist"},
    ]
    for values in given:
        assert Settings.from_env({}, **values) == whole.validate_python(
            {"webhook_retry_schedule": LOCAL_RETRY_SCHEDULE, "webhook_disable_after": LOCAL_DISABLE_AFTER}
            | values)
    for bad in ({"shard_capacity": "1.5"}, {"verify_oidc": "maybe"}, {"caches": "sometimes"},
                {"webhook_retry_schedule": ["1", "soon"]}, {"admin_key": 5}):
        with pytest.raises(ValidationError):
            whole.validate_python(bad)
        with pytest.raises(ValueError, match="UTIO_" + next(iter(bad)).upper()):
            Settings.from_env({}, **bad)
