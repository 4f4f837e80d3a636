"""The payloads of the runner's task endpoints (device_runner/app.py): what the API side
enqueues and the runner validates, one model each."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, model_validator

from shared.model import Model


class MessageTask(Model):
    """POST /tasks/messages: send this queued message (the device routes the task)."""

    model_config = ConfigDict(extra="ignore")

    message_id: str
    device_id: str | None = None  # absent in tasks enqueued before it was added
    # The message as it was queued (JSON), so that the runner need not read it: after it
    # is created only its status and claim change, and the claim checks both. Absent in
    # tasks enqueued before it was added: the runner reads the message then.
    message: dict | None = None
    # The version of the message's document that `message` is (shared.ports.Committed):
    # the claim is conditional on it without reading the document. Internal, like the
    # task; absent (None) in older tasks, or when the store gave none: the claim reads.
    version: str | None = None


class DeviceAction(StrEnum):
    start = "start"  # hold the device's session (a new device, or a resumed one)
    stop = "stop"  # the device was deleted: end its session everywhere
    refresh = "refresh"  # its settings or plan changed: pace its queue anew
    link = "link"  # a fresh QR code
    relink = "relink"  # log the current number out, then a fresh QR code
    sandbox_inbound = "sandbox_inbound"  # inject an inbound message (sandbox devices)
    sandbox_poll_vote = "sandbox_poll_vote"  # a vote on a poll the device sent (sandbox)
    sandbox_change = "sandbox_change"  # a contact edits (message) or deletes what they sent
    group_operation = "group_operation"  # apply a queued group operation
    group_sync = "group_sync"  # read the device's groups from WhatsApp


class DeviceTask(Model):
    """POST /tasks/devices."""

    model_config = ConfigDict(extra="ignore")

    device_id: str
    action: DeviceAction
    phone: str | None = None  # sandbox_inbound: the sender
    message: str | None = None  # sandbox_inbound: the text
    wa_id: str | None = None  # sandbox_inbound: its WhatsApp id, fixed when the API took it
    operation_id: str | None = None  # group_operation
    lid: str | None = None  # sandbox_inbound: the sender shown by anonymous id
    poll_wa_id: str | None = None  # sandbox_poll_vote: the poll's WhatsApp id
    options: list[str] | None = None  # sandbox_poll_vote: the options chosen
    file_id: str | None = None  # sandbox_inbound of media: the account's file (POST /v1/files)
    caption: str | None = None  # sandbox_inbound of media
    kind: str | None = None  # sandbox_inbound of media: image, video, audio, gif, document
    target_wa_id: str | None = None  # sandbox_change: the WhatsApp id of the message changed
    group: str | None = None  # sandbox_change: the group it was received in

    @model_validator(mode="after")
    def _fields_of_the_action(self):
        if self.action == DeviceAction.sandbox_inbound and (
                not (self.phone or self.lid) or (self.message is None and not self.file_id)):
            raise ValueError("sandbox_inbound needs \"phone\" (or \"lid\") and \"message\" "
                             "(or \"file_id\")")
        if self.action == DeviceAction.sandbox_poll_vote and (
                not self.phone or not self.poll_wa_id or self.options is None):
            raise ValueError("sandbox_poll_vote needs \"phone\", \"poll_wa_id\" and \"options\"")
        if self.action == DeviceAction.sandbox_change and (
                not self.phone or not self.target_wa_id or not self.wa_id):
            raise ValueError("sandbox_change needs \"phone\", \"target_wa_id\" and \"wa_id\"")
        return self
