"""Operator latency, throughput and API writes per CR, against the two floors measured in the same run (issue 9).

Systems, each a process of its own, each against a fresh Kubernetes API sandbox and ECE simulator (processes too):
  operator  `python -m ece_restart run --all-namespaces --max-concurrent C --ledger-namespace bench-ledger`
  kopf      floor (b): Kopf, the operator's own settings, one @kopf.on.event doing one POST + one status PATCH
  raw       floor (a): no framework: one aiohttp watch, one POST + one status PATCH per new CR

Part 1, latency (zero-latency simulator, --max-concurrent 10): CR create -> terminal status for 1 CR (repeated
sequentially), and bursts of 100 and 1,000 CRs on distinct deployments. The create time is taken at the client
(the create's response; `--from-send` variants are in the JSON) and the terminal time from this script's own
watch on the sandbox. Also: API requests per CR the sandbox received from the system (writes: PATCH/POST/PUT/
DELETE), with and without spec.restartToken (the operator then claims the token in the ledger).

Part 2, throughput (simulator latency 200 ms on every restart POST, 1,000 CRs in a burst): total time from the
first create to the last terminal status, against the ideal CRs x latency / concurrency, for each --max-concurrent.

Writes bench/out/operator_latency.json and bench/out/operator_latency.png; prints tables.
Run: python bench/operator_latency.py            (about 6-8 minutes on 2 cores)
     python bench/operator_latency.py --quick    (smaller, about 2 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness as h

LEDGER_NAMESPACE = "bench-ledger"
WRITE_METHODS = {"PATCH", "POST", "PUT", "DELETE"}
SYSTEMS = ("raw", "kopf", "operator")


@dataclass
class Stack:
    sandbox: h.SandboxProcess
    simulator: h.SimulatorProcess
    system: h.SystemProcess
    driver: h.Driver
    deployments: list[str]
    next_deployment: int = 0

    def take(self, count: int) -> list[str]:
        ids = self.deployments[self.next_deployment:self.next_deployment + count]
        if len(ids) < count:
            raise RuntimeError("the simulator state has too few deployments for this run")
        self.next_deployment += count
        return ids

    def cpu(self) -> dict[str, float]:
        return {name: h.cpu_seconds(proc.pid) for name, proc in
                (("system", self.system), ("sandbox", self.sandbox), ("simulator", self.simulator))}


def system_argv(system: str, max_concurrent: int) -> list[str]:
    if system == "operator":
        return h.operator_argv(max_concurrent=max_concurrent, health_port=h.free_port(),
                               ledger_namespace=LEDGER_NAMESPACE, extra=["--log-level", "info"])
    script = {"raw": "_floor_raw.py", "kopf": "_floor_kopf.py"}[system]
    return [sys.executable, str(h.BENCH / script), "--max-concurrent", str(max_concurrent)]


@contextlib.asynccontextmanager
async def stack(system: str, *, max_concurrent: int, deployments: int, ece_latency: float = 0.0,
                tag: str = "") -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        state = Path(tmp) / "state.yaml"
        ids = h.simulator_state(state, deployments)
        sandbox = h.SandboxProcess(Path(tmp) / "kubeconfig", name=f"sandbox-{system}{tag}")
        simulator = h.SimulatorProcess(state, plan_seconds=3.0, name=f"simulator-{system}{tag}")
        proc: h.SystemProcess | None = None
        try:
            async with h.Driver(sandbox) as driver:
                if ece_latency > 0:
                    await simulator.set_latency(driver.control, ece_latency)
                await driver.create_namespace(LEDGER_NAMESPACE)
                proc = h.SystemProcess(f"{system}{tag}", system_argv(system, max_concurrent), sandbox, simulator.url)
                await proc.wait_watching(driver.control)
                yield Stack(sandbox, simulator, proc, driver, ids)
        finally:
            for child in (proc, simulator, sandbox):
                if child is not None:
                    child.stop()


async def burst(st: Stack, namespace: str, count: int, *, token: bool = False, limit: float = 600.0,
                concurrency: int = 32) -> dict[str, Any]:
    """Create `count` CRs at once in a new namespace; wait until all are terminal; timings and costs."""
    driver = st.driver
    await driver.create_namespace(namespace)
    extra: dict[str, Any] = {"cancelPending": True}
    if token:
        extra["restartToken"] = "bench-1"
    bodies = [h.restart_body(f"rr-{i}", deployment, **extra) for i, deployment in enumerate(st.take(count))]
    keys = [(namespace, b["metadata"]["name"]) for b in bodies]
    cpu_before = st.cpu()
    started = time.time()
    await driver.create(namespace, bodies, concurrency=concurrency)
    created = time.time()
    finished = await driver.wait(keys, limit=limit)
    return await _result(st, keys, started, created, finished, cpu_before, namespace)


async def sequential(st: Stack, namespace: str, count: int, *, limit: float = 60.0) -> dict[str, Any]:
    """One CR at a time: create, wait for its terminal status, next."""
    driver = st.driver
    await driver.create_namespace(namespace)
    keys: list[tuple[str, str]] = []
    cpu_before = st.cpu()
    started = time.time()
    finished = True
    for i, deployment in enumerate(st.take(count)):
        body = h.restart_body(f"rr-{i}", deployment, cancelPending=True)
        keys.append((namespace, body["metadata"]["name"]))
        await driver.create(namespace, [body])
        finished = await driver.wait(keys[-1:], limit=limit) and finished
        await asyncio.sleep(0.05)
    return await _result(st, keys, started, time.time(), finished, cpu_before, namespace)


async def _result(st: Stack, keys: Sequence[tuple[str, str]], started: float, created: float, finished: bool,
                  cpu_before: dict[str, float], namespace: str) -> dict[str, Any]:
    tracked = [st.driver.tracked[k] for k in keys]
    done = [t for t in tracked if t.terminal]
    last = max((t.terminal for t in done), default=time.time())
    await asyncio.sleep(1.5)  # let queued event posts and late writes land before counting
    cpu_after = st.cpu()
    rows = await st.sandbox.requests(st.driver.control, since=started)
    costs = request_costs(rows, namespace, len(keys))
    total = last - started
    return {
        "crs": len(keys),
        "completed": len(done),
        "all_terminal": finished,
        "phases": dict(Counter(t.phase for t in tracked)),
        "latency_from_ack": h.summary_ms([t.terminal - t.acked for t in done]),
        "latency_from_send": h.summary_ms([t.terminal - t.sent for t in done]),
        "latencies_ms": [round((t.terminal - t.acked) * 1000, 2) for t in done],
        "create_burst_s": round(created - started, 3),
        "total_s": round(total, 3),
        "throughput_per_s": round(len(done) / total, 2) if total > 0 else None,
        "cpu_s": {k: round(cpu_after[k] - cpu_before[k], 3) for k in cpu_after},
        "system_cpu_ms_per_cr": round((cpu_after["system"] - cpu_before["system"]) * 1000 / max(1, len(keys)), 2),
        "system_rss_mib": round(h.rss_mib(st.system.pid), 1),
        "requests": costs,
    }


def request_costs(rows: list[dict[str, Any]], namespace: str, crs: int) -> dict[str, Any]:
    """Requests from the system under test (not this driver) in the scenario's namespace and the ledger's."""
    mine = [r for r in rows if r["user_agent"] != h.DRIVER_AGENT and r["namespace"] in (namespace, LEDGER_NAMESPACE)]
    writes = [r for r in mine if r["method"] in WRITE_METHODS]
    reads = [r for r in mine if r["method"] == "GET" and r["verb"] != "watch"]
    breakdown = Counter(f"{r['method']} {r['resource']}{'/' + r['subresource'] if r['subresource'] else ''}"
                        for r in mine if r["verb"] != "watch")
    return {
        "writes_per_cr": round(len(writes) / max(1, crs), 3),
        "status_writes_per_cr": round(sum(1 for r in writes if r["resource"] == "resourcerestarts")
                                      / max(1, crs), 3),
        "event_writes_per_cr": round(sum(1 for r in writes if r["resource"] == "events") / max(1, crs), 3),
        "reads_per_cr": round(len(reads) / max(1, crs), 3),
        "by_request_per_cr": {k: round(v / max(1, crs), 3) for k, v in sorted(breakdown.items())},
        "non_2xx": sum(1 for r in mine if not 200 <= int(r["status_code"]) < 300),
    }


async def latency_part(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    sizes = (10, 100, 300) if args.quick else (30, 100, 1000)
    for system in args.systems:
        h.log(f"latency: {system} (load {h.load_average()[0]:.2f})")
        deployments = sum(sizes) + 100 + 10
        async with stack(system, max_concurrent=10, deployments=deployments, tag="-latency") as st:
            out: dict[str, Any] = {}
            out["1"] = await sequential(st, "lat-1", sizes[0])
            repeats = [await burst(st, "lat-100", sizes[1])]
            out[str(sizes[2])] = await burst(st, f"lat-{sizes[2]}", sizes[2])
            if system == "operator":
                out["100_token_ledger"] = await burst(st, "lat-100-token", 100, token=True)
        # The 100-CR burst is the goal's yardstick, and one burst's p99 moves by +-20% on this machine (and grows
        # with the objects a sandbox already holds): repeat it, each time on fresh servers warmed up by 10 CRs
        # one at a time, and report the repetition with the median p99 (every p99 is kept in the JSON).
        for _ in range(args.repeat - 1):
            async with stack(system, max_concurrent=10, deployments=sizes[1] + 20, tag="-latency") as st:
                await sequential(st, "warm-up", 10)
                repeats.append(await burst(st, "lat-100", sizes[1]))
        repeats.sort(key=lambda value: value["latency_from_ack"]["p99_ms"])
        out["100"] = repeats[len(repeats) // 2]
        out["100"]["p99_ms_of_each_repeat"] = [value["latency_from_ack"]["p99_ms"] for value in repeats]
        ordered = {"1": out.pop("1"), "100": out.pop("100"), **out}
        results[system] = ordered
        for scenario, value in ordered.items():
            h.log(f"  {scenario:>16}: {value['latency_from_ack']} total {value['total_s']} s, "
                  f"writes/CR {value['requests']['writes_per_cr']}"
                  + (f", p99 of each repeat {value['p99_ms_of_each_repeat']}"
                     if "p99_ms_of_each_repeat" in value else ""))
    return results


async def throughput_part(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    runs = [(c, args.throughput_crs) for c in args.concurrency]
    if args.sweep:
        runs += [(c, min(args.throughput_crs, 40 * c)) for c in (1, 5, 20, 100) if c not in args.concurrency]
    for concurrency, crs in sorted(runs):
        for system in args.systems:
            h.log(f"throughput: {system} --max-concurrent {concurrency}, {crs} CRs, ECE latency {args.ece_latency}s "
                  f"(load {h.load_average()[0]:.2f})")
            async with stack(system, max_concurrent=concurrency, deployments=crs + 10, ece_latency=args.ece_latency,
                             tag=f"-c{concurrency}") as st:
                result = await burst(st, "tput", crs, limit=max(120.0, crs * args.ece_latency / concurrency * 5))
            ideal = crs * args.ece_latency / concurrency
            result.pop("latencies_ms")
            result["ideal_s"] = round(ideal, 3)
            result["of_ideal"] = round(ideal / result["total_s"], 3) if result["total_s"] else None
            results.setdefault(str(concurrency), {})[system] = result
            h.log(f"  total {result['total_s']} s, ideal {ideal:.1f} s -> {result['of_ideal']:.0%} of ideal")
    return results


def ratios(latency: dict[str, Any], throughput: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latency": {}, "throughput": {}}
    ours = latency.get("operator", {})
    for scenario, value in ours.items():
        if scenario not in latency.get("raw", {}):
            continue
        entry = {}
        for floor in ("raw", "kopf"):
            base = latency.get(floor, {}).get(scenario)
            if not base:
                continue
            for q in ("p50_ms", "p99_ms"):
                entry[f"{q[:3]}_vs_{floor}"] = _ratio(value["latency_from_ack"][q], base["latency_from_ack"][q])
            entry[f"throughput_vs_{floor}"] = _ratio(value["throughput_per_s"], base["throughput_per_s"])
        out["latency"][scenario] = entry
    for concurrency, systems in throughput.items():
        ours_t = systems.get("operator")
        if not ours_t:
            continue
        out["throughput"][concurrency] = {f"vs_{floor}": _ratio(ours_t["throughput_per_s"], base["throughput_per_s"])
                                          for floor, base in systems.items() if floor != "operator"}
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def goals(document: dict[str, Any]) -> list[dict[str, Any]]:
    latency, throughput = document["latency"], document["throughput"]
    found: list[dict[str, Any]] = []
    op100 = latency.get("operator", {}).get("100")
    raw100 = latency.get("raw", {}).get("100")
    if op100 and raw100:
        ratio = op100["latency_from_ack"]["p99_ms"] / raw100["latency_from_ack"]["p99_ms"]
        found.append({"goal": "p99 latency <= 2x raw-client floor at 100 CRs", "value": round(ratio, 2),
                      "met": ratio <= 2.0})
    for scenario, label in (("100", "no restartToken"), ("100_token_ledger", "restartToken + ledger")):
        entry = latency.get("operator", {}).get(scenario)
        if entry:
            writes = entry["requests"]["writes_per_cr"]
            found.append({"goal": f"<= 3 API writes per CR on the success path ({label})", "value": writes,
                          "met": writes <= 3})
    for concurrency, systems in sorted(throughput.items(), key=lambda kv: int(kv[0])):
        ours = systems.get("operator")
        if ours and ours.get("crs", 0) >= 1000 and int(concurrency) in document["args"]["concurrency"]:
            found.append({"goal": f"throughput >= 80% of ideal (200 ms ECE, 1,000 CRs, --max-concurrent "
                                  f"{concurrency})", "value": ours["of_ideal"], "met": ours["of_ideal"] >= 0.8})
    return found


def plot(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"operator": "tab:red", "kopf": "tab:blue", "raw": "tab:green"}
    labels = {"operator": "operator", "kopf": "Kopf empty-handler floor", "raw": "raw-client floor"}
    latency, throughput = document["latency"], document["throughput"]
    scenarios = [s for s in ("100", "1000", "300") if s in latency.get("operator", {})]
    fig, grid = plt.subplots(1, len(scenarios) + 1, figsize=(6 * (len(scenarios) + 1), 5), squeeze=False)
    axes = list(grid[0])
    for ax, scenario in zip(axes, scenarios, strict=False):
        for system in SYSTEMS:
            values = sorted(latency.get(system, {}).get(scenario, {}).get("latencies_ms", []))
            if values:
                ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], color=colors[system],
                        label=f"{labels[system]} (p99 {h.percentile(values, 99):.0f} ms)")
        ax.set_xscale("log")
        ax.set_xlabel("CR create -> terminal status (ms, log scale)")
        ax.set_ylabel("fraction of CRs")
        ax.set_title(f"Latency CDF, burst of {scenario} CRs, zero-latency ECE")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    ax = axes[-1]
    concurrencies = sorted(int(c) for c in throughput)
    for system in SYSTEMS:
        points = [(c, throughput[str(c)][system]["throughput_per_s"]) for c in concurrencies
                  if system in throughput[str(c)]]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", color=colors[system], label=labels[system])
    if concurrencies:
        ideal = [c / document["ece_latency_s"] for c in concurrencies]
        ax.plot(concurrencies, ideal, linestyle="--", color="gray", label="ideal: concurrency / ECE latency")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("--max-concurrent (restart POSTs in flight)")
    ax.set_ylabel("CRs per second (create -> terminal)")
    ax.set_title(f"Throughput, ECE latency {document['ece_latency_s'] * 1000:.0f} ms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    fig.suptitle(f"ece-restart-operator vs floors ({document['environment']['date_utc']}, "
                 f"load avg {document['environment']['load_average_start'][0]:.1f} on "
                 f"{document['environment']['cpus']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def print_tables(document: dict[str, Any]) -> None:
    latency, throughput = document["latency"], document["throughput"]
    rows = []
    for system in SYSTEMS:
        for scenario, value in latency.get(system, {}).items():
            lat = value["latency_from_ack"]
            rows.append([system, scenario, value["completed"], lat["p50_ms"], lat["p95_ms"], lat["p99_ms"],
                         value["throughput_per_s"], value["system_cpu_ms_per_cr"],
                         value["requests"]["writes_per_cr"], value["requests"]["reads_per_cr"]])
    print("\nLatency, zero-latency ECE, --max-concurrent 10 (ms from create acknowledged to terminal status seen)")
    print(h.table(rows, ["system", "CRs", "done", "p50", "p95", "p99", "CRs/s", "CPU ms/CR", "writes/CR",
                         "reads/CR"]))
    rows = []
    for scenario, entry in document["ratios"]["latency"].items():
        rows.append([scenario, *(entry.get(k) for k in ("p50_vs_raw", "p99_vs_raw", "throughput_vs_raw",
                                                        "p50_vs_kopf", "p99_vs_kopf", "throughput_vs_kopf"))])
    print("\nOperator as a multiple of the floors (latency: lower is better; throughput: higher is better)")
    print(h.table(rows, ["CRs", "p50/raw", "p99/raw", "tput/raw", "p50/kopf", "p99/kopf", "tput/kopf"]))
    rows = []
    for concurrency in sorted(throughput, key=int):
        for system in SYSTEMS:
            value = throughput[concurrency].get(system)
            if value:
                rows.append([concurrency, system, value["crs"], value["total_s"], value["ideal_s"],
                             f"{value['of_ideal']:.0%}", value["throughput_per_s"], value["create_burst_s"]])
    print(f"\nThroughput, ECE latency {document['ece_latency_s'] * 1000:.0f} ms on every restart POST")
    print(h.table(rows, ["max-concurrent", "system", "CRs", "total s", "ideal s", "of ideal", "CRs/s",
                         "creates s"]))
    ours = latency.get("operator", {})
    print("\nAPI requests per CR received from the operator (success path)")
    for scenario in ("100", "100_token_ledger"):
        if scenario in ours:
            print(f"  {scenario:>16}: {ours[scenario]['requests']['by_request_per_cr']}")
    print("\nGoals")
    for goal in document["goals"]:
        print(f"  [{'met' if goal['met'] else 'MISSED'}] {goal['goal']}: {goal['value']}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    document: dict[str, Any] = {"environment": h.environment(), "ece_latency_s": args.ece_latency,
                                "operator_source": h.operator_source(), "args": vars(args)}
    h.log(f"start; load average {document['environment']['load_average_start']}")
    document["latency"] = await latency_part(args) if not args.skip_latency else {}
    document["throughput"] = await throughput_part(args) if not args.skip_throughput else {}
    document["environment"]["load_average_end"] = h.load_average()
    document["ratios"] = ratios(document["latency"], document["throughput"])
    document["goals"] = goals(document)
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3,
                        help="bursts of 100 CRs per system; the one with the median p99 is reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="10 sequential, bursts of 100 and 300; 300 CRs for "
                        "throughput")
    parser.add_argument("--systems", type=lambda s: s.split(","), default=list(SYSTEMS))
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[10, 50])
    parser.add_argument("--sweep", action="store_true", help="also --max-concurrent 1, 5, 20, 100 (fewer CRs) "
                        "for the throughput plot")
    parser.add_argument("--throughput-crs", type=int, default=1000)
    parser.add_argument("--ece-latency", type=float, default=0.2)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--name", default="operator_latency", help="output file stem in bench/out/")
    args = parser.parse_args()
    if args.quick:
        args.throughput_crs = min(args.throughput_crs, 300)
    document = asyncio.run(main_async(args))
    path = h.write_json(args.name, document)
    if document["latency"] or document["throughput"]:
        plot(document, h.OUT / f"{args.name}.png")
    print_tables(document)
    print(f"\nJSON: {path}\nplot: {h.OUT / (args.name + '.png')}")


if __name__ == "__main__":
    main()
