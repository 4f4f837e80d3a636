"""Emulator hosts for the webhook integration tests: those of the session's `emulators`
fixture (tests/conftest.py), which also sets *_EMULATOR_HOST for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infra.emulators import free_port

__all__ = ["emulator_host", "free_port"]


@contextmanager
def emulator_host(request, kind: str, tmp_path_factory=None) -> Iterator[str]:
    shared = request.getfixturevalue("emulators")
    yield shared.firestore_host if kind == "firestore" else shared.pubsub_host
