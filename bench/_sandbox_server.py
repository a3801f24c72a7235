"""The Kubernetes API sandbox in a process of its own, plus a control port for the benches.

Prints one line `READY <api-url> <control-url>` when serving. The control port (loopback, not logged by the
sandbox) answers:
  GET  /requests?since=T   the sandbox's request log since unix time T, as compact JSON rows
  POST /clear              forget the request log
Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiohttp import web

from ece_restart.sandbox import Sandbox

FIELDS = ("method", "verb", "resource", "subresource", "namespace", "name", "user_agent", "status_code", "time")


async def serve(kubeconfig: Path, history: int) -> None:
    sandbox = Sandbox(history=history)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def requests(request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        rows = [[getattr(r, f) for f in FIELDS] for r in sandbox.requests if r.time >= since]
        return web.json_response({"fields": FIELDS, "rows": rows})

    async def clear(_: web.Request) -> web.Response:
        sandbox.clear_requests()
        return web.json_response({"ok": True})

    control = web.Application()
    control.router.add_get("/requests", requests)
    control.router.add_post("/clear", clear)
    runner = web.AppRunner(control, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_port = runner.addresses[0][1]
    async with sandbox.serving(port=0) as url:
        sandbox.write_kubeconfig(kubeconfig)
        print(f"READY {url} http://127.0.0.1:{control_port}", flush=True)
        await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--history", type=int, default=200_000)
    args = parser.parse_args()
    asyncio.run(serve(args.kubeconfig, args.history))


if __name__ == "__main__":
    main()
