"""Domain enumerations and the documents we store. Every status and reason is an enum."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from shared.content import Content, MessageRef, MessageType
from shared.model import Model


class DeviceStatus(StrEnum):
    pending = "pending"
    linking = "linking"
    connected = "connected"
    disconnected = "disconnected"
    non_operative = "non_operative"
    logged_out = "logged_out"
    banned = "banned"


class Transport(StrEnum):
    whatsapp = "whatsapp"
    sandbox = "sandbox"


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"
    low = "low"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.urgent: 0, Priority.high: 1, Priority.normal: 2, Priority.low: 3}


class MessageSource(StrEnum):
    """Who sent a message. The web chat's messages (a person typing, who waits for the
    answer) go out on a device ahead of everything the API queued there, still at the
    device's delivery speed; only a signed-in person's request may say web_chat."""

    api = "api"
    web_chat = "web_chat"


WEB_CHAT_RANK = -1  # a send queue's place for web chat messages: before urgent (0)


class MessageStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"
    cancelled = "cancelled"


class FailureReason(StrEnum):
    number_not_on_whatsapp = "number_not_on_whatsapp"
    device_deleted = "device_deleted"
    # Given by no code today, and kept: it is in the published contract (the OpenAPI
    # enum clients generate code from). A logged-out device fails no message: its session
    # holds the queue while it is not connected, so its messages wait to be linked again
    # (or fail `expired` at their expires_at); a send caught by the logout is a transient
    # transport_error, retried once it is connected.
    device_logged_out = "device_logged_out"
    transport_error = "transport_error"
    group_not_found = "group_not_found"
    media_unavailable = "media_unavailable"
    unsupported_content = "unsupported_content"
    expired = "expired"  # not sent by its expires_at: it never goes out late


class Direction(StrEnum):
    outbound = "outbound"
    inbound = "inbound"


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Doc(Model):
    model_config = ConfigDict(extra="ignore")

    def to_doc(self) -> dict:
        return self.model_dump(mode="python")


class AccountSettings(Model):
    model_config = ConfigDict(extra="forbid")

    read_on_reply: bool = Field(default=False, description="Mark a chat read (read receipts "
                                "to WhatsApp) when a message to it goes out, on every device "
                                "whose own read_on_reply is not set.")


class Account(Doc):
    id: str
    name: str
    email: str | None = None
    settings: AccountSettings = Field(default_factory=AccountSettings)
    created_at: datetime


class ApiKey(Doc):
    id: str
    account_id: str
    name: str
    prefix: str
    hash: str
    created_at: datetime


class ChatCleanup(Model):
    model_config = ConfigDict(extra="forbid")

    inactive_days: int | None = Field(
        default=None, ge=1, le=3650, description="Delete chats with no message for this many days.")
    max_chats: int | None = Field(
        default=None, ge=1, le=100_000, description="Keep at most this many chats, the most "
        "recently active; delete the others.")


def _cleanup_off_is_none(value: ChatCleanup | None) -> ChatCleanup | None:
    if value is not None and value.inactive_days is None and value.max_chats is None:
        return None
    return value


class DeviceWarningCode(StrEnum):
    too_many_chats = "too_many_chats"
    too_many_groups = "too_many_groups"


class DeviceWarning(Model):
    code: DeviceWarningCode
    message: str
    count: int
    limit: int


class Warmup(Model):
    """A newly linked number sends little at first: its daily cap is `first_day` on the
    day it was linked and doubles each day, for `days` days (defaults: 20, 40, 80, 160,
    320, 640, 1280). Messages beyond the day's cap wait for the next day (UTC)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="On by default for WhatsApp devices; "
                          "sandbox devices start with it off.")
    first_day: int = Field(default=20, ge=1, le=10_000,
                           description="Messages on the day the number was linked.")
    days: int = Field(default=7, ge=1, le=60, description="How many days the warm-up lasts; "
                      "the cap doubles each day.")

    def cap(self, day: int) -> int | None:
        """The cap on day `day` (1: the day of linking); None once warmed up."""
        if not self.enabled or day < 1 or day > self.days:
            return None
        return self.first_day * 2 ** (day - 1)


class DeviceSettings(Model):
    model_config = ConfigDict(extra="forbid")

    chat_cleanup: ChatCleanup | None = Field(
        default=None, exclude_if=lambda value: value is None,
        description="Automatic chat clean-up, run by a scheduled job; absent when off.")
    _cleanup_off = field_validator("chat_cleanup")(_cleanup_off_is_none)
    delivery_speed: int = Field(
        default=15, ge=1, le=120, description="Messages per minute this device sends at most."
    )
    daily_limit: int | None = Field(
        default=None, ge=1, le=100_000, description="Messages a day (UTC) this device sends "
        "at most; the rest wait for the next day. None: no daily cap beyond the warm-up.")
    typing_seconds: int = Field(default=0, ge=0, le=20, description="Show \"typing...\" "
                                "this long before each text goes out (0: off); a message's "
                                "own `typing` overrides it.")
    read_on_reply: bool | None = Field(default=None, description="Mark a chat read (read "
                                       "receipts to WhatsApp) when a message to it goes out; "
                                       "null: as the account's setting says.")
    warmup: Warmup = Field(default_factory=Warmup, description="The warm-up of a newly "
                           "linked number (a daily cap that grows day by day).")


class BillingStatus(StrEnum):
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    unpaid = "unpaid"
    canceled = "canceled"


class Device(Doc):
    id: str
    account_id: str
    alias: str | None = None
    transport: Transport
    status: DeviceStatus = DeviceStatus.pending
    warnings: list[DeviceWarning] = Field(default_factory=list)
    phone: str | None = None
    settings: DeviceSettings = Field(default_factory=DeviceSettings)
    plan: str = "messaging-professional"  # an id of shared.plans.PLANS
    billing_status: BillingStatus = BillingStatus.trialing
    created_at: datetime
    updated_at: datetime
    # Held by the runner: written by device_runner (leases, WhatsApp state), not the API.
    status_code: str | None = None  # shared.device_states.StatusCode
    shard: str | None = None  # the runner shard holding the session (device_runner.leases)
    lease_epoch: int = 0  # fencing token: bumped whenever another runner takes the device
    # The send queue: set while paused (POST /v1/devices/{id}/queue/pause); a claim for
    # sending is conditional on it being unset (shared.services.message_transitions).
    queue_paused_at: datetime | None = None
    linked_at: datetime | None = None  # when its current number was linked (warm-up)


STATUS_BROADCAST = "status@broadcast"  # where WhatsApp status posts (stories) go


class Message(Doc):
    id: str
    account_id: str
    device_id: str
    direction: Direction = Direction.outbound
    type: MessageType = MessageType.text
    phone: str | None = None  # E.164; or
    group: str | None = None  # a group's WhatsApp id, "<digits>@g.us"
    message: str = ""  # the text, or a line standing for other content
    content: Content
    quote: MessageRef | None = None
    priority: Priority = Priority.normal
    source: MessageSource = MessageSource.api
    reference: str | None = None
    status: MessageStatus = MessageStatus.queued
    failure_reason: FailureReason | None = None
    wa_id: str | None = None
    claimed_by: str | None = None
    deliver_at: datetime | None = None
    expires_at: datetime | None = None  # not sent by then: failed with reason `expired`
    poll_results: dict | None = None  # a poll's tally (shared.services.polls)
    forwarded: bool = False  # POST /v1/messages/{id}/forward: shown as forwarded
    lid: str | None = None  # the anonymous id it was addressed to ("<digits>@lid")
    status_post: bool = False  # POST /v1/devices/{id}/status: a status (story), to no chat
    background: str | None = None  # a text status's colour, "#RRGGBB"
    typing: int | None = None  # seconds of "typing..." before it goes out (None: the device's)
    edited_at: datetime | None = None  # PATCH /v1/messages/{id}: `message` is the new text
    revoked_at: datetime | None = None  # POST /v1/messages/{id}/revoke: deleted for everyone
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    # the monthly-quota reservation this message holds (shared.services.quotas)
    quota_period: str | None = None
    quota_shard: int | None = None

    INTERNAL: ClassVar[frozenset[str]] = frozenset(
        {"account_id", "claimed_by", "wa_id", "quota_period", "quota_shard"})
    # The version of the message's document this copy is (shared.ports.Committed), when
    # it was just written or brought by its task: the next transition is conditional on
    # it without reading the document. A private attribute: never dumped, so never in the
    # document, an API answer or an event.
    _version: str | None = PrivateAttr(default=None)

    @property
    def version(self) -> str | None:
        # (read from pydantic's dict of private attributes: `self._version` goes through
        # BaseModel.__getattr__, some 40 times slower, and transitions read it often)
        return self.__pydantic_private__["_version"]

    def at_version(self, version: str | None) -> Message:
        """This copy as the document at `version` (None: at no version known)."""
        copy = super().model_copy()
        copy._version = version
        return copy

    def made_at_version(self, version: str | None) -> Message:
        """This copy, made by the caller and handed to no one yet (a model_copy, a
        validation), marked as the document at `version`: at_version without a second
        copy. Never for a copy someone else holds (a cache's, a caller's argument)."""
        self.__pydantic_private__["_version"] = version
        return self

    def __eq__(self, other) -> bool:
        """Copies of one message are equal whatever version of it they know."""
        if isinstance(other, Message) and other._version != self._version:
            other = other.at_version(self._version)
        return super().__eq__(other)

    def model_copy(self, *, update=None, deep: bool = False) -> Message:
        """A copy with `update` applied is no longer the document at this copy's version:
        it has none (at_version gives it the one its write answered)."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy.__pydantic_private__["_version"] = None  # (as in `version`: the fast way)
        return copy

    @model_validator(mode="before")
    @classmethod
    def _text_content(cls, data):
        """Documents written before content existed hold only the text."""
        if isinstance(data, dict) and data.get("content") is None:
            data = dict(data, content={"type": "text", "text": data.get("message") or " "})
        return data

    @property
    def to(self) -> str:
        if self.status_post:
            return STATUS_BROADCAST
        return self.group or self.phone or ""

    @property
    def send_rank(self) -> int:
        """Its place in the device's send queue: the web chat first, then by priority."""
        return WEB_CHAT_RANK if self.source == MessageSource.web_chat else self.priority.rank


class WebhookDisabledReason(StrEnum):
    manual = "manual"  # PATCH enabled=false
    failing = "failing"  # every attempt failed for webhook_disable_after (a day)
    gone = "gone"  # the receiver answered 410 Gone


def _pattern_matches(pattern: str, name: str) -> bool:
    return pattern == "*" or pattern == name or (
        pattern.endswith(":*") and name.startswith(pattern[:-1]))


# "perhaps from a second before" (docs/guides/04-webhooks.md): the catch-up's window opens
# as early (shared.services.webhooks.fanout.CATCH_UP_MARGIN is this), and clocks may differ
# that much
TAKING_MARGIN = timedelta(seconds=1)


class WebhookRoute(Model):
    """The part of a webhook that fan-out needs: which events it takes."""

    model_config = ConfigDict(extra="ignore")

    id: str
    account_id: str
    events: list[str]
    devices: list[str] | None = None
    enabled: bool = True
    # When it began taking events: made, or enabled again. An event from before (less
    # TAKING_MARGIN) is not its: a copy the sweep publishes again, a minute after, of an
    # event older than the webhook gave a new webhook events from before it existed.
    # None (webhooks made before the field): no bound.
    taking_since: datetime | None = None

    def matches(self, event: Event) -> bool:
        if not self.enabled or event.account != self.account_id:
            return False
        if self.taking_since is not None and event.created_at < self.taking_since - TAKING_MARGIN:
            return False
        if self.devices is not None and event.device not in self.devices:
            return False
        return any(_pattern_matches(pattern, event.event) for pattern in self.events)


class Webhook(WebhookRoute):
    """A webhook with its secrets in the clear: only the webhooks repository builds one,
    opening what it stores sealed (shared.secrets_crypto)."""

    url: str
    description: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    secret: str
    previous_secret: str | None = None  # still signs until previous_secret_expires_at
    previous_secret_expires_at: datetime | None = None
    disabled_reason: WebhookDisabledReason | None = None
    disabled_at: datetime | None = None
    failing_since: datetime | None = None  # first failed attempt since the last success
    created_at: datetime
    updated_at: datetime | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        if self.previous_secret and self.previous_secret_expires_at and \
                now < self.previous_secret_expires_at:
            return [self.secret, self.previous_secret]
        return [self.secret]


class Event(Model):
    """A domain event; `account` travels as a Pub/Sub attribute, not in the body."""

    id: str
    event: str
    created_at: datetime
    account: str
    device: str | None = None
    sequence: int | None = None  # per device, assigned on publish (shared.services.sequence)
    data: dict

    def body(self) -> dict:
        """What a webhook receives: no account; no sequence on events without one."""
        exclude = {"account"} if self.sequence is not None else {"account", "sequence"}
        return self.model_dump(mode="json", exclude=exclude)


class DeliveryFailure(StrEnum):
    retries_exhausted = "retries_exhausted"
    gone = "gone"  # the receiver answered 410 Gone
    manual_attempt_failed = "manual_attempt_failed"
    webhook_disabled = "webhook_disabled"
    webhook_deleted = "webhook_deleted"


class Attempt(Model):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    latency_ms: int
    response: str | None = None
    manual: bool = False


class Delivery(Doc):
    """One event for one webhook. Its id derives from (event, webhook), so a repeated
    fan-out finds it; `attempt_count` guards the recording of each attempt."""

    id: str
    webhook_id: str
    account_id: str
    event_id: str
    event: dict  # the body the receiver gets
    status: DeliveryStatus = DeliveryStatus.pending
    reason: DeliveryFailure | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    attempt_count: int = 0
    next_attempt_at: datetime | None = None
    manual: bool = False  # the pending attempt was asked for by hand
    manual_retries: int = 0
    created_at: datetime
    sort_key: str = ""  # created_at and id: the delivery log's order and cursor
    expire_at: datetime | None = None  # Firestore TTL
