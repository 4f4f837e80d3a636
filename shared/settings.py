"""Settings from the environment (prefix UTIO_). Secrets come from Secret Manager in
production, mounted as environment variables; none has a default that works there."""

from __future__ import annotations

import functools
import os
import typing
from dataclasses import dataclass, field, fields

# Standard Webhooks' suggested schedule, about a day in all (seconds).
PRODUCTION_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
LOCAL_RETRY_SCHEDULE = (1, 2, 4, 8, 16, 32)
# A webhook whose every attempt failed for this long is disabled: a day in production,
# two minutes locally so it can be watched.
PRODUCTION_DISABLE_AFTER = 86400.0
LOCAL_DISABLE_AFTER = 120.0


@dataclass(frozen=True)
class Settings:
    env: str = "local"  # local | test | production
    project: str = "utio-local"
    region: str = "europe-west1"
    store_backend: str = "memory"  # firestore | memory
    bus_backend: str = "inprocess"  # pubsub | inprocess
    tasks_backend: str = "inprocess"  # cloudtasks | local | inprocess
    admin_key: str = ""
    verify_oidc: bool = False
    oidc_audience: str = ""
    oidc_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"  # Google's signing keys
    tasks_service_account: str = ""
    local_tasks_url: str = "http://127.0.0.1:8089"
    runner_url: str = "http://127.0.0.1:8081"
    webhook_deliver_url: str = "http://127.0.0.1:8083"
    allow_private_webhooks: bool = False
    webhook_timeout: float = 10.0
    webhook_retry_schedule: tuple[float, ...] = field(default=PRODUCTION_RETRY_SCHEDULE)
    webhook_retry_jitter: float = 0.2  # each retry delay is scaled by 1 ± this
    webhook_disable_after: float = PRODUCTION_DISABLE_AFTER
    # Fan-out makes the first attempt of at most this many of an event's deliveries
    # itself (0: none; the rest go to their task at once), each with this timeout, and
    # starts none once this many seconds of the push have passed: a push takes at most
    # about budget + timeout, well inside the subscription's 60 s ack deadline
    # (shared/services/webhooks/fanout.py).
    webhook_inline_attempts: int = 10
    webhook_inline_timeout: float = 5.0
    webhook_inline_budget: float = 15.0
    # The event log (docs/events.md): how long a request waits for Pub/Sub to take an
    # event it logged, and after how many seconds without renewal a process's relay
    # document is swept (its events relayed again by the sweep).
    event_ack_wait: float = 1.0
    event_relay_stale: float = 60.0
    runner_shard: str = "runner-0"
    default_transport: str = "whatsapp"
    # Billing (Stripe). Keys come from Secret Manager in production; never logged.
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = ""  # empty: Stripe itself; tests point it at a local stand-in
    public_url: str = "http://127.0.0.1:8080"  # where Stripe Checkout and the portal return
    vat_home_country: str = ""  # the seller's EU country: its customers always pay its VAT
    data_dir: str = ".utio"  # local state: files, SQLite session files, inbound media
    # media: files uploaded or fetched from URLs
    storage_backend: str = ""  # gcs | disk | memory; empty: gcs with a bucket or in production
    storage_dir: str = ""  # disk: <data_dir>/files unless set
    media_fetch_timeout: float = 20.0
    # Mail: SMTP when smtp_url is set (smtp://user:password@host:587), else a file outbox.
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "Utio <no-reply@utio.local>"
    mail_outbox: str = ".utio/outbox.jsonl"
    media_bucket: str = ""  # Cloud Storage bucket for media; empty: local disk
    webhook_secret_key: str = field(default="", repr=False)  # encrypts webhook secrets at rest
    session_db_url: str = field(default="", repr=False)  # WhatsApp session store DSN; empty: SQLite
    # Device runner shards, leases and WhatsApp sessions (device_runner/).
    runner_self_url: str = ""  # this runner's own URL, where others forward; runner_url if empty
    shard_capacity: int = 500  # sessions one runner holds at most
    lease_seconds: float = 30.0  # a silent runner loses its devices after this long
    renew_seconds: float = 10.0  # how often a runner renews its lease and looks for orphans
    reconnect_base: float = 2.0  # seconds before the first reconnect; doubles, with jitter
    reconnect_max: float = 300.0
    non_operative_after: float = 1800.0  # seconds disconnected before non_operative + email
    scan_wait: float = 4.0  # seconds GET /scan waits for a fresh QR code
    provisioner: str = "none"  # cloudrun | local | none: who adds a shard when all are full
    web_dir: str = ""  # local: the built web app (web/dist) the api serves beside /v1; empty: none
    # People sign in with Identity Platform (Firebase Authentication); see shared/person_tokens.py.
    identity_backend: str = ""  # firebase | "" (none: ID tokens are refused, invitations not sent)
    identity_project: str = ""  # the Identity Platform project; empty: project
    identity_api_key: str = ""  # the browser's (public) Identity Platform API key
    auth_emulator_host: str = ""  # local: the Firebase Auth emulator (host:port)
    id_token_certs_url: str = ("https://www.googleapis.com/robot/v1/metadata/x509/"
                               "securetoken@system.gserviceaccount.com")
    person_check_seconds: float = 30.0  # how long a user found live in Identity Platform is trusted
    self_signup: bool = True  # false: /signup is closed; operators create accounts (admin key)
    # The per-process caches of API keys, devices and webhooks (shared/caches.py, where
    # each states its staleness); None: on, except in unit tests (env "test"), which
    # write documents behind the services' back.
    caches: bool | None = None
    # Sent messages filed in their chat with at most one chat write every few seconds
    # under sustained sending (shared/services/chat_filing.py); None: on, except in
    # unit tests, which read a chat's history right after sending.
    coalesce_chats: bool | None = None
    # The monthly quota (the API) and the daily caps (the runner) counted in blocks for a
    # device sending fast, a block's unspent units given back as it ends or the process
    # stops (shared/services/quota_leases.py); None: on, except in unit tests, which read
    # the counters right after sending.
    quota_leases: bool | None = None

    @property
    def caching(self) -> bool:
        return self.caches if self.caches is not None else self.env != "test"

    @property
    def coalescing(self) -> bool:
        return self.coalesce_chats if self.coalesce_chats is not None else self.env != "test"

    @property
    def leasing(self) -> bool:
        return self.quota_leases if self.quota_leases is not None else self.env != "test"

    @property
    def local(self) -> bool:
        return self.env in ("local", "test")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Every UTIO_<FIELD> variable, parsed by the field's type (pydantic, lax: "yes",
        "on", "1", "true" are true, an empty value false; webhook_retry_schedule is
        comma-separated seconds).
        A value that does not parse raises ValueError naming the variable."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            raw = environ.get("UTIO_" + f.name.upper())
            if raw is None:
                continue
            if f.name == "webhook_retry_schedule":
                values[f.name] = [part.strip() for part in raw.split(",") if part.strip()]
            else:
                values[f.name] = (raw.strip() or "false") if f.type == "bool" else raw
        if values.get("env", cls.env) != "production":
            values.setdefault("webhook_retry_schedule", LOCAL_RETRY_SCHEDULE)
            values.setdefault("webhook_disable_after", LOCAL_DISABLE_AFTER)
        values.update(overrides)
        from pydantic import ValidationError

        # Each value given is parsed by its field's type alone (the same lax rules as the
        # whole dataclass's schema, which takes some 10 ms to build on every cold start);
        # names that are no field are ignored, as that schema ignores them.
        types = typing.get_type_hints(cls)
        parsed: dict = {}
        problems: list[str] = []
        for f in fields(cls):
            if f.name not in values:
                continue
            try:
                parsed[f.name] = _adapter(types[f.name]).validate_python(values[f.name])
            except ValidationError as exc:
                name = "UTIO_" + f.name.upper()
                problems += [f"{name}={environ.get(name)!r}: {error['msg']}"
                             for error in exc.errors()]
        if problems:
            raise ValueError("settings from the environment do not parse: "
                             + "; ".join(problems)) from None
        return cls(**parsed)


@functools.cache
def _adapter(annotation: typing.Any):
    from pydantic import TypeAdapter

    return TypeAdapter(annotation)
