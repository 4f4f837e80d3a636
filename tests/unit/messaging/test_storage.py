"""Storage adapters (disk, memory, and Cloud Storage through its real client against a
stand-in of its JSON API) and the composition root's choice among them."""

from __future__ import annotations

import pytest

from shared.adapters.storage import DiskStorage, MemoryStorage
from shared.bootstrap import Container
from shared.settings import Settings
from tests.unit.messaging.gcs_standin import GcsStandin


@pytest.fixture(scope="module")
def gcs():
    standin = GcsStandin()
    yield standin
    standin.stop()


@pytest.fixture(params=["disk", "memory", "gcs"])
def storage(request, tmp_path, monkeypatch):
    if request.param == "disk":
        return DiskStorage(tmp_path / "files")
    if request.param == "memory":
        return MemoryStorage()
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs_client

    from shared.adapters.gcs_storage import GcsStorage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", request.getfixturevalue("gcs").url)
    return GcsStorage(gcs_client.Client(project="test", credentials=AnonymousCredentials()),
                      "utio-media")


def test_put_get_delete(storage):
    storage.put("acc_1/file_a", b"\x89PNG bytes", "image/png")
    assert storage.get("acc_1/file_a") == b"\x89PNG bytes"
    storage.put("acc_1/file_a", b"replaced", "image/png")
    assert storage.get("acc_1/file_a") == b"replaced"
    assert storage.delete("acc_1/file_a") is True
    assert storage.delete("acc_1/file_a") is False


def test_missing_is_a_lookup_error(storage):
    with pytest.raises(LookupError):
        storage.get("acc_1/file_nope")


def test_gcs_keeps_the_content_type(gcs, monkeypatch):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs_client

    from shared.adapters.gcs_storage import GcsStorage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    adapter = GcsStorage(gcs_client.Client(project="t", credentials=AnonymousCredentials()), "b1")
    adapter.put("acc/file_1", b"%PDF-1.7", "application/pdf")
    assert gcs.objects[("b1", "acc/file_1")] == (b"%PDF-1.7", "application/pdf")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "..", "a/./b"])
def test_disk_refuses_keys_that_leave_its_directory(tmp_path, key):
    with pytest.raises(ValueError):
        DiskStorage(tmp_path).put(key, b"x", "text/plain")


@pytest.mark.parametrize("settings,kind", [
    ({}, "DiskStorage"), ({"storage_backend": "memory"}, "MemoryStorage"),
    ({"env": "production", "media_bucket": "utio-media"}, "GcsStorage"),
    ({"media_bucket": "utio-media"}, "GcsStorage"),
])
def test_the_composition_root_picks_the_storage(settings, kind, monkeypatch, gcs):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test")
    from google.auth import credentials

    monkeypatch.setattr("google.auth.default",
                        lambda *a, **k: (credentials.AnonymousCredentials(), "test"))
    c = Container(Settings(**settings))
    assert type(c.storage).__name__ == kind
