"""The object store of the fake Kubernetes API server.

One :class:`Store` contains every object of one fake cluster, with the API server's
write rules: resource versions from one counter, ``metadata.generation`` counting
spec changes, defaults, the validations tests meet in practice (names, immutable
selectors, size limits, optimistic concurrency), field managers, owner-based
garbage collection, and a log of watch events. Writes that change nothing keep the
resource version, as on a real server, so ``kubectl diff`` sees no change.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tpo_tasks.testing import kube_merge
from tpo_tasks.testing.kube_merge import ApplyConflict, FieldManager, PatchError
from tpo_tasks.testing.kube_resources import BY_KEY, Resource

MAX_OBJECT_BYTES = 1024 * 1024  # ConfigMap and Secret data, as on a real server
MAX_ANNOTATION_BYTES = 256 * 1024  # total size of metadata.annotations
WATCH_HISTORY = 50_000  # watch events kept; older resource versions get 410 Gone
NAME_PATTERN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
SELECTOR_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
WRITE_KEYS = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "managedFields",
)

Key = tuple[str, str, str, str]  # group, plural, namespace, name
Listener = Callable[
    [str, Resource, "dict[str, Any] | None", "dict[str, Any] | None"], None
]


class ApiError(Exception):
    """An error the API server returns as a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        """Return the ``Status`` body for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def not_found(resource: Resource, name: str) -> ApiError:
    """Return the 404 error for a missing object."""
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource)} "{name}" not found',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def invalid(resource: Resource, name: str, field: str, message: str) -> ApiError:
    """Return the 422 error for a rejected field value."""
    return ApiError(
        422,
        "Invalid",
        f'{resource.kind}{_group_suffix(resource)} "{name}" is invalid: '
        f"{field}: {message}",
        {
            "name": name,
            "group": resource.group,
            "kind": resource.kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": message, "field": field}
            ],
        },
    )


def _qualified(resource: Resource) -> str:
    return resource.plural + _group_suffix(resource)


def _group_suffix(resource: Resource) -> str:
    return f".{resource.group}" if resource.group else ""


def now_text() -> str:
    """Return the current UTC time in the API's second-precision format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Record:
    """A stored object and the owners of its fields."""

    obj: dict[str, Any]
    managers: dict[str, FieldManager]


@dataclass(frozen=True)
class WatchEvent:
    """One change, as a watch stream reports it."""

    resource_version: int
    type: str  # ADDED, MODIFIED or DELETED
    resource: Resource
    namespace: str
    obj: dict[str, Any]


class Store:
    """Every object of one fake cluster, guarded by one lock."""

    def __init__(self) -> None:
        self.changed = threading.Condition(threading.RLock())
        self.records: dict[Key, Record] = {}
        self.resource_version = 1
        self.history: deque[WatchEvent] = deque(maxlen=WATCH_HISTORY)
        self.listeners: list[Listener] = []
        with self.changed:
            for namespace in (
                "default",
                "kube-system",
                "kube-public",
                "kube-node-lease",
            ):
                self._ensure_namespace(namespace)

    # -- reads ------------------------------------------------------------------
    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        """Return a copy of one object; raise 404 when it does not exist."""
        with self.changed:
            record = self.records.get(self._key(resource, namespace, name))
            if record is None:
                raise not_found(resource, name)
            return copy.deepcopy(record.obj)

    def find(
        self, resource: Resource, namespace: str, name: str
    ) -> dict[str, Any] | None:
        """Return a copy of one object, or None."""
        with self.changed:
            record = self.records.get(self._key(resource, namespace, name))
            return copy.deepcopy(record.obj) if record else None

    def list(
        self,
        resource: Resource,
        namespace: str | None,
        labels: list[kube_merge.Requirement] | None = None,
        fields: list[kube_merge.Requirement] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Return copies of matching objects (sorted by namespace, name) and the RV."""
        with self.changed:
            items = [
                copy.deepcopy(record.obj)
                for key, record in sorted(self.records.items())
                if key[:2] == resource.key
                and (namespace is None or key[2] == namespace)
                and matches(record.obj, labels, fields)
            ]
            return items, self.resource_version

    def events_since(self, resource_version: int) -> list[WatchEvent]:
        """Return the watch events after ``resource_version`` (410 when dropped)."""
        with self.changed:
            full = len(self.history) == self.history.maxlen
            oldest = self.history[0].resource_version if self.history else 0
            if full and resource_version < oldest - 1:
                raise ApiError(
                    410,
                    "Expired",
                    f"too old resource version: {resource_version} ({oldest - 1})",
                )
            return [e for e in self.history if e.resource_version > resource_version]

    # -- writes -----------------------------------------------------------------
    def create(
        self,
        resource: Resource,
        namespace: str,
        body: dict[str, Any],
        manager: str,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
    ) -> dict[str, Any]:
        """Create an object (POST); 409 when it exists."""
        with self.changed:
            obj = copy.deepcopy(body)
            metadata = obj.setdefault("metadata", {})
            self._check_target(resource, namespace, obj, None)
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
            name = metadata.get("name", "")
            if self._key(resource, namespace, name) in self.records:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{_qualified(resource)} "{name}" already exists',
                    {"name": name, "group": resource.group, "kind": resource.plural},
                )
            for key in WRITE_KEYS:
                metadata.pop(key, None)
            if resource.status_subresource and not keep_status:
                obj.pop("status", None)
            managers = kube_merge.record_update(
                None, obj, manager, {}, api_version=resource.api_version, now=now_text()
            )
            return self._commit(resource, namespace, obj, managers, None, dry_run)

    def replace(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        body: dict[str, Any],
        manager: str,
        *,
        dry_run: bool = False,
        subresource: str = "",
    ) -> dict[str, Any]:
        """Replace an object (PUT), checking ``metadata.resourceVersion`` when set."""
        with self.changed:
            record = self._record(resource, namespace, name)
            obj = copy.deepcopy(body)
            self._check_target(resource, namespace, obj, name)
            return self._write_update(
                resource, namespace, name, record, obj, manager, subresource, dry_run
            )

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        manager: str,
        *,
        force: bool = False,
        dry_run: bool = False,
        subresource: str = "",
    ) -> dict[str, Any]:
        """Patch an object; an apply patch creates it when missing."""
        with self.changed:
            key = self._key(resource, namespace, name)
            record = self.records.get(key)
            if patch_type == "apply":
                return self._apply(
                    resource,
                    namespace,
                    name,
                    patch,
                    manager,
                    record,
                    force=force,
                    dry_run=dry_run,
                    subresource=subresource,
                )
            if record is None:
                raise not_found(resource, name)
            try:
                if patch_type == "merge":
                    patched = kube_merge.json_merge_patch(record.obj, patch)
                elif patch_type == "strategic":
                    patched = kube_merge.strategic_merge_patch(record.obj, patch)
                else:
                    patched = kube_merge.json_patch(record.obj, patch)
            except PatchError as error:
                raise ApiError(422, "Invalid", str(error)) from None
            if not isinstance(patched, dict):
                raise ApiError(400, "BadRequest", "the patch must produce an object")
            return self._write_update(
                resource, namespace, name, record, patched, manager, subresource,
                dry_run,
            )

    def _write_update(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        record: Record,
        obj: dict[str, Any],
        manager: str,
        subresource: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        """Store ``obj`` over ``record`` for a PUT or PATCH, as ``manager``.

        A ``metadata.resourceVersion`` in ``obj`` must match the stored one.
        """
        expected = (obj.get("metadata") or {}).get("resourceVersion")
        if expected and expected != record.obj["metadata"]["resourceVersion"]:
            raise _modified(resource, name)
        new = self._merge_write(resource, record.obj, obj, subresource)
        managers = kube_merge.record_update(
            record.obj,
            new,
            manager,
            record.managers,
            api_version=resource.api_version,
            now=now_text(),
        )
        return self._commit(resource, namespace, new, managers, record, dry_run)

    def _apply(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        applied: Any,
        manager: str,
        record: Record | None,
        *,
        force: bool,
        dry_run: bool,
        subresource: str,
    ) -> dict[str, Any]:
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "the apply patch must be an object")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        for field in ("apiVersion", "kind"):
            if not applied.get(field):
                raise ApiError(
                    400, "BadRequest", f"invalid object: {field} must be set"
                )
        self._check_target(resource, namespace, applied, name)
        live = record.obj if record else None
        try:
            merged, managers = kube_merge.server_side_apply(
                live,
                applied,
                manager,
                record.managers if record else {},
                force=force,
                api_version=resource.api_version,
                now=now_text(),
            )
        except ApplyConflict as conflict:
            causes = [
                {
                    "type": "FieldManagerConflict",
                    "message": f'conflict with "{owner}"',
                    "field": kube_merge.render_path(path),
                }
                for path, owner in conflict.conflicts
            ]
            raise ApiError(
                409,
                "Conflict",
                str(conflict),
                {
                    "name": name,
                    "group": resource.group,
                    "kind": resource.plural,
                    "causes": causes,
                },
            ) from None
        merged["apiVersion"] = resource.api_version
        merged["kind"] = resource.kind
        metadata = merged.setdefault("metadata", {})
        metadata["name"] = name
        if live is None:
            if resource.status_subresource:
                merged.pop("status", None)
            return self._commit(resource, namespace, merged, managers, None, dry_run)
        new = self._merge_write(resource, live, merged, subresource)
        return self._commit(resource, namespace, new, managers, record, dry_run)

    def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        propagation: str = "Background",
        preconditions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Delete an object and, unless orphaned, the objects it owns."""
        with self.changed:
            record = self._record(resource, namespace, name)
            metadata = record.obj["metadata"]
            for field in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != metadata.get(field):
                    raise ApiError(
                        409,
                        "Conflict",
                        "Operation cannot be fulfilled on "
                        f'{_qualified(resource)} "{name}": '
                        f"Precondition failed: {field}: {wanted}, "
                        f"{field} in object meta: {metadata.get(field)}",
                    )
            if dry_run:
                return copy.deepcopy(record.obj)
            self._remove(resource, namespace, name)
            if resource.kind == "Namespace":
                # A real namespace terminates first; here its objects go at once.
                for key in [k for k in self.records if k[2] == name]:
                    self._remove(BY_KEY[key[:2]], key[2], key[3])
            elif propagation == "Orphan":
                self._orphan(metadata["uid"])
            else:
                self._collect_garbage(metadata["uid"])
            return copy.deepcopy(record.obj)

    def write_status(
        self, resource: Resource, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Replace an object's status as a controller does; None when it is gone."""
        with self.changed:
            record = self.records.get(self._key(resource, namespace, name))
            if record is None:
                return None
            new = copy.deepcopy(record.obj)
            new["status"] = copy.deepcopy(status)
            return self._commit(
                resource, namespace, new, record.managers, record, False
            )

    def annotate(
        self, resource: Resource, namespace: str, name: str, annotations: dict[str, str]
    ) -> dict[str, Any] | None:
        """Set annotations as a controller does; None when the object is gone."""
        with self.changed:
            record = self.records.get(self._key(resource, namespace, name))
            if record is None:
                return None
            new = copy.deepcopy(record.obj)
            new["metadata"].setdefault("annotations", {}).update(annotations)
            return self._commit(
                resource, namespace, new, record.managers, record, False
            )

    def put(
        self, resource: Resource, namespace: str, obj: dict[str, Any]
    ) -> dict[str, Any]:
        """Create or replace an object as a controller does (no conflict checks)."""
        with self.changed:
            name = obj["metadata"]["name"]
            record = self.records.get(self._key(resource, namespace, name))
            new = copy.deepcopy(obj)
            if record is not None:
                for key in WRITE_KEYS:
                    if key in record.obj["metadata"]:
                        new["metadata"][key] = record.obj["metadata"][key]
            managers = record.managers if record else {}
            return self._commit(resource, namespace, new, managers, record, False)

    def remove(self, resource: Resource, namespace: str, name: str) -> None:
        """Delete an object and its dependents as a controller does, if it exists."""
        with self.changed:
            record = self.records.get(self._key(resource, namespace, name))
            if record is not None:
                self._remove(resource, namespace, name)
                self._collect_garbage(record.obj["metadata"]["uid"])

    # -- internals --------------------------------------------------------------
    def _key(self, resource: Resource, namespace: str, name: str) -> Key:
        return (*resource.key, namespace if resource.namespaced else "", name)

    def _record(self, resource: Resource, namespace: str, name: str) -> Record:
        record = self.records.get(self._key(resource, namespace, name))
        if record is None:
            raise not_found(resource, name)
        return record

    def _check_target(
        self, resource: Resource, namespace: str, obj: Any, url_name: str | None
    ) -> None:
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != resource.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the kind of the provided object ({kind}) does not match the "
                f"resource ({resource.kind})",
            )
        if api_version and api_version != resource.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({resource.api_version})",
            )
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            obj["metadata"] = metadata
        body_namespace = metadata.get("namespace")
        if resource.namespaced and body_namespace and body_namespace != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace "
                "sent on the request",
            )
        body_name = metadata.get("name")
        if url_name is not None and body_name and body_name != url_name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({body_name}) does not match the name on "
                f"the URL ({url_name})",
            )
        if url_name is not None and not body_name:
            metadata["name"] = url_name

    def _merge_write(
        self,
        resource: Resource,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str,
    ) -> dict[str, Any]:
        """Keep server-owned parts: metadata bookkeeping and, per endpoint, status."""
        result = copy.deepcopy(new)
        metadata = result.setdefault("metadata", {})
        for key in WRITE_KEYS:
            if key in old["metadata"]:
                metadata[key] = old["metadata"][key]
            else:
                metadata.pop(key, None)
        if subresource == "status":
            spec_side = {k: v for k, v in old.items() if k != "status"}
            spec_side["status"] = result.get("status", {})
            return spec_side
        if resource.status_subresource:
            if "status" in old:
                result["status"] = copy.deepcopy(old["status"])
            else:
                result.pop("status", None)
        return result

    def _commit(
        self,
        resource: Resource,
        namespace: str,
        obj: dict[str, Any],
        managers: dict[str, FieldManager],
        record: Record | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        old = record.obj if record else None
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        metadata = obj.setdefault("metadata", {})
        if resource.namespaced:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        _apply_defaults(resource, obj)
        self._validate(resource, old, obj)
        if old is None:
            metadata["uid"] = _uid()
            metadata["creationTimestamp"] = now_text()
            if resource.generation:
                metadata["generation"] = 1
        elif resource.generation:
            generation = old["metadata"].get("generation", 1)
            if _spec(old) != _spec(obj):
                generation += 1
            metadata["generation"] = generation
        metadata["managedFields"] = kube_merge.managed_fields(managers)
        if not metadata["managedFields"]:
            del metadata["managedFields"]

        if old is not None:
            unchanged = {**obj, "metadata": {**metadata, "resourceVersion": None}}
            before = {**old, "metadata": {**old["metadata"], "resourceVersion": None}}
            if unchanged == before:
                return copy.deepcopy(old)
        if dry_run:
            if old is not None:
                metadata["resourceVersion"] = old["metadata"]["resourceVersion"]
            return copy.deepcopy(obj)

        if resource.namespaced and resource.kind != "Event":
            self._ensure_namespace(namespace)
        self.resource_version += 1
        metadata["resourceVersion"] = str(self.resource_version)
        key = self._key(resource, namespace, metadata["name"])
        self.records[key] = Record(copy.deepcopy(obj), managers)
        event_type = "ADDED" if old is None else "MODIFIED"
        self._emit(event_type, resource, namespace, obj)
        for listener in list(self.listeners):
            listener(event_type, resource, copy.deepcopy(old), copy.deepcopy(obj))
        return copy.deepcopy(obj)

    def _remove(self, resource: Resource, namespace: str, name: str) -> None:
        record = self.records.pop(self._key(resource, namespace, name))
        self.resource_version += 1
        obj = copy.deepcopy(record.obj)
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        self._emit("DELETED", resource, namespace, obj)
        for listener in list(self.listeners):
            listener("DELETED", resource, copy.deepcopy(record.obj), None)

    def _emit(
        self, event_type: str, resource: Resource, namespace: str, obj: dict
    ) -> None:
        self.history.append(
            WatchEvent(
                self.resource_version,
                event_type,
                resource,
                namespace,
                copy.deepcopy(obj),
            )
        )
        self.changed.notify_all()

    def _dependents(self, uid: str) -> list[Key]:
        return [
            key
            for key, record in self.records.items()
            if any(
                ref.get("uid") == uid
                for ref in record.obj["metadata"].get("ownerReferences") or []
            )
        ]

    def _collect_garbage(self, uid: str) -> None:
        for key in self._dependents(uid):
            record = self.records.get(key)
            if record is None:
                continue
            resource = BY_KEY[key[:2]]
            self._remove(resource, key[2], key[3])
            self._collect_garbage(record.obj["metadata"]["uid"])

    def _orphan(self, uid: str) -> None:
        for key in self._dependents(uid):
            record = self.records[key]
            new = copy.deepcopy(record.obj)
            new["metadata"]["ownerReferences"] = [
                ref
                for ref in new["metadata"]["ownerReferences"]
                if ref.get("uid") != uid
            ]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            resource = BY_KEY[key[:2]]
            self._commit(resource, key[2], new, record.managers, record, False)

    def _ensure_namespace(self, namespace: str) -> None:
        key = ("", "namespaces", "", namespace)
        if not namespace or key in self.records:
            return
        resource = BY_KEY[("", "namespaces")]
        obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {"kubernetes.io/metadata.name": namespace},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self._commit(resource, "", obj, {}, None, False)

    def _validate(self, resource: Resource, old: dict | None, obj: dict) -> None:
        metadata = obj["metadata"]
        name = metadata.get("name") or ""
        if not name:
            raise invalid(
                resource,
                name,
                "metadata.name",
                "Required value: name or generateName is required",
            )
        if len(name) > 253 or not NAME_PATTERN.match(name):
            raise invalid(
                resource,
                name,
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                "of lower case alphanumeric characters, '-' or '.', and must start and "
                "end with an alphanumeric character",
            )
        annotations = metadata.get("annotations") or {}
        annotation_bytes = sum(len(k) + len(str(v)) for k, v in annotations.items())
        if annotation_bytes > MAX_ANNOTATION_BYTES:
            raise invalid(
                resource,
                name,
                "metadata.annotations",
                f"Too long: must have at most {MAX_ANNOTATION_BYTES} bytes",
            )
        if resource.kind == "Secret":
            _fold_string_data(obj)
            obj.setdefault("type", "Opaque")
        if resource.kind in ("ConfigMap", "Secret"):
            size = sum(
                len(k) + len(str(v))
                for section in ("data", "binaryData")
                for k, v in (obj.get(section) or {}).items()
            )
            if size > MAX_OBJECT_BYTES:
                raise invalid(
                    resource,
                    name,
                    "data",
                    f"Too long: must have at most {MAX_OBJECT_BYTES} bytes",
                )
            if old is not None and old.get("immutable"):
                for section in ("data", "binaryData", "immutable"):
                    if old.get(section) != obj.get(section):
                        raise invalid(
                            resource,
                            name,
                            section,
                            "Forbidden: field is immutable when `immutable` is set",
                        )
        if resource.kind in SELECTOR_KINDS:
            self._validate_selector(resource, old, obj, name)

    def _validate_selector(
        self, resource: Resource, old: dict | None, obj: dict, name: str
    ) -> None:
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not selector:
            raise invalid(resource, name, "spec.selector", "Required value")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        wanted = selector.get("matchLabels") or {}
        if any(labels.get(k) != v for k, v in wanted.items()):
            raise invalid(
                resource,
                name,
                "spec.template.metadata.labels",
                f"Invalid value: {json.dumps(labels)}: `selector` does not match "
                "template `labels`",
            )
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            raise invalid(
                resource,
                name,
                "spec.selector",
                f"Invalid value: {json.dumps(selector)}: field is immutable",
            )


def matches(
    obj: dict[str, Any],
    labels: list[kube_merge.Requirement] | None,
    fields: list[kube_merge.Requirement] | None,
) -> bool:
    """Return whether ``obj`` matches a parsed label and field selector."""
    object_labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels and not kube_merge.matches_labels(object_labels, labels):
        return False
    return not fields or kube_merge.matches_fields(obj, fields)


def _modified(resource: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource)} "{name}": the object '
        "has been modified; please apply your changes to the latest version and try "
        "again",
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _uid() -> str:
    raw = hashlib.sha256(f"{time.time_ns()}{secrets.token_hex(8)}".encode()).hexdigest()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def _fold_string_data(obj: dict[str, Any]) -> None:
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _apply_defaults(resource: Resource, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        if resource.kind in SELECTOR_KINDS or resource.kind == "Service":
            spec = {}
            obj["spec"] = spec
        else:
            return
    if resource.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
    if resource.kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
    if resource.kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    if resource.kind == "DaemonSet":
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
    if resource.kind == "Job":
        for key, value in (("backoffLimit", 6), ("completions", 1), ("parallelism", 1)):
            spec.setdefault(key, value)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
    if resource.kind == "Service":
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and "clusterIP" not in spec:
            digest = hashlib.sha256(obj["metadata"].get("name", "").encode()).digest()
            spec["clusterIP"] = f"10.96.{digest[0]}.{digest[1] or 1}"
        if "clusterIP" in spec:
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
        spec.setdefault("sessionAffinity", "None")
