"""OpenAPI v3 documents, enough for kubectl: server-side field validation, `kubectl explain`, client-side apply.

kubectl >= 1.27 reads `/openapi/v3` first. It validates manifests on the server (`fieldValidation=Strict`) when the
group-version document has a PATCH operation for the kind that declares a `fieldValidation` parameter, so every
served type gets list/create/get/replace/patch/delete operations with those parameters and a component schema
tagged with `x-kubernetes-group-version-kind`. Custom resources carry their CRD's openAPIV3Schema, which is what
`kubectl explain resourcerestarts.spec` prints. `/openapi/v2` (protobuf only for kubectl) is not served.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from ece_restart.sandbox.resources import CRD_GROUP, Registry, ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_OBJECT_META_SCHEMA: dict[str, Any] = {
    "description": "ObjectMeta is metadata that all persisted resources must have.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {"type": "string", "description": "Optional prefix used to generate a unique name."},
        "namespace": {"type": "string", "description": "Namespace defines the space within which the name is unique."},
        "uid": {"type": "string", "description": "UID is the unique in time and space value for this object."},
        "resourceVersion": {"type": "string", "description": "An opaque value that represents the internal version."},
        "generation": {"type": "integer", "format": "int64", "description": "Sequence number of the desired state."},
        "creationTimestamp": {"type": "string", "format": "date-time", "description": "Creation time."},
        "deletionTimestamp": {"type": "string", "format": "date-time", "description": "Deletion request time."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Labels."},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Annotations."},
        "finalizers": {"type": "array", "items": {"type": "string"}, "description": "Finalizers."},
        "ownerReferences": {"type": "array", "items": {"type": "object"}, "description": "Owners."},
        "managedFields": {"type": "array", "items": {"type": "object"}, "description": "Field managers."},
    },
}


def _group_prefix(rt: ResourceType) -> str:
    if rt.custom:
        return ".".join(reversed(rt.group.split(".")))
    if rt.group == CRD_GROUP:
        return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions"
    short = rt.group.split(".")[0] if rt.group else "core"
    return f"io.k8s.api.{short}"


def schema_name(rt: ResourceType) -> str:
    return f"{_group_prefix(rt)}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _component(rt: ResourceType) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(dict(rt.schema)) if rt.schema else {
        "type": "object",
        "description": f"{rt.kind} (served by the ece-restart-operator sandbox).",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema."}
    properties["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource."}
    properties["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}], "description": "Metadata."}
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _parameter(name: str, location: str = "query", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": location, "required": required, "schema": {"type": "string", "uniqueItems": True}}


def _operation(rt: ResourceType, action: str, verb: str, body: list[str] | None) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{schema_name(rt)}"}
    operation: dict[str, Any] = {
        "operationId": f"{verb}{rt.kind}",
        "parameters": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if body is not None:
        operation["requestBody"] = {"content": {media: {"schema": reference} for media in body}, "required": True}
        operation["parameters"] = [_parameter(name) for name in ("dryRun", "fieldManager", "fieldValidation")]
        if action == "patch":
            operation["parameters"].append(_parameter("force"))
    return operation


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    patch_media = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    paths: dict[str, Any] = {
        collection: {
            "get": _operation(rt, "list", "list", None),
            "post": _operation(rt, "post", "create", ["application/json", "application/yaml"]),
        },
        f"{collection}/{{name}}": {
            "get": _operation(rt, "get", "read", None),
            "put": _operation(rt, "put", "replace", ["application/json", "application/yaml"]),
            "patch": _operation(rt, "patch", "patch", patch_media),
            "delete": _operation(rt, "delete", "delete", None),
        },
    }
    if rt.status_subresource:
        paths[f"{collection}/{{name}}/status"] = {
            "get": _operation(rt, "get", "read", None) | {"operationId": f"read{rt.kind}Status"},
            "put": _operation(rt, "put", "replace", ["application/json"]) | {"operationId": f"replace{rt.kind}Status"},
            "patch": _operation(rt, "patch", "patch", patch_media) | {"operationId": f"patch{rt.kind}Status"},
        }
    if rt.namespaced:
        paths[f"{base}/{rt.plural}"] = {"get": _operation(rt, "list", "list", None)}
    return paths


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {OBJECT_META: _OBJECT_META_SCHEMA}
    for rt in types:
        paths.update(_paths(rt))
        schemas[schema_name(rt)] = _component(rt)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-sandbox"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def index(registry: Registry) -> dict[str, Any]:
    """`/openapi/v3`: one entry per group-version, with a content hash so clients can cache."""
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            document = group_version_document(registry, group, version)
            digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:64].upper()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}
