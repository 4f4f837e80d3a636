"""Calls from the API to the device runner that need an answer now (a pairing code,
number checks, a profile change). They go to the runner URL like tasks do, and the
runner that receives one routes it to the runner holding the device."""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from types import EllipsisType

from pydantic import ConfigDict, Field, field_validator

from shared import id_tokens
from shared.errors import Unavailable, UtioError
from shared.id_tokens import TokenSource
from shared.model import Model
from shared.settings import Settings


class RpcArgs(Model):
    model_config = ConfigDict(extra="ignore")

    device_id: str


class PairCall(RpcArgs):
    """POST /rpc/pair: a pairing code for linking by phone number."""

    phone: str = Field(min_length=1)


class ExistsCall(RpcArgs):
    """POST /rpc/exists: which of these E.164 numbers have WhatsApp."""

    numbers: list[str]


class ProfileCall(RpcArgs):
    """POST /rpc/profile: the device's WhatsApp name, about text and picture."""

    name: str | None = None
    description: str | None = None
    image: bytes | None = None  # sent as base64

    @field_validator("image", mode="before")
    @classmethod
    def _base64(cls, value):
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ValueError("expected a base64 string")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("not base64") from exc


class EditCall(RpcArgs):
    """POST /rpc/edit: replace the text of a sent message."""

    wa_id: str
    to: str
    text: str = Field(min_length=1)


class RevokeCall(RpcArgs):
    """POST /rpc/revoke: delete a sent message for everyone."""

    wa_id: str
    to: str


class ReadCall(RpcArgs):
    """POST /rpc/read: send the read receipts of these messages of a chat."""

    chat: str  # the phone (E.164) or group id
    messages: list[tuple[str, str]]  # (wa_id, sender in E.164)


RPC_CALLS: dict[str, type[RpcArgs]] = {"read": ReadCall, "pair": PairCall, "exists": ExistsCall,
                                       "profile": ProfileCall, "edit": EditCall,
                                       "revoke": RevokeCall}


class RunnerUnavailable(Unavailable):
    """The device runner could not be reached, or answered 5xx; the caller may retry."""

    status, code = 503, "runner_unavailable"


class RunnerError(UtioError):
    """An error the runner answered with, passed on with its status and code."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message, details=details, code=code)
        self.status = status


class RunnerRpc(ABC):
    @abstractmethod
    def call(self, action: str, payload: dict) -> dict:
        """The runner's JSON answer; raises RunnerError (its 4xx/5xx) or RunnerUnavailable."""


def raise_for(status: int, body) -> None:
    if status < 300:
        return
    error = (body or {}).get("error") if isinstance(body, dict) else None
    if status >= 500 or not isinstance(error, dict):
        raise RunnerUnavailable(f"the device runner answered {status}; try again shortly")
    raise RunnerError(status, error.get("code", "runner_error"), error.get("message", ""),
                      error.get("details"))


class HttpRunnerRpc(RunnerRpc):
    """POSTs to the runner URL. Outside the local stack each call carries a Google ID
    token for the runner's service URL (shared/id_tokens.py): the runner shards are
    private Cloud Run services. `tokens` replaces the token source (tests); by default it
    follows the settings."""

    def __init__(self, settings: Settings, timeout: float = 40.0, *,
                 tokens: TokenSource | None | EllipsisType = ...):
        self.settings = settings
        self.timeout = timeout
        self.tokens = id_tokens.for_settings(settings) if tokens is ... else tokens

    def call(self, action, payload):
        import requests

        url = self.settings.runner_url.rstrip("/") + f"/rpc/{action}"
        try:
            headers = id_tokens.bearer(self.tokens, url)
        except id_tokens.TokenUnavailable as exc:
            raise RunnerUnavailable(f"no ID token for the device runner: {exc}") from exc
        try:
            response = requests.post(url, json=payload, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RunnerUnavailable(f"the device runner is unreachable: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        raise_for(response.status_code, body)
        return body or {}
