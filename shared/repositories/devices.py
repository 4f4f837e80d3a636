"""Devices (collection "devices"): the customers' linked WhatsApp numbers, and the
WhatsApp JID each one's session is stored under (`wa_jid`, kept by the runner)."""

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

    def ids(self) -> list[str]:
        """Every device's id (the documents are not read into models)."""
        return [doc["id"] for doc in self.docs()]

    def wa_jid(self, device_id: str) -> str | None:
        return (self.doc(device_id) or {}).get("wa_jid")

    def set_wa_jid(self, device_id: str, jid: str | None) -> None:
        self.update(device_id, {"wa_jid": jid})
