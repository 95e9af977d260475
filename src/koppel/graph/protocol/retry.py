"""When to retry a Graph request and how long to wait (spec §8.1 throttling, §9.7 retry handler).

429 (and 503/504 carrying ``Retry-After``) wait exactly what Graph asks; other 5xx, timeouts
and dropped connections back off exponentially with full jitter. The caller sleeps through an
injected function so tests do not wait.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Graph may ask for long pauses in a throttling storm; above this the run fails plainly
    # rather than holding a worker for minutes (the next scheduled run continues).
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (1-based), or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return (rng or random).uniform(0, ceiling)
