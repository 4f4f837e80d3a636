"""Media that devices receive, kept in the Storage port (Cloud Storage in production, a
directory locally) under inbound/<device>/<name>. Events reference a file by an API URL,
GET /v1/devices/{device}/media/{name}, which serves it to the device's owner."""

from __future__ import annotations

import mimetypes
import re

from shared.ports import Storage

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def file_name(wa_id: str, mime: str | None) -> str:
    ext = mimetypes.guess_extension((mime or "").split(";")[0].strip()) or ".bin"
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", wa_id)[:120]
    return f"{safe}{ext}"


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and ".." not in name and name != "."


class MediaStore:
    def __init__(self, storage: Storage):
        self.storage = storage

    @staticmethod
    def key(device_id: str, name: str) -> str:
        if not valid_name(name) or not valid_name(device_id):
            raise LookupError(name)
        return f"inbound/{device_id}/{name}"

    def put(self, device_id: str, name: str, data: bytes, mime: str) -> None:
        self.storage.put(self.key(device_id, name), data, mime or "application/octet-stream")

    def get(self, device_id: str, name: str) -> tuple[bytes, str]:
        """(bytes, content type); LookupError when there is no such file."""
        data = self.storage.get(self.key(device_id, name))
        return data, mimetypes.guess_type(name)[0] or "application/octet-stream"

    def url(self, public_url: str, device_id: str, name: str) -> str:
        return f"{public_url.rstrip('/')}/v1/devices/{device_id}/media/{name}"
