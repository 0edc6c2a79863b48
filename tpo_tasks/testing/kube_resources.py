"""Resource types, discovery documents and table output of the fake API server.

The fake serves the resource types in :data:`RESOURCES`. Discovery (``/api``,
``/apis``, ``/api/v1``, ``/apis/<group>/<version>``) and the OpenAPI v3 documents
are generated from that table, so adding a row is all a new type needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Resource:
    """One REST resource type: where it lives and what kubectl may do with it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    generation: bool = False  # metadata.generation counts spec changes
    create_only: bool = False  # a review: POST returns a verdict, nothing is stored

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` of objects of this type."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lower-case kind, as discovery lists it."""
        return self.kind.lower()

    @property
    def key(self) -> tuple[str, str]:
        """The (group, plural) pair that names this type in the store."""
        return (self.group, self.plural)


VERBS = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
]

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",)
    ),
    Resource("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    Resource("", "v1", "Secret", "secrets"),
    Resource(
        "",
        "v1",
        "Service",
        "services",
        short_names=("svc",),
        categories=("all",),
        status_subresource=True,
    ),
    Resource(
        "",
        "v1",
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        status_subresource=True,
    ),
    Resource("", "v1", "Event", "events", short_names=("ev",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    Resource(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short_names=("pvc",),
        status_subresource=True,
    ),
    Resource(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short_names=("ds",),
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
    ),
    Resource(
        "batch",
        "v1",
        "Job",
        "jobs",
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short_names=("cj",),
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    Resource("coordination.k8s.io", "v1", "Lease", "leases"),
    Resource(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short_names=("pdb",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short_names=("ing",),
        status_subresource=True,
        generation=True,
    ),
    Resource(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short_names=("netpol",),
        generation=True,
    ),
    Resource(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short_names=("hpa",),
        categories=("all",),
        status_subresource=True,
    ),
    Resource("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    Resource("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",)),
    Resource("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    Resource(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        namespaced=False,
    ),
    Resource(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    Resource(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        create_only=True,
    ),
)

BY_KEY = {resource.key: resource for resource in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    """Return the resource served at ``group/version/plural``, if any."""
    resource = BY_KEY.get((group, plural))
    if resource is None or resource.version != version:
        return None
    return resource


def group_versions() -> dict[str, list[str]]:
    """Return each API group (``""`` for core) with its served versions."""
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        versions = groups.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return groups


# ---------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------
def api_versions(server_address: str) -> dict[str, Any]:
    """Return the ``/api`` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list() -> dict[str, Any]:
    """Return the ``/apis`` document."""
    groups = []
    for group, versions in group_versions().items():
        if not group:
            continue
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append(
            {
                "name": group,
                "versions": entries,
                "preferredVersion": entries[0],
            }
        )
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """Return the ``APIResourceList`` of one group version, or None if not served."""
    resources = [r for r in RESOURCES if r.group == group and r.version == version]
    if not resources:
        return None
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entry: dict[str, Any] = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": ["create"] if resource.create_only else VERBS,
            "storageVersionHash": _hash(resource.plural)[:12],
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        entries.append(entry)
        if resource.status_subresource:
            entries.append(
                {
                    "name": f"{resource.plural}/status",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if resource.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            entries.append(
                {
                    "name": f"{resource.plural}/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        if resource.kind == "Pod":
            entries.append(
                {
                    "name": "pods/log",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get"],
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


AGGREGATED_DISCOVERY_TYPE = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
)


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """Return the ``apidiscovery.k8s.io/v2`` list for ``/api`` (core) or ``/apis``.

    kubectl 1.30 and newer ask for this form first; one response then replaces a
    request per group version.
    """
    items = []
    for group, versions in group_versions().items():
        if bool(group) == core:
            continue
        entries = []
        for version in versions:
            listing = api_resource_list(group, version) or {"resources": []}
            entries.append(
                {
                    "version": version,
                    "resources": _discovery_resources(
                        group, version, listing["resources"]
                    ),
                    "freshness": "Current",
                }
            )
        items.append({"metadata": {"name": group}, "versions": entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _discovery_resources(
    group: str, version: str, entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name, _, subresource = entry["name"].partition("/")
        kind = {
            "group": entry.get("group", group),
            "version": entry.get("version", version),
            "kind": entry["kind"],
        }
        if subresource:
            resources[name].setdefault("subresources", []).append(
                {
                    "subresource": subresource,
                    "responseKind": kind,
                    "verbs": entry["verbs"],
                }
            )
            continue
        resource = {
            "resource": name,
            "responseKind": kind,
            "scope": "Namespaced" if entry["namespaced"] else "Cluster",
            "singularResource": entry["singularName"],
            "verbs": entry["verbs"],
        }
        if entry.get("shortNames"):
            resource["shortNames"] = entry["shortNames"]
        if entry.get("categories"):
            resource["categories"] = entry["categories"]
        resources[name] = resource
    return list(resources.values())


def version_info(version: str) -> dict[str, Any]:
    """Return the ``/version`` document for a server version such as ``1.32.5``."""
    major, minor = version.split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{version}",
        "gitCommit": _hash(version)[:40],
        "gitTreeState": "clean",
        "buildDate": "2025-05-15T00:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


# ---------------------------------------------------------------------------------
# OpenAPI v3: only what kubectl checks, that PATCH takes fieldValidation
# ---------------------------------------------------------------------------------
def openapi_v3_root() -> dict[str, Any]:
    """Return the ``/openapi/v3`` index of per-group-version documents."""
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            relative = f"api/{version}" if not group else f"apis/{group}/{version}"
            digest = _hash(relative)[:32].upper()
            paths[relative] = {
                "serverRelativeURL": f"/openapi/v3/{relative}?hash={digest}"
            }
    return {"paths": paths}


def openapi_v3_document(group: str, version: str) -> dict[str, Any] | None:
    """Return a minimal OpenAPI 3 document for one group version."""
    resources = [r for r in RESOURCES if r.group == group and r.version == version]
    if not resources:
        return None
    prefix = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    query = [
        _query_parameter("dryRun"),
        _query_parameter("fieldManager"),
        _query_parameter("fieldValidation"),
    ]
    paths: dict[str, Any] = {}
    for resource in resources:
        gvk = {"group": group, "version": version, "kind": resource.kind}
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        item_path = f"{prefix}{scope}/{resource.plural}/{{name}}"
        collection_path = f"{prefix}{scope}/{resource.plural}"
        body_ref = {"$ref": f"#/components/schemas/{_schema_name(resource)}"}
        paths[collection_path] = {
            "post": _operation(f"create{resource.kind}", gvk, "post", query, body_ref),
        }
        paths[item_path] = {
            "get": _operation(f"read{resource.kind}", gvk, "get", [], None),
            "put": _operation(f"replace{resource.kind}", gvk, "put", query, body_ref),
            "patch": _operation(
                f"patch{resource.kind}",
                gvk,
                "patch",
                [*query, _query_parameter("force", "boolean")],
                body_ref,
            ),
            "delete": _operation(f"delete{resource.kind}", gvk, "delete", [], None),
        }
    schemas = {
        _schema_name(r): {
            "type": "object",
            "x-kubernetes-group-version-kind": [
                {"group": group, "version": version, "kind": r.kind}
            ],
        }
        for r in resources
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.5"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _schema_name(resource: Resource) -> str:
    group = resource.group or "core"
    return f"io.k8s.api.{group.split('.')[0]}.{resource.version}.{resource.kind}"


def _query_parameter(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": True}}


def _operation(
    operation_id: str,
    gvk: dict[str, str],
    verb: str,
    parameters: list[dict[str, Any]],
    body_ref: dict[str, Any] | None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": gvk,
    }
    if body_ref is not None:
        operation["requestBody"] = {
            "content": {"*/*": {"schema": body_ref}},
            "required": True,
        }
    return operation


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------
# Table output (what `kubectl get` prints without -o)
# ---------------------------------------------------------------------------------
def table(objects: list[dict[str, Any]], resource: Resource, now: datetime) -> dict:
    """Return a ``meta.k8s.io/v1`` Table with kubectl's usual columns for the kind."""
    columns = _columns(resource.kind)
    definitions = [
        {
            "name": name,
            "type": "string",
            "format": "name" if name == "Name" else "",
            "description": name,
            "priority": 0,
        }
        for name, _ in columns
    ]
    rows = []
    for obj in objects:
        cells = [render(obj, now) for _, render in columns]
        rows.append({"cells": cells, "object": obj})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": definitions,
        "rows": rows,
    }


def age(obj: dict[str, Any], now: datetime) -> str:
    """Return the object's age the way kubectl prints it (``12s``, ``5m``, ``3h``)."""
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    started = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((now - started).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _name(obj: dict[str, Any], now: datetime) -> str:
    return obj["metadata"]["name"]


def _get(obj: dict[str, Any], *path: str, default: Any = 0) -> Any:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _pod_ready(obj: dict[str, Any], now: datetime) -> str:
    statuses = _get(obj, "status", "containerStatuses", default=[]) or []
    total = len(_get(obj, "spec", "containers", default=[]) or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{total}"


def _pod_status(obj: dict[str, Any], now: datetime) -> str:
    for status in _get(obj, "status", "containerStatuses", default=[]) or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"]
    return _get(obj, "status", "phase", default="Pending")


def _pod_restarts(obj: dict[str, Any], now: datetime) -> str:
    statuses = _get(obj, "status", "containerStatuses", default=[]) or []
    return str(sum(int(s.get("restartCount", 0)) for s in statuses))


def _ports(obj: dict[str, Any], now: datetime) -> str:
    ports = _get(obj, "spec", "ports", default=[]) or []
    text = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports)
    return text or "<none>"


def _columns(kind: str) -> list[tuple[str, Any]]:
    def field(*path: str, default: Any = 0) -> Any:
        return lambda obj, now: str(_get(obj, *path, default=default))

    def ratio(first: tuple[str, ...], second: tuple[str, ...]) -> Any:
        return lambda obj, now: f"{_get(obj, *first)}/{_get(obj, *second, default=1)}"

    def count(*path: str) -> Any:
        return lambda obj, now: str(len(_get(obj, *path, default={}) or {}))

    age_column = ("Age", age)
    specific: dict[str, list[tuple[str, Any]]] = {
        "Pod": [
            ("Ready", _pod_ready),
            ("Status", _pod_status),
            ("Restarts", _pod_restarts),
        ],
        "Deployment": [
            ("Ready", ratio(("status", "readyReplicas"), ("spec", "replicas"))),
            ("Up-to-date", field("status", "updatedReplicas")),
            ("Available", field("status", "availableReplicas")),
        ],
        "StatefulSet": [
            ("Ready", ratio(("status", "readyReplicas"), ("spec", "replicas"))),
        ],
        "ReplicaSet": [
            ("Desired", field("spec", "replicas", default=1)),
            ("Current", field("status", "replicas")),
            ("Ready", field("status", "readyReplicas")),
        ],
        "DaemonSet": [
            ("Desired", field("status", "desiredNumberScheduled")),
            ("Current", field("status", "currentNumberScheduled")),
            ("Ready", field("status", "numberReady")),
            ("Up-to-date", field("status", "updatedNumberScheduled")),
            ("Available", field("status", "numberAvailable")),
        ],
        "Service": [
            ("Type", field("spec", "type", default="ClusterIP")),
            ("Cluster-IP", field("spec", "clusterIP", default="<none>")),
            ("External-IP", lambda obj, now: "<none>"),
            ("Port(s)", _ports),
        ],
        "ConfigMap": [("Data", count("data"))],
        "Secret": [("Type", field("type", default="Opaque")), ("Data", count("data"))],
        "Lease": [("Holder", field("spec", "holderIdentity", default=""))],
        "Namespace": [("Status", field("status", "phase", default="Active"))],
        "Event": [
            ("Type", field("type", default="Normal")),
            ("Reason", field("reason", default="")),
            (
                "Object",
                lambda obj, now: "{}/{}".format(
                    str(_get(obj, "involvedObject", "kind", default="")).lower(),
                    _get(obj, "involvedObject", "name", default=""),
                ),
            ),
            ("Message", field("message", default="")),
        ],
    }
    return [("Name", _name), *specific.get(kind, []), age_column]


def etag(document: Any) -> str:
    """Return a strong ETag for a JSON document."""
    return '"' + _hash(json.dumps(document, sort_keys=True))[:32] + '"'
