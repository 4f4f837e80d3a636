"""Storage over a Cloud Storage bucket (google-cloud-storage). Object lifecycle (expiry of
old uploads) is the bucket's rule, set by Terraform."""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.cloud import storage

from shared.ports import Storage


class GcsStorage(Storage):
    def __init__(self, client: storage.Client, bucket: str):
        self._bucket = client.bucket(bucket)

    def put(self, key, data, content_type):
        self._bucket.blob(key).upload_from_string(data, content_type=content_type)

    def get(self, key):
        try:
            return self._bucket.blob(key).download_as_bytes()
        except gexc.NotFound as exc:
            raise LookupError(f"no stored file {key}") from exc

    def delete(self, key):
        try:
            self._bucket.blob(key).delete()
            return True
        except gexc.NotFound:
            return False
