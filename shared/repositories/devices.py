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

    def of_account_in(self, account_id: str, *, status: DeviceStatus | None = None,
                      transport: Transport | None = None,
                      limit: int | None = None) -> list[Device]:
        """The account's devices with this status, or on this transport."""
        field, value = ("status", status) if status is not None else ("transport", transport)
        return self.find([("account_id", "==", account_id), (field, "==", value.value)],
                         limit=limit)

    def all(self) -> list[Device]:
        return self.find()
