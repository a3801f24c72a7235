"""Operator memory (issue 9 item 5): RSS of the operator process (VmRSS, /proc/PID/status) when idle, with 10,000
terminal ResourceRestarts present, and its growth after 10,000 more runs.

Steps, against a sandbox and a simulator in processes of their own:
  1. idle: the operator started with no CR at all; RSS once it watches and has settled.
  2. present: 10,000 CRs already terminal (created and their status set to Succeeded by this script while no
     operator runs), then a fresh operator started: its peak during the initial listing (VmHWM) and its RSS once
     settled (Kopf's per-object workers exit after 5 s idle).
  3. growth: 10,000 more runs through that operator, in batches: each batch of CRs is created, run to Succeeded by
     the operator, then deleted, so 10,000 CRs stay present and any growth is what runs leave behind. RSS once
     settled, and the growth over step 2.
The Kopf empty-handler floor (bench/_floor_kopf.py) gets steps 1 and 2 too: what Python + Kopf cost by themselves.

Writes bench/out/operator_memory.json. Run: python bench/operator_memory.py [--present 10000] [--runs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h

# What the operator itself writes at the end of a run without restartToken (lastHandledToken "" = the CR's token,
# so the operator decides there is nothing to do; the check below fails the bench if it restarted anything).
TERMINAL_STATUS = {"phase": "Succeeded", "outcome": "RestartAccepted", "httpStatus": 202, "lastHandledToken": "",
                   "attempts": 1, "message": "pre-created by the memory bench",
                   "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:00Z"}


async def settle(pid: int, *, quiet: float = 8.0, limit: float = 300.0) -> dict[str, Any]:
    """Wait until the process has used < 0.02 s CPU per second for `quiet` seconds (or `limit` passed); RSS then,
    and how long it was busy (for step 2: the start-up work on the CRs present)."""
    started = time.monotonic()
    deadline = started + limit
    cpu_start = last_cpu = h.cpu_seconds(pid)
    calm_since = started
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        cpu = h.cpu_seconds(pid)
        if cpu - last_cpu > 0.02:
            calm_since = time.monotonic()
        last_cpu = cpu
        if time.monotonic() - calm_since >= quiet:
            break
    return {"rss_mib": round(h.rss_mib(pid), 1), "peak_rss_mib": round(h.hwm_mib(pid), 1),
            "busy_s": round(calm_since - started, 1), "cpu_s": round(h.cpu_seconds(pid) - cpu_start, 2),
            "settled": time.monotonic() - calm_since >= quiet}


def system_argv(system: str, extra: list[str]) -> list[str]:
    if system == "operator":
        return h.operator_argv(max_concurrent=10, health_port=h.free_port(), extra=extra)
    return [sys.executable, str(h.BENCH / "_floor_kopf.py"), "--max-concurrent", "10"]


async def measure(system: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    state = tmp / f"state-{system}.yaml"
    deployments = h.simulator_state(state, 1000)
    sandbox = h.SandboxProcess(tmp / f"kubeconfig-{system}", name=f"sandbox-memory-{system}")
    simulator = h.SimulatorProcess(state, name=f"simulator-memory-{system}")
    result: dict[str, Any] = {}
    proc: h.SystemProcess | None = None
    try:
        async with h.Driver(sandbox) as driver:
            # 1. idle
            argv = system_argv(system, args.operator_args)
            proc = h.SystemProcess(f"{system}-memory-idle", argv, sandbox, simulator.url)
            await proc.wait_watching(driver.control)
            result["idle"] = await settle(proc.pid, quiet=5.0)
            h.log(f"{system} idle: {result['idle']}")
            proc.stop()
            # 2. present
            await driver.create_namespace("present")
            started = time.monotonic()
            bodies = [h.restart_body(f"rr-{i}", deployments[i % len(deployments)], cancelPending=True)
                      for i in range(args.present)]
            await driver.create("present", bodies, status=TERMINAL_STATUS)
            h.log(f"{args.present} terminal CRs created in {time.monotonic() - started:.0f} s")
            proc = h.SystemProcess(f"{system}-memory", argv, sandbox, simulator.url)
            await proc.wait_watching(driver.control)
            result["present"] = await settle(proc.pid)
            result["present"]["crs"] = args.present
            restarts = len(await simulator.calls(driver.control, route="restart"))
            result["present"]["restarts_sent"] = restarts
            if restarts:
                raise RuntimeError(f"{restarts} restarts sent for CRs that were already terminal")
            h.log(f"{system} with {args.present} CRs present: {result['present']}")
            if system != "operator" or args.runs <= 0:
                return result
            # 3. growth
            cpu_before = h.cpu_seconds(proc.pid)
            started = time.monotonic()
            done = 0
            batch_number = 0
            while done < args.runs:
                batch = min(args.batch, args.runs - done)
                namespace = f"runs-{batch_number}"
                await driver.create_namespace(namespace)
                bodies = [h.restart_body(f"rr-{i}", deployments[(done + i) % len(deployments)], cancelPending=True)
                          for i in range(batch)]
                await driver.create(namespace, bodies)
                keys = [(namespace, b["metadata"]["name"]) for b in bodies]
                if not await driver.wait(keys, limit=600):
                    raise RuntimeError(f"batch {batch_number} did not finish")
                phases = {driver.tracked[k].phase for k in keys}
                if phases != {"Succeeded"}:
                    raise RuntimeError(f"batch {batch_number} ended {phases}")
                await driver.delete(namespace, [b["metadata"]["name"] for b in bodies])
                done += batch
                batch_number += 1
                h.log(f"  {done} runs, RSS {h.rss_mib(proc.pid):.1f} MiB")
            elapsed = time.monotonic() - started
            result["after_runs"] = await settle(proc.pid)
            result["after_runs"].update({
                "runs": done, "seconds": round(elapsed, 1),
                "runs_per_s": round(done / elapsed, 1),
                "cpu_ms_per_run": round((h.cpu_seconds(proc.pid) - cpu_before) * 1000 / done, 2),
                "growth_mib": round(result["after_runs"]["rss_mib"] - result["present"]["rss_mib"], 1),
                "growth_kib_per_run": round((result["after_runs"]["rss_mib"] - result["present"]["rss_mib"])
                                            * 1024 / done, 2),
            })
            h.log(f"{system} after {done} more runs: {result['after_runs']}")
    finally:
        for child in (proc, simulator, sandbox):
            if child is not None:
                child.stop()
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for system in args.systems:
            results[system] = await measure(system, args, Path(tmp))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--present", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--operator-args", type=shlex.split, default=[],
                        help="extra arguments for `ece_restart run`, e.g. '--log-level warning'")
    parser.add_argument("--systems", type=lambda s: s.split(","), default=["operator", "kopf"])
    args = parser.parse_args()
    environment = h.environment()
    results = asyncio.run(run(args))
    environment["load_average_end"] = h.load_average()
    ours = results.get("operator", {})
    goals = []
    if "idle" in ours:
        goals.append({"goal": "RSS <= 128 MiB idle", "value": ours["idle"]["rss_mib"],
                      "met": ours["idle"]["rss_mib"] <= 128})
    if "present" in ours:
        peak = max(ours["present"]["rss_mib"], ours["present"]["peak_rss_mib"])
        goals.append({"goal": f"RSS <= 256 MiB with {args.present} CRs (peak at start-up)", "value": peak,
                      "met": peak <= 256})
    document = {"environment": environment, "args": vars(args), "results": results, "goals": goals}
    path = h.write_json("operator_memory", document)
    rows = []
    for system, result in results.items():
        for step in ("idle", "present", "after_runs"):
            if step in result:
                value = result[step]
                rows.append([system, step, value["rss_mib"], value["peak_rss_mib"], value.get("growth_mib", ""),
                             value.get("growth_kib_per_run", ""), value["busy_s"], value["cpu_s"]])
    print("\nRSS of the process (MiB); peak = VmHWM since the process started")
    print(h.table(rows, ["system", "step", "RSS MiB", "peak MiB", "growth MiB", "KiB/run", "busy s", "CPU s"]))
    print("\nGoals")
    for goal in goals:
        print(f"  [{'met' if goal['met'] else 'MISSED'}] {goal['goal']}: {goal['value']}")
    print(f"load average start {environment['load_average_start']}, end {environment['load_average_end']}")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
