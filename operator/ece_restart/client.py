"""Async client of the ECE / Elastic Cloud deployment restart API: one `httpx.AsyncClient` per connection."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import httpx

from ece_restart import __version__
from ece_restart.connection import ApiKeyCredentials, ConnectionConfig, build_ssl_context
from ece_restart.plans import ResourcePlans, parse_resource_info
from ece_restart.results import (
    Classification,
    Outcome,
    RequestFailed,
    RestartResult,
    accepted_from_response,
    failure_from_response,
)
from ece_restart.targets import ElasticsearchRestartOptions, ResourceKind, RestartTarget, restart_query

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"ece-restart-operator/{__version__} httpx/{httpx.__version__}"
POOL_SIZE: Final = 8  # connections per httpx pool; more connections mean more pools
_MAX_BODY: Final = 4 * 1024 * 1024  # plan logs can be long; anything beyond this is not an ECE answer


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """A 200 answer of the per-resource GET, parsed."""

    plans: ResourcePlans
    document: dict[str, Any]


ResourceInfoResult = ResourceInfo | RequestFailed


class EceClient:
    """Talks to one ECE API endpoint with one set of credentials.

    Use as an async context manager or call `aclose()`. Every method returns a typed result; transport errors
    are classified (refused before sending: retryable; lost after sending: ambiguous) rather than raised.
    """

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self._observe = observe
        timeouts = config.timeouts
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        auth: httpx.Auth | None = None
        if isinstance(config.credentials, ApiKeyCredentials):
            headers["Authorization"] = f"ApiKey {config.credentials.api_key.reveal()}"
        else:
            auth = httpx.BasicAuth(config.credentials.username, config.credentials.password.reveal())
        verify = build_ssl_context(config)
        # httpcore's pool scans all its connections (a socket poll each) on every request and every response:
        # with 50 connections that was 43% of the operator's CPU (bench/README.md; encode/httpcore#1035). Small
        # pools, each request on the least busy one, keep that scan short.
        shards = 1 if transport is not None else -(-max_connections // POOL_SIZE)
        per_pool = -(-max_connections // shards)
        self._pools = [
            httpx.AsyncClient(
                base_url=config.url,
                headers=headers,
                auth=auth,
                verify=verify,
                timeout=httpx.Timeout(
                    connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
                ),
                limits=httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool),
                transport=transport,
                trust_env=False,
                follow_redirects=False,
            )
            for _ in range(shards)
        ]
        self._in_flight = [0] * shards

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    def __repr__(self) -> str:
        return f"EceClient(url={self.config.url!r}, auth={self.config.credentials.scheme})"

    async def restart(
        self,
        deployment_id: str,
        kind: str | ResourceKind,
        ref_id: str,
        *,
        cancel_pending: bool = False,
        elasticsearch: ElasticsearchRestartOptions | None = None,
    ) -> RestartResult:
        """One restart request (no retries: see `ece_restart.runs`). Ids are validated before anything is sent."""
        target = RestartTarget.of(deployment_id, kind, ref_id)
        return await self.restart_target(target, cancel_pending=cancel_pending, elasticsearch=elasticsearch)

    async def restart_target(
        self,
        target: RestartTarget,
        *,
        cancel_pending: bool = False,
        elasticsearch: ElasticsearchRestartOptions | None = None,
    ) -> RestartResult:
        params = restart_query(target, cancel_pending=cancel_pending, elasticsearch=elasticsearch)
        outcome = await self._send("POST", target.restart_path, params, route="restart")
        if isinstance(outcome, RequestFailed):
            return outcome
        status, headers, body = outcome
        if 200 <= status < 300:
            return accepted_from_response(status, body)
        return failure_from_response(status, headers, body)

    async def get_resource(
        self, target: RestartTarget, *, show_plan_logs: bool = True, show_plan_history: bool = True
    ) -> ResourceInfoResult:
        """Plan information of one resource (pending, current, history)."""
        params = {
            "show_plans": "true",
            "show_plan_logs": "true" if show_plan_logs else "false",
            "show_plan_history": "true" if show_plan_history else "false",
        }
        outcome = await self._send("GET", target.resource_path, params, route="get_resource")
        if isinstance(outcome, RequestFailed):
            return outcome
        status, headers, body = outcome
        if status != 200:
            return failure_from_response(status, headers, body)
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict):
            return RequestFailed(
                classification=Classification.RETRYABLE,
                message="ECE answered 200 with a body that is not a JSON object",
                http_status=status,
                outcome=Outcome.SERVER_ERROR,
            )
        return ResourceInfo(plans=parse_resource_info(document), document=document)

    async def _send(
        self, method: str, path: str, params: dict[str, str], *, route: str
    ) -> tuple[int, httpx.Headers, bytes] | RequestFailed:
        outcome = await self._exchange(method, path, params)
        if self._observe is not None:
            self._observe(route, "none" if isinstance(outcome, RequestFailed) else str(outcome[0]))
        return outcome

    async def _exchange(
        self, method: str, path: str, params: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes] | RequestFailed:
        shard = self._in_flight.index(min(self._in_flight))
        self._in_flight[shard] += 1
        try:
            async with asyncio.timeout(self.config.timeouts.total):
                async with self._pools[shard].stream(method, path, params=params) as response:
                    body = await _read_capped(response)
                    return response.status_code, response.headers, body
        except TimeoutError:
            return _lost(f"no complete answer within {self.config.timeouts.total:g} s (total timeout)")
        except (httpx.ConnectTimeout, httpx.PoolTimeout):
            return _refused(f"could not connect to {self.config.url} within the connect timeout")
        except httpx.ConnectError as error:
            if _is_tls_failure(error):
                return RequestFailed(
                    classification=Classification.PERMANENT,
                    message=f"TLS verification of {self.config.url} failed: {_tls_reason(error)}; "
                    "provide the CA that signed the ECE certificate (ca.crt / ECE_CA_FILE)",
                    outcome=Outcome.TLS_VERIFICATION_FAILED,
                )
            return _refused(f"could not connect to {self.config.url}: {_describe(error)}")
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            return _lost("the request was sent but no answer arrived within the read timeout")
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as error:
            return _lost(f"the connection was lost after the request was sent: {_describe(error)}")
        except _BodyTooLarge:
            return RequestFailed(
                classification=Classification.RETRYABLE,
                message=f"ECE answered with more than {_MAX_BODY} bytes",
                outcome=Outcome.SERVER_ERROR,
            )
        finally:
            self._in_flight[shard] -= 1


class _BodyTooLarge(Exception):
    pass


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > _MAX_BODY:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(message: str) -> RequestFailed:
    return RequestFailed(classification=Classification.RETRYABLE, message=message, outcome=Outcome.CONNECTION_FAILED)


def _lost(message: str) -> RequestFailed:
    return RequestFailed(
        classification=Classification.AMBIGUOUS,
        message=message + "; the restart may or may not have been applied",
        outcome=Outcome.OUTCOME_UNKNOWN,
    )


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_tls_failure(error: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in _causes(error)) or "CERTIFICATE_VERIFY_FAILED" in (
        str(error)
    )


def _tls_reason(error: BaseException) -> str:
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError) and cause.verify_message:
            return str(cause.verify_message)
    return "certificate verify failed"


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return text or type(error).__name__
