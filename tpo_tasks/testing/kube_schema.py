"""Field validation of the fake Kubernetes API server (``fieldValidation``).

A real API server checks every field against the OpenAPI schema; kubectl asks it to
(``fieldValidation=Strict`` by default, ``Warn`` with ``--validate=warn``, ``Ignore``
with ``--validate=false``). This module knows the field names, from the Kubernetes
1.32 API reference, of the places where manifests are written by hand: the top level
of every served kind, ``metadata``, the ``spec`` of the common kinds, pod templates
and containers. Fields elsewhere are not checked, so a typo deeper down (inside a
probe, say) passes here and fails on a real cluster.
"""

from __future__ import annotations

from typing import Any

OBJECT_META = {
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}
COMMON_TOP = {"apiVersion", "kind", "metadata"}
TOP_LEVEL = {
    "ConfigMap": {"data", "binaryData", "immutable"},
    "Secret": {"data", "stringData", "type", "immutable"},
    "ServiceAccount": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "Event": {
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "eventTime",
        "series",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    },
    "Endpoints": {"subsets"},
    "Role": {"rules"},
    "ClusterRole": {"rules", "aggregationRule"},
    "RoleBinding": {"subjects", "roleRef"},
    "ClusterRoleBinding": {"subjects", "roleRef"},
    "ControllerRevision": {"data", "revision"},
}
WITH_SPEC = {"spec", "status"}
SPEC = {
    "Deployment": {
        "replicas",
        "selector",
        "template",
        "strategy",
        "minReadySeconds",
        "revisionHistoryLimit",
        "paused",
        "progressDeadlineSeconds",
    },
    "StatefulSet": {
        "replicas",
        "selector",
        "template",
        "volumeClaimTemplates",
        "serviceName",
        "podManagementPolicy",
        "updateStrategy",
        "revisionHistoryLimit",
        "minReadySeconds",
        "persistentVolumeClaimRetentionPolicy",
        "ordinals",
    },
    "DaemonSet": {
        "selector",
        "template",
        "updateStrategy",
        "minReadySeconds",
        "revisionHistoryLimit",
    },
    "ReplicaSet": {"replicas", "selector", "template", "minReadySeconds"},
    "Service": {
        "allocateLoadBalancerNodePorts",
        "clusterIP",
        "clusterIPs",
        "externalIPs",
        "externalName",
        "externalTrafficPolicy",
        "healthCheckNodePort",
        "internalTrafficPolicy",
        "ipFamilies",
        "ipFamilyPolicy",
        "loadBalancerClass",
        "loadBalancerIP",
        "loadBalancerSourceRanges",
        "ports",
        "publishNotReadyAddresses",
        "selector",
        "sessionAffinity",
        "sessionAffinityConfig",
        "trafficDistribution",
        "type",
    },
    "Lease": {
        "acquireTime",
        "holderIdentity",
        "leaseDurationSeconds",
        "leaseTransitions",
        "renewTime",
        "preferredHolder",
        "strategy",
    },
    "PodDisruptionBudget": {
        "maxUnavailable",
        "minAvailable",
        "selector",
        "unhealthyPodEvictionPolicy",
    },
}
POD_TEMPLATE = {"metadata", "spec"}
POD_SPEC = {
    "activeDeadlineSeconds",
    "affinity",
    "automountServiceAccountToken",
    "containers",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "ephemeralContainers",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "hostname",
    "imagePullSecrets",
    "initContainers",
    "nodeName",
    "nodeSelector",
    "os",
    "overhead",
    "preemptionPolicy",
    "priority",
    "priorityClassName",
    "readinessGates",
    "resourceClaims",
    "resources",
    "restartPolicy",
    "runtimeClassName",
    "schedulerName",
    "schedulingGates",
    "securityContext",
    "serviceAccount",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "terminationGracePeriodSeconds",
    "tolerations",
    "topologySpreadConstraints",
    "volumes",
}
CONTAINER = {
    "args",
    "command",
    "env",
    "envFrom",
    "image",
    "imagePullPolicy",
    "lifecycle",
    "livenessProbe",
    "name",
    "ports",
    "readinessProbe",
    "resizePolicy",
    "resources",
    "restartPolicy",
    "securityContext",
    "startupProbe",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
    "workingDir",
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def unknown_fields(obj: dict[str, Any]) -> list[str]:
    """Return the dotted paths of fields the kind does not declare, in order."""
    kind = obj.get("kind", "")
    found: list[str] = []
    top = COMMON_TOP | TOP_LEVEL.get(kind, WITH_SPEC)
    _check(obj, top, "", found)
    _check(obj.get("metadata"), OBJECT_META, "metadata", found)
    spec = obj.get("spec")
    if kind in SPEC:
        _check(spec, SPEC[kind], "spec", found)
    if kind == "Pod":
        _check_pod_spec(spec, "spec", found)
    if kind in WORKLOAD_KINDS and isinstance(spec, dict):
        template = spec.get("template")
        _check(template, POD_TEMPLATE, "spec.template", found)
        if isinstance(template, dict):
            _check(
                template.get("metadata"), OBJECT_META, "spec.template.metadata", found
            )
            _check_pod_spec(template.get("spec"), "spec.template.spec", found)
    return found


def _check(value: Any, allowed: set[str], prefix: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        return
    for key in value:
        if key not in allowed:
            found.append(f"{prefix}.{key}" if prefix else key)


def _check_pod_spec(spec: Any, prefix: str, found: list[str]) -> None:
    _check(spec, POD_SPEC, prefix, found)
    if not isinstance(spec, dict):
        return
    for field in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(field) or []):
            _check(container, CONTAINER, f"{prefix}.{field}[{index}]", found)


def drop_fields(obj: dict[str, Any], paths: list[str]) -> None:
    """Remove fields named as :func:`unknown_fields` names them, as a server prunes."""
    for path in paths:
        node: Any = obj
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            if part.startswith("["):
                index = int(part[1:-1])
                node = (
                    node[index]
                    if isinstance(node, list) and index < len(node)
                    else None
                )
            else:
                node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
