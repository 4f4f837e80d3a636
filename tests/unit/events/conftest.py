from tests.unit.inbox.conftest import account, api, c, client, device, new_account  # noqa: F401
