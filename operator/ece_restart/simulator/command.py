"""`ece-restart-operator simulator`: serve the ECE API simulator until SIGINT/SIGTERM.

On start it prints one line to stdout, `ECE API simulator listening on <URL>`, and flushes, so a parent process can
read the URL (with `--port 0` the port is chosen by the OS). Credentials are never printed or logged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys

from ece_restart.simulator.clock import ManualClock
from ece_restart.simulator.server import Simulator
from ece_restart.simulator.state import SimulatorState, StateError

ENV_API_KEYS = "ECE_SIMULATOR_API_KEYS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare this subcommand's flags."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Serve a strict simulator of the Elastic Cloud Enterprise deployments API (restart, GET deployment/resource,\n"
        "DELETE pending plan) on loopback. Prints 'ECE API simulator listening on URL' once ready; stops on\n"
        "SIGINT/SIGTERM. Admin endpoints (no auth): /_simulator/calls, /_simulator/faults, /_simulator/reset, ...\n"
        f"At least one credential is required: --api-key, --user, or the {ENV_API_KEYS} environment variable\n"
        "(comma-separated keys; keeps them out of the process list)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on; 0 picks a free port and prints the URL (default: 0)"
    )
    parser.add_argument(
        "--state",
        metavar="FILE.yaml",
        help="YAML file with deployments and resources (default: the packaged example, examples/simulator/state.yaml)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept 'Authorization: ApiKey KEY' (repeatable)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="accept HTTP Basic for this user (repeatable; ECE mode only, Basic is rejected in ESS mode)",
    )
    parser.add_argument(
        "--mode",
        choices=("ece", "ess"),
        default="ece",
        help="ece: ApiKey and Basic auth; ess (Elastic Cloud): ApiKey only (default: %(default)s)",
    )
    parser.add_argument(
        "--legacy-449",
        action="store_true",
        help="behave like ECE <= 3.6: restarts and pending-plan deletes answer 449 "
        "root.unauthorized.rbac.elevated_permissions_required unless the caller is elevated",
    )
    parser.add_argument(
        "--elevated-api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="an API key with elevated permissions (no 449 in --legacy-449 mode; also accepted as a key; repeatable)",
    )
    parser.add_argument(
        "--elevated-user",
        action="append",
        default=[],
        metavar="NAME",
        help="a --user name with elevated permissions (repeatable)",
    )
    parser.add_argument(
        "--plan-seconds",
        type=float,
        default=3.0,
        metavar="S",
        help="how long a restart plan stays pending before it completes (default: %(default)s)",
    )
    parser.add_argument(
        "--pending-visibility-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds after a 202 before GETs show the pending plan (default: %(default)s)",
    )
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help='freeze the simulator clock; advance it with POST /_simulator/clock {"advance": seconds}',
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain (needs --tls-key)")
    parser.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    parser.add_argument("--access-log", action="store_true", help="log each request line to stderr (never headers)")


def build_simulator(args: argparse.Namespace) -> Simulator:
    state = SimulatorState.from_file(args.state) if args.state else SimulatorState.example()
    users: dict[str, str] = {}
    for entry in args.user:
        name, sep, password = entry.partition(":")
        if not sep or not name:
            raise ValueError("--user expects NAME:PASSWORD")
        users[name] = password
    api_keys = [key for key in args.api_key if key]
    api_keys += [key.strip() for key in os.environ.get(ENV_API_KEYS, "").split(",") if key.strip()]
    if not api_keys and not users and not args.elevated_api_key:
        raise ValueError(f"give at least one --api-key, --user, --elevated-api-key or {ENV_API_KEYS}")
    return Simulator(
        state,
        api_keys=api_keys,
        users=users,
        mode=args.mode,
        legacy_449=args.legacy_449,
        elevated_api_keys=args.elevated_api_key,
        elevated_users=args.elevated_user,
        clock=ManualClock() if args.manual_clock else None,
        plan_seconds=args.plan_seconds,
        pending_visibility_delay=args.pending_visibility_delay,
    )


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if not args.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


async def _serve(simulator: Simulator, args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with simulator.serving(args.host, args.port, ssl_context=context, access_log=args.access_log) as url:
        print(f"ECE API simulator listening on {url}", flush=True)
        await stop.wait()
    print("ECE API simulator stopped", flush=True)


def main(args: argparse.Namespace) -> int:
    if args.access_log:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        simulator = build_simulator(args)
        context = _ssl_context(args)
    except (ValueError, StateError, OSError) as error:
        print(f"ece-restart-operator simulator: error: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(simulator, args, context))
    except OSError as error:  # e.g. the port is taken
        print(f"ece-restart-operator simulator: error: {error}", file=sys.stderr)
        return 1
    return 0
