from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from functions.api.registry import Principal, api
from functions.api.schemas import Accepted, Phone
from shared.content import MAX_POLL_OPTIONS, e164
from shared.model import Model
from shared.services import polls


class SandboxPollVote(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "msg_0a1b2c3d4e5f6a7b8c9d", "phone": "+447911123457",
         "options": ["Tuesday"]}]})
    message: str = Field(min_length=1, max_length=100, description="The poll's id (msg_…).")
    phone: Phone = Field(description="The voter, in E.164.")
    options: list[str] = Field(max_length=MAX_POLL_OPTIONS, description="The options chosen "
                               "(their exact text); empty withdraws the vote.")

    _phone = field_validator("phone")(e164)


@api.route("POST", "/v1/devices/{device_id}/sandbox/poll-vote", body=SandboxPollVote,
           response=Accepted, status=202, tag="devices", errors=(404, 409),
           summary="Vote on a sandbox device's poll")
def sandbox_poll_vote(p: Principal, device_id: str, body: SandboxPollVote):
    """For sandbox devices only: pretends that `phone` voted `options` on a poll the device
    sent. The vote arrives as WhatsApp's would: a `message:poll:vote` event, and the poll's
    `poll_results` updated. A second vote by the same phone replaces the first.

    Errors: 400 when the device is a real WhatsApp device; 404 when the device or the
    message is not in this account; 409 `poll_not_sent` when the poll has not been sent;
    422 when the message is not a poll of this device, an option is not the poll's, or a
    single-choice poll gets several."""
    polls.sandbox_vote(p.c, p.account_id, device_id, body.message, body.phone, body.options)
    return Accepted()
