"""The crash matrix: SIGKILL the operator process at every step boundary of a run, and at random, many times over.

Used by `tests/reliability/test_crash_matrix.py` (about 200 kills per CI run) and `stress/crash_matrix.py` (1,000+).

Set-up: one Kubernetes API sandbox and one ECE simulator (both in threads of this process) and several *lanes*. A
lane is one namespace and one operator process (`python -m ece_restart run --namespace <lane>`), so lanes never
share a CR and each CR only ever has one operator at a time, exactly as in production (one replica, Recreate). The
lanes run side by side so that operator start-up (about a second of CPU) overlaps.

A round of a lane: top the lane up to `in_flight` open CRs (each on a deployment of its own, so counts per CR are
unambiguous), start the operator armed for this round's kill mode, and wait until it dies:

* `before_intent_write@n`, `after_intent_write@n`, `after_response@n`, `during_backoff@n`, `during_tracking@n`: the
  failpoint (see `ece_restart.failpoints`) SIGKILLs the process the n-th time it reaches that step boundary;
* `during_post`: a fresh CR's restart request is held by the simulator (`Fault(latency=...)`); the test SIGKILLs the
  operator the moment the request arrives, then lets ECE finish it (ECE applies a restart whose caller went away);
* `random`: every step boundary fires with a probability, from a seed.

The next round starts the operator again, armed anew, with the survivors of the previous kill still in flight. After
the last kill every lane runs an unarmed operator until every CR is terminal. `check()` then verifies, for every CR:

* ECE accepted at most one restart for it, and never received a restart request after the accepted one;
* it is terminal; Succeeded only with an accepted restart; Unknown only as the policy allows it (the operator
  stopped mid-request and ECE showed no plan attempt: the message says so and ECE indeed holds none).
"""

from __future__ import annotations

import contextlib
import random
import re
import secrets
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ece_restart.sandbox import Sandbox
from ece_restart.simulator import Fault, Simulator, SimulatorState
from tests.support.operator_process import LEDGER_NAMESPACE, OperatorProcess
from tests.support.simulator_fixtures import contract_problems

API_KEY = "crash-matrix-api-key"
TERMINAL = frozenset({"Succeeded", "Failed", "Unknown"})
FAILPOINT_MODES = ("before_intent_write", "after_intent_write", "after_response", "during_backoff", "during_tracking")
MODES = (*FAILPOINT_MODES[:2], "during_post", *FAILPOINT_MODES[2:], "random")
# The order a lane cycles through; `random` twice so random kills are a good share of the total.
SCHEDULE = ("before_intent_write", "after_intent_write", "during_post", "after_response", "random",
            "during_backoff", "during_tracking", "random")
RANDOM_FAILPOINTS = ("before_intent_write%0.12,after_intent_write%0.12,after_response%0.12,during_backoff%0.3,"
                     "during_tracking%0.1")
UNKNOWN_POLICY = ("the operator stopped while a restart request was in flight", "ECE shows no plan attempt since then")
_FIRED = re.compile(r"failpoint (\w+) fired")
# Hundreds of operator starts: let them reuse compiled bytecode (kept outside the repository) even where the
# environment sets PYTHONDONTWRITEBYTECODE.
_BYTECODE_CACHE = {"PYTHONDONTWRITEBYTECODE": "",
                   "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "ece-restart-crash-matrix-pycache")}


@dataclass(frozen=True)
class MatrixSettings:
    kills: int = 200
    lanes: int = 3
    in_flight: int = 6  # open CRs per lane at the start of a round
    seed: int = 8
    round_timeout: float = 8.0  # a round whose failpoint does not fire by then ends with an external kill
    settle_timeout: float = 90.0


@dataclass
class CrRecord:
    lane: int
    namespace: str
    name: str
    deployment: str
    kind: str
    scenario: str  # plain | flaky | waiting | slow_post
    final: dict[str, Any] | None = None


@dataclass(frozen=True)
class Kill:
    lane: int
    round: int
    mode: str
    point: str  # the failpoint that fired, "during_post", or "fallback" (external kill after a quiet round)
    open_crs: int  # CRs of the lane not yet terminal when the process died
    seconds: float = 0.0  # from the operator's start to its death


@dataclass
class MatrixReport:
    kills: int = 0
    fallback_kills: int = 0
    kills_by_point: dict[str, int] = field(default_factory=dict)
    crs: int = 0
    runs_with_waiting: int = 0
    phases: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    unknowns: int = 0
    unexplained_unknowns: int = 0
    restart_requests: int = 0
    operator_starts: int = 0
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        points = ", ".join(f"{name}={count}" for name, count in sorted(self.kills_by_point.items()))
        return (f"crash matrix: kills={self.kills} ({points}; fallback={self.fallback_kills}) CRs={self.crs} "
                f"(waitForCompletion={self.runs_with_waiting}) phases={dict(sorted(self.phases.items()))} "
                f"duplicates={self.duplicates} unknowns={self.unknowns} (unexplained={self.unexplained_unknowns}) "
                f"restart requests={self.restart_requests} operator starts={self.operator_starts} "
                f"elapsed={self.elapsed:.1f}s")

    def as_dict(self) -> dict[str, Any]:
        return {"kills": self.kills, "fallback_kills": self.fallback_kills, "kills_by_point": self.kills_by_point,
                "crs": self.crs, "wait_for_completion_crs": self.runs_with_waiting, "phases": self.phases,
                "duplicates": self.duplicates, "unknowns": self.unknowns,
                "unexplained_unknowns": self.unexplained_unknowns, "restart_requests": self.restart_requests,
                "operator_starts": self.operator_starts, "elapsed_seconds": round(self.elapsed, 1),
                "problems": self.problems[:50]}


@dataclass
class _Lane:
    index: int
    namespace: str
    operator: OperatorProcess
    rng: random.Random
    crs: list[CrRecord] = field(default_factory=list)
    rounds: int = 0
    log_offset: int = 0  # where the current operator's output starts in the lane's log


class MatrixEnvironment:
    """One sandbox and one simulator, served in threads; enter with `with MatrixEnvironment(tmp) as env:`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sandbox = Sandbox()
        # Plans of plain CRs take no time, so a second request for the same resource would be *accepted* and counted
        # (a pending plan would turn a duplicate into a 422 that accepted_restarts() cannot see).
        self.simulator = Simulator(state=SimulatorState(), api_keys={API_KEY}, plan_seconds=0.0)
        self._stack = contextlib.ExitStack()
        self.kube_url = ""
        self.ece_url = ""
        self.kubeconfig = tmp / "kubeconfig"

    def __enter__(self) -> MatrixEnvironment:
        self.kube_url = self._stack.enter_context(self.sandbox.serving_in_thread(port=0))
        self.ece_url = self._stack.enter_context(self.simulator.serving_in_thread(port=0))
        self.sandbox.write_kubeconfig(self.kubeconfig)
        if self.sandbox.get("namespaces", LEDGER_NAMESPACE) is None:
            self.sandbox.create_namespace(LEDGER_NAMESPACE)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


class CrashMatrix:
    def __init__(self, env: MatrixEnvironment, settings: MatrixSettings, *, label: str = "cm") -> None:
        self.env = env
        self.settings = settings
        self.kills: list[Kill] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._names = 0
        self._stop = threading.Event()
        self.lanes: list[_Lane] = []
        for index in range(settings.lanes):
            namespace = f"{label}-lane{index}-{secrets.token_hex(2)}"
            env.sandbox.create_namespace(namespace)
            # Info level: the debug flood of hundreds of starts would cost more CPU than the kills themselves.
            operator = OperatorProcess(kubeconfig=env.kubeconfig, env={}, log_path=env.tmp / f"{namespace}.log",
                                       args=("--namespace", namespace, "--log-level", "info"))
            self.lanes.append(_Lane(index, namespace, operator, random.Random(settings.seed * 1000 + index)))

    # ---------------------------------------------------------------------------------------------------- running
    def run(self) -> MatrixReport:
        started = time.monotonic()
        threads = [threading.Thread(target=self._lane_main, args=(lane,), name=f"lane{lane.index}", daemon=True)
                   for lane in self.lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for lane in self.lanes:
            self._settle(lane)
        report = self.check()
        report.elapsed = time.monotonic() - started
        return report

    def _lane_main(self, lane: _Lane) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    if sum(1 for k in self.kills if k.point != "fallback") >= self.settings.kills:
                        return
                mode = SCHEDULE[(lane.rounds + lane.index) % len(SCHEDULE)]
                self._round(lane, mode)
                lane.rounds += 1
        except BaseException as error:  # reported by check(); the other lanes stop too
            self.errors.append(f"lane {lane.index}: {type(error).__name__}: {error}")
            self._stop.set()
            with contextlib.suppress(Exception):
                lane.operator.kill()

    def _round(self, lane: _Lane, mode: str) -> None:
        slow: Fault | None = None
        slow_cr: CrRecord | None = None
        wanted = {"during_backoff": "flaky", "during_tracking": "waiting", "during_post": "slow_post"}.get(mode)
        fresh: list[CrRecord] = []
        if wanted is not None and not (mode == "during_tracking" and self._open(lane, "waiting")):
            fresh.append(self._new_cr(lane, wanted))
        while len(self._open(lane)) + len(fresh) < self.settings.in_flight or len(fresh) < 2:
            fresh.append(self._new_cr(lane, lane.rng.choice(("plain", "plain", "flaky", "waiting"))))
        for cr in fresh:
            fault = self._create(cr)
            if cr.scenario == "slow_post":
                slow, slow_cr = fault, cr
        env = {"ECE_URL": self.env.ece_url, "ECE_API_KEY": API_KEY, **_BYTECODE_CACHE}
        if mode == "random":
            env["ECE_RESTART_FAILPOINTS"] = RANDOM_FAILPOINTS
            env["ECE_RESTART_FAILPOINT_SEED"] = str(lane.rng.randrange(2**31))
        elif mode != "during_post":
            env["ECE_RESTART_FAILPOINTS"] = f"{mode}@{self._nth(lane, mode, fresh)}"
        lane.operator.extra_env = env
        lane.log_offset = lane.operator.log_path.stat().st_size if lane.operator.log_path.exists() else 0
        lane.operator.start()
        self._await_death(lane, mode, slow, slow_cr)

    def _nth(self, lane: _Lane, mode: str, fresh: list[CrRecord]) -> int:
        if mode == "during_backoff":
            return 1
        if mode == "during_tracking":
            return lane.rng.randint(1, 3)
        return lane.rng.randint(1, max(1, min(len(fresh), 4)))

    def _await_death(self, lane: _Lane, mode: str, slow: Fault | None, slow_cr: CrRecord | None) -> None:
        process = lane.operator.process
        assert process is not None
        deadline = time.monotonic() + self.settings.round_timeout
        next_check = 0.0
        while True:
            code = process.poll()
            if code is not None:
                if code != -signal.SIGKILL:
                    raise AssertionError(f"operator of lane {lane.index} exited with {code} (not a failpoint kill):\n"
                                         + lane.operator.log()[-4000:])
                self._record(lane, mode, self._fired_point(lane))
                return
            if slow is not None and slow.used >= 1:
                lane.operator.kill()
                self._record(lane, mode, "during_post")
                assert slow_cr is not None
                # ECE finishes the request it holds, so the next operator sees either a plan attempt or none at all.
                self._wait(lambda: self.env.simulator.accepted_restarts(slow_cr.deployment) >= 1, 15.0,
                           f"ECE to finish the held request of {slow_cr.name}")
                return
            now = time.monotonic()
            if now > deadline or (now > next_check and slow is None and not self._open(lane)):
                lane.operator.kill()
                self._record(lane, mode, "fallback")
                return
            if now > next_check:
                next_check = now + 0.25
            time.sleep(0.02)

    def _fired_point(self, lane: _Lane) -> str:
        with lane.operator.log_path.open("rb") as log:
            log.seek(lane.log_offset)
            text = log.read().decode(errors="replace")
        found = _FIRED.findall(text)
        return found[-1] if found else "unknown-signal"

    def _record(self, lane: _Lane, mode: str, point: str) -> None:
        open_crs = len(self._open(lane))
        with self._lock:
            self.kills.append(Kill(lane.index, lane.rounds, mode, point, open_crs,
                                   time.time() - lane.operator.started_at))

    def _settle(self, lane: _Lane) -> None:
        """An unarmed operator until every CR of the lane is terminal."""
        lane.operator.extra_env = {"ECE_URL": self.env.ece_url, "ECE_API_KEY": API_KEY, **_BYTECODE_CACHE}
        lane.operator.start()
        try:
            self._wait(lambda: not self._open(lane), self.settings.settle_timeout,
                       f"every CR of lane {lane.index} to be terminal", lane)
        finally:
            lane.operator.stop()

    # ---------------------------------------------------------------------------------------------------- CRs
    def _new_cr(self, lane: _Lane, scenario: str) -> CrRecord:
        with self._lock:
            self._names += 1
            number = self._names
        kind = ("kibana", "elasticsearch", "apm")[number % 3]
        return CrRecord(lane.index, lane.namespace, f"rr-{number}", secrets.token_hex(16), kind, scenario)

    def _create(self, cr: CrRecord) -> Fault | None:
        sim = self.env.simulator
        resource: dict[str, Any] = {"kind": cr.kind, "ref_id": f"main-{cr.kind}"}
        spec: dict[str, Any] = {"deploymentId": cr.deployment, "resourceKind": cr.kind, "refId": f"main-{cr.kind}",
                                "restartToken": f"token-{cr.name}",
                                "retry": {"maxAttempts": 4, "initialDelaySeconds": 1, "maxDelaySeconds": 2}}
        fault: Fault | None = None
        if cr.scenario == "waiting":
            resource["plan_seconds"] = 2.0
            spec.update(waitForCompletion=True, completionTimeoutSeconds=600)
        sim.state.add_deployment(cr.deployment, cr.name, resources=[resource])
        if cr.scenario == "flaky":
            fault = sim.add_fault(Fault(route="restart", deployment_id=cr.deployment, status=503, retry_after=1,
                                        times=random.Random(cr.deployment).randint(1, 2)))
        elif cr.scenario == "slow_post":
            fault = sim.add_fault(Fault(route="restart", deployment_id=cr.deployment, latency=0.5, times=1))
        self.env.sandbox.create({"apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
                                 "metadata": {"name": cr.name, "namespace": cr.namespace}, "spec": spec})
        with self._lock:
            self.lanes[cr.lane].crs.append(cr)
        return fault

    def _phase(self, cr: CrRecord) -> str | None:
        if cr.final is not None:
            return str(cr.final.get("phase"))
        obj = self.env.sandbox.get("resourcerestarts", cr.name, namespace=cr.namespace, group="eceops.io")
        status = (obj or {}).get("status") or {}
        phase = status.get("phase")
        if phase in TERMINAL:
            cr.final = status
        return phase if isinstance(phase, str) else None

    def _open(self, lane: _Lane, scenario: str | None = None) -> list[CrRecord]:
        with self._lock:
            crs = list(lane.crs)
        return [cr for cr in crs if (scenario is None or cr.scenario == scenario) and self._phase(cr) not in TERMINAL]

    def _wait(self, condition: Any, timeout: float, what: str, lane: _Lane | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                log = lane.operator.log()[-6000:] if lane is not None else ""
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{log}")
            time.sleep(0.05)

    # ---------------------------------------------------------------------------------------------------- checking
    def check(self) -> MatrixReport:
        report = MatrixReport()
        report.problems.extend(self.errors)
        real = [k for k in self.kills if k.point != "fallback"]
        report.kills = len(real)
        report.fallback_kills = len(self.kills) - len(real)
        report.kills_by_point = dict(Counter(k.point for k in real))
        report.operator_starts = sum(lane.operator.starts for lane in self.lanes)
        calls = self.env.simulator.calls
        restarts: dict[str, list[Any]] = {}
        for call in calls:
            if call.route == "restart" and call.deployment_id is not None:
                restarts.setdefault(call.deployment_id, []).append(call)
        phases: Counter[str] = Counter()
        for lane in self.lanes:
            for cr in lane.crs:
                report.crs += 1
                report.runs_with_waiting += cr.scenario == "waiting"
                report.restart_requests += len(restarts.get(cr.deployment, []))
                self._check_cr(cr, restarts.get(cr.deployment, []), report, phases)
        report.phases = dict(phases)
        report.problems.extend(contract_problems(calls)[:20])
        return report

    def _check_cr(self, cr: CrRecord, calls: list[Any], report: MatrixReport, phases: Counter[str]) -> None:
        where = f"{cr.namespace}/{cr.name} ({cr.scenario}, deployment {cr.deployment})"
        self._phase(cr)
        status = cr.final or {}
        phase = status.get("phase")
        phases[str(phase)] += 1
        accepted = self.env.simulator.accepted_restarts(cr.deployment)
        applied = [c for c in calls if c.applied]
        after_accepted = [c for c in calls if applied and c.seq > applied[0].seq]
        if accepted > 1 or after_accepted:
            report.duplicates += 1
            report.problems.append(f"{where}: {accepted} accepted restarts, {len(after_accepted)} restart requests "
                                   f"after the accepted one (calls: {[(c.seq, c.status) for c in calls]})")
        if len(calls) > 4:
            report.problems.append(f"{where}: {len(calls)} restart requests, more than maxAttempts=4")
        if phase not in TERMINAL:
            report.problems.append(f"{where}: not terminal: {status}")
            return
        message = str(status.get("message", ""))
        if phase == "Unknown":
            report.unknowns += 1
            explained = (status.get("outcome") == "OutcomeUnknown" and all(p in message for p in UNKNOWN_POLICY)
                         and accepted == 0)
            if not explained:
                report.unexplained_unknowns += 1
                report.problems.append(f"{where}: Unknown not explained by the policy (ECE accepted {accepted}): "
                                       f"{message}")
        elif phase == "Succeeded":
            expected = "RestartCompleted" if cr.scenario == "waiting" else "RestartAccepted"
            if status.get("outcome") != expected or accepted != 1:
                report.problems.append(f"{where}: Succeeded with outcome {status.get('outcome')} and {accepted} "
                                       f"accepted restarts (expected {expected}, 1)")
        else:
            report.problems.append(f"{where}: Failed ({status.get('outcome')}): {message}")


@contextlib.contextmanager
def matrix_environment(tmp: Path) -> Iterator[MatrixEnvironment]:
    with MatrixEnvironment(tmp) as env:
        yield env
