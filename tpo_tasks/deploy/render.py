"""Render an overlay with images pinned by digest, and check what would be applied.

The team's overlay is never edited: a kustomization generated in a temporary
folder names the overlay as its only resource and sets ``images`` and
``namespace``. ``kubectl kustomize`` runs with an empty kubeconfig, so rendering
contacts no cluster (the kubectl dispatcher asks the current context's server for
its version otherwise).
"""

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..command import require
from ..errors import ConfigError, ExternalError, TaskFailed
from .images import split_pinned

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_EMPTY_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n"
_RESERVED = {("ConfigMap", "tpo-deploy-history"), ("Lease", "tpo-deploy-lock")}


@dataclass(frozen=True)
class Rendered:
    """The exact manifest set that a deploy applies."""

    text: str
    documents: tuple[dict[str, Any], ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def workloads(self) -> list[tuple[str, str]]:
        """Return (kind, name) of each Deployment, StatefulSet and DaemonSet."""
        return [(d["kind"], d["metadata"]["name"]) for d in self.documents
                if d.get("kind") in WORKLOAD_KINDS]


def generated_kustomization(overlay: Path, folder: Path, namespace: str,
                            images: Mapping[str, str]) -> dict[str, Any]:
    """Return the kustomization that pins ``images`` (bare name -> repo@digest)."""
    entries = []
    for name, reference in sorted(images.items()):
        repository, digest = split_pinned(reference)
        entries.append({"name": name, "newName": repository, "digest": digest})
    # kustomize accepts only relative paths to a base folder.
    relative = os.path.relpath(overlay.resolve(), folder.resolve())
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [relative],
        "namespace": namespace,
        "images": entries,
    }


def parse_documents(text: str) -> tuple[dict[str, Any], ...]:
    """Return the YAML documents of ``text`` that are Kubernetes objects.

    Scalars stay strings (the base loader resolves no types, which is faster);
    the deploy reads only kinds, names, namespaces and images from them.
    """
    import yaml

    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    documents = yaml.load_all(text, Loader=loader)  # noqa: S506 (builds no objects)
    return tuple(d for d in documents if isinstance(d, dict) and d.get("kind"))


def _kustomize(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl kustomize`` on ``folder`` with its empty kubeconfig.

    subprocess, not the shared sh-based runner: sh's line readers add about 30 ms
    on 200 manifests (measured with bench/deploy_render.py), a tenth of the render.
    """
    require("kubectl")
    env = {**os.environ, "KUBECONFIG": str(folder / "kubeconfig")}
    try:
        return subprocess.run(["kubectl", "kustomize", str(folder)], env=env,
                              capture_output=True, text=True, timeout=120,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ExternalError("kubectl kustomize timed out after 120 s") from None


def render_overlay(overlay: Path, namespace: str, images: Mapping[str, str], *,
                   key: str = "overlay") -> Rendered:
    """Render ``overlay`` with ``images`` pinned; raise with a fix on any error."""
    import yaml

    if not (overlay / "kustomization.yaml").is_file() and not (
            overlay / "kustomization.yml").is_file() and not (
            overlay / "Kustomization").is_file():
        raise ConfigError(f"overlay {overlay} has no kustomization.yaml; create it or "
                          f"set {key}")
    with tempfile.TemporaryDirectory(prefix="tpo-render-") as tmp:
        folder = Path(tmp)
        kustomization = generated_kustomization(overlay, folder, namespace, images)
        (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        (folder / "kubeconfig").write_text(_EMPTY_KUBECONFIG)
        result = _kustomize(folder)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        detail = lines[-1] if lines else f"exit status {result.returncode}"
        raise TaskFailed(f"rendering {overlay} failed: {detail}; fix the overlay and "
                         "check it with inv deploy.render")
    try:
        documents = parse_documents(result.stdout)
    except yaml.YAMLError as exc:
        raise TaskFailed(f"rendered {overlay} is not valid YAML ({exc})") from None
    return Rendered(result.stdout, documents)


def _containers(document: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    spec = document.get("spec") or {}
    if document.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    if document.get("kind") != "Pod":
        spec = ((spec.get("template") or {}).get("spec") or {})
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if isinstance(container, Mapping):
                yield container


def _bare_name(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def deploy_rule_findings(rendered: Rendered, images: Mapping[str, str],
                         namespace: str) -> list[str]:
    """Return what breaks the deploy's own rules in the rendered manifests.

    Every container naming a service image must use the pinned reference, no
    object may sit in another namespace, and the history ConfigMap and lock
    Lease names stay reserved for the tool.
    """
    findings = []
    expected = set(images.values())
    for document in rendered.documents:
        kind = document.get("kind", "?")
        name = (document.get("metadata") or {}).get("name", "?")
        where = f"{kind}/{name}"
        if (kind, name) in _RESERVED:
            findings.append(f"{where} uses a name reserved for deploy history or lock")
        object_namespace = (document.get("metadata") or {}).get("namespace")
        if object_namespace and object_namespace != namespace:
            findings.append(f"{where} is in namespace {object_namespace}, "
                            f"not {namespace}")
        for container in _containers(document):
            image = str(container.get("image", ""))
            if _bare_name(image) in images and image not in expected:
                findings.append(f"{where} container {container.get('name')} uses "
                                f"{image}, not pinned by digest")
    return findings


def manifest_check_results(text: str, source: str, settings: Any) -> list[Any]:
    """Run the checks namespace's manifest checks; [] when that module is absent."""
    try:
        from ..checks.kubernetes import check_manifests
    except ImportError:
        return []
    return list(check_manifests(text, source, settings))


def blocking(results: Iterable[Any]) -> list[Any]:
    """Return the results that stop a deploy (status fail or error)."""
    return [r for r in results if getattr(r, "status", None) in ("fail", "error")]
