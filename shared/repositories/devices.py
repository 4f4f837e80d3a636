"""Devices (collection "devices"): the customers' linked WhatsApp numbers."""

from __future__ import annotations

from shared.domain import Device, DeviceStatus, Transport
from shared.repositories.base import Repository


class Devices(Repository[Device]):
    name = "devices"
    model = Device
    missing = "device"

    def of_account(self, account_id: str, limit: int | None = None) -> list[Device]:
        return self.find([("account_id", "==", account_id)], limit=limit)

    def with_status(self, account_id: str, status: DeviceStatus) -> list[Device]:
        return self.find([("account_id", "==", account_id), ("status", "==", status.value)])

    def on_transport(self, account_id: str, transport: Transport,
                     limit: int | None = None) -> list[Device]:
        return self.find([("account_id", "==", account_id),
                          ("transport", "==", transport.value)], limit=limit)

    def all(self) -> list[Device]:
        return self.find()
