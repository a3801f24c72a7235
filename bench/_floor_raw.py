"""Floor (a): the least a controller must do, with no framework. One aiohttp watch on resourcerestarts; for each
new CR without a terminal phase: one POST _restart to ECE (at most --max-concurrent in flight) and one merge PATCH
of the status subresource. Nothing else: no intent write, no events, no retries, no crash safety.

Reads KUBECONFIG's server (the sandbox accepts any bearer token), ECE_URL and ECE_API_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

GROUP_PATH = "/apis/eceops.io/v1alpha1"
TERMINAL = {"Succeeded", "Failed", "Unknown"}
AGENT = "bench-raw-floor/1"


def kube_server() -> str:
    config = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    return str(config["clusters"][0]["cluster"]["server"])


def terminal_status(http_status: int) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ok = 200 <= http_status < 300
    return {"phase": "Succeeded" if ok else "Failed", "outcome": "RestartAccepted" if ok else "RequestRejected",
            "httpStatus": http_status, "message": f"ECE answered {http_status}", "completionTime": now}


async def run(max_concurrent: int) -> None:
    kube = aiohttp.ClientSession(base_url=kube_server(), headers={"User-Agent": AGENT, "Authorization": "Bearer x"},
                                 connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    ece = aiohttp.ClientSession(base_url=os.environ["ECE_URL"],
                                headers={"User-Agent": AGENT, "Authorization": f"ApiKey {os.environ['ECE_API_KEY']}",
                                         "Accept": "application/json"},
                                connector=aiohttp.TCPConnector(limit=max(max_concurrent, 10)),
                                timeout=aiohttp.ClientTimeout(total=60))
    slots = asyncio.Semaphore(max_concurrent)
    handled: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(obj: dict[str, Any]) -> None:
        meta, spec = obj["metadata"], obj["spec"]
        async with slots:
            path = f"/api/v1/deployments/{spec['deploymentId']}/{spec['resourceKind']}/{spec['refId']}/_restart"
            async with ece.post(path, params={"cancel_pending": "true"}) as response:
                await response.read()
                code = response.status
        status_path = f"{GROUP_PATH}/namespaces/{meta['namespace']}/resourcerestarts/{meta['name']}/status"
        async with kube.patch(status_path, data=json.dumps({"status": terminal_status(code)}),
                              headers={"Content-Type": "application/merge-patch+json"}) as response:
            await response.read()

    def consider(obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        if uid in handled or (obj.get("status") or {}).get("phase") in TERMINAL:
            return
        handled.add(uid)
        task = asyncio.create_task(handle(obj))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    path = f"{GROUP_PATH}/resourcerestarts"
    async with kube.get(path) as response:
        listing = await response.json()
    for item in listing["items"]:
        consider(item)
    version = listing["metadata"]["resourceVersion"]
    while True:
        try:
            async with kube.get(path, params={"watch": "true", "resourceVersion": version}) as response:
                async for line in response.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion", version)
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        consider(obj)
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-concurrent", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.max_concurrent))


if __name__ == "__main__":
    main()
