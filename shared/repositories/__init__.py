"""Repositories over the DocumentStore: each owns its collection's name, its document
shape (to and from the domain model) and its queries. Services reach documents only
through them (`deps.repos.<aggregate>`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.ports import DocumentStore
    from shared.repositories.accounts import Accounts, ApiKeys
    from shared.repositories.agents import Agents
    from shared.repositories.chats import ChatMessages, ChatPurges, Chats
    from shared.repositories.contacts import Contacts
    from shared.repositories.devices import Devices
    from shared.repositories.files import Files
    from shared.repositories.groups import GroupOperations, Groups, GroupSyncs
    from shared.repositories.labels import Labels
    from shared.repositories.links import DeviceLinks
    from shared.repositories.messages import IdempotencyKeys, Messages
    from shared.repositories.people import People
    from shared.repositories.usage import (
        LimitNotices,
        NumberCheckCache,
        NumberCheckUsage,
        UsageCounters,
    )
    from shared.repositories.webhooks import Deliveries, Webhooks
    from shared.settings import Settings

# attribute => (module under shared.repositories, class); each is imported on first use
_REPOSITORIES = {
    "devices": ("devices", "Devices"),
    "messages": ("messages", "Messages"),
    "idempotency": ("messages", "IdempotencyKeys"),
    "chats": ("chats", "Chats"),
    "chat_messages": ("chats", "ChatMessages"),
    "chat_purges": ("chats", "ChatPurges"),
    "contacts": ("contacts", "Contacts"),
    "labels": ("labels", "Labels"),
    "groups": ("groups", "Groups"),
    "group_operations": ("groups", "GroupOperations"),
    "group_syncs": ("groups", "GroupSyncs"),
    "agents": ("agents", "Agents"),
    "people": ("people", "People"),
    "files": ("files", "Files"),
    "device_links": ("links", "DeviceLinks"),
    "usage_counters": ("usage", "UsageCounters"),
    "limit_notices": ("usage", "LimitNotices"),
    "number_check_usage": ("usage", "NumberCheckUsage"),
    "number_check_cache": ("usage", "NumberCheckCache"),
    "webhooks": ("webhooks", "Webhooks"),
    "deliveries": ("webhooks", "Deliveries"),
    "accounts": ("accounts", "Accounts"),
    "api_keys": ("accounts", "ApiKeys"),
}


class Repositories:
    """Every repository over one store, each built on first use."""

    devices: Devices
    messages: Messages
    idempotency: IdempotencyKeys
    chats: Chats
    chat_messages: ChatMessages
    chat_purges: ChatPurges
    contacts: Contacts
    labels: Labels
    groups: Groups
    group_operations: GroupOperations
    group_syncs: GroupSyncs
    agents: Agents
    people: People
    files: Files
    device_links: DeviceLinks
    usage_counters: UsageCounters
    limit_notices: LimitNotices
    number_check_usage: NumberCheckUsage
    number_check_cache: NumberCheckCache
    webhooks: Webhooks
    deliveries: Deliveries
    accounts: Accounts
    api_keys: ApiKeys

    def __init__(self, store: DocumentStore, settings: Settings):
        self.store = store
        self.settings = settings

    def __getattr__(self, name: str):
        try:
            module, cls = _REPOSITORIES[name]
        except KeyError:
            raise AttributeError(name) from None
        repository = getattr(importlib.import_module(f"shared.repositories.{module}"), cls)
        value = repository(self.store, self.settings)
        self.__dict__[name] = value
        return value
