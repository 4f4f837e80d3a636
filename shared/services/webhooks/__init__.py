"""Webhooks, one module a concern:

- registration: creating, changing, deleting a webhook; its URL, events, devices,
  custom headers and secret (rotation);
- fanout: one delivery per matching webhook for each event, and the task of each attempt;
- delivery: one signed POST an attempt, its outcome and the retry schedule;
- health: a webhook that keeps failing is disabled, and its owner emailed;
- delivery_log: the delivery log, retries by hand, recovery, and test events.

The documents (secrets sealed at rest) are shared.repositories.webhooks.

Delivery is at least once. Fan-out makes one delivery per matching webhook; the
delivery's id derives from (event, webhook), so a repeated Pub/Sub push finds the
delivery it made before and creates nothing new. Each attempt is a named Cloud Task, so
a repeated enqueue of the same attempt is dropped by the queue. An attempt is recorded
(conditionally on the attempt count, so a duplicate task cannot record it twice) and the
next attempt enqueued before the task answers 2xx. A process that dies anywhere in
between leaves the task unanswered; Cloud Tasks runs it again, and it either repeats the
POST (same webhook-id: the receiver de-duplicates) or, if the attempt was recorded, only
makes sure the next one is queued.

Fan-out makes a new delivery's first attempt itself, after queuing that attempt's task
for later (fanout's doc): a success leaves the task nothing to do; a failure has queued
the retry; a fan-out that dies leaves the task to make the attempt.
"""
