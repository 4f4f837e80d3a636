"""Storage adapters for the local stack and tests: a directory on disk (shared by the
processes of `make dev`) and memory. Production uses gcs_storage.GcsStorage."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from shared.ports import Storage


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class DiskStorage(Storage):
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key, data, content_type):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename: a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key):
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise LookupError(f"no stored file {key}") from exc

    def delete(self, key):
        try:
            self._path(key).unlink()
            return True
        except FileNotFoundError:
            return False


class MemoryStorage(Storage):
    def __init__(self):
        self.blobs: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put(self, key, data, content_type):
        with self._lock:
            self.blobs[_check_key(key)] = (bytes(data), content_type)

    def get(self, key):
        with self._lock:
            if key not in self.blobs:
                raise LookupError(f"no stored file {key}")
            return self.blobs[key][0]

    def delete(self, key):
        with self._lock:
            return self.blobs.pop(key, None) is not None
