from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas import (
    AccountCreated,
    AccountSettingsPatch,
    ApiKeyCreated,
    ApiKeyList,
    CreateAccount,
    CreateApiKey,
    Health,
)
from shared.domain import AccountSettings
from shared.services import accounts


@api.route("GET", "/v1/health", response=Health, summary="Liveness", tag="meta", auth=None)
def health(p: Principal):
    """Answers 200 with the API's version while the API process is up. No API key needed: point
    uptime checks and load balancers here. It does not check the device runners or your
    devices; for a device's state use `GET /v1/devices/{device_id}`."""
    from functions.api.registry import VERSION

    return Health(version=VERSION)


@api.route("POST", "/v1/accounts", body=CreateAccount, response=AccountCreated, status=201,
           summary="Create an account and its first API key", tag="accounts", auth="admin")
def create_account(p: Principal, body: CreateAccount):
    """For operators of a Utio installation: creates a customer account and its first API key,
    shown once in `api_key.key` (Utio keeps only a hash). Hand the key to the customer; they
    make more with `POST /v1/api-keys`.

    Errors: 401 when the admin key is missing or wrong; 403 when an account's API key is
    sent instead of the admin key; 422 when `name` is empty or `email` is not an address."""
    account, key, raw = accounts.create_account(p.c, body.name, body.email)
    return AccountCreated.model_validate(
        {"account": account.model_dump(), "api_key": key.model_dump() | {"key": raw}})


@api.route("POST", "/v1/api-keys", body=CreateApiKey, response=ApiKeyCreated, status=201,
           summary="Create an API key", tag="accounts")
def create_api_key(p: Principal, body: CreateApiKey):
    """Makes another API key for the calling account, for example one per server or
    environment, so that one can be revoked without stopping the others. The key is in
    `key`, shown only in this answer: store it in your secret manager. Keys never expire;
    revoke them with `DELETE /v1/api-keys/{key_id}`.

    Errors: 401 without a valid API key; 403 for an agent's token (agents cannot make keys);
    422 when `name` is missing or too long."""
    key, raw = accounts.create_api_key(p.c, p.account_id, body.name)
    return ApiKeyCreated.model_validate(key.model_dump() | {"key": raw})


@api.route("GET", "/v1/api-keys", response=ApiKeyList, summary="List API keys", tag="accounts")
def list_api_keys(p: Principal):
    """Lists the account's API keys with their `prefix` (the first characters, to tell them
    apart), never the keys themselves. Use it to find the id of a key to revoke.

    Errors: 401 without a valid API key."""
    keys = accounts.list_api_keys(p.c, p.account_id)
    return ApiKeyList.model_validate({"data": [k.model_dump() for k in keys]})


@api.route("DELETE", "/v1/api-keys/{key_id}", status=204, summary="Revoke an API key",
           tag="accounts", errors=(404,))
def delete_api_key(p: Principal, key_id: str):
    """Revokes a key at once: requests that send it get 401 from then on. Revoking the key
    you are calling with is allowed (the answer still arrives). Create the replacement
    first if a service depends on it.

    Errors: 404 when the key is not one of this account's."""
    accounts.delete_api_key(p.c, p.account_id, key_id)


@api.route("GET", "/v1/account/settings", response=AccountSettings, tag="accounts",
           summary="The account's settings")
def get_account_settings(p: Principal):
    """The settings that apply to every device of the account: `read_on_reply` marks a
    chat read (read receipts to WhatsApp) whenever a message to it goes out, on each
    device whose own `settings.read_on_reply` is null; a device's true or false overrides
    it for that device."""
    return accounts.get_settings(p.c, p.account_id)


@api.route("PATCH", "/v1/account/settings", body=AccountSettingsPatch,
           response=AccountSettings, tag="accounts", summary="Change the account's settings")
def update_account_settings(p: Principal, body: AccountSettingsPatch):
    """Changes the settings given and keeps the others: `read_on_reply` (true: every device
    whose own setting is null marks a chat read when it answers it). The devices' runners
    apply it within seconds; a device's own `settings.read_on_reply` (true or false) still
    overrides it, and `PATCH /v1/devices/{device_id}` with `read_on_reply: null` makes a
    device follow the account again.

    Errors: 422 for an unknown setting or a value of the wrong type."""
    return accounts.update_settings(p.c, p.account_id, body.model_dump(exclude_none=True))
