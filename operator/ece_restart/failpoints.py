"""Failpoints: named places where a test can make the operator process die, like etcd's gofail.

Off unless ECE_RESTART_FAILPOINTS is set, e.g. `after_intent_write@3` (SIGKILL on the 3rd time the point is
reached) or `after_response%0.2` (SIGKILL with probability 0.2 each time; seeded by ECE_RESTART_FAILPOINT_SEED).
Several points are separated by commas. The crash-matrix tests use them to kill the operator at every step
boundary of a run; nothing else does.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from dataclasses import dataclass
from typing import Final

POINTS: Final = (
    "before_intent_write",  # the run decided to send; nothing written yet
    "after_intent_write",  # phase Requesting is stored; the request has not left
    "after_response",  # ECE answered; the result is not stored yet
    "during_backoff",  # phase Retrying is stored; waiting for nextAttemptTime
    "during_tracking",  # phase InProgress; a plan poll is about to be made
)


@dataclass
class _Rule:
    nth: int | None
    probability: float | None
    hits: int = 0


class Failpoints:
    def __init__(self, spec: str, seed: int | None = None) -> None:
        self._rules: dict[str, _Rule] = {}
        self._random = random.Random(seed)
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, nth, probability = item, None, None
            if "@" in item:
                name, count = item.split("@", 1)
                nth = int(count)
            elif "%" in item:
                name, chance = item.split("%", 1)
                probability = float(chance)
            if name not in POINTS:
                raise ValueError(f"unknown failpoint {name!r}; known: {', '.join(POINTS)}")
            self._rules[name] = _Rule(nth, probability)

    def reach(self, name: str) -> None:
        rule = self._rules.get(name)
        if rule is None:
            return
        rule.hits += 1
        fire = rule.hits == rule.nth if rule.nth is not None else self._random.random() < (rule.probability or 0)
        if fire:
            sys.stderr.write(f"failpoint {name} fired (hit {rule.hits}): killing the operator\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


_ACTIVE = Failpoints(os.environ.get("ECE_RESTART_FAILPOINTS", ""),
                     int(os.environ["ECE_RESTART_FAILPOINT_SEED"]) if "ECE_RESTART_FAILPOINT_SEED" in os.environ
                     else None)


def reach(name: str) -> None:
    """Mark a step boundary; a no-op unless a test armed this failpoint."""
    _ACTIVE.reach(name)
