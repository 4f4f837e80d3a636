"""One local stack on the session's emulators, shared by the end-to-end tests that only
call its API (each makes its own account when it needs a clean one)."""

from __future__ import annotations

import pytest

from tests.e2e.stack import running_stack


@pytest.fixture(scope="session")
def shared_stack(emulators, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("shared-stack"), {
            "FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
            "PUBSUB_EMULATOR_HOST": emulators.pubsub_host,
            "UTIO_STRIPE_SECRET_KEY": None}) as running:
        yield running
