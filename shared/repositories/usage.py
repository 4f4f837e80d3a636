"""What plan limits count: the sharded monthly message counters ("usage_counters"), the
monthly number-check counts ("number_checks_usage") and their day-long answers
("number_checks_cache"), and the limit notices already mailed ("limit_notices")."""

from __future__ import annotations

from shared.repositories.base import Collection


class UsageCounters(Collection):
    name = "usage_counters"

    def of_period(self, device_id: str, period: str, metric: str) -> list[dict]:
        return self.docs([("device_id", "==", device_id), ("period", "==", period),
                          ("metric", "==", metric)])


class LimitNotices(Collection):
    name = "limit_notices"


class NumberCheckUsage(Collection):
    name = "number_checks_usage"


class NumberCheckCache(Collection):
    name = "number_checks_cache"
