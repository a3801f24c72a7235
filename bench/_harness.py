"""Shared machinery of the benches: servers and the operator as processes, a driver that creates ResourceRestarts
and watches them to their terminal status, /proc readings, percentiles and output.

Every server and system under test runs in a process of its own, so the driver's CPU (creating CRs, watching)
is never measured as theirs. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
API_KEY = "bench-api-key-0123456789"
GROUP_PATH = "/apis/eceops.io/v1alpha1"
TERMINAL = frozenset({"Succeeded", "Failed", "Unknown"})
DRIVER_AGENT = "bench-driver/1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------- /proc


def rss_mib(pid: int) -> float:
    return _status_kib(pid, "VmRSS") / 1024


def hwm_mib(pid: int) -> float:
    return _status_kib(pid, "VmHWM") / 1024


def _status_kib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def environment() -> dict[str, Any]:
    import kopf

    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_start": load_average(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kopf": getattr(kopf, "__version__", "?"),
        "aiohttp": aiohttp.__version__,
    }


# ---------------------------------------------------------------------------------------------------- processes


class Child:
    """A child process whose first stdout line tells it is ready; stdout+stderr after that go to a log file."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 ready_prefix: str | None = None, log_dir: Path = OUT, source: str | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ECE_", "KUBECONFIG"))}
        full_env.update(env or {})
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env["PYTHONPATH"] = os.pathsep.join([source or str(REPO / "operator"), full_env.get("PYTHONPATH", "")])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE if ready_prefix else self._log, stderr=self._log, env=full_env,
            cwd=REPO,
        )
        self.ready_line = ""
        if ready_prefix:
            assert self.process.stdout is not None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = self.process.stdout.readline().decode(errors="replace")
                if not line:
                    break
                if line.startswith(ready_prefix):
                    self.ready_line = line.strip()
                    break
            if not self.ready_line:
                self.stop()
                raise RuntimeError(f"{name} did not start; see {self.log_path}")
            # keep draining stdout so the child never blocks on a full pipe
            threading.Thread(target=self._copy, daemon=True).start()

    def _copy(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._log.write(line)
        with contextlib.suppress(ValueError):
            self._log.flush()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        with contextlib.suppress(ValueError):
            self._log.flush()


class SandboxProcess(Child):
    def __init__(self, kubeconfig: Path, name: str = "sandbox") -> None:
        super().__init__(name, [sys.executable, str(BENCH / "_sandbox_server.py"), "--kubeconfig", str(kubeconfig)],
                         ready_prefix="READY ")
        _, self.url, self.control = self.ready_line.split()
        self.kubeconfig = kubeconfig

    async def requests(self, session: aiohttp.ClientSession, since: float = 0.0) -> list[dict[str, Any]]:
        async with session.get(f"{self.control}/requests", params={"since": str(since)}) as response:
            document = await response.json()
        fields = document["fields"]
        return [dict(zip(fields, row, strict=True)) for row in document["rows"]]


def simulator_state(path: Path, deployments: int) -> list[str]:
    """A simulator state file with `deployments` deployments of one Kibana each; returns their ids."""
    ids = [secrets.token_hex(16) for _ in range(deployments)]
    lines = ["deployments:"]
    for number, deployment_id in enumerate(ids):
        lines += [f"  - id: {deployment_id}", f"    name: bench-{number}", "    resources:",
                  "      - kind: elasticsearch", "        ref_id: main-elasticsearch",
                  "      - kind: kibana", "        ref_id: main-kibana"]
    path.write_text("\n".join(lines) + "\n")
    return ids


class SimulatorProcess(Child):
    def __init__(self, state: Path, *, plan_seconds: float = 3.0, name: str = "simulator") -> None:
        super().__init__(name, [sys.executable, "-m", "ece_restart", "simulator", "--port", "0", "--api-key", API_KEY,
                                "--plan-seconds", str(plan_seconds), "--state", str(state)],
                         ready_prefix="ECE API simulator listening on ")
        self.url = self.ready_line.rsplit(" ", 1)[1]

    async def set_latency(self, session: aiohttp.ClientSession, seconds: float, route: str = "restart") -> None:
        async with session.post(f"{self.url}/_simulator/faults",
                                json={"route": route, "latency": seconds, "times": None}) as response:
            response.raise_for_status()

    async def clear_faults(self, session: aiohttp.ClientSession) -> None:
        async with session.delete(f"{self.url}/_simulator/faults") as response:
            response.raise_for_status()

    async def calls(self, session: aiohttp.ClientSession, route: str | None = None) -> list[dict[str, Any]]:
        params = {"route": route} if route else {}
        async with session.get(f"{self.url}/_simulator/calls", params=params) as response:
            document = await response.json()
        calls: list[dict[str, Any]] = document["calls"]
        return calls

    async def clear_calls(self, session: aiohttp.ClientSession) -> None:
        async with session.delete(f"{self.url}/_simulator/calls") as response:
            response.raise_for_status()


def operator_argv(*, max_concurrent: int, health_port: int, ledger_namespace: str | None = None,
                  extra: Sequence[str] = ()) -> list[str]:
    argv = [sys.executable, "-m", "ece_restart", "run", "--all-namespaces", "--max-concurrent", str(max_concurrent),
            "--health-port", str(health_port)]
    argv += ["--ledger-namespace", ledger_namespace or ""]
    return argv + list(extra)


def operator_source() -> str:
    """Where the operator under test is imported from (BENCH_OPERATOR_SRC or the tree's operator/)."""
    return os.environ.get("BENCH_OPERATOR_SRC") or str(REPO / "operator")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SystemProcess(Child):
    """The operator, or one of the floors: started, then ready once the sandbox saw it WATCH resourcerestarts."""

    def __init__(self, name: str, argv: Sequence[str], sandbox: SandboxProcess, ece_url: str) -> None:
        # BENCH_OPERATOR_SRC: a directory holding an `ece_restart` package to run instead of operator/ (a variant
        # with a proposed change, measured without editing the tree); servers always run from operator/.
        super().__init__(name, argv, env={"KUBECONFIG": str(sandbox.kubeconfig), "ECE_URL": ece_url,
                                           "ECE_API_KEY": API_KEY}, source=os.environ.get("BENCH_OPERATOR_SRC"))
        self.sandbox = sandbox
        self.started = time.time()

    async def wait_watching(self, session: aiohttp.ClientSession, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            rows = await self.sandbox.requests(session, since=self.started)
            if any(r["verb"] == "watch" and r["resource"] == "resourcerestarts" and r["user_agent"] != DRIVER_AGENT
                   for r in rows):
                await asyncio.sleep(0.3)  # the stream is open; let the first (empty) listing settle
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} never watched resourcerestarts; see {self.log_path}")


# ---------------------------------------------------------------------------------------------------- driver


def restart_body(name: str, deployment_id: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eceops.io/v1alpha1",
        "kind": "ResourceRestart",
        "metadata": {"name": name},
        "spec": {"deploymentId": deployment_id, "resourceKind": "kibana", "refId": "main-kibana", **spec},
    }


@dataclass
class Tracked:
    sent: float = 0.0
    acked: float = 0.0
    seen: float = 0.0  # first watch event
    terminal: float = 0.0
    phase: str = ""
    phases: list[str] = field(default_factory=list)


class Driver:
    """Creates ResourceRestarts and watches all of them (its own watch on the sandbox) to their terminal status."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        self.sandbox = sandbox
        self.session = aiohttp.ClientSession(
            base_url=sandbox.url, headers={"User-Agent": DRIVER_AGENT, "Authorization": "Bearer bench"},
            connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        self.control = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self.tracked: dict[tuple[str, str], Tracked] = {}
        self._changed = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._watching = asyncio.Event()

    async def __aenter__(self) -> Driver:
        self._watch = asyncio.create_task(self._watch_loop())
        await asyncio.wait_for(self._watching.wait(), 30)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        await self.session.close()
        await self.control.close()

    async def create_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        async with self.session.post("/api/v1/namespaces", json=body) as response:
            if response.status not in (201, 409):
                raise RuntimeError(f"namespace {name}: {response.status} {await response.text()}")

    async def create(self, namespace: str, bodies: Iterable[dict[str, Any]], *, concurrency: int = 32,
                     status: dict[str, Any] | None = None) -> None:
        """Create the CRs, `concurrency` requests in flight (a burst), timing each at the client. With `status`,
        each CR's status is then set to it (a merge patch of the status subresource)."""
        queue = list(bodies)
        path = f"{GROUP_PATH}/namespaces/{namespace}/resourcerestarts"
        for body in queue:
            self.tracked.setdefault((namespace, body["metadata"]["name"]), Tracked())
        position = 0

        async def worker() -> None:
            nonlocal position
            while position < len(queue):
                body = queue[position]
                position += 1
                entry = self.tracked[(namespace, body["metadata"]["name"])]
                entry.sent = time.time()
                async with self.session.post(path, json=body) as response:
                    if response.status != 201:
                        raise RuntimeError(f"create: {response.status} {await response.text()}")
                    await response.read()
                entry.acked = time.time()
                if status is not None:
                    await self.patch_status(namespace, body["metadata"]["name"], status)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(queue)))))

    async def delete(self, namespace: str, names: Iterable[str], *, concurrency: int = 32) -> None:
        queue = list(names)
        path = f"{GROUP_PATH}/namespaces/{namespace}/resourcerestarts/"

        async def worker() -> None:
            while queue:
                name = queue.pop()
                async with self.session.delete(path + name) as response:
                    if response.status not in (200, 202, 404):
                        raise RuntimeError(f"delete: {response.status} {await response.text()}")
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        path = f"{GROUP_PATH}/namespaces/{namespace}/resourcerestarts/{name}/status"
        async with self.session.patch(path, data=json.dumps({"status": status}),
                                      headers={"Content-Type": "application/merge-patch+json"}) as response:
            if response.status != 200:
                raise RuntimeError(f"status patch: {response.status} {await response.text()}")
            await response.read()

    async def wait(self, keys: Iterable[tuple[str, str]], *, phases: frozenset[str] = TERMINAL,
                   limit: float = 300.0) -> bool:
        """Until every CR reached one of `phases` (True) or `limit` seconds passed (False)."""
        pending = set(keys)
        deadline = time.monotonic() + limit
        while pending:
            pending = {k for k in pending if self.tracked[k].phase not in phases}
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        return True

    async def _watch_loop(self) -> None:
        path = f"{GROUP_PATH}/resourcerestarts"
        async with self.session.get(path) as response:
            listing = await response.json()
        version = listing["metadata"]["resourceVersion"]
        while True:
            try:
                params = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true"}
                async with self.session.get(path, params=params) as response:
                    self._watching.set()
                    async for line in response.content:
                        if not line.strip():
                            continue
                        now = time.time()
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        metadata = obj.get("metadata") or {}
                        version = metadata.get("resourceVersion", version)
                        if event.get("type") not in ("ADDED", "MODIFIED"):
                            continue
                        key = (metadata.get("namespace", ""), metadata.get("name", ""))
                        entry = self.tracked.setdefault(key, Tracked())
                        if not entry.seen:
                            entry.seen = now
                        phase = str((obj.get("status") or {}).get("phase") or "")
                        if phase and phase != entry.phase:
                            entry.phases.append(phase)
                            entry.phase = phase
                            if phase in TERMINAL and not entry.terminal:
                                entry.terminal = now
                            self._changed.set()
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------------------------------- numbers


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1) if values else float("nan"),
    }


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def write_json(name: str, document: Mapping[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path
