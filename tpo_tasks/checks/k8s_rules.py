"""Rules over Kubernetes objects: one rendered overlay or a set of plain manifests.

Each rule takes the whole :class:`ManifestSet` because several of them relate
objects to each other (a Service to the workloads it selects, a Deployment to its
PodDisruptionBudget). Findings point at the source file and line when the object
can be traced back to one (see :mod:`tpo_tasks.checks.kubernetes`).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .results import FAIL, WARN, Check, CheckResult, register
from .secrets import find_secret
from .yaml_lines import Document, Path

# -- the checks -------------------------------------------------------------------

API_DEPRECATED = register(
    "k8s.api-deprecated",
    "an apiVersion that is deprecated, or removed by the target Kubernetes version",
    "move the object to the apiVersion named in the message",
    status=FAIL,
)
NAME_INVALID = register(
    "k8s.name-invalid",
    "an object or container name that is not a DNS-1123 name "
    "(lowercase letters, digits, '-' and '.')",
    "rename it in lowercase, for example open-election-booth",
)
SELECTOR_MISMATCH = register(
    "k8s.selector-mismatch",
    "a workload whose spec.selector does not match its pod template labels",
    "make spec.selector.matchLabels a subset of spec.template.metadata.labels",
)
SERVICE_UNMATCHED = register(
    "k8s.service-selector-unmatched",
    "a Service whose selector matches the pod labels of no workload",
    "set the Service selector to labels every pod of the target workload carries",
)
IMAGE_UNTAGGED = register(
    "k8s.image-untagged",
    "a container image with no tag and no digest",
    "pin the image with a version tag or @sha256 digest, or declare it as a "
    "tpo.deploy.services image so the deploy pins it",
)
IMAGE_LATEST = register(
    "k8s.image-latest",
    "a container image tagged latest",
    "pin the image with a version tag or an @sha256 digest",
)
RESOURCES_MISSING = register(
    "k8s.resources-missing",
    "a container without CPU and memory requests or without a memory limit",
    "set resources.requests.cpu, resources.requests.memory and resources.limits.memory",
)
READINESS_MISSING = register(
    "k8s.readiness-missing",
    "a long-running container without a readinessProbe",
    "add a readinessProbe so traffic waits until the container is ready",
)
LIVENESS_MISSING = register(
    "k8s.liveness-missing",
    "a long-running container without a livenessProbe",
    "add a livenessProbe so a hung container is restarted",
    status=WARN,
)
PROBES_IDENTICAL = register(
    "k8s.probes-identical",
    "a livenessProbe identical to the readinessProbe, thresholds included",
    "give the livenessProbe a higher failureThreshold or a cheaper endpoint so a slow "
    "container is taken out of traffic before it is restarted",
    status=WARN,
)
RUN_AS_NON_ROOT = register(
    "k8s.run-as-non-root",
    "a container that may run as root: runAsNonRoot is not true and runAsUser is "
    "not a non-zero id, after the pod-level securityContext is inherited",
    "set securityContext.runAsNonRoot: true (pod or container level)",
)
POD_SECURITY_MISPLACED = register(
    "k8s.pod-security-misplaced",
    "container-only securityContext fields (privileged, allowPrivilegeEscalation, "
    "capabilities, readOnlyRootFilesystem, procMount) set at pod level, where "
    "Kubernetes rejects them",
    "move the field to each container's securityContext",
)
PRIVILEGED = register(
    "k8s.privileged",
    "a privileged container",
    "remove securityContext.privileged: true; grant only the capabilities needed",
)
PRIVILEGE_ESCALATION = register(
    "k8s.privilege-escalation",
    "a container where allowPrivilegeEscalation is true (fail) or not set to false "
    "(warn)",
    "set securityContext.allowPrivilegeEscalation: false",
)
HOST_NAMESPACE = register(
    "k8s.host-namespace",
    "a pod sharing the node's network, PID or IPC namespace",
    "remove hostNetwork, hostPID and hostIPC",
)
NET_RAW = register(
    "k8s.net-raw",
    "a container that keeps the NET_RAW capability",
    "add securityContext.capabilities.drop: [ALL] (or at least NET_RAW)",
    status=WARN,
)
ROOT_FS_WRITABLE = register(
    "k8s.root-fs-writable",
    "a container whose root filesystem is writable",
    "set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the "
    "program writes",
    status=WARN,
)
LITERAL_SECRET = register(
    "k8s.literal-secret",
    "a secret value written literally in a container's env",
    "keep the value in a Secret and use env[].valueFrom.secretKeyRef",
)
PDB_MISSING = register(
    "k8s.pdb-missing",
    "a workload with more than one replica and no PodDisruptionBudget selecting it",
    "add a PodDisruptionBudget (minAvailable or maxUnavailable) selecting its pods",
    status=WARN,
)

OBJECT_CHECKS = (
    API_DEPRECATED,
    NAME_INVALID,
    SELECTOR_MISMATCH,
    SERVICE_UNMATCHED,
    IMAGE_UNTAGGED,
    IMAGE_LATEST,
    RESOURCES_MISSING,
    READINESS_MISSING,
    LIVENESS_MISSING,
    PROBES_IDENTICAL,
    RUN_AS_NON_ROOT,
    POD_SECURITY_MISPLACED,
    PRIVILEGED,
    PRIVILEGE_ESCALATION,
    HOST_NAMESPACE,
    NET_RAW,
    ROOT_FS_WRITABLE,
    LITERAL_SECRET,
    PDB_MISSING,
)

# -- the objects ------------------------------------------------------------------

Locator = Callable[["Manifest", Path], tuple[str, int]]


@dataclass
class Manifest:
    """One Kubernetes object and where its fields came from."""

    doc: Document
    source: str
    locator: Locator | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data

    @property
    def kind(self) -> str:
        return str(self.data.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion") or "")

    @property
    def name(self) -> str:
        metadata = self.data.get("metadata") or {}
        return str(metadata.get("name") or "") if isinstance(metadata, dict) else ""

    @property
    def namespace(self) -> str | None:
        metadata = self.data.get("metadata") or {}
        value = metadata.get("namespace") if isinstance(metadata, dict) else None
        return str(value) if value else None

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    def where(self, *path: str | int) -> tuple[str, int]:
        """Return (file, line) of ``path`` in this object."""
        if self.locator is not None:
            return self.locator(self, tuple(path))
        return self.source, self.doc.line(*path)


@dataclass
class ManifestSet:
    """The objects checked together, and the facts the rules need."""

    manifests: list[Manifest]
    kubernetes_version: str = "1.32"
    service_images: frozenset[str] = field(default_factory=frozenset)
    secret_keys: tuple[str, ...] = ()


POD_SPEC_PATHS: dict[str, Path] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
LONG_RUNNING = {
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
}
CONTAINER_LISTS = ("initContainers", "containers")

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
# Kinds whose names must be DNS-1123 labels (at most 63 characters, no dots).
LABEL_NAMED_KINDS = {
    "Service",
    "Namespace",
    "Pod",
    "StatefulSet",
    "Deployment",
    "CronJob",
    "DaemonSet",
    "ReplicaSet",
    "Job",
}

# (apiVersion, kinds or None for all, deprecated in, removed in, replacement)
API_VERSIONS: tuple[tuple[str, frozenset[str] | None, str, str | None, str], ...] = (
    (
        "extensions/v1beta1",
        frozenset({"Deployment", "DaemonSet", "ReplicaSet"}),
        "1.8",
        "1.16",
        "apps/v1",
    ),
    (
        "extensions/v1beta1",
        frozenset({"NetworkPolicy"}),
        "1.9",
        "1.16",
        "networking.k8s.io/v1",
    ),
    (
        "extensions/v1beta1",
        frozenset({"PodSecurityPolicy"}),
        "1.10",
        "1.16",
        "Pod Security Admission (no replacement object)",
    ),
    (
        "extensions/v1beta1",
        frozenset({"Ingress"}),
        "1.14",
        "1.22",
        "networking.k8s.io/v1",
    ),
    ("apps/v1beta1", None, "1.9", "1.16", "apps/v1"),
    ("apps/v1beta2", None, "1.9", "1.16", "apps/v1"),
    (
        "networking.k8s.io/v1beta1",
        frozenset({"Ingress", "IngressClass"}),
        "1.19",
        "1.22",
        "networking.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        None,
        "1.17",
        "1.22",
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        None,
        "1.16",
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    ("apiextensions.k8s.io/v1beta1", None, "1.16", "1.22", "apiextensions.k8s.io/v1"),
    (
        "apiregistration.k8s.io/v1beta1",
        None,
        "1.19",
        "1.22",
        "apiregistration.k8s.io/v1",
    ),
    ("certificates.k8s.io/v1beta1", None, "1.19", "1.22", "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", None, "1.19", "1.22", "coordination.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", None, "1.14", "1.22", "scheduling.k8s.io/v1"),
    (
        "storage.k8s.io/v1beta1",
        frozenset({"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"}),
        "1.19",
        "1.22",
        "storage.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        frozenset({"CSIStorageCapacity"}),
        "1.24",
        "1.27",
        "storage.k8s.io/v1",
    ),
    ("batch/v1beta1", frozenset({"CronJob"}), "1.21", "1.25", "batch/v1"),
    ("discovery.k8s.io/v1beta1", None, "1.21", "1.25", "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", None, "1.19", "1.25", "events.k8s.io/v1"),
    ("policy/v1beta1", frozenset({"PodDisruptionBudget"}), "1.21", "1.25", "policy/v1"),
    (
        "policy/v1beta1",
        frozenset({"PodSecurityPolicy"}),
        "1.21",
        "1.25",
        "Pod Security Admission (no replacement object)",
    ),
    ("node.k8s.io/v1beta1", None, "1.20", "1.25", "node.k8s.io/v1"),
    ("autoscaling/v2beta1", None, "1.22", "1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", None, "1.23", "1.26", "autoscaling/v2"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        None,
        "1.23",
        "1.26",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        None,
        "1.26",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        None,
        "1.29",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
)


def _minor(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


# -- helpers ----------------------------------------------------------------------


def pod_spec(manifest: Manifest) -> tuple[dict[str, Any], Path] | None:
    """Return (pod spec, its path) for a workload kind, or None."""
    path = POD_SPEC_PATHS.get(manifest.kind)
    if path is None:
        return None
    value: Any = manifest.data
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return (value, path) if isinstance(value, dict) else None


def template_labels(manifest: Manifest) -> dict[str, str]:
    """Return the pod labels of a workload (a Pod's own labels)."""
    if manifest.kind == "Pod":
        metadata = manifest.data.get("metadata") or {}
    else:
        spec = pod_spec(manifest)
        if spec is None:
            return {}
        template_path = spec[1][:-1]
        value: Any = manifest.data
        for part in template_path:
            value = value.get(part) if isinstance(value, dict) else None
        metadata = (
            (value or {}).get("metadata") or {} if isinstance(value, dict) else {}
        )
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return (
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
    )


def containers(manifest: Manifest) -> Iterator[tuple[dict[str, Any], Path, bool]]:
    """Yield (container, path, is_init) for every container of a workload."""
    found = pod_spec(manifest)
    if found is None:
        return
    spec, path = found
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        if not isinstance(items, list):
            continue
        for index, container in enumerate(items):
            if isinstance(container, dict):
                yield (
                    container,
                    path + (list_name, index),
                    list_name == "initContainers",
                )


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """Return whether a LabelSelector (or a plain label map) selects ``labels``."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if match_labels is None and expressions is None:
        match_labels = selector  # a plain map, as in a Service or ReplicationController
    for key, value in (match_labels or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in expressions or []:
        if not isinstance(expression, dict):
            return False
        key = str(expression.get("key"))
        operator = expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """Split an image reference into (name, tag, digest).

    The tag is the part after the last ``:`` that follows the last ``/``, so a
    registry port such as ``localhost:5000/team/base`` is not read as a tag.
    """
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def _result(
    check: Check,
    manifest: Manifest,
    message: str,
    path: Path,
    status: str | None = None,
) -> CheckResult:
    file, line = manifest.where(*path)
    return check.result(
        f"{manifest.label}: {message}", file=file, line=line, status=status
    )


# -- the rules --------------------------------------------------------------------


def check_api_versions(objects: ManifestSet) -> Iterator[CheckResult]:
    target = _minor(objects.kubernetes_version)
    for manifest in objects.manifests:
        for api, kinds, deprecated, removed, replacement in API_VERSIONS:
            if manifest.api_version != api or (
                kinds is not None and manifest.kind not in kinds
            ):
                continue
            if removed is not None and target >= _minor(removed):
                yield _result(
                    API_DEPRECATED,
                    manifest,
                    f"{api} was removed in Kubernetes {removed} (target "
                    f"{objects.kubernetes_version}); use {replacement}",
                    ("apiVersion",),
                )
            elif target >= _minor(deprecated):
                yield _result(
                    API_DEPRECATED,
                    manifest,
                    f"{api} is deprecated since Kubernetes {deprecated}"
                    + (f" and removed in {removed}" if removed else "")
                    + f"; use {replacement}",
                    ("apiVersion",),
                    status=WARN,
                )
            break


def check_names(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        name = manifest.name
        if name:
            strict = manifest.kind in LABEL_NAMED_KINDS
            pattern = DNS1123_LABEL if strict else DNS1123_SUBDOMAIN
            limit = 63 if strict else 253
            if not pattern.match(name) or len(name) > limit:
                what = "DNS-1123 label" if strict else "DNS-1123 subdomain"
                yield _result(
                    NAME_INVALID,
                    manifest,
                    f"name {name!r} is not a valid {what} (lowercase letters, "
                    f"digits and '-', at most {limit} characters)",
                    ("metadata", "name"),
                )
        for container, path, _ in containers(manifest):
            cname = str(container.get("name") or "")
            if cname and (not DNS1123_LABEL.match(cname) or len(cname) > 63):
                yield _result(
                    NAME_INVALID,
                    manifest,
                    f"container name {cname!r} is not a valid DNS-1123 label",
                    path + ("name",),
                )


def check_selectors(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        if manifest.kind not in POD_SPEC_PATHS or manifest.kind in ("Pod", "CronJob"):
            continue
        spec = manifest.data.get("spec")
        selector = spec.get("selector") if isinstance(spec, dict) else None
        if selector is None:
            continue
        labels = template_labels(manifest)
        if not selector_matches(selector, labels):
            shown = (
                selector.get("matchLabels", selector)
                if isinstance(selector, dict)
                else selector
            )
            yield _result(
                SELECTOR_MISMATCH,
                manifest,
                f"spec.selector {_labels_text(shown)} does not match the pod "
                f"template labels {_labels_text(labels)}",
                ("spec", "selector"),
            )


def same_namespace(first: str | None, second: str | None) -> bool:
    """Return whether two objects can share a namespace.

    An object without metadata.namespace lands in the namespace it is applied to,
    so it can be together with any explicit namespace, "default" included.
    """
    return first is None or second is None or first == second


def _labels_text(labels: Any) -> str:
    if not isinstance(labels, dict) or not labels:
        return "{}"
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


def check_service_selectors(objects: ManifestSet) -> Iterator[CheckResult]:
    pods = [
        (manifest.namespace, template_labels(manifest))
        for manifest in objects.manifests
        if manifest.kind in POD_SPEC_PATHS
    ]
    for manifest in objects.manifests:
        if manifest.kind != "Service":
            continue
        spec = manifest.data.get("spec") or {}
        selector = spec.get("selector") if isinstance(spec, dict) else None
        if (
            not selector
            or not isinstance(selector, dict)
            or spec.get("type") == "ExternalName"
        ):
            continue
        if not any(
            same_namespace(namespace, manifest.namespace)
            and selector_matches(selector, labels)
            for namespace, labels in pods
        ):
            yield _result(
                SERVICE_UNMATCHED,
                manifest,
                f"selector {_labels_text(selector)} matches no workload's pod labels",
                ("spec", "selector"),
            )


def check_images(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        for container, path, _ in containers(manifest):
            image = container.get("image")
            if not isinstance(image, str) or not image:
                continue
            name, tag, digest = split_image(image)
            if digest:
                continue
            if not tag and image in objects.service_images:
                continue
            if not tag:
                yield _result(
                    IMAGE_UNTAGGED,
                    manifest,
                    f"container {container.get('name')!r} image {image!r} has "
                    "no tag, so it pulls latest",
                    path + ("image",),
                )
            elif tag == "latest":
                yield _result(
                    IMAGE_LATEST,
                    manifest,
                    f"container {container.get('name')!r} image {image!r} uses "
                    "the latest tag",
                    path + ("image",),
                )


def check_resources(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        for container, path, _ in containers(manifest):
            resources = container.get("resources") or {}
            requests = (
                resources.get("requests") or {} if isinstance(resources, dict) else {}
            )
            limits = (
                resources.get("limits") or {} if isinstance(resources, dict) else {}
            )
            missing = [
                label
                for label, present in (
                    ("requests.cpu", "cpu" in requests),
                    ("requests.memory", "memory" in requests),
                    ("limits.memory", "memory" in limits),
                )
                if not present
            ]
            if missing:
                where = path + ("resources",) if container.get("resources") else path
                yield _result(
                    RESOURCES_MISSING,
                    manifest,
                    f"container {container.get('name')!r} has no " + ", ".join(missing),
                    where,
                )


def check_probes(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        if manifest.kind not in LONG_RUNNING:
            continue
        for container, path, is_init in containers(manifest):
            if is_init:
                continue
            name = container.get("name")
            readiness = container.get("readinessProbe")
            liveness = container.get("livenessProbe")
            if not readiness:
                yield _result(
                    READINESS_MISSING,
                    manifest,
                    f"container {name!r} has no readinessProbe",
                    path,
                )
            if not liveness:
                yield _result(
                    LIVENESS_MISSING,
                    manifest,
                    f"container {name!r} has no livenessProbe",
                    path,
                )
            if readiness and liveness and readiness == liveness:
                yield _result(
                    PROBES_IDENTICAL,
                    manifest,
                    f"container {name!r} livenessProbe is identical to its "
                    "readinessProbe",
                    path + ("livenessProbe",),
                )


CONTAINER_ONLY_FIELDS = (
    "privileged",
    "allowPrivilegeEscalation",
    "capabilities",
    "readOnlyRootFilesystem",
    "procMount",
)


def check_security(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        found = pod_spec(manifest)
        if found is None:
            continue
        spec, spec_path = found
        pod_context = spec.get("securityContext") or {}
        if not isinstance(pod_context, dict):
            pod_context = {}
        for key in CONTAINER_ONLY_FIELDS:
            if key in pod_context:
                yield _result(
                    POD_SECURITY_MISPLACED,
                    manifest,
                    f"securityContext.{key} is a container field; at pod level "
                    "it is rejected by the API server (or ignored by older "
                    "clients)",
                    spec_path + ("securityContext", key),
                )
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key) is True:
                yield _result(
                    HOST_NAMESPACE, manifest, f"{key} is true", spec_path + (key,)
                )
        for container, path, _ in containers(manifest):
            yield from _container_security(manifest, container, path, pod_context)


def _container_security(
    manifest: Manifest,
    container: dict[str, Any],
    path: Path,
    pod_context: dict[str, Any],
) -> Iterator[CheckResult]:
    name = container.get("name")
    context = container.get("securityContext") or {}
    if not isinstance(context, dict):
        context = {}
    context_path = (
        path + ("securityContext",) if container.get("securityContext") else path
    )

    def effective(key: str) -> Any:
        return context[key] if key in context else pod_context.get(key)

    non_root = effective("runAsNonRoot")
    user = effective("runAsUser")
    if user == 0 or (non_root is not True and not (isinstance(user, int) and user > 0)):
        reason = "runAsUser is 0" if user == 0 else "runAsNonRoot is not set to true"
        yield _result(
            RUN_AS_NON_ROOT,
            manifest,
            f"container {name!r} may run as root: {reason}",
            context_path,
        )
    if context.get("privileged") is True:
        yield _result(
            PRIVILEGED,
            manifest,
            f"container {name!r} is privileged",
            path + ("securityContext", "privileged"),
        )
    escalation = context.get("allowPrivilegeEscalation")
    if escalation is True:
        yield _result(
            PRIVILEGE_ESCALATION,
            manifest,
            f"container {name!r} sets allowPrivilegeEscalation: true",
            path + ("securityContext", "allowPrivilegeEscalation"),
        )
    elif escalation is not False:
        yield _result(
            PRIVILEGE_ESCALATION,
            manifest,
            f"container {name!r} does not set allowPrivilegeEscalation: false",
            context_path,
            status=WARN,
        )
    capabilities = context.get("capabilities") or {}
    dropped = (
        {str(item).upper() for item in (capabilities.get("drop") or [])}
        if isinstance(capabilities, dict)
        else set()
    )
    added = (
        {str(item).upper() for item in (capabilities.get("add") or [])}
        if isinstance(capabilities, dict)
        else set()
    )
    if not dropped & {"ALL", "NET_RAW"} or "NET_RAW" in added:
        yield _result(
            NET_RAW,
            manifest,
            f"container {name!r} does not drop the NET_RAW capability",
            context_path,
        )
    if context.get("readOnlyRootFilesystem") is not True:
        yield _result(
            ROOT_FS_WRITABLE,
            manifest,
            f"container {name!r} has a writable root filesystem",
            context_path,
        )


def check_env_secrets(objects: ManifestSet) -> Iterator[CheckResult]:
    for manifest in objects.manifests:
        for container, path, _ in containers(manifest):
            for index, item in enumerate(container.get("env") or []):
                if not isinstance(item, dict) or "value" not in item:
                    continue
                found = find_secret(
                    str(item.get("name")), item.get("value"), objects.secret_keys
                )
                if found is not None:
                    yield _result(
                        LITERAL_SECRET,
                        manifest,
                        f"container {container.get('name')!r} env "
                        f"{item.get('name')} holds {found.reason}: "
                        f"{found.masked}",
                        path + ("env", index, "value"),
                    )


def check_disruption_budgets(objects: ManifestSet) -> Iterator[CheckResult]:
    budgets = [m for m in objects.manifests if m.kind == "PodDisruptionBudget"]
    for manifest in objects.manifests:
        if manifest.kind not in ("Deployment", "StatefulSet", "ReplicaSet"):
            continue
        spec = manifest.data.get("spec") or {}
        replicas = spec.get("replicas", 1) if isinstance(spec, dict) else 1
        if not isinstance(replicas, int) or replicas <= 1:
            continue
        labels = template_labels(manifest)
        covered = any(
            same_namespace(budget.namespace, manifest.namespace)
            and selector_matches(
                (budget.data.get("spec") or {}).get("selector"), labels
            )
            for budget in budgets
        )
        if not covered:
            yield _result(
                PDB_MISSING,
                manifest,
                f"{replicas} replicas and no PodDisruptionBudget selects its pods",
                ("spec", "replicas"),
            )


OBJECT_RULES: tuple[
    tuple[tuple[Check, ...], Callable[[ManifestSet], Iterator[CheckResult]]], ...
] = (
    ((API_DEPRECATED,), check_api_versions),
    ((NAME_INVALID,), check_names),
    ((SELECTOR_MISMATCH,), check_selectors),
    ((SERVICE_UNMATCHED,), check_service_selectors),
    ((IMAGE_UNTAGGED, IMAGE_LATEST), check_images),
    ((RESOURCES_MISSING,), check_resources),
    ((READINESS_MISSING, LIVENESS_MISSING, PROBES_IDENTICAL), check_probes),
    (
        (
            RUN_AS_NON_ROOT,
            POD_SECURITY_MISPLACED,
            PRIVILEGED,
            PRIVILEGE_ESCALATION,
            HOST_NAMESPACE,
            NET_RAW,
            ROOT_FS_WRITABLE,
        ),
        check_security,
    ),
    ((LITERAL_SECRET,), check_env_secrets),
    ((PDB_MISSING,), check_disruption_budgets),
)
