"""MediaFetcher over the pinned HTTP client (shared.adapters.http_client): redirects
followed by hand, every hop resolved and checked by the private-address guard and then
connected to at the very address that was checked (a DNS answer that changes in between,
DNS rebinding, cannot redirect it), a byte cap enforced while streaming, and one
deadline for all hops."""

from __future__ import annotations

import time
from urllib.parse import urljoin

from shared.adapters.http_client import PinnedHttpClient
from shared.errors import ValidationFailed
from shared.ports import Fetched, FetchError, MediaFetcher
from shared.urlguard import Target, resolve_target

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
REDIRECTS = (301, 302, 303, 307, 308)


class PinnedMediaFetcher(MediaFetcher):
    def __init__(self, *, allow_private: bool, client: PinnedHttpClient | None = None):
        self._allow_private = allow_private
        self._client = client or PinnedHttpClient()

    def _guard(self, url: str) -> Target:
        try:
            return resolve_target(url, allow_private=self._allow_private, field="media.url")
        except ValidationFailed as exc:
            reason = "invalid_url" if exc.code == "invalid_url" else (
                "unreachable" if exc.code == "unresolvable_host" else "forbidden_address")
            raise FetchError(reason, exc.message) from exc

    def fetch(self, url, *, max_bytes, timeout):
        deadline = time.monotonic() + timeout
        for _ in range(MAX_REDIRECTS + 1):
            target = self._guard(url)
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError("timeout", f"fetching {url} took more than {timeout:g} s")
            try:
                with self._client.exchange("GET", url, timeout=left, address=target.address,
                                           headers={"User-Agent": "Utio-Media-Fetcher/1"}
                                           ) as answer:
                    if answer.status in REDIRECTS:
                        url = urljoin(url, answer.headers.get("location", ""))
                        continue
                    if answer.status != 200:
                        raise FetchError("http_status",
                                         f"fetching {url} answered HTTP {answer.status}")
                    declared = answer.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError("too_large", f"{url} is {int(declared)} bytes; "
                                         f"at most {max_bytes} are allowed")
                    data = bytearray()
                    while chunk := answer.read(CHUNK):
                        data += chunk
                        if len(data) > max_bytes:
                            raise FetchError("too_large",
                                             f"{url} is larger than {max_bytes} bytes")
                    return Fetched(bytes(data), answer.headers.get("content-type"), url)
            except TimeoutError as exc:
                raise FetchError("timeout", f"fetching {url} took more than {timeout:g} s"
                                 ) from exc
            except OSError as exc:
                raise FetchError("unreachable", f"could not fetch {url}: {exc}") from exc
        raise FetchError("unreachable", f"{url}: more than {MAX_REDIRECTS} redirects")

