"""The cost of our ECE client over a bare HTTP loop (issue 2).

`EceClient.restart_target(..., cancel_pending=True)` against the ECE simulator (a separate process, so its CPU is
not in the measured process), vs a bare `httpx.AsyncClient` loop POSTing the same URLs with the same headers,
query, connection limit and timeouts; also a bare `aiohttp` loop for reference. Same concurrency for all: 1 and 10
requests in flight. Clients alternate in rounds (A B C A B C ...) so a drift in machine load hits all of them.

Two figures per client: requests/s (wall clock; bounded by the simulator when it saturates its core) and client
CPU per request (this process's CPU time / requests: what the client itself costs, whatever the server does).
Overhead = 1 - ours/bare for requests/s, ours/bare - 1 for CPU per request. Target: under 10%.

Writes bench/out/client_overhead.json. Run: python bench/client_overhead.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _harness as h
import aiohttp
import httpx

from ece_restart.client import USER_AGENT, EceClient
from ece_restart.connection import ApiKeyCredentials, ConnectionConfig, Secret
from ece_restart.results import RestartAccepted
from ece_restart.targets import RestartTarget

Send = Callable[[str], Awaitable[None]]


async def measure(send: Send, deployments: list[str], requests: int, concurrency: int) -> dict[str, float]:
    targets = itertools.cycle(deployments)
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send(next(targets))

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"requests_per_s": requests / wall, "cpu_us_per_request": cpu / requests * 1e6, "wall_s": wall}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        state = Path(tmp) / "state.yaml"
        deployments = h.simulator_state(state, args.deployments)
        simulator = h.SimulatorProcess(state, plan_seconds=3.0, name="simulator-client-overhead")
        try:
            return await compare(simulator, deployments, args)
        finally:
            simulator.stop()


async def compare(simulator: h.SimulatorProcess, deployments: list[str], args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for concurrency in args.concurrency:
        results[str(concurrency)] = await compare_at(simulator, deployments, concurrency, args)
    return results


async def compare_at(simulator: h.SimulatorProcess, deployments: list[str], concurrency: int,
                     args: argparse.Namespace) -> dict[str, Any]:
    url = simulator.url
    config = ConnectionConfig(url, ApiKeyCredentials(Secret(h.API_KEY)))
    ours = EceClient(config, max_connections=max(concurrency, 10))
    timeouts = config.timeouts
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Authorization": f"ApiKey {h.API_KEY}"}
    bare = httpx.AsyncClient(
        base_url=url, headers=headers, trust_env=False, follow_redirects=False,
        timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.write,
                              pool=timeouts.pool),
        limits=httpx.Limits(max_connections=max(concurrency, 10), max_keepalive_connections=max(concurrency, 10)),
    )
    session = aiohttp.ClientSession(base_url=url, headers=headers,
                                    connector=aiohttp.TCPConnector(limit=max(concurrency, 10)))
    params = {"cancel_pending": "true"}
    path = "/api/v1/deployments/{}/kibana/main-kibana/_restart"

    async def send_ours(deployment: str) -> None:
        result = await ours.restart_target(RestartTarget.of(deployment, "kibana", "main-kibana"),
                                           cancel_pending=True)
        if not isinstance(result, RestartAccepted):
            raise RuntimeError(f"not accepted: {result}")

    async def send_bare(deployment: str) -> None:
        response = await bare.post(path.format(deployment), params=params)
        if response.status_code != 202:
            raise RuntimeError(f"answered {response.status_code}")

    async def send_aiohttp(deployment: str) -> None:
        async with session.post(path.format(deployment), params=params) as response:
            await response.read()
            if response.status != 202:
                raise RuntimeError(f"answered {response.status}")

    clients: dict[str, Send] = {"EceClient": send_ours, "bare httpx": send_bare, "bare aiohttp": send_aiohttp}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    for send in clients.values():  # warm-up: connections, imports, caches
        await measure(send, deployments, 200, concurrency)
    sim_cpu = h.cpu_seconds(simulator.pid)
    started = time.perf_counter()
    for round_number in range(args.rounds):
        order = list(clients.items())
        if round_number % 2:
            order.reverse()
        for name, send in order:
            samples[name].append(await measure(send, deployments, args.requests, concurrency))
    sim_share = (h.cpu_seconds(simulator.pid) - sim_cpu) / (time.perf_counter() - started)
    await ours.aclose()
    await bare.aclose()
    await session.close()
    summary = {name: {key: round(statistics.median(s[key] for s in values), 1)
                      for key in ("requests_per_s", "cpu_us_per_request")}
               for name, values in samples.items()}
    base, mine = summary["bare httpx"], summary["EceClient"]
    h.log(f"concurrency {concurrency}: {summary}")
    return {
        "clients": summary,
        "samples": samples,
        "simulator_cpu_share": round(sim_share, 2),
        "rps_ratio_ours_to_bare": round(mine["requests_per_s"] / base["requests_per_s"], 3),
        "rps_overhead": round(1 - mine["requests_per_s"] / base["requests_per_s"], 3),
        "cpu_overhead": round(mine["cpu_us_per_request"] / base["cpu_us_per_request"] - 1, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[1, 10])
    parser.add_argument("--deployments", type=int, default=200)
    args = parser.parse_args()
    environment = h.environment()
    results = asyncio.run(run(args))
    environment["load_average_end"] = h.load_average()
    document = {"environment": environment, "args": vars(args), "results": results,
                "target": "overhead under 10% (requests/s and client CPU per request)"}
    path = h.write_json("client_overhead", document)
    rows = []
    for concurrency, result in results.items():
        for name, summary in result["clients"].items():
            rows.append([concurrency, name, summary["requests_per_s"], summary["cpu_us_per_request"]])
    print("\nECE restart POST against the simulator process (median of rounds)")
    print(h.table(rows, ["in flight", "client", "requests/s", "client CPU us/request"]))
    print()
    for concurrency, result in results.items():
        verdict = "met" if result["rps_overhead"] < 0.10 and result["cpu_overhead"] < 0.10 else "MISSED"
        print(f"concurrency {concurrency}: EceClient/bare httpx requests/s = {result['rps_ratio_ours_to_bare']:.3f} "
              f"(overhead {result['rps_overhead']:.1%}), client CPU/request overhead {result['cpu_overhead']:.1%}, "
              f"simulator busy {result['simulator_cpu_share']:.0%} of a core -> [{verdict}] target < 10%")
    print(f"load average start {environment['load_average_start']}, end {environment['load_average_end']}")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
