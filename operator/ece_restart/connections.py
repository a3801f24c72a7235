"""Which ECE connection a ResourceRestart uses, and one shared EceClient per distinct connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from ece_restart.client import EceClient
from ece_restart.connection import ConnectionConfig, InvalidConnectionError, Timeouts, credentials_from, parse_flag
from ece_restart.connection_gate import ConnectionGate
from ece_restart.kube import KubeApi

SECRET_KEYS = ("url", "apiKey", "username", "password", "ca.crt", "insecureSkipVerify")


def connection_from_secret(namespace: str, name: str, data: Mapping[str, bytes], *,
                           timeouts: Timeouts | None = None) -> ConnectionConfig:
    """Build a connection from a Secret's data; every refusal names the Secret and the key to fix."""
    where = f"Secret {namespace}/{name}"
    values: dict[str, str] = {}
    for key in SECRET_KEYS:
        if key in data:
            try:
                values[key] = data[key].decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidConnectionError(f"{where}: key {key!r} is not UTF-8 text") from None
    url = values.get("url", "").strip()
    if "url" not in values:
        raise InvalidConnectionError(f"{where} has no key 'url' (the ECE API address, e.g. https://ece.example:12443)")
    if not url:
        raise InvalidConnectionError(f"{where}: key 'url' is empty")
    for key in ("apiKey", "username", "password"):
        if key in values and not values[key].strip():
            raise InvalidConnectionError(f"{where}: key {key!r} is empty")
    try:
        return ConnectionConfig(
            url=url,
            credentials=credentials_from(
                api_key=values.get("apiKey"), username=values.get("username"), password=values.get("password"),
                source=f"{where} (keys apiKey, or username and password)",
            ),
            ca_pem=values.get("ca.crt") or None,
            insecure_skip_verify=parse_flag(values.get("insecureSkipVerify", ""), f"{where}: key 'insecureSkipVerify'"),
            timeouts=timeouts or Timeouts(),
        )
    except InvalidConnectionError as error:
        message = str(error)
        raise InvalidConnectionError(message if message.startswith(where) else f"{where}: {message}") from None


class ConnectionResolver:
    """Resolves a CR's connection (its Secret or the operator default) and hands out shared clients."""

    def __init__(self, kube: KubeApi, default: ConnectionConfig | None, *, max_connections: int = 20,
                 observe: Callable[[str, str], None] | None = None, timeouts: Timeouts | None = None) -> None:
        self._kube = kube
        self._timeouts = timeouts
        self._observe = observe
        self._default = default
        self._max_connections = max_connections
        self._clients: dict[ConnectionConfig, EceClient] = {}
        self._gates: dict[tuple[str, str, str], ConnectionGate] = {}
        self._lock = asyncio.Lock()

    async def resolve(self, namespace: str, secret_name: str | None) -> ConnectionConfig:
        if secret_name is None:
            if self._default is None:
                raise InvalidConnectionError(
                    "no spec.connection.secretRef and the operator has no default connection (ECE_URL is unset)"
                )
            return self._default
        data = await self._kube.read_secret(namespace, secret_name)
        if data is None:
            raise InvalidConnectionError(
                f"Secret {namespace}/{secret_name} not found; create it with keys url and apiKey "
                "(or username and password)"
            )
        return connection_from_secret(namespace, secret_name, data, timeouts=self._timeouts)

    async def client(self, config: ConnectionConfig) -> EceClient:
        async with self._lock:
            client = self._clients.get(config)
            if client is None:
                client = EceClient(config, max_connections=self._max_connections, observe=self._observe)
                self._clients[config] = client
            return client

    def gate(self, config: ConnectionConfig) -> ConnectionGate:
        """The shared back-off of this endpoint and principal."""
        gate = self._gates.get(config.key)
        if gate is None:
            gate = self._gates[config.key] = ConnectionGate()
        return gate

    async def aclose(self) -> None:
        async with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
