"""The retry schedule: bounded, capped, jittered, and Retry-After honoured up to the cap."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ece_restart.retry import RetryPolicy

policies = st.builds(
    lambda initial, extra, attempts, seed: RetryPolicy(
        max_attempts=attempts, initial_delay=initial, max_delay=initial + extra, rng=random.Random(seed)
    ),
    initial=st.floats(min_value=0, max_value=3600, allow_nan=False),
    extra=st.floats(min_value=0, max_value=3600, allow_nan=False),
    attempts=st.integers(min_value=1, max_value=20),
    seed=st.integers(),
)


@given(policy=policies, attempts_made=st.integers(min_value=1, max_value=10_000))
def test_delay_is_never_negative_and_never_above_the_cap(policy: RetryPolicy, attempts_made: int) -> None:
    delay = policy.delay(attempts_made)
    assert 0 <= delay <= policy.ceiling(attempts_made) <= policy.max_delay


@given(policy=policies, attempts_made=st.integers(min_value=1, max_value=60))
def test_ceiling_doubles_until_it_reaches_the_cap(policy: RetryPolicy, attempts_made: int) -> None:
    expected = min(policy.max_delay, policy.initial_delay * 2 ** (attempts_made - 1))
    assert policy.ceiling(attempts_made) == pytest.approx(expected)
    assert policy.ceiling(attempts_made + 1) >= policy.ceiling(attempts_made)


@given(policy=policies, attempts_made=st.integers(min_value=1, max_value=50),
       retry_after=st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_retry_after_is_honoured_but_capped(policy: RetryPolicy, attempts_made: int, retry_after: float) -> None:
    delay = policy.delay(attempts_made, retry_after)
    assert delay <= policy.max_delay
    assert delay >= min(retry_after, policy.max_delay)


@given(policy=policies)
def test_attempts_stop_at_max_attempts(policy: RetryPolicy) -> None:
    allowed = [n for n in range(1, 40) if policy.should_retry(n)]
    assert allowed == list(range(1, policy.max_attempts))


def test_jitter_spreads_clients_that_failed_together() -> None:
    policy = RetryPolicy(max_attempts=5, initial_delay=8, max_delay=60, rng=random.Random(7))
    delays = {round(policy.delay(3), 3) for _ in range(50)}
    assert len(delays) > 40  # full jitter: fifty clients do not come back at the same instant


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"initial_delay": -1}, "negative"),
        ({"initial_delay": 10, "max_delay": 5}, "exceed"),
        ({"multiplier": 0.5}, "multiplier"),
    ],
)
def test_nonsensical_policies_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
