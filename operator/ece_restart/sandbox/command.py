"""`ece-restart-operator sandbox`: serve the Kubernetes API sandbox with the ResourceRestart CRD until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from ece_restart.sandbox.runtime import Sandbox

DESCRIPTION = """\
Serve a strict in-memory Kubernetes API server on 127.0.0.1 with the ResourceRestart CRD installed and the
"default" namespace created, write a kubeconfig for it, print its URL, and serve until interrupted (Ctrl-C).
Use it with kubectl (KUBECONFIG=FILE kubectl get resourcerestarts) and with `ece-restart-operator run`.
Any bearer token is accepted; nothing is persisted. Not emulated: RBAC, admission webhooks, aggregated APIs,
pods and controllers.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare this subcommand's flags."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port on 127.0.0.1; 0 picks a free one (default 8080)"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path("sandbox.kubeconfig"),
        help="where to write the kubeconfig for the sandbox (default ./sandbox.kubeconfig)",
    )


async def _serve(sandbox: Sandbox, port: int, kubeconfig: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with sandbox.serving(port=port) as url:
        path = sandbox.write_kubeconfig(kubeconfig)
        print(f"Kubernetes API sandbox serving at {url}", flush=True)
        print(f"kubeconfig written to {path}; try: KUBECONFIG={path} kubectl get resourcerestarts", flush=True)
        await stop.wait()
    print("sandbox stopped", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    asyncio.run(_serve(Sandbox(), int(args.port), Path(args.kubeconfig)))
    return 0
