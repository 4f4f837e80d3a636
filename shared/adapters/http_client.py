from __future__ import annotations

import requests

from shared.ports import HttpClient

EXCERPT = 1024


class RequestsHttpClient(HttpClient):
    def __init__(self):
        self._session = requests.Session()

    def post(self, url, body, headers, timeout):
        try:
            with self._session.post(url, data=body, headers=headers, timeout=timeout,
                                    allow_redirects=False, stream=True) as response:
                excerpt = next(response.iter_content(EXCERPT), b"")
                return response.status_code, excerpt.decode("utf-8", "replace")
        except requests.RequestException as exc:
            raise OSError(str(exc)) from exc
