"""A task always reaches the runner that holds its device, also after a move.

Cloud Tasks sends every runner task to one stable URL (settings.runner_url, shard 0's
service). Whichever runner receives it looks the device up:

- held here: handled here;
- held by another live shard: forwarded once, over HTTP with a Google ID token, to that
  shard's URL from its lease document; the holder's answer is passed back;
- held by nobody (never assigned, or its shard's lease is dead): taken over here if
  there is room, and handled here;
- otherwise (full, or the forward failed): 503, and Cloud Tasks retries with backoff,
  by which time the device has a live holder again.

A forwarded request that reaches a runner which does not hold the device (it moved
meanwhile) is answered 409, never forwarded again, so a request makes at most one hop.
Resolving the URL at enqueue time instead would leave tasks retrying forever at a dead
shard's URL; a hop costs a few milliseconds and needs no change on the API side.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import EllipsisType

from shared import id_tokens
from shared.id_tokens import TokenSource
from shared.settings import Settings

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Utio-Forwarded-By"


@dataclass(frozen=True)
class Placement:
    kind: str  # local | forward | busy
    url: str | None = None


LOCAL = Placement("local")
BUSY = Placement("busy")


def locate(runner, device_id: str) -> Placement:
    leases = runner.leases
    if leases is None or leases.holds(device_id):
        return LOCAL
    if runner.c.repos.devices.doc(device_id) is None:
        return LOCAL  # deleted: the handlers have nothing to do, wherever they run
    url = leases.holder_url(device_id)
    if url:
        return Placement("forward", url)
    if runner.ensure_session(device_id) is not None:
        return LOCAL  # nobody held it: ours now
    url = leases.holder_url(device_id)  # another runner took it a moment ago
    return Placement("forward", url) if url else BUSY


class Forwarder(ABC):
    @abstractmethod
    def forward(self, url: str, path: str, body: dict, sender: str) -> tuple[int, dict | None]:
        """POST `body` to `url` + `path`; (status, JSON answer). Raises OSError when the
        other runner cannot be reached."""


class HttpForwarder(Forwarder):
    """Outside the local stack each forward carries a Google ID token for the other
    shard's service URL (shared/id_tokens.py): Cloud Run lets it through because the
    runner's service account has run.invoker on every shard. `tokens` replaces the token
    source (tests); by default it follows the settings."""

    def __init__(self, settings: Settings, timeout: float = 30.0, *,
                 tokens: TokenSource | None | EllipsisType = ...):
        self.settings = settings
        self.timeout = timeout
        self.tokens = id_tokens.for_settings(settings) if tokens is ... else tokens
        self._session = None

    def forward(self, url, path, body, sender):
        import requests

        if self._session is None:
            self._session = requests.Session()
        target = url.rstrip("/") + path
        try:
            token = id_tokens.bearer(self.tokens, target)
        except id_tokens.TokenUnavailable as exc:
            raise OSError(f"no ID token for {target}: {exc}") from exc
        headers = {"Content-Type": "application/json", FORWARDED_HEADER: sender, **token}
        try:
            response = self._session.post(target, data=json.dumps(body), headers=headers,
                                          timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise OSError(str(exc)) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return response.status_code, answer

