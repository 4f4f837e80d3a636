from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas import (
    AccountCreated,
    ApiKeyCreated,
    ApiKeyList,
    CreateAccount,
    CreateApiKey,
    Health,
)
from shared.services import accounts


@api.route("GET", "/v1/health", response=Health, summary="Liveness", tag="meta", auth=None)
def health(p: Principal):
    from functions.api.registry import VERSION

    return Health(version=VERSION)


@api.route("POST", "/v1/accounts", body=CreateAccount, response=AccountCreated, status=201,
           summary="Create an account and its first API key", tag="accounts", auth="admin")
def create_account(p: Principal, body: CreateAccount):
    account, key, raw = accounts.create_account(p.c, body.name, body.email)
    return AccountCreated.model_validate(
        {"account": account.model_dump(), "api_key": key.model_dump() | {"key": raw}})


@api.route("POST", "/v1/api-keys", body=CreateApiKey, response=ApiKeyCreated, status=201,
           summary="Create an API key", tag="accounts")
def create_api_key(p: Principal, body: CreateApiKey):
    key, raw = accounts.create_api_key(p.c, p.account_id, body.name)
    return ApiKeyCreated.model_validate(key.model_dump() | {"key": raw})


@api.route("GET", "/v1/api-keys", response=ApiKeyList, summary="List API keys", tag="accounts")
def list_api_keys(p: Principal):
    keys = accounts.list_api_keys(p.c, p.account_id)
    return ApiKeyList.model_validate({"data": [k.model_dump() for k in keys]})


@api.route("DELETE", "/v1/api-keys/{key_id}", status=204, summary="Revoke an API key",
           tag="accounts", errors=(404,))
def delete_api_key(p: Principal, key_id: str):
    accounts.delete_api_key(p.c, p.account_id, key_id)
