"""Where inbound media goes: Cloud Storage in production (settings.media_bucket), a
directory locally. Events reference a file by an API URL,
GET /v1/devices/{device}/media/{name}, which streams it to the device's owner."""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from shared.settings import Settings

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def file_name(wa_id: str, mime: str | None) -> str:
    ext = mimetypes.guess_extension((mime or "").split(";")[0].strip()) or ".bin"
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", wa_id)[:120]
    return f"{safe}{ext}"


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and ".." not in name


class MediaStore(ABC):
    @abstractmethod
    def put(self, device_id: str, name: str, data: bytes, mime: str) -> None: ...

    @abstractmethod
    def get(self, device_id: str, name: str) -> tuple[bytes, str]:
        """(bytes, content type); LookupError when there is no such file."""

    def url(self, public_url: str, device_id: str, name: str) -> str:
        return f"{public_url.rstrip('/')}/v1/devices/{device_id}/media/{name}"


class DiskMediaStore(MediaStore):
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, device_id: str, name: str) -> Path:
        if not valid_name(name) or not valid_name(device_id):
            raise LookupError(name)
        return self.root / device_id / name

    def put(self, device_id, name, data, mime):
        path = self._path(device_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)

    def get(self, device_id, name):
        try:
            data = self._path(device_id, name).read_bytes()
        except FileNotFoundError as exc:
            raise LookupError(name) from exc
        return data, mimetypes.guess_type(name)[0] or "application/octet-stream"


class GcsMediaStore(MediaStore):
    def __init__(self, bucket):
        self.bucket = bucket  # google.cloud.storage.Bucket

    def put(self, device_id, name, data, mime):
        self.bucket.blob(f"inbound/{device_id}/{name}").upload_from_string(data, content_type=mime)

    def get(self, device_id, name):
        from google.api_core import exceptions as gexc

        if not valid_name(name) or not valid_name(device_id):
            raise LookupError(name)
        blob = self.bucket.blob(f"inbound/{device_id}/{name}")
        try:
            data = blob.download_as_bytes()
        except gexc.NotFound as exc:
            raise LookupError(name) from exc
        return data, blob.content_type or "application/octet-stream"


def from_settings(settings: Settings) -> MediaStore:
    if settings.media_bucket:
        from google.cloud import storage

        return GcsMediaStore(storage.Client(project=settings.project).bucket(settings.media_bucket))
    return DiskMediaStore(Path(settings.data_dir) / "media")
