"""Request and response models of people's sign-in (the web app)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from functions.api.schemas import Input
from shared.model import Model


class AuthConfig(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "enabled": True, "project_id": "utio-prod", "api_key": "AIzaSy...", "emulator": False,
        "signup": True}]})
    enabled: bool = Field(description="Whether people can sign in here at all.")
    project_id: str = Field(description="The Identity Platform (Firebase) project.")
    api_key: str = Field(description="The browser's API key of Identity Platform (public).")
    emulator: bool = Field(description="Local stack: the Firebase Auth emulator answers on "
                           "this same origin (/identitytoolkit.googleapis.com/...).")
    signup: bool = Field(description="Whether self-serve sign-up is open.")


class SignUp(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"account_name": "Acme Ltd"}]})
    account_name: str = Field(min_length=1, max_length=200,
                              description="The name of the new account (a company or a project).")


class PersonOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "uid": "Yx3kQ2aB9cD8eF7gH6iJ5kL4", "email": "ana@acme.example", "email_verified": True,
        "account_id": "acc_1a2b3c4d5e6f7a8b9c0d", "account_name": "Acme Ltd", "role": "owner",
        "agent_id": None, "devices": None}]})
    uid: str
    email: str | None
    email_verified: bool
    account_id: str | None = Field(description="null: signed in, but no account yet (finish "
                                   "signing up with POST /v1/signup).")
    account_name: str | None
    role: str | None = Field(description="owner, admin or agent; null without an account.")
    agent_id: str | None
    devices: list[str] | None = Field(description="The devices an agent may use; null: all.")
