"""The current QR or pairing code of each device being linked (collection
"device_links", keyed by device), which the runner publishes and the API reads."""

from __future__ import annotations

from shared.repositories.base import Collection


class DeviceLinks(Collection):
    name = "device_links"
