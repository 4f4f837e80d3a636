"""The composition root. Every client is built on first use, never at import time;
tests hand in fakes through the same constructor."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from shared import names
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.inbound_media import MediaStore
    from shared.billing.port import Billing
    from shared.caches import Caches
    from shared.clock import Clock
    from shared.identity import Identity
    from shared.ports import (
        DocumentStore,
        EventBus,
        HttpClient,
        Mailer,
        MediaFetcher,
        Storage,
        TaskQueue,
    )
    from shared.repositories import Repositories
    from shared.runner_rpc import RunnerRpc
    from shared.services.chat_filing import OutboundFiling
    from shared.services.people import LiveUsers
    from shared.services.quota_leases import DailyCapLeases, QuotaLeases


class Container:
    """The services' collaborators (shared.deps.Deps), each built on first use."""

    def __init__(self, settings: Settings | None = None, *, store: DocumentStore | None = None,
                 tasks: TaskQueue | None = None, bus: EventBus | None = None,
                 clock: Clock | None = None, http: HttpClient | None = None,
                 storage: Storage | None = None, fetcher: MediaFetcher | None = None,
                 mailer: Mailer | None = None, billing: Billing | None = None,
                 publisher: EventBus | None = None):
        """`bus` replaces the whole bus, production wrapping included; `publisher` replaces
        only the transport under it (what Pub/Sub does in production), so the bus is
        built as in production around it (e.g. to count what production does)."""
        self.settings = settings or Settings.from_env()
        overrides = {"store": store, "tasks": tasks, "bus": bus, "clock": clock, "http": http,
                     "storage": storage, "fetcher": fetcher, "mailer": mailer, "billing": billing,
                     "publisher": publisher}
        for name, value in overrides.items():
            if value is not None:
                self.__dict__[name] = value  # pre-fills the cached_property

    def task_urls(self) -> dict[str, str]:
        s = self.settings
        return {
            names.TARGET_RUNNER_MESSAGES: s.runner_url.rstrip("/") + "/tasks/messages",
            names.TARGET_RUNNER_DEVICES: s.runner_url.rstrip("/") + "/tasks/devices",
            names.TARGET_WEBHOOK_DELIVER: s.webhook_deliver_url,
        }

    @cached_property
    def clock(self) -> Clock:
        from shared.clock import SystemClock

        return SystemClock()

    @cached_property
    def store(self) -> DocumentStore:
        if self.settings.store_backend == "firestore":
            from google.cloud import firestore

            from shared.adapters.firestore_store import FirestoreStore

            return FirestoreStore(firestore.Client(project=self.settings.project))
        from shared.adapters.memory_store import MemoryStore

        return MemoryStore()

    @cached_property
    def repos(self) -> Repositories:
        """Every repository over the store (shared/repositories/)."""
        from shared.repositories import Repositories

        return Repositories(self.store, self.settings)

    @cached_property
    def caches(self) -> Caches:
        """This process's short-lived caches (shared/caches.py states their staleness)."""
        from shared.caches import Caches

        return Caches(self.repos, self.clock, enabled=self.settings.caching)

    @cached_property
    def outbound_filing(self) -> OutboundFiling:
        """Sent messages into their chats, the chat's document written at most every
        few seconds under sustained sending (shared/services/chat_filing.py)."""
        from shared.services.chat_filing import OutboundFiling

        return OutboundFiling(self.store, self.clock, enabled=self.settings.coalescing)

    @cached_property
    def quota_leases(self) -> QuotaLeases:
        """The monthly quota's units taken in blocks for a device sending fast, given
        back as the process exits (shared/services/quota_leases.py)."""
        from shared.services.quota_leases import QuotaLeases

        return self._given_back_at_exit(
            QuotaLeases(self.store, enabled=self.settings.leasing, background=True))

    @cached_property
    def daily_leases(self) -> DailyCapLeases:
        """The daily caps' units taken in blocks by the runner for a device sending fast,
        the same way (shared/services/quota_leases.py DailyCapLeases)."""
        from shared.services.quota_leases import DailyCapLeases

        return self._given_back_at_exit(
            DailyCapLeases(self.store, enabled=self.settings.leasing, background=True))

    def _given_back_at_exit(self, leases):
        import atexit
        import weakref

        if leases.enabled:  # (a weak reference: a container dropped, as in tests, goes)
            held = weakref.ref(leases)
            atexit.register(lambda: (alive := held()) is not None and alive.close())
        return leases

    @cached_property
    def tasks(self) -> TaskQueue:
        backend = self.settings.tasks_backend
        if backend == "cloudtasks":
            from google.cloud import tasks_v2

            from shared.adapters.cloud_tasks import CloudTasksQueue

            return CloudTasksQueue(tasks_v2.CloudTasksClient(), self.settings.project,
                                   self.settings.region, self.task_urls(),
                                   self.settings.tasks_service_account,
                                   self.settings.oidc_audience)
        if backend == "local":
            from shared.adapters.local_tasks_client import LocalTasksClient

            return LocalTasksClient(self.settings.local_tasks_url)
        from shared.adapters.local_dispatcher import LocalDispatcher

        return LocalDispatcher(self.task_urls()).start()

    @cached_property
    def bus(self) -> EventBus:
        """The event log (shared/services/event_log.py): each event is logged with its
        change, numbered per device, and relayed to the publisher."""
        from shared.services.event_log import EventLog

        return EventLog(self.store, self.relay, self.clock)

    @cached_property
    def relay(self):
        """Hands logged events to the publisher, retrying until acknowledged."""
        from shared.services.event_relay import Relay

        return Relay(self.store, self.publisher, self.clock,
                     ack_wait=self.settings.event_ack_wait)

    @cached_property
    def publisher(self) -> EventBus:
        """The transport under the bus: Pub/Sub, or in process straight into the fan-out."""
        if self.settings.bus_backend == "pubsub":
            from google.cloud import pubsub_v1

            from shared.adapters.pubsub_bus import PubSubBus

            # A batch waits 1 ms for company, not the client's 10 ms: every event waits it
            # before Pub/Sub has it, and a request that logged events waits for that
            # (event_ack_wait); events are about 1 KB, Pub/Sub's billing minimum per
            # request, so larger batches would save little.
            batching = pubsub_v1.types.BatchSettings(max_latency=0.001)
            return PubSubBus(pubsub_v1.PublisherClient(batch_settings=batching),
                             self.settings.project, names.EVENTS_TOPIC)
        from shared.adapters.inprocess_bus import InProcessBus
        from shared.services.webhooks.fanout import fan_out

        return InProcessBus([lambda event: fan_out(self, event)])

    @cached_property
    def http(self) -> HttpClient:
        from shared.adapters.http_client import PinnedHttpClient

        return PinnedHttpClient()

    @cached_property
    def mailer(self) -> Mailer:
        from shared.adapters.mailers import FileOutboxMailer, SmtpMailer

        if self.settings.smtp_url:
            return SmtpMailer(self.settings.smtp_url, self.settings.mail_from)
        return FileOutboxMailer(self.settings.mail_outbox)

    @cached_property
    def billing(self) -> Billing:
        """Stripe; its client is built on the first call that needs it."""
        from shared.billing.stripe_adapter import StripeBilling

        return StripeBilling.from_settings(self.settings)

    @cached_property
    def storage(self) -> Storage:
        s = self.settings
        backend = s.storage_backend or ("gcs" if s.media_bucket or s.env == "production"
                                        else "disk")
        if backend == "gcs":
            from google.cloud import storage

            from shared.adapters.gcs_storage import GcsStorage

            return GcsStorage(storage.Client(project=s.project), s.media_bucket)
        from shared.adapters.storage import DiskStorage, MemoryStorage

        if backend == "memory":
            return MemoryStorage()
        return DiskStorage(s.storage_dir or f"{s.data_dir}/files")

    @cached_property
    def fetcher(self) -> MediaFetcher:
        from shared.adapters.media_fetcher import PinnedMediaFetcher

        # the same private-address rule as webhooks: loopback URLs only on the local stack
        return PinnedMediaFetcher(allow_private=self.settings.allow_private_webhooks)


    @cached_property
    def runner_rpc(self) -> RunnerRpc:
        """Synchronous calls to the device runner (pairing codes, number checks, profile)."""
        from shared.runner_rpc import HttpRunnerRpc

        return HttpRunnerRpc(self.settings)

    @cached_property
    def inbound_media(self) -> MediaStore:
        """Media received on WhatsApp, in the storage (inbound/<device>/<name>)."""
        from shared.adapters.inbound_media import MediaStore

        return MediaStore(self.storage)

    @cached_property
    def identity(self) -> Identity | None:
        """People's identities (Identity Platform; the Auth emulator locally), or None when
        sign-in is not configured. Tests set `container.identity` to a fake."""
        if self.settings.identity_backend != "firebase":
            return None
        from shared.identity.firebase import FirebaseIdentity

        return FirebaseIdentity(self.settings)

    @cached_property
    def live_users(self) -> LiveUsers:
        from shared.services.people import LiveUsers

        return LiveUsers(self.settings.person_check_seconds)


_lock = threading.Lock()
_default: Container | None = None


def container() -> Container:
    """The process-wide container, built on first call."""
    global _default
    with _lock:
        if _default is None:
            _default = Container()
        return _default


def set_container(value: Container | None) -> None:
    global _default
    with _lock:
        _default = value
