"""A device's recent send outcomes, for the ban-risk warning (device:risk): of its last
WINDOW sends, the share WhatsApp refused. Numbers not on WhatsApp, refusals and blocks
are what WhatsApp's spam systems watch; transient failures (the phone offline) and our
own (a media file gone, content a transport cannot send) are not counted.

The warning is raised once when the rate reaches THRESHOLD (with at least MIN_SENDS in
the window), and again only after the rate has gone back under it. The window lives in
the session: a restart starts it afresh."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass

from shared.domain import FailureReason
from shared.ports import SendResult

WINDOW = 50
MIN_SENDS = 20
THRESHOLD = 0.2
NOT_COUNTED = {FailureReason.media_unavailable, FailureReason.unsupported_content,
               FailureReason.expired, FailureReason.device_deleted}


@dataclass(frozen=True)
class RiskFigure:
    rate: float
    failures: int
    sends: int
    reasons: dict[str, int]

    def as_data(self) -> dict:
        return {"rate": round(self.rate, 3), "failures": self.failures, "sends": self.sends,
                "window": WINDOW, "threshold": THRESHOLD, "reasons": self.reasons}


class RiskWindow:
    def __init__(self):
        self._outcomes: deque[FailureReason | None] = deque(maxlen=WINDOW)
        self._warned = False
        self._lock = threading.Lock()

    def add(self, result: SendResult) -> None:
        if result.ok:
            outcome = None
        else:
            reason = result.reason or FailureReason.transport_error
            if result.retryable or reason in NOT_COUNTED:
                return
            outcome = reason
        with self._lock:
            self._outcomes.append(outcome)

    def figure(self) -> RiskFigure:
        with self._lock:
            failed = [o for o in self._outcomes if o is not None]
            sends = len(self._outcomes)
        return RiskFigure(len(failed) / sends if sends else 0.0, len(failed), sends,
                          dict(Counter(o.value for o in failed)))

    def crossed(self) -> RiskFigure | None:
        """The figure when the rate has just reached the threshold; else None."""
        figure = self.figure()
        with self._lock:
            if figure.sends >= MIN_SENDS and figure.rate >= THRESHOLD:
                if not self._warned:
                    self._warned = True
                    return figure
            elif figure.rate < THRESHOLD:
                self._warned = False
        return None
