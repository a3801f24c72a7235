"""No authentication beyond accepting a bearer token, and no authorization: every caller may do everything. The
request log says who authenticated, as an audit log would, never with the secret itself."""

from __future__ import annotations

import httpx

from ece_restart.sandbox import Sandbox
from ece_restart.sandbox.requestlog import who
from tests.support.sandbox_fixtures import RR_PATH, resource_restart


async def test_any_bearer_token_or_none_is_accepted(sandbox_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer whatever"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        async with httpx.AsyncClient(base_url=sandbox_url, headers=headers) as client:
            assert (await client.get("/api/v1/namespaces/default")).status_code == 200


async def test_no_rbac_any_caller_may_write_anything(sandbox_url: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url, headers={"Authorization": "Bearer nobody"}) as client:
        created = await client.post(RR_PATH.format(namespace="default"), json=resource_restart("free"))
        assert created.status_code == 201
        assert (await client.delete("/api/v1/namespaces/default")).status_code == 200


async def test_the_request_log_names_the_credentials_without_revealing_them(sandbox: Sandbox,
                                                                             sandbox_url: str) -> None:
    secret = "s3cret-token-value"  # a canary
    cases = {"bearer": {"Authorization": f"Bearer {secret}"}, "basic": {"Authorization": "Basic Zm9vOmJhcg=="},
             "none": {}}
    for name, headers in cases.items():
        async with httpx.AsyncClient(base_url=sandbox_url, headers=headers) as client:
            await client.get(f"/api/v1/namespaces/default/configmaps/{name}")
    logged = {r.name: r.credentials for r in sandbox.requests}
    assert logged == {"bearer": who(f"Bearer {secret}"), "basic": "basic:foo", "none": ""}
    assert logged["bearer"].startswith("bearer:") and secret not in repr(sandbox.requests)
