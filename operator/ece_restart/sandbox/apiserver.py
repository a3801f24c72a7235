"""The apiserver's object semantics, transport-free: create/get/list/update/patch/delete on stored objects.

The HTTP routes and the in-process test helpers both call this class, so a test that creates an object directly
goes through exactly the admission and bookkeeping an HTTP client gets: generateName, uid, creationTimestamp,
resourceVersion (one global counter), generation bumps on spec changes only, managedFields, status subresource
separation, optimistic concurrency (409), finalizers with deletionTimestamp, namespace lifecycle, CRD
installation, and for custom resources the CRD schema (pruning, defaults, OpenAPI validation, CEL rules).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import copy
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ece_restart.sandbox import errors, managedfields
from ece_restart.sandbox.clock import now
from ece_restart.sandbox.conversion import core_to_events_v1, events_v1_to_core
from ece_restart.sandbox.errors import ApiError, Cause
from ece_restart.sandbox.patching import (
    PatchError,
    apply_merge,
    json_patch,
    merge_patch,
    strategic_merge,
)
from ece_restart.sandbox.resources import CRD_GROUP, Registry, ResourceType, types_from_crd
from ece_restart.sandbox.schemas import SchemaValidator, apply_defaults, prune
from ece_restart.sandbox.selectors import FieldSelector, LabelSelector
from ece_restart.sandbox.storage import Store

NAMESPACES = ("", "namespaces")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"

_SYSTEM_METADATA = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "selfLink")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class WriteOptions:
    """Query parameters of a write that change its behaviour."""

    field_manager: str | None = None
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    dry_run: bool = False
    force: bool = False
    user_agent: str = ""

    def manager(self, default: str = "unknown") -> str:
        if self.field_manager:
            return self.field_manager
        agent = self.user_agent.split("/", 1)[0].strip()
        return agent or default


@dataclass
class Result:
    obj: dict[str, Any]
    code: int = 200
    warnings: list[str] = field(default_factory=list)


def _strip(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in keys}


def _without_bookkeeping(obj: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(obj)
    result["metadata"] = _strip(obj.get("metadata") or {}, "managedFields")
    return result


class ApiServer:
    """Object semantics over a `Store`, for the types in a `Registry`."""

    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        # keyed by id(type) but holding the type too, so a recycled id never picks up a stale schema
        self._validators: dict[int, tuple[ResourceType, SchemaValidator]] = {}

    # ----------------------------------------------------------------------------------------------- views
    def view(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        """The stored object as this type's clients see it (shape and apiVersion)."""
        obj = core_to_events_v1(stored) if rt.storage != (rt.group, rt.plural) else stored
        obj = dict(obj)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    def _to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.storage != (rt.group, rt.plural):
            return events_v1_to_core(obj)
        return obj

    # ----------------------------------------------------------------------------------------------- reads
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        stored = self.store.get(rt.storage, namespace if rt.namespaced else "", name)
        if stored is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.view(rt, stored)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        labels = LabelSelector.parse(label_selector)
        fields = FieldSelector.parse(field_selector, rt.field_selectors, rt.kind)
        stored, revision = self.store.items(rt.storage, namespace if rt.namespaced else None)
        items = [self.view(rt, obj) for obj in stored]
        items = [obj for obj in items if labels.matches(obj) and fields.matches(obj)]
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if continue_token:
            try:
                after = json.loads(base64.urlsafe_b64decode(continue_token.encode()))["start"]
            except (ValueError, KeyError, binascii.Error) as error:
                raise errors.bad_request(f"invalid continue token: {error}") from error
            items = [obj for obj in items if _sort_key(obj) > tuple(after)]
        if limit and len(items) > limit:
            last = _sort_key(items[limit - 1])
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps({"start": last}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata, "items": items}

    # ----------------------------------------------------------------------------------------------- create
    def create(self, rt: ResourceType, namespace: str, body: Any, options: WriteOptions | None = None) -> Result:
        options = options or WriteOptions()
        obj = self._checked_body(rt, body)
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        namespace = self._namespace_for(rt, namespace, metadata)
        for key in _SYSTEM_METADATA:
            metadata.pop(key, None)
        metadata.pop("managedFields", None)
        if rt.status_subresource and rt.custom:
            obj.pop("status", None)
        warnings = self._admit(rt, obj, None, options, body)
        self._prepare_builtin(rt, obj, None)
        with self.store.lock:
            if rt.namespaced:
                self._require_namespace(namespace)
            name = self._name_for(rt, namespace, metadata)
            if self.store.peek(rt.storage, namespace, name) is not None:
                raise errors.already_exists(rt.plural, rt.group, name)
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = now()
            if rt.has_generation:
                metadata["generation"] = 1
            fields = managedfields.field_set(managedfields.owned_part(obj), rt.schema)
            managedfields.record(obj, rt.api_version, options.manager(), fields, "Update", None, replace=False)
            if rt.group == CRD_GROUP and rt.plural == "customresourcedefinitions":
                self._install_crd(obj, options.dry_run)
            if options.dry_run:
                return Result(self.view(rt, obj), 201, warnings)
            metadata["resourceVersion"] = str(self.store.next_revision())
            stored = self._to_storage(rt, obj)
            self.store.commit("ADDED", rt.storage, stored, None)
            return Result(self.view(rt, copy.deepcopy(stored)), 201, warnings)

    # ----------------------------------------------------------------------------------------------- update
    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        subresource: str | None = None,
        options: WriteOptions | None = None,
    ) -> Result:
        options = options or WriteOptions()
        new = self._checked_body(rt, body)
        metadata = new.get("metadata") or {}
        if metadata.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})"
            )
        with self.store.lock:
            old = self._existing(rt, namespace, name)
            if not metadata.get("resourceVersion") and rt.custom:
                cause = Cause("FieldValueInvalid", "Invalid value: 0x0: must be specified for an update",
                              "metadata.resourceVersion")
                raise errors.invalid(rt.kind, rt.group, name, [cause])
            return self._update(rt, old, new, subresource, options, "Update", body)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        subresource: str | None = None,
        options: WriteOptions | None = None,
    ) -> Result:
        options = options or WriteOptions()
        content_type = content_type.split(";", 1)[0].strip().lower()
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH, APPLY_PATCH_CBOR]
        if not rt.custom:
            accepted.insert(2, STRATEGIC_PATCH)
        if content_type not in accepted:
            raise errors.unsupported_media_type(
                content_type, f"{rt.api_version}, Kind={rt.kind}", [a for a in accepted if a != APPLY_PATCH_CBOR]
            )
        with self.store.lock:
            stored = self.store.peek(rt.storage, namespace if rt.namespaced else "", name)
            if stored is None:
                if content_type == APPLY_PATCH:
                    return self._apply_create(rt, namespace, name, patch, options)
                raise errors.not_found(rt.plural, rt.group, name)
            old = self.view(rt, copy.deepcopy(stored))
            try:
                if content_type == MERGE_PATCH:
                    new = merge_patch(old, patch)
                elif content_type == JSON_PATCH:
                    new = json_patch(old, patch)
                elif content_type == STRATEGIC_PATCH:
                    new = strategic_merge(old, patch)
                else:
                    if not isinstance(patch, Mapping):
                        raise errors.bad_request("apply patches must be objects")
                    new = apply_merge(old, _strip(patch, "status") if subresource is None and rt.status_subresource
                                      else patch, rt.schema)
            except PatchError as error:
                raise errors.patch_rejected(str(error)) from error
            if not isinstance(new, dict):
                raise errors.patch_rejected("the patched document is not an object")
            operation = "Apply" if content_type == APPLY_PATCH else "Update"
            return self._update(rt, old, new, subresource, options, operation, patch)

    def _apply_create(
        self, rt: ResourceType, namespace: str, name: str, patch: Any, options: WriteOptions
    ) -> Result:
        if not isinstance(patch, dict):
            raise errors.bad_request("apply patches must be objects")
        body = copy.deepcopy(patch)
        body.setdefault("metadata", {})["name"] = name
        result = self.create(rt, namespace, body, options)
        created = result.obj
        if options.dry_run:
            return result
        metadata = created["metadata"]
        applied = managedfields.field_set(managedfields.owned_part(patch), rt.schema)
        metadata["managedFields"] = [managedfields.entry(rt.api_version, options.manager(), applied, "Apply", None)]
        with self.store.lock:
            stored = self.store.peek(rt.storage, namespace if rt.namespaced else "", name)
            if stored is not None:
                stored["metadata"]["managedFields"] = copy.deepcopy(metadata["managedFields"])
        return result

    def _update(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        options: WriteOptions,
        operation: str,
        body: Any,
    ) -> Result:
        name = old["metadata"]["name"]
        new_metadata = new.get("metadata") or {}
        if not isinstance(new_metadata, dict):
            raise errors.bad_request("metadata must be an object")
        wanted = new_metadata.get("resourceVersion")
        if wanted and str(wanted) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        if subresource == "status":
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = copy.deepcopy(new["status"])
            else:
                result.pop("status", None)
        else:
            result = copy.deepcopy(new)
            result["metadata"] = dict(new_metadata)
            if rt.status_subresource:
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            for key in (*_SYSTEM_METADATA, "namespace", "name"):
                if key in old["metadata"]:
                    result["metadata"][key] = old["metadata"][key]
                else:
                    result["metadata"].pop(key, None)
            if "deletionGracePeriodSeconds" in old["metadata"]:
                result["metadata"]["deletionGracePeriodSeconds"] = old["metadata"]["deletionGracePeriodSeconds"]
            self._check_finalizers(rt, old, result)
        result["metadata"]["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields") or [])
        result["apiVersion"], result["kind"] = rt.api_version, rt.kind
        warnings = self._admit(rt, result, old, options, body if subresource is None else None)
        self._prepare_builtin(rt, result, old)
        if rt.has_generation and _strip(result, "metadata", "status") != _strip(old, "metadata", "status"):
            result["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if _without_bookkeeping(result) == _without_bookkeeping(old):
            return Result(old, 200, warnings)
        if operation == "Apply" and isinstance(body, Mapping):
            touched = managedfields.field_set(managedfields.owned_part(body), rt.schema)
        else:
            touched = managedfields.changed(managedfields.owned_part(old), managedfields.owned_part(result))
        managedfields.record(
            result, rt.api_version, options.manager(), touched, operation, subresource, replace=operation == "Apply"
        )
        if rt.group == CRD_GROUP and rt.plural == "customresourcedefinitions":
            self._install_crd(result, options.dry_run)
        if options.dry_run:
            return Result(result, 200, warnings)
        result["metadata"]["resourceVersion"] = str(self.store.next_revision())
        stored = self._to_storage(rt, result)
        self.store.commit("MODIFIED", rt.storage, stored, self._to_storage(rt, old))
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            self._remove(rt, stored)
        return Result(self.view(rt, copy.deepcopy(stored)), 200, warnings)

    # ----------------------------------------------------------------------------------------------- delete
    def delete(
        self, rt: ResourceType, namespace: str, name: str, body: Any = None, options: WriteOptions | None = None
    ) -> Result:
        options = options or WriteOptions()
        preconditions = (body or {}).get("preconditions") or {} if isinstance(body, Mapping) else {}
        with self.store.lock:
            old = self._existing(rt, namespace, name)
            metadata = old["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != metadata["uid"]:
                raise errors.conflict(rt.plural, rt.group, name, "Precondition failed: UID in precondition: "
                                      f"{preconditions['uid']}, UID in object meta: {metadata['uid']}")
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != metadata["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            if options.dry_run:
                return Result(old)
            if rt.storage == NAMESPACES:
                return Result(self._delete_namespace(rt, old))
            if metadata.get("finalizers"):
                if metadata.get("deletionTimestamp"):
                    return Result(old)
                updated = copy.deepcopy(old)
                updated["metadata"]["deletionTimestamp"] = now()
                updated["metadata"]["deletionGracePeriodSeconds"] = 0
                updated["metadata"]["resourceVersion"] = str(self.store.next_revision())
                stored = self._to_storage(rt, updated)
                self.store.commit("MODIFIED", rt.storage, stored, self._to_storage(rt, old))
                return Result(self.view(rt, copy.deepcopy(stored)))
            stored_old = self.store.peek(rt.storage, namespace if rt.namespaced else "", name)
            assert stored_old is not None
            final = self._remove(rt, copy.deepcopy(stored_old))
            if rt.custom:  # custom resources return the deleted object; built-in stores a Success Status
                return Result(self.view(rt, final))
            details = {"name": name, "group": rt.group, "kind": rt.plural, "uid": final["metadata"]["uid"]}
            return Result({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                           "details": details})

    def _remove(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        """Drop an object for good (a DELETED event), then whatever waited for it."""
        final = copy.deepcopy(stored)
        final["metadata"]["resourceVersion"] = str(self.store.next_revision())
        self.store.commit("DELETED", rt.storage, final, stored)
        if rt.group == CRD_GROUP and rt.plural == "customresourcedefinitions":
            self._uninstall_crd(final)
        namespace = final["metadata"].get("namespace", "")
        if namespace:
            self._finish_namespace(namespace)
        return final

    def _delete_namespace(self, rt: ResourceType, old: dict[str, Any]) -> dict[str, Any]:
        name = old["metadata"]["name"]
        updated = copy.deepcopy(old)
        if not updated["metadata"].get("deletionTimestamp"):
            updated["metadata"]["deletionTimestamp"] = now()
            updated["status"] = {"phase": "Terminating"}
            updated["metadata"]["resourceVersion"] = str(self.store.next_revision())
            self.store.commit("MODIFIED", NAMESPACES, updated, old)
        for key, object_name in list(self.store.namespaces_in_use(name)):
            contained = self.registry.find_storage(key)
            if contained is not None and self.store.peek(key, name, object_name) is not None:
                self.delete(contained, name, object_name)
        self._finish_namespace(name)
        return self.store.get(NAMESPACES, "", name) or updated

    def _finish_namespace(self, namespace: str) -> None:
        stored = self.store.peek(NAMESPACES, "", namespace)
        if stored is None or not stored["metadata"].get("deletionTimestamp"):
            return
        if any(True for _ in self.store.namespaces_in_use(namespace)):
            return
        final = copy.deepcopy(stored)
        final["metadata"]["resourceVersion"] = str(self.store.next_revision())
        self.store.commit("DELETED", NAMESPACES, final, stored)

    # ----------------------------------------------------------------------------------------------- helpers
    def _existing(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        stored = self.store.peek(rt.storage, namespace if rt.namespaced else "", name)
        if stored is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.view(rt, copy.deepcopy(stored))

    def _checked_body(self, rt: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(dict(body))
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if (api_version and api_version != rt.api_version) or (kind and kind != rt.kind):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})" if api_version != rt.api_version else
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        return obj

    def _namespace_for(self, rt: ResourceType, namespace: str, metadata: dict[str, Any]) -> str:
        if not rt.namespaced:
            metadata.pop("namespace", None)
            return ""
        given = metadata.get("namespace")
        if given and given != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        metadata["namespace"] = namespace
        return namespace

    def _require_namespace(self, namespace: str) -> None:
        stored = self.store.peek(NAMESPACES, "", namespace)
        if stored is None:
            raise errors.not_found("namespaces", "", namespace)
        if stored["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                "namespaces", "", namespace,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _name_for(self, rt: ResourceType, namespace: str, metadata: dict[str, Any]) -> str:
        name = metadata.get("name")
        if not name:
            prefix = metadata.get("generateName")
            if not prefix:
                cause = Cause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")
                raise errors.invalid(rt.kind, rt.group, "", [cause])
            for _ in range(100):
                name = str(prefix)[:58] + "".join(secrets.choice(_NAME_SUFFIX) for _ in range(5))
                if self.store.peek(rt.storage, namespace, name) is None:
                    break
            metadata["name"] = name
        pattern = _DNS_LABEL if rt.storage == NAMESPACES else _DNS_SUBDOMAIN
        if not isinstance(name, str) or len(name) > 253 or not pattern.match(name):
            what = "RFC 1123 label" if pattern is _DNS_LABEL else "RFC 1123 subdomain"
            message = (
                f'Invalid value: {json.dumps(name)}: a lowercase {what} must consist of lower case alphanumeric '
                "characters, '-' or '.', and must start and end with an alphanumeric character"
            )
            raise errors.invalid(rt.kind, rt.group, str(name), [Cause("FieldValueInvalid", message, "metadata.name")])
        return name

    def _check_finalizers(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
        if not old["metadata"].get("deletionTimestamp"):
            return
        before = set(old["metadata"].get("finalizers") or ())
        added = [f for f in new["metadata"].get("finalizers") or () if f not in before]
        if added:
            cause = Cause("FieldValueForbidden", "Forbidden: no new finalizers can be added if the object is being "
                          "deleted, found new finalizers " + json.dumps(added), "metadata.finalizers")
            raise errors.invalid(rt.kind, rt.group, old["metadata"]["name"], [cause])

    def _admit(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, options: WriteOptions, body: Any
    ) -> builtins.list[str]:
        """Prune, default and validate a custom resource; returns unknown-field warnings."""
        warnings: builtins.list[str] = []
        name = str((obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get("generateName", ""))
        if rt.schema is None:
            return warnings
        # Stored objects are always pruned, so whatever is unknown now came with this write.
        unknown = prune(obj, rt.schema)
        if unknown and options.field_validation == "Strict":
            detail = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise errors.bad_request(f"strict decoding error: {detail}")
        if options.field_validation == "Warn":
            warnings += [f'unknown field "{path}"' for path in unknown]
        apply_defaults(obj, rt.schema)
        cached = self._validators.get(id(rt))
        if cached is None or cached[0] is not rt:
            cached = self._validators[id(rt)] = (rt, SchemaValidator(rt.schema))
        validator = cached[1]
        causes = validator.validate(obj)
        if rt.rules is not None and rt.rules.count:
            causes += rt.rules.check(obj, old)
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)
        return warnings

    def _prepare_builtin(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt.storage == ("", "secrets"):
            string_data = obj.pop("stringData", None) or {}
            data = obj.setdefault("data", {}) if string_data or "data" in obj else {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            for key, value in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(str(value), validate=True)
                except (ValueError, binascii.Error) as error:
                    cause = Cause("FieldValueInvalid", "Invalid value: illegal base64 data", f"data[{key}]")
                    raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), [cause]) from error
            if not obj.get("type"):
                obj["type"] = "Opaque"
        elif rt.storage == NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            if old is None or not old["metadata"].get("deletionTimestamp"):
                obj["status"] = {"phase": "Active"}
        elif rt.plural == "customresourcedefinitions" and rt.group == CRD_GROUP:
            names = (obj.get("spec") or {}).get("names") or {}
            obj["status"] = {
                "acceptedNames": copy.deepcopy(names),
                "storedVersions": [
                    v["name"] for v in (obj.get("spec") or {}).get("versions") or () if v.get("storage")
                ],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now()},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now()},
                ],
            }
            if old is not None and isinstance(old.get("status"), Mapping):
                obj["status"]["conditions"] = copy.deepcopy(old["status"].get("conditions"))

    def _install_crd(self, crd: dict[str, Any], dry_run: bool) -> None:
        try:
            types = types_from_crd(crd)
        except ApiError:
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise errors.bad_request(f"invalid CustomResourceDefinition: {error}") from error
        if not dry_run:
            self.registry.install(types)

    def _uninstall_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        rt = self.registry.find_plural(plural, group)
        if rt is not None:
            stored, _ = self.store.items(rt.storage)
            for obj in stored:
                self._remove(rt, obj)
        self.registry.uninstall(group, plural)


def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
