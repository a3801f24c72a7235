"""Cost of following ECE plans (issue 7): 500 ResourceRestarts with `waitForCompletion: true` InProgress at once.

The simulator's plans last --plan-seconds (long enough that every CR is InProgress together). Once all 500 are
InProgress, over a window of --window seconds: the operator's CPU (utime+stime from /proc/PID/stat), RSS, the
plan polls it sent (GET of the resource, from the simulator's call log) per second, and its own gauges from
/metrics: `ece_restart_plans_tracked` (CRs followed) and `ece_restart_runs_in_flight` (per-CR controller tasks).
The same CPU reading over an idle window before the CRs exist is the baseline. Then every CR must end Succeeded.

Why no worker per CR: the design (operator/ece_restart/plan_tracking.py) keeps one shared loop over a heap of due
times; a tracked CR is a heap entry plus its last body, and a poll borrows one of at most 20 slots only while its
GET is in flight. The output shows it from outside: runs_in_flight is 0 while plans_tracked is 500, the thread
count does not grow with the CRs, and RSS over idle divided by the CRs is an upper bound of the per-CR cost.

Writes bench/out/plan_tracking.json. Run: python bench/plan_tracking.py [--crs 500] [--plan-seconds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h
import aiohttp


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


async def gauges(session: aiohttp.ClientSession, port: int) -> dict[str, float]:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    wanted = ("ece_restart_plans_tracked", "ece_restart_runs_in_flight")
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            values[name] = float(value)
    return values


async def window(proc: h.SystemProcess, simulator: h.SimulatorProcess, session: aiohttp.ClientSession, port: int,
                 seconds: float) -> dict[str, Any]:
    calls_before = len(await simulator.calls(session, route="get_resource"))
    cpu_before, started = h.cpu_seconds(proc.pid), time.monotonic()
    rss: list[float] = []
    samples: list[dict[str, float]] = []
    thread_counts: list[int] = []
    while time.monotonic() - started < seconds:
        await asyncio.sleep(min(2.0, seconds))
        rss.append(h.rss_mib(proc.pid))
        thread_counts.append(threads(proc.pid))
        samples.append(await gauges(session, port))
    elapsed = time.monotonic() - started
    cpu = h.cpu_seconds(proc.pid) - cpu_before
    polls = len(await simulator.calls(session, route="get_resource")) - calls_before
    return {
        "seconds": round(elapsed, 1),
        "cpu_s": round(cpu, 3),
        "cpu_percent_of_core": round(100 * cpu / elapsed, 2),
        "rss_mib_mean": round(sum(rss) / len(rss), 1),
        "rss_mib_max": round(max(rss), 1),
        "threads_max": max(thread_counts),
        "polls": polls,
        "polls_per_s": round(polls / elapsed, 2),
        "cpu_ms_per_poll": round(cpu * 1000 / polls, 2) if polls else None,
        "plans_tracked_min": min(s.get("ece_restart_plans_tracked", 0) for s in samples),
        "runs_in_flight_max": max(s.get("ece_restart_runs_in_flight", 0) for s in samples),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        state = Path(tmp) / "state.yaml"
        deployments = h.simulator_state(state, args.crs)
        sandbox = h.SandboxProcess(Path(tmp) / "kubeconfig", name="sandbox-plan-tracking")
        simulator = h.SimulatorProcess(state, plan_seconds=args.plan_seconds, name="simulator-plan-tracking")
        port = h.free_port()
        proc: h.SystemProcess | None = None
        try:
            async with h.Driver(sandbox) as driver:
                proc = h.SystemProcess("operator-plan-tracking", h.operator_argv(
                    max_concurrent=args.max_concurrent, health_port=port,
                    extra=["--plan-poll-interval", str(args.poll_interval),
                           "--plan-poll-max-interval", str(args.poll_max_interval)]), sandbox, simulator.url)
                await proc.wait_watching(driver.control)
                await asyncio.sleep(3)
                idle = await window(proc, simulator, driver.control, port, args.idle_window)
                h.log(f"idle: {idle}")
                await driver.create_namespace("tracking")
                bodies = [h.restart_body(f"rr-{i}", deployment, waitForCompletion=True,
                                         completionTimeoutSeconds=int(args.plan_seconds * 4))
                          for i, deployment in enumerate(deployments)]
                keys = [("tracking", b["metadata"]["name"]) for b in bodies]
                created = time.monotonic()
                await driver.create("tracking", bodies)
                if not await driver.wait(keys, phases=frozenset({"InProgress"}), limit=args.plan_seconds / 2):
                    raise RuntimeError("not every CR reached InProgress in time: raise --plan-seconds")
                all_in_progress = time.monotonic() - created
                h.log(f"all {args.crs} InProgress after {all_in_progress:.1f} s")
                tracking = await window(proc, simulator, driver.control, port, args.window)
                h.log(f"tracking: {tracking}")
                tracking_left = args.plan_seconds - (time.monotonic() - created)
                finished = await driver.wait(keys, limit=tracking_left + args.poll_max_interval * 2 + 60)
                ended = time.monotonic() - created
                phases: dict[str, int] = {}
                for key in keys:
                    phases[driver.tracked[key].phase] = phases.get(driver.tracked[key].phase, 0) + 1
                return {"idle": idle, "tracking": tracking, "all_in_progress_after_s": round(all_in_progress, 1),
                        "all_terminal": finished, "terminal_after_s": round(ended, 1), "phases": phases}
        finally:
            for child in (proc, simulator, sandbox):
                if child is not None:
                    child.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crs", type=int, default=500)
    parser.add_argument("--plan-seconds", type=float, default=100.0)
    parser.add_argument("--window", type=float, default=40.0, help="measurement window while all are InProgress")
    parser.add_argument("--idle-window", type=float, default=10.0)
    parser.add_argument("--max-concurrent", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=2.0, help="the operator's default")
    parser.add_argument("--poll-max-interval", type=float, default=30.0, help="the operator's default")
    args = parser.parse_args()
    environment = h.environment()
    result = asyncio.run(run(args))
    environment["load_average_end"] = h.load_average()
    idle, tracking = result["idle"], result["tracking"]
    rss_per_cr_kib = (tracking["rss_mib_mean"] - idle["rss_mib_mean"]) * 1024 / args.crs
    result["rss_kib_per_tracked_cr"] = round(rss_per_cr_kib, 1)
    result["steady_state_polls_per_s"] = round(args.crs / args.poll_max_interval, 1)
    result["no_worker_per_cr"] = (
        f"plans_tracked >= {tracking['plans_tracked_min']:.0f} while runs_in_flight <= "
        f"{tracking['runs_in_flight_max']:.0f} (no controller task per tracked CR); threads {idle['threads_max']} "
        f"idle vs {tracking['threads_max']} tracking for {args.crs} CRs (no thread per CR); "
        f"RSS over idle / CRs = {rss_per_cr_kib:.1f} KiB "
        f"(an upper bound: it includes what the create burst left in the allocator); polls come from one "
        f"heap-driven loop with at most 20 in flight (plan_tracking.py)")
    document = {"environment": environment, "args": vars(args), "results": result}
    path = h.write_json("plan_tracking", document)
    rows = [[name, value["seconds"], value["cpu_percent_of_core"], value["rss_mib_mean"], value["threads_max"],
             value["polls_per_s"], value["cpu_ms_per_poll"] or "", value["plans_tracked_min"],
             value["runs_in_flight_max"]] for name, value in (("idle", idle), ("tracking", tracking))]
    print(f"\n{args.crs} CRs with waitForCompletion, all InProgress ({result['all_in_progress_after_s']} s after "
          f"the burst); plans of {args.plan_seconds:.0f} s; poll interval {args.poll_interval} s growing to "
          f"{args.poll_max_interval} s")
    print(h.table(rows, ["window", "s", "CPU % core", "RSS MiB", "threads", "polls/s", "CPU ms/poll",
                         "tracked", "runs in flight"]))
    print(f"\nsteady-state poll rate once every interval reached its cap: {result['steady_state_polls_per_s']}/s "
          f"(CRs / max interval)")
    print(f"no worker per CR: {result['no_worker_per_cr']}")
    print(f"all terminal: {result['all_terminal']} after {result['terminal_after_s']} s: {result['phases']}")
    print(f"load average start {environment['load_average_start']}, end {environment['load_average_end']}")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
