"""When to try a failed webhook delivery again, and when to give up (docs/webhooks.md).

Exponential backoff with jitter ("Exponential Backoff And Jitter", AWS Architecture Blog,
2015): 10 s, 20 s, 40 s ... doubling up to one hour, each delay varied by up to ±20 % so
endpoints that failed together do not retry together. Retries go on for at least 24 hours
after the first failure: the first failed attempt made 24 h or more after that is the last.
Plain functions on plain data; the caller supplies ``now`` and the random draw.
"""

from __future__ import annotations

from datetime import datetime, timedelta

BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
JITTER = 0.2


def retry_delay(attempt: int, *, rand: float) -> timedelta:
    """Delay after failed attempt number ``attempt`` (1-based); ``rand`` is uniform in [0, 1)."""
    base: timedelta = min(BASE_DELAY * 2 ** min(attempt - 1, 30), MAX_DELAY)
    return base * (1 + JITTER * (2 * rand - 1))


def next_attempt_at(*, attempt: int, first_failure: datetime, now: datetime, rand: float) -> datetime | None:
    """When to try again after failed ``attempt`` at ``now``; None: give up (24 h have passed)."""
    if now - first_failure >= GIVE_UP_AFTER:
        return None
    return now + retry_delay(attempt, rand=rand)
