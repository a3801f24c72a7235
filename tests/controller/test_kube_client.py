"""The operator's own Kubernetes client against the sandbox: configured the way the `kubernetes` loaders leave a
Configuration (kubeconfig or in-cluster), over TLS with the cluster's CA and a client certificate, and with a
bearer token; what fails says why, and failures are counted."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import kubernetes
import pytest
import trustme

from ece_restart.kube import KubeApi, KubeApiError, load_configuration
from ece_restart.sandbox import Sandbox
from ece_restart.sandbox.kubeconfig import TOKEN
from ece_restart.sandbox.requestlog import who
from tests.support.sandbox_fixtures import kube_configuration


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def mutual_tls_url(sandbox: Sandbox, ca: trustme.CA) -> AsyncIterator[str]:
    """The sandbox over HTTPS, requiring a client certificate signed by the cluster CA."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.configure_trust(server)
    server.verify_mode = ssl.CERT_REQUIRED
    async with sandbox.serving(tls=server) as url:
        yield url


def files(tmp_path: Path, ca: trustme.CA) -> tuple[Path, Path]:
    ca_file, client_pem = tmp_path / "ca.crt", tmp_path / "client.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert("ece-restart-operator").private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    return ca_file, client_pem


async def test_tls_with_the_cluster_ca_and_a_client_certificate(
    sandbox: Sandbox, mutual_tls_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file, client_pem = files(tmp_path, ca)
    kube = KubeApi(kube_configuration(mutual_tls_url, ca_file=ca_file, client_pem=client_pem))
    try:
        assert await kube.get_restart("default", "absent") is None
        await kube.list_restarts_probe()
    finally:
        await kube.aclose()
    (request,) = [r for r in sandbox.requests if r.name == "absent"]
    assert request.user_agent.startswith("ece-restart-operator/")
    assert request.credentials == who("Bearer test-token")


@pytest.mark.parametrize("missing", ["ca", "client certificate"])
async def test_tls_without_the_ca_or_the_client_certificate_fails_and_is_counted(
    mutual_tls_url: str, ca: trustme.CA, tmp_path: Path, missing: str
) -> None:
    ca_file, client_pem = files(tmp_path, ca)
    failures: list[str] = []
    config = (kube_configuration(mutual_tls_url, client_pem=client_pem) if missing == "ca"
              else kube_configuration(mutual_tls_url, ca_file=ca_file))
    kube = KubeApi(config, on_error=failures.append)
    try:
        with pytest.raises((aiohttp.ClientSSLError, aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
            await kube.get_restart("default", "anything")
    finally:
        await kube.aclose()
    assert failures == ["get"]


async def test_an_answer_the_call_does_not_handle_raises_with_the_servers_message(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    failures: list[str] = []
    kube = KubeApi(kube_configuration(sandbox_url), on_error=failures.append)
    sandbox.faults.fail_next(1, status=503, method="PATCH", message="etcd is unavailable")
    try:
        with pytest.raises(KubeApiError, match="patch_status: HTTP 503: etcd is unavailable") as raised:
            await kube.patch_restart_status("default", "demo", {"phase": "Requesting"})
    finally:
        await kube.aclose()
    assert raised.value.status == 503
    assert failures == ["patch_status"]


async def test_the_token_is_sent_and_a_rotated_one_is_picked_up_after_a_401(sandbox: Sandbox, sandbox_url: str) -> None:
    current = ["Bearer first"]

    def refresh(config: kubernetes.client.Configuration) -> None:  # what the loaders' refresh hook does
        config.api_key["BearerToken"] = current[0]

    config = kube_configuration(sandbox_url, token=None)
    config.refresh_api_key_hook = refresh
    kube = KubeApi(config)
    try:
        await kube.get_restart("default", "one")
        current[0] = "Bearer second"  # rotated; the client asks the hook once a minute, or after a 401
        await kube.get_restart("default", "two")
        sandbox.faults.fail_next(1, status=401, method="GET", name="three", message="token expired")
        with pytest.raises(KubeApiError, match="HTTP 401: token expired"):
            await kube.get_restart("default", "three")
        await kube.get_restart("default", "four")
    finally:
        await kube.aclose()
    sent = {r.name: r.credentials for r in sandbox.requests if r.name in ("one", "two", "three", "four")}
    first, second = who("Bearer first"), who("Bearer second")
    assert sent == {"one": first, "two": first, "three": first, "four": second}


def test_a_kubeconfig_token_reaches_the_api_server(tmp_path: Path) -> None:
    sandbox = Sandbox()
    with sandbox.serving_in_thread() as url:
        config = load_configuration(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
        assert config.host == url

        async def probe() -> None:
            kube = KubeApi(config)
            try:
                await kube.list_restarts_probe()
            finally:
                await kube.aclose()

        asyncio.run(probe())
    (request,) = [r for r in sandbox.requests if r.verb == "list"]
    assert request.credentials == who(f"Bearer {TOKEN}")
