"""Kubernetes checks: render each kustomize overlay, then check the rendered objects.

Overlays are rendered with ``kubectl kustomize`` and an empty kubeconfig, so no
cluster is contacted. Folders of plain manifests (no kustomization) are checked as
they are. Each finding on a rendered object is traced back to the source file that
defines the field (a base resource or an overlay's patch) when one can be found.
"""

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .k8s_rules import OBJECT_CHECKS, OBJECT_RULES, Manifest, ManifestSet
from .results import ERROR, PASS, SKIP, WARN, CheckResult, Rule, register, run_rules
from .yaml_lines import Document, YamlSyntaxError, parse_documents

YAML_INVALID = register(
    "k8s.yaml-invalid",
    "a Kubernetes YAML file that does not parse",
    "fix the YAML syntax at the reported line",
)
RENDER = register(
    "k8s.render",
    "a kustomize overlay that kubectl kustomize cannot render",
    "run kubectl kustomize on the folder and fix the error it prints",
)
SCHEMA = register(
    "k8s.schema",
    "an object that fails strict schema validation, such as an unknown field "
    "(resource: instead of resources:) or a wrong type",
    "fix the field named in the message; the schema is that of "
    "tpo.checks.kubernetes_version",
)
SCHEMA_UNVALIDATED = register(
    "k8s.schema-unvalidated",
    "custom resources that no shipped schema describes, so they were not validated",
    "review these objects by hand or validate them against their CRDs",
    status=WARN,
)
COMMON_LABELS = register(
    "k8s.common-labels",
    "commonLabels in a kustomization: it also rewrites spec.selector, which is "
    "immutable, so changing a label later breaks the next apply",
    "use labels: [{pairs: {...}, includeSelectors: false}] instead of commonLabels",
    status=WARN,
)

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def service_images(settings: Any) -> frozenset[str]:
    """Return the image names the deploy pins by digest: each service's image."""
    names = set()
    registries = {settings.deploy.registry} | {
        env.registry for env in settings.deploy.environments.values()
    }
    for service in settings.deploy.services.values():
        names.add(service.image)
        for registry in registries:
            if registry:
                names.add(f"{registry.rstrip('/')}/{service.image}")
    return frozenset(names)


def manifest_set(manifests: list[Manifest], settings: Any) -> ManifestSet:
    return ManifestSet(
        manifests=manifests,
        kubernetes_version=settings.checks.kubernetes_version,
        service_images=service_images(settings),
        secret_keys=settings.checks.secret_keys,
    )


def objects_of(
    documents: Iterable[Document], source: str, locator: Any = None
) -> list[Manifest]:
    """Return the documents that are Kubernetes objects (apiVersion and kind)."""
    found = []
    for doc in documents:
        if (
            isinstance(doc.data, dict)
            and doc.data.get("apiVersion")
            and doc.data.get("kind")
        ):
            if doc.data.get("kind") == "List" and isinstance(
                doc.data.get("items"), list
            ):
                for index, item in enumerate(doc.data["items"]):
                    if isinstance(item, dict):
                        prefix = ("items", index)
                        lines = {
                            path[2:]: line
                            for path, line in doc.lines.items()
                            if path[:2] == prefix
                        }
                        found.append(
                            Manifest(
                                Document(item, lines, doc.line(*prefix), source),
                                source,
                                locator,
                            )
                        )
                continue
            found.append(Manifest(doc, source, locator))
    return found


def object_rules(
    sets: Callable[[], list[tuple[ManifestSet, str | None]]],
) -> list[Rule]:
    """Return one runner Rule per object rule, applied to every manifest set.

    A finding reported identically by several overlays (a base object rendered in
    each) is kept once, naming the overlays.
    """
    rules = []
    for checks, function in OBJECT_RULES:

        def run(function: Any = function) -> Iterator[CheckResult]:
            merged: dict[tuple[Any, ...], tuple[CheckResult, list[str]]] = {}
            for objects, label in sets():
                for item in function(objects):
                    key = (item.id, item.status, item.file, item.line, item.message)
                    if key not in merged:
                        merged[key] = (item, [])
                    if label:
                        merged[key][1].append(label)
            for item, labels in merged.values():
                if len(labels) > 1:
                    item.message += f" (overlays: {', '.join(labels)})"
                elif labels and item.file and not item.file.startswith(labels[0]):
                    item.message += f" (overlay {labels[0]})"
                yield item

        rules.append(Rule(checks, run, "no findings in the Kubernetes objects"))
    return rules


def schema_results(objects: ManifestSet) -> Iterator[CheckResult]:
    """Validate each object strictly; count custom resources as unvalidated."""
    from .k8s_schema import SchemaUnavailable, schema_errors

    unvalidated: list[Manifest] = []
    for manifest in objects.manifests:
        try:
            errors = schema_errors(manifest.data, objects.kubernetes_version)
        except SchemaUnavailable as exc:
            yield SCHEMA.skipped(str(exc))
            yield SCHEMA_UNVALIDATED.skipped(str(exc))
            return
        if errors is None:
            unvalidated.append(manifest)
            continue
        for path, message in errors:
            file, line = manifest.where(*path)
            yield SCHEMA.result(f"{manifest.label}: {message}", file=file, line=line)
    if unvalidated:
        kinds = sorted({f"{m.kind} ({m.api_version})" for m in unvalidated})
        file, line = unvalidated[0].where()
        yield SCHEMA_UNVALIDATED.result(
            f"{len(unvalidated)} custom resource(s) not validated: {', '.join(kinds)}",
            file=file,
            line=line,
        )


def check_manifests(text: str, source: str, settings: Any) -> list[CheckResult]:
    """Check the objects in rendered manifest ``text``; return the findings only.

    ``source`` names the text in messages (an overlay folder or a file). Passing
    checks are left out, so an empty list means nothing to report; a result with
    status ``fail`` or ``error`` should stop a deploy. Strict schema validation runs
    when kubernetes-validate is installed. A bare image name equal to a configured
    ``tpo.deploy.services`` image passes, since the deploy pins it by digest.
    """
    try:
        documents = parse_documents(text, source)
    except YamlSyntaxError as exc:
        return [
            YAML_INVALID.result(
                f"invalid YAML: {exc.message}", file=source, line=exc.line
            )
        ]
    objects = manifest_set(objects_of(documents, source), settings)
    rules = object_rules(lambda: [(objects, None)])
    rules.append(Rule((SCHEMA, SCHEMA_UNVALIDATED), lambda: schema_results(objects)))
    return [item for item in run_rules(rules) if item.status not in (PASS, SKIP)]


# -- the repository: kustomizations, plain manifests, rendering ----------------------


@dataclass
class KubeLayout:
    """The Kubernetes files of a repository, sorted by how they are checked."""

    kustomizations: list[str] = field(default_factory=list)  # folders
    roots: list[str] = field(default_factory=list)  # folders rendered on their own
    kustomize_files: list[str] = field(default_factory=list)  # YAML inside those trees
    plain_files: list[str] = field(default_factory=list)  # manifests with no kustomize
    # Roots that include a remote resource, with the first such URL: rendering them
    # would fetch over the network, so they are reported instead.
    remote_roots: dict[str, str] = field(default_factory=dict)


REMOTE_PREFIXES = ("github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::")


def is_remote(entry: str) -> bool:
    """Return whether a kustomization entry names a remote resource."""
    return "://" in entry or entry.startswith(REMOTE_PREFIXES)


def _is_candidate_yaml(path: str) -> bool:
    pure = PurePosixPath(path)
    if pure.suffix not in (".yaml", ".yml") and pure.name != "Kustomization":
        return False
    if path.startswith(".github/") or pure.name.startswith(
        ("compose", "docker-compose")
    ):
        return False
    return not any(part in ("templates", "charts") for part in pure.parts[:-1])


def _normalize(folder: str, relative: str) -> str:
    joined = os.path.normpath(os.path.join(folder, relative))
    return "" if joined == "." else joined.replace(os.sep, "/")


def find_layout(scan: Any) -> KubeLayout:
    """Classify the repository's YAML files into kustomize trees and plain manifests."""
    layout = KubeLayout()
    chart_dirs = {
        str(PurePosixPath(p).parent)
        for p in scan.files
        if PurePosixPath(p).name == "Chart.yaml"
    }
    referenced: set[str] = set()
    edges: dict[str, set[str]] = {}
    remote: dict[str, str] = {}
    for path in scan.files:
        if PurePosixPath(path).name not in KUSTOMIZATION_NAMES:
            continue
        folder = str(PurePosixPath(path).parent)
        folder = "" if folder == "." else folder
        layout.kustomizations.append(folder)
        _read_kustomization(scan, path, folder, edges, remote)
        referenced.update(edges.get(folder, ()))
    layout.roots = sorted(
        folder for folder in layout.kustomizations if folder not in referenced
    )
    scanned = set(layout.kustomizations)
    for root in layout.roots:
        seen: set[str] = set()
        pending = [root]
        while pending:
            folder = pending.pop()
            if folder in seen:
                continue
            seen.add(folder)
            if folder not in scanned:
                # A base that is git-ignored or outside the repository is still
                # rendered, so its own remote entries count too.
                _read_unscanned_kustomization(scan, folder, edges, remote)
            if folder in remote:
                layout.remote_roots[root] = remote[folder]
                break
            pending.extend(edges.get(folder, ()))
    trees = sorted(layout.kustomizations)
    for path in scan.files:
        if not _is_candidate_yaml(path):
            continue
        if any(path.startswith(chart + "/") for chart in chart_dirs):
            continue
        folder = str(PurePosixPath(path).parent)
        folder = "" if folder == "." else folder
        if any(
            folder == tree or folder.startswith(tree + "/") if tree else True
            for tree in trees
        ):
            layout.kustomize_files.append(path)
        elif _looks_like_manifest(scan, path):
            layout.plain_files.append(path)
    return layout


# Kustomization fields whose entries kustomize loads as files or folders. An entry
# that is a URL is fetched by kubectl kustomize, so the overlay is not rendered.
PATH_LIST_FIELDS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
PATH_ITEM_FIELDS = ("patches", "patchesJson6902", "replacements")
GENERATOR_FIELDS = ("configMapGenerator", "secretGenerator")


def loaded_paths(data: dict[str, Any]) -> list[str]:
    """Return every file or folder entry of a kustomization, URLs included."""
    entries: list[Any] = []
    for key in PATH_LIST_FIELDS:
        value = data.get(key)
        if isinstance(value, list):
            entries.extend(value)
    for key in PATH_ITEM_FIELDS:
        for item in data.get(key) or []:
            if isinstance(item, dict):
                entries.append(item.get("path"))
    openapi = data.get("openapi")
    if isinstance(openapi, dict):
        entries.append(openapi.get("path"))
    for key in GENERATOR_FIELDS:
        for generator in data.get(key) or []:
            if not isinstance(generator, dict):
                continue
            for field_name in ("files", "envs"):
                for entry in generator.get(field_name) or []:
                    if isinstance(entry, str):
                        entries.append(entry.rpartition("=")[2])
            entries.append(generator.get("env"))
    # An inline patch (several lines of YAML) is not a path.
    return [e for e in entries if isinstance(e, str) and "\n" not in e]


def _read_kustomization(
    scan: Any,
    path: str,
    folder: str,
    edges: dict[str, set[str]],
    remote: dict[str, str],
) -> None:
    """Record the local folders and the first URL a kustomization file names."""
    documents = scan.yaml(path)
    if isinstance(documents, YamlSyntaxError) or not documents:
        return
    data = documents[0].data if isinstance(documents[0].data, dict) else {}
    for entry in loaded_paths(data):
        if is_remote(entry):
            remote.setdefault(folder, entry)
    for key in ("resources", "bases", "components"):
        for entry in data.get(key) or []:
            if isinstance(entry, str) and not is_remote(entry):
                edges.setdefault(folder, set()).add(_normalize(folder, entry))


def _read_unscanned_kustomization(
    scan: Any, folder: str, edges: dict[str, set[str]], remote: dict[str, str]
) -> None:
    for name in KUSTOMIZATION_NAMES:
        path = f"{folder}/{name}" if folder else name
        if scan.exists(path) and not scan.is_dir(path):
            _read_kustomization(scan, path, folder, edges, remote)
            return


def _looks_like_manifest(scan: Any, path: str) -> bool:
    text = scan.text(path)
    if "apiVersion" not in text or "kind" not in text:
        return False
    documents = scan.yaml(path)
    if isinstance(documents, YamlSyntaxError):
        # Report it when the text clearly meant to be a manifest.
        return "\napiVersion:" in "\n" + text or "\nkind:" in "\n" + text
    return bool(objects_of(documents, path))


@dataclass
class Render:
    """The output of ``kubectl kustomize`` on one folder."""

    folder: str
    text: str | None
    error: str | None


def render_overlay(root: Any, folder: str, kubeconfig: str) -> Render:
    """Render one kustomization with an empty kubeconfig so no cluster is contacted."""
    from ..command import run

    target = os.path.join(str(root), folder) if folder else str(root)
    result = run(
        ["kubectl", "kustomize", target],
        env={"KUBECONFIG": kubeconfig},
        check=False,
        timeout=120,
    )
    if result.ok:
        return Render(folder, result.stdout, None)
    lines = (result.stderr or result.stdout).strip().splitlines()
    return Render(
        folder, None, lines[-1] if lines else f"exit status {result.returncode}"
    )


def render_all(root: Any, folders: list[str]) -> list[Render]:
    """Render every folder, two at a time, with one shared empty kubeconfig."""
    if not folders:
        return []
    with tempfile.TemporaryDirectory(prefix="tpo-kube-") as tmp:
        kubeconfig = os.path.join(tmp, "config")
        with open(kubeconfig, "w", encoding="utf-8") as handle:
            handle.write(
                "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"
            )
        with ThreadPoolExecutor(max_workers=min(4, len(folders))) as pool:
            return list(
                pool.map(lambda f: render_overlay(root, f, kubeconfig), folders)
            )


class SourceIndex:
    """Finds the source document that defines a field of a rendered object."""

    def __init__(self, scan: Any, files: list[str], roots: list[str]) -> None:
        self.roots = [root for root in roots if root]
        self.by_kind: dict[str, list[tuple[str, Document]]] = {}
        for path in files:
            documents = scan.yaml(path)
            if isinstance(documents, YamlSyntaxError):
                continue
            for doc in documents:
                data = doc.data
                if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
                    self.by_kind.setdefault(str(data.get("kind")), []).append(
                        (path, doc)
                    )

    def locate(self, manifest: Manifest, path: tuple[Any, ...]) -> tuple[str, int]:
        best: tuple[int, int, str, Document] | None = None
        rendered = manifest.source.removesuffix(" (rendered)")
        for order, (file, doc) in enumerate(self.by_kind.get(manifest.kind, [])):
            if any(
                file.startswith(root + "/") and root != rendered for root in self.roots
            ):
                continue  # a patch of another overlay
            name = str(doc.data["metadata"].get("name") or "")
            if not name or name not in manifest.name:
                continue
            depth = len(path)
            while depth and path[:depth] not in doc.lines:
                depth -= 1
            rank = (depth, order)
            if best is None or rank > best[:2]:
                best = (depth, order, file, doc)
        if best is None:
            return manifest.source, manifest.doc.line(*path)
        doc = best[3]
        return best[2], doc.line(*path[: best[0]]) if best[0] else doc.start_line


def _render_sets(scan: Any, settings: Any, layout: KubeLayout) -> dict[str, Any]:
    """Render the overlays and build the manifest sets once per run."""

    def build() -> dict[str, Any]:
        local_roots = [root for root in layout.roots if root not in layout.remote_roots]
        renders = render_all(scan.root, local_roots)
        index = SourceIndex(scan, layout.kustomize_files, layout.roots)
        sets: list[tuple[ManifestSet, str | None]] = []
        for item in renders:
            if item.text is None:
                continue
            label = item.folder or "."
            try:
                documents = parse_documents(item.text, label)
            except YamlSyntaxError as exc:
                # k8s.render reports it: kustomize printed text that is not YAML.
                item.error = f"the rendered output is not valid YAML: {exc.message}"
                continue
            sets.append(
                (
                    manifest_set(
                        objects_of(documents, f"{label} (rendered)", index.locate),
                        settings,
                    ),
                    label,
                )
            )
        plain: list[Manifest] = []
        for path in layout.plain_files:
            documents = scan.yaml(path)
            if not isinstance(documents, YamlSyntaxError):
                plain.extend(objects_of(documents, path))
        if plain:
            sets.append((manifest_set(plain, settings), None))
        return {"renders": renders, "sets": sets}

    return scan.cached("kubernetes-sets", build)


def rules(scan: Any, settings: Any) -> list[Rule]:
    """Return the runner rules of the Kubernetes group for the scanned repository."""
    layout = scan.cached("kubernetes-layout", lambda: find_layout(scan))
    all_checks = (
        YAML_INVALID,
        RENDER,
        COMMON_LABELS,
        SCHEMA,
        SCHEMA_UNVALIDATED,
        *OBJECT_CHECKS,
    )
    if not layout.kustomizations and not layout.plain_files:
        reason = "no Kubernetes manifests or kustomizations found"
        return [
            Rule((check,), lambda check=check: [check.skipped(reason)])
            for check in all_checks
        ]

    def yaml_invalid() -> Iterator[CheckResult]:
        for path in layout.kustomize_files + layout.plain_files:
            documents = scan.yaml(path)
            if isinstance(documents, YamlSyntaxError):
                yield YAML_INVALID.result(
                    f"invalid YAML: {documents.message}", file=path, line=documents.line
                )

    def render() -> Iterator[CheckResult]:
        from ..command import which

        if not layout.roots:
            yield RENDER.skipped("no kustomization to render")
            return
        if which("kubectl") is None:
            yield RENDER.result(
                "kubectl not found on PATH, so no overlay was rendered or checked",
                status=ERROR,
                hint="install kubectl 1.27 or newer",
            )
            return
        for root, url in sorted(layout.remote_roots.items()):
            yield RENDER.result(
                f"{root or '.'} includes the remote resource {url}, so it was not "
                "rendered or checked (predeploy runs offline)",
                file=root or ".",
                status=WARN,
                hint="vendor the remote resource into the repository, or check this "
                "overlay where the network is allowed",
            )
        for item in _render_sets(scan, settings, layout)["renders"]:
            if item.error is not None:
                folder = item.folder or "."
                yield RENDER.result(f"{folder}: {item.error}", file=folder)

    def common_labels() -> Iterator[CheckResult]:
        for folder in layout.kustomizations:
            for name in KUSTOMIZATION_NAMES:
                path = f"{folder}/{name}" if folder else name
                if path not in scan.file_set:
                    continue
                documents = scan.yaml(path)
                if isinstance(documents, YamlSyntaxError) or not documents:
                    continue
                doc = documents[0]
                if isinstance(doc.data, dict) and doc.data.get("commonLabels"):
                    yield COMMON_LABELS.result(
                        "commonLabels also changes spec.selector, which is immutable "
                        "once applied",
                        file=path,
                        line=doc.line("commonLabels"),
                    )

    def sets() -> list[tuple[ManifestSet, str | None]]:
        from ..command import which

        if layout.roots and which("kubectl") is None:
            # k8s.render reports the missing kubectl; plain manifests are still checked.
            return _render_sets_plain(scan, settings, layout)
        return _render_sets(scan, settings, layout)["sets"]

    def schema() -> Iterator[CheckResult]:
        merged: dict[tuple[Any, ...], CheckResult] = {}
        skipped: list[CheckResult] = []
        unvalidated: list[CheckResult] = []
        for objects, _ in sets():
            for item in schema_results(objects):
                if item.status == SKIP:
                    skipped.append(item)
                elif item.id == SCHEMA_UNVALIDATED.id:
                    unvalidated.append(item)
                else:
                    merged.setdefault((item.file, item.line, item.message), item)
        if skipped:
            yield from skipped[:2]
            return
        yield from merged.values()
        yield from unvalidated

    result_rules = [
        Rule((YAML_INVALID,), yaml_invalid, "every Kubernetes YAML file parses"),
        Rule((RENDER,), render, "every overlay renders"),
        Rule((COMMON_LABELS,), common_labels, "no kustomization uses commonLabels"),
        Rule(
            (SCHEMA, SCHEMA_UNVALIDATED),
            schema,
            "every object matches the Kubernetes schema",
        ),
    ]
    result_rules.extend(object_rules(sets))
    return result_rules


def _render_sets_plain(
    scan: Any, settings: Any, layout: KubeLayout
) -> list[tuple[ManifestSet, str | None]]:
    plain: list[Manifest] = []
    for path in layout.plain_files:
        documents = scan.yaml(path)
        if not isinstance(documents, YamlSyntaxError):
            plain.extend(objects_of(documents, path))
    return [(manifest_set(plain, settings), None)] if plain else []
