"""Decoding of the Kubernetes protobuf request bodies kubectl's typed clients send for built-in kinds.

`kubectl create secret|configmap|namespace` POST `application/vnd.kubernetes.protobuf` and never fall back to
JSON, so the sandbox decodes those bodies (only request bodies; responses stay JSON, which every client accepts).
This is a schema-driven reader of the protobuf wire format for the few messages of the kinds the sandbox serves,
mirroring k8s.io/api's generated.proto field numbers; unknown fields are skipped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MAGIC = b"k8s\x00"

# A field spec is (name, kind, schema-or-None, repeated); kinds: str, bytes, int, bool, msg, map, bmap, time, mtime.
Schema = Mapping[int, tuple[str, str, Any, bool]]

OBJECT_REFERENCE: Schema = {
    1: ("kind", "str", None, False), 2: ("namespace", "str", None, False), 3: ("name", "str", None, False),
    4: ("uid", "str", None, False), 5: ("apiVersion", "str", None, False), 6: ("resourceVersion", "str", None, False),
    7: ("fieldPath", "str", None, False),
}
OWNER_REFERENCE: Schema = {
    1: ("kind", "str", None, False), 3: ("name", "str", None, False), 4: ("uid", "str", None, False),
    5: ("apiVersion", "str", None, False), 6: ("controller", "bool", None, False),
    7: ("blockOwnerDeletion", "bool", None, False),
}
OBJECT_META: Schema = {
    1: ("name", "str", None, False), 2: ("generateName", "str", None, False), 3: ("namespace", "str", None, False),
    5: ("uid", "str", None, False), 6: ("resourceVersion", "str", None, False), 7: ("generation", "int", None, False),
    11: ("labels", "map", None, False), 12: ("annotations", "map", None, False),
    13: ("ownerReferences", "msg", OWNER_REFERENCE, True), 14: ("finalizers", "str", None, True),
}
PRECONDITIONS: Schema = {1: ("uid", "str", None, False), 2: ("resourceVersion", "str", None, False)}
EVENT_SOURCE: Schema = {1: ("component", "str", None, False), 2: ("host", "str", None, False)}
KINDS: dict[str, Schema] = {
    "ConfigMap": {
        1: ("metadata", "msg", OBJECT_META, False), 2: ("data", "map", None, False),
        3: ("binaryData", "bmap", None, False), 4: ("immutable", "bool", None, False),
    },
    "Secret": {
        1: ("metadata", "msg", OBJECT_META, False), 2: ("data", "bmap", None, False), 3: ("type", "str", None, False),
        4: ("stringData", "map", None, False), 5: ("immutable", "bool", None, False),
    },
    "Namespace": {
        1: ("metadata", "msg", OBJECT_META, False),
        2: ("spec", "msg", {1: ("finalizers", "str", None, True)}, False),
    },
    "Lease": {
        1: ("metadata", "msg", OBJECT_META, False),
        2: ("spec", "msg", {
            1: ("holderIdentity", "str", None, False), 2: ("leaseDurationSeconds", "int", None, False),
            3: ("acquireTime", "mtime", None, False), 4: ("renewTime", "mtime", None, False),
            5: ("leaseTransitions", "int", None, False), 6: ("strategy", "str", None, False),
            7: ("preferredHolder", "str", None, False),
        }, False),
    },
    "Event": {
        1: ("metadata", "msg", OBJECT_META, False), 2: ("involvedObject", "msg", OBJECT_REFERENCE, False),
        3: ("reason", "str", None, False), 4: ("message", "str", None, False),
        5: ("source", "msg", EVENT_SOURCE, False), 6: ("firstTimestamp", "time", None, False),
        7: ("lastTimestamp", "time", None, False), 8: ("count", "int", None, False), 9: ("type", "str", None, False),
        10: ("eventTime", "mtime", None, False), 12: ("action", "str", None, False),
        13: ("related", "msg", OBJECT_REFERENCE, False), 14: ("reportingComponent", "str", None, False),
        15: ("reportingInstance", "str", None, False),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", None, False),
        2: ("preconditions", "msg", PRECONDITIONS, False),
        4: ("propagationPolicy", "str", None, False),
    },
}


class ProtobufError(ValueError):
    """The body is not a protobuf message the sandbox can read."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) triples of one message."""
    fields, position = [], 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire == 1:
            value, position = data[position:position + 8], position + 8
        elif wire == 5:
            value, position = data[position:position + 4], position + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _time(data: bytes, micro: bool) -> str:
    seconds = nanos = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = value
        elif number == 2:
            nanos = value
    moment = datetime.fromtimestamp(seconds, UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(data: bytes, schema: Schema) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number not in schema:
            continue
        name, kind, inner, repeated = schema[number]
        decoded: Any
        if kind == "str":
            decoded = bytes(value).decode()
        elif kind == "int":
            decoded = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "bool":
            decoded = bool(value)
        elif kind == "msg":
            decoded = _message(value, inner)
        elif kind in ("time", "mtime"):
            decoded = _time(value, micro=kind == "mtime")
        elif kind in ("map", "bmap"):
            entry = {n: v for n, _, v in _fields(value)}
            key = bytes(entry.get(1, b"")).decode()
            raw = bytes(entry.get(2, b""))
            result.setdefault(name, {})[key] = base64.b64encode(raw).decode() if kind == "bmap" else raw.decode()
            continue
        else:
            decoded = value
        if repeated:
            result.setdefault(name, []).append(decoded)
        elif decoded not in ("", 0, False) or isinstance(decoded, dict):
            result[name] = decoded  # Go's `omitempty`: zero scalars are absent in the JSON form
    return result


def decode(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a `k8s\\0`-prefixed protobuf envelope (runtime.Unknown)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = {number: value for number, _, value in _fields(body[len(MAGIC):])}
    type_meta = {number: bytes(value).decode() for number, _, value in _fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    schema = KINDS.get(kind)
    if schema is None:
        raise ProtobufError(f"protobuf bodies of kind {kind!r} are not supported; send JSON")
    obj = _message(bytes(envelope.get(2, b"")), schema)
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj
