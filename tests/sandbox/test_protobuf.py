"""Protobuf request bodies (kubectl's typed clients send them for built-in kinds) decode to the JSON shape."""

from __future__ import annotations

import httpx
import pytest

from ece_restart.sandbox.protobuf import ProtobufError, decode


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version.encode()) + _field(2, kind.encode())
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw)


def _lease() -> bytes:
    metadata = _field(1, b"leader") + _field(11, _field(1, b"app") + _field(2, b"op")) + _field(3, b"")
    renew = _field(1, 1767225600) + _field(2, 123456000)  # 2026-01-01T00:00:00.123456Z
    spec = _field(1, b"pod-1") + _field(2, 15) + _field(4, renew)
    return _envelope("coordination.k8s.io/v1", "Lease", _field(1, metadata) + _field(2, spec))


def test_lease_with_micro_time_and_labels() -> None:
    assert decode(_lease()) == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "labels": {"app": "op"}},
        "spec": {"holderIdentity": "pod-1", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:00.123456Z"},
    }


def test_unknown_kinds_and_garbage_are_refused() -> None:
    with pytest.raises(ProtobufError, match="not supported"):
        decode(_envelope("apps/v1", "Deployment", b""))
    with pytest.raises(ProtobufError, match="magic"):
        decode(b"{}")


async def test_protobuf_create_over_http(kube: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    created = await kube.post("/apis/coordination.k8s.io/v1/namespaces/default/leases", content=_lease(),
                              headers=headers)
    assert created.status_code == 201 and created.json()["spec"]["holderIdentity"] == "pod-1"
    refused = await kube.post("/api/v1/namespaces/default/configmaps", content=b"nonsense", headers=headers)
    assert refused.status_code == 415
