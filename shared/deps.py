"""The one bundle of collaborators a service takes (cosmicpython's unit of work, here
without transactions: the store's conditional writes keep each step atomic). The
composition root (shared.bootstrap.Container) is one; tests build it with fakes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared import ports
    from shared.adapters.inbound_media import MediaStore
    from shared.billing.port import Billing
    from shared.caches import Caches
    from shared.clock import Clock
    from shared.repositories import Repositories
    from shared.runner_rpc import RunnerRpc
    from shared.services.chat_filing import OutboundFiling
    from shared.services.quota_leases import DailyCapLeases, QuotaLeases
    from shared.settings import Settings


class Deps(Protocol):
    settings: Settings
    store: ports.DocumentStore
    repos: Repositories
    caches: Caches
    tasks: ports.TaskQueue
    bus: ports.EventBus
    clock: Clock
    mailer: ports.Mailer
    http: ports.HttpClient
    storage: ports.Storage
    fetcher: ports.MediaFetcher
    billing: Billing
    runner_rpc: RunnerRpc
    inbound_media: MediaStore
    outbound_filing: OutboundFiling
    quota_leases: QuotaLeases
    daily_leases: DailyCapLeases
