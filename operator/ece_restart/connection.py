"""How to reach one ECE API: base URL, credentials, TLS and timeouts. Credentials never show in repr or str."""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v1"
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})


class InvalidConnectionError(ValueError):
    """The connection settings cannot work; the message says what to fix and never contains a credential."""


class Secret:
    """A credential string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class ApiKeyCredentials:
    api_key: Secret

    @property
    def scheme(self) -> str:
        return "ApiKey"


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: Secret

    @property
    def scheme(self) -> str:
        return "Basic"


Credentials = ApiKeyCredentials | BasicCredentials


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `total` bounds one request end to end, including a slow trickle of bytes."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 10.0
    pool: float = 5.0
    total: float = 60.0


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Everything needed to talk to one ECE API endpoint."""

    url: str
    credentials: Credentials
    ca_pem: str | None = field(default=None, repr=False)
    insecure_skip_verify: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", normalise_url(self.url, insecure=self.insecure_skip_verify))
        if isinstance(self.credentials, ApiKeyCredentials) and not self.credentials.api_key:
            raise InvalidConnectionError("the API key is empty")
        if isinstance(self.credentials, BasicCredentials) and (
            not self.credentials.username or not self.credentials.password
        ):
            raise InvalidConnectionError("username and password must both be non-empty")
        if self.ca_pem is not None:
            build_ssl_context(self)  # refuse a CA bundle that is not a certificate now, not at the first request

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the endpoint and principal, for sharing clients and back-off (no secret in it)."""
        principal = self.credentials.username if isinstance(self.credentials, BasicCredentials) else "apikey"
        return (self.url, self.credentials.scheme, principal)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 timeouts: Timeouts | None = None) -> ConnectionConfig | None:
        """The operator's default connection from ECE_URL, ECE_API_KEY or ECE_USERNAME/ECE_PASSWORD,
        ECE_CA_FILE and ECE_INSECURE_SKIP_VERIFY. None when ECE_URL is unset."""
        env = os.environ if environ is None else environ
        url = env.get("ECE_URL", "").strip()
        if not url:
            return None
        ca_pem = None
        ca_file = env.get("ECE_CA_FILE", "").strip()
        if ca_file:
            try:
                with open(ca_file, encoding="utf-8") as stream:
                    ca_pem = stream.read()
            except OSError as error:
                raise InvalidConnectionError(f"ECE_CA_FILE {ca_file!r} cannot be read: {error.strerror}") from None
        return cls(
            url=url,
            credentials=credentials_from(
                api_key=env.get("ECE_API_KEY"), username=env.get("ECE_USERNAME"), password=env.get("ECE_PASSWORD"),
                source="the environment (ECE_API_KEY, or ECE_USERNAME and ECE_PASSWORD)",
            ),
            ca_pem=ca_pem,
            insecure_skip_verify=parse_flag(env.get("ECE_INSECURE_SKIP_VERIFY", ""), "ECE_INSECURE_SKIP_VERIFY"),
            timeouts=timeouts or Timeouts(),
        )


def credentials_from(*, api_key: str | None, username: str | None, password: str | None, source: str) -> Credentials:
    """ApiKey when an API key is given, else Basic; refuse both, neither, or half a user/password pair."""
    api_key = (api_key or "").strip()
    username = (username or "").strip()
    password = password or ""
    if api_key and (username or password):
        raise InvalidConnectionError(f"{source}: give an API key or a username and password, not both")
    if api_key:
        return ApiKeyCredentials(Secret(api_key))
    if username and password:
        return BasicCredentials(username, Secret(password))
    if username or password:
        raise InvalidConnectionError(f"{source}: username and password must be given together")
    raise InvalidConnectionError(f"{source}: no credentials; expected an API key or a username and password")


def parse_flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidConnectionError(f"{name} must be true or false, not {value!r}")


def normalise_url(url: str, *, insecure: bool) -> str:
    """`https://host[:port][/prefix]` without a trailing `/api/v1`; plain http only to loopback or when insecure."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"}:
        raise InvalidConnectionError(f"ECE URL scheme {parts.scheme or '(none)'!r} is not supported; use https://")
    if not parts.hostname:
        raise InvalidConnectionError("ECE URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidConnectionError("ECE URL must not carry credentials; use apiKey or username/password instead")
    if parts.query or parts.fragment:
        raise InvalidConnectionError("ECE URL must not have a query or fragment")
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname):
        raise InvalidConnectionError(
            f"ECE URL uses plain http to {parts.hostname}; use https://, or set insecureSkipVerify to accept "
            "an unencrypted connection"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidConnectionError("ECE URL has an invalid port") from None
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


_insecure_warned: set[str] = set()
_insecure_lock = threading.Lock()


def build_ssl_context(config: ConnectionConfig) -> ssl.SSLContext:
    """System CAs by default, the given CA bundle instead, or no verification when explicitly insecure."""
    if config.insecure_skip_verify:
        with _insecure_lock:
            first = config.url not in _insecure_warned
            _insecure_warned.add(config.url)
        if first:
            logger.warning("TLS verification is disabled for %s (insecureSkipVerify); do not use this in production",
                           config.url)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if config.ca_pem is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=config.ca_pem)
    except (ssl.SSLError, ValueError):
        raise InvalidConnectionError("the CA bundle is not a PEM certificate (ca.crt / ECE_CA_FILE)") from None
