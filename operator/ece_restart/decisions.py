"""What the operator must do next for a ResourceRestart, decided from its spec and status alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ece_restart.resource_restart import Phase, ResourceRestart


class Step(StrEnum):
    NOTHING = "nothing"  # terminal for the current token, or nothing asked
    START = "start"  # a new run: first request of the current restartToken
    RETRY = "retry"  # the run waits for its next attempt (status says when)
    RECOVER = "recover"  # a request may have been in flight when a previous operator stopped
    TRACK = "track"  # ECE accepted the restart; its plan is followed until it ends


@dataclass(frozen=True, slots=True)
class Decision:
    step: Step
    not_before: datetime | None = None


def decide(cr: ResourceRestart) -> Decision:
    status = cr.status
    if status.phase is Phase.REQUESTING:
        return Decision(Step.RECOVER)
    if status.phase is Phase.IN_PROGRESS:
        return Decision(Step.TRACK)
    if status.phase is Phase.RETRYING:
        return Decision(Step.RETRY, status.next_attempt_time)
    if status.phase is None or status.phase is Phase.PENDING:
        return Decision(Step.START)
    if status.last_handled_token != cr.restart_token:
        return Decision(Step.START)
    return Decision(Step.NOTHING)
