"""Floor (b): Kopf with an empty-ish handler. The operator's own Kopf settings (`handlers.operator_settings()`) and
a single `@kopf.on.event` handler that, for a CR without a terminal phase, does what floor (a) does: one POST
_restart to ECE (at most --max-concurrent in flight) and one merge PATCH of the status. Nothing else.

The gap between this and floor (a) is Kopf's cost; the gap between the operator and this is ours.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

import aiohttp
import kopf
from _floor_raw import GROUP_PATH, TERMINAL, kube_server, terminal_status

from ece_restart.handlers import operator_settings

AGENT = "bench-kopf-floor/1"


def build(max_concurrent: int) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    server = kube_server()
    state: dict[str, Any] = {}
    handled: set[str] = set()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=server, token="bench")  # noqa: S106 - the sandbox takes any token

    @kopf.on.startup(registry=registry)
    async def startup(**_: Any) -> None:
        state["kube"] = aiohttp.ClientSession(base_url=server, headers={"User-Agent": AGENT,
                                                                          "Authorization": "Bearer x"},
                                              connector=aiohttp.TCPConnector(limit=0))
        state["ece"] = aiohttp.ClientSession(
            base_url=os.environ["ECE_URL"],
            headers={"User-Agent": AGENT, "Authorization": f"ApiKey {os.environ['ECE_API_KEY']}",
                     "Accept": "application/json"},
            connector=aiohttp.TCPConnector(limit=max(max_concurrent, 10)))
        state["slots"] = asyncio.Semaphore(max_concurrent)

    @kopf.on.event("eceops.io", "v1alpha1", "resourcerestarts", registry=registry)
    async def event(type: str | None, body: kopf.Body, **_: Any) -> None:  # noqa: A002
        uid = body["metadata"]["uid"]
        if type == "DELETED" or uid in handled or (body.get("status") or {}).get("phase") in TERMINAL:
            return
        handled.add(uid)
        spec, meta = body["spec"], body["metadata"]
        async with state["slots"]:
            path = f"/api/v1/deployments/{spec['deploymentId']}/{spec['resourceKind']}/{spec['refId']}/_restart"
            async with state["ece"].post(path, params={"cancel_pending": "true"}) as response:
                await response.read()
                code = response.status
        status_path = f"{GROUP_PATH}/namespaces/{meta['namespace']}/resourcerestarts/{meta['name']}/status"
        async with state["kube"].patch(status_path, data=json.dumps({"status": terminal_status(code)}),
                                       headers={"Content-Type": "application/merge-patch+json"}) as response:
            await response.read()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        for session in (state.get("kube"), state.get("ece")):
            if session is not None:
                await session.close()

    return registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-concurrent", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(kopf.operator(registry=build(args.max_concurrent), settings=operator_settings(), standalone=True,
                              clusterwide=True))


if __name__ == "__main__":
    main()
