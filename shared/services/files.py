"""Files for media messages: uploaded (POST /v1/files) or fetched from a URL when a message
names one. The bytes go to Storage, a record to the store; the type is taken from the
bytes. Identical bytes in one account are kept once."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from shared import media
from shared.clock import Clock
from shared.content import StoredFile
from shared.domain import Doc
from shared.errors import NotFound, ValidationFailed
from shared.plans import PLANS
from shared.ports import DocumentStore, FetchError, MediaFetcher, Storage
from shared.repositories.files import Files

FILES = Files.name
KEEP = timedelta(days=30)  # the bucket's lifecycle rule deletes blobs a little later
REFRESH_AFTER = timedelta(days=1)
# The largest file any plan accepts; a message checks its own plan's limit per type.
MAX_UPLOAD = max(max(p.media.image, p.media.audio, p.media.video, p.media.document)
                 for p in PLANS.values())


class File(Doc):
    id: str
    account_id: str
    mime: str
    size: int
    sha256: str
    filename: str | None = None
    source_url: str | None = None
    key: str
    created_at: datetime
    expires_at: datetime

    def stored(self) -> StoredFile:
        return StoredFile(id=self.id, mime=self.mime, size=self.size, sha256=self.sha256,
                          filename=self.filename)


def _clean_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or None


def store_file(store: DocumentStore, storage: Storage, clock: Clock, account_id: str,
               data: bytes, *, filename: str | None = None,
               source_url: str | None = None) -> File:
    filename = _clean_name(filename)
    mime = media.sniff(data, filename if source_url is None else None)
    if source_url is None:
        media.check_name(filename, mime)
    else:  # a URL's last segment (download.php, image?id=3) says little: keep it if it fits
        try:
            media.check_name(filename, mime)
        except ValidationFailed:
            filename = None
    digest = hashlib.sha256(data).hexdigest()
    file_id = "file_" + hashlib.sha256(f"{account_id}:{digest}".encode()).hexdigest()[:24]
    now = clock.now()
    files = Files(store)
    existing = files.doc(file_id)
    if existing is not None:
        record = File.model_validate(existing)
        if now - record.created_at > REFRESH_AFTER or now > record.expires_at - KEEP / 2:
            storage.put(record.key, data, record.mime)  # renew the blob's age
            files.update(file_id, {"created_at": now, "expires_at": now + KEEP})
            record = record.model_copy(update={"created_at": now, "expires_at": now + KEEP})
        return record
    record = File(id=file_id, account_id=account_id, mime=mime, size=len(data), sha256=digest,
                  filename=filename, source_url=source_url, key=f"{account_id}/{file_id}",
                  created_at=now, expires_at=now + KEEP)
    storage.put(record.key, data, mime)  # the bytes first: a record never lacks them
    files.put_doc(file_id, record.to_doc())
    return record


def get_file(store: DocumentStore, account_id: str, file_id: str) -> File:
    doc = Files(store).doc(file_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"file {file_id} not found")
    return File.model_validate(doc)


class TooLarge(Exception):
    """A URL's file is over `limit` bytes (the caller names the plan's limit)."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


def fetch_file(store: DocumentStore, storage: Storage, fetcher: MediaFetcher, clock: Clock,
               account_id: str, url: str, *, max_bytes: int, timeout: float) -> File:
    try:
        fetched = fetcher.fetch(url, max_bytes=max_bytes, timeout=timeout)
    except FetchError as exc:
        if exc.reason == "too_large":
            raise TooLarge(max_bytes) from exc
        message = exc.message.removeprefix("media.url: ")  # the URL check names it already
        raise ValidationFailed(f"media.url: {message}", code=f"media_url_{exc.reason}",
                               details={"field": "media.url", "reason": exc.reason}) from exc
    name = unquote(urlsplit(fetched.url).path.rsplit("/", 1)[-1]) or None
    return store_file(store, storage, clock, account_id, fetched.data, filename=name,
                      source_url=url)


def read_bytes(storage: Storage, file: StoredFile, account_id: str) -> bytes | None:
    """The bytes of a message's file, or None when they are gone (expired)."""
    try:
        return storage.get(f"{account_id}/{file.id}")
    except LookupError:
        return None
