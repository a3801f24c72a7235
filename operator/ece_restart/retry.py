"""Retry policy: capped exponential backoff with full jitter, honouring Retry-After up to the cap."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` counts every request, the first included.

    The delay before attempt n+1 is drawn uniformly from [0, min(max_delay, initial_delay * 2**(n-1))]
    ("full jitter"), so many clients that failed together do not come back together. A server's
    Retry-After wins over the drawn delay, but never beyond `max_delay`.
    """

    max_attempts: int = 5
    initial_delay: float = 2.0
    max_delay: float = 60.0
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.initial_delay > self.max_delay:
            raise ValueError("initial_delay must not exceed max_delay")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def should_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def ceiling(self, attempts_made: int) -> float:
        """The upper bound of the jittered delay after `attempts_made` failed attempts (>= 1)."""
        exponent = max(attempts_made - 1, 0)
        if self.initial_delay == 0:
            return 0.0
        # Compare in the log domain first so huge attempt numbers never overflow a float.
        bound = self.initial_delay
        for _ in range(exponent):
            bound *= self.multiplier
            if bound >= self.max_delay:
                return self.max_delay
        return min(bound, self.max_delay)

    def delay(self, attempts_made: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt."""
        drawn = self.rng.uniform(0.0, self.ceiling(attempts_made))
        if retry_after is not None and retry_after >= 0:
            return min(max(drawn, retry_after), self.max_delay)
        return drawn
