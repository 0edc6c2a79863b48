"""Kubernetes rules, rendering of kustomize overlays, and the check_manifests API."""

import importlib.util
import shutil
import textwrap
from pathlib import Path

import pytest

from tpo_tasks.checks.kubernetes import check_manifests, rules
from tpo_tasks.checks.repo_files import RepoScan
from tpo_tasks.checks.results import run_rules
from tpo_tasks.config import load_settings

HAS_KUBECTL = shutil.which("kubectl") is not None
HAS_SCHEMAS = importlib.util.find_spec("kubernetes_validate") is not None
SETTINGS = load_settings({})

GOOD_CONTAINER = """\
        - name: web
          image: nginx:1.27
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {memory: 128Mi}
          readinessProbe:
            httpGet: {path: /ready, port: 80}
          livenessProbe:
            httpGet: {path: /live, port: 80}
            failureThreshold: 6
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""


def deployment(
    name: str = "web",
    labels: str = "app: web",
    selector: str = "app: web",
    container: str = GOOD_CONTAINER,
    pod_extra: str = "",
    replicas: int = 1,
) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n"
        f"    matchLabels:\n      {selector}\n  template:\n    metadata:\n"
        f"      labels:\n        {labels}\n    spec:\n"
        "      securityContext:\n        runAsNonRoot: true\n"
        f"{pod_extra}      containers:\n{container}"
    )


def found(text: str, settings=SETTINGS) -> list[tuple[str, int | None]]:
    return [(item.id, item.line) for item in check_manifests(text, "m.yaml", settings)]


def found_ids(text: str) -> list[str]:
    return [item_id for item_id, _ in found(text)]


def test_clean_deployment_has_no_findings() -> None:
    assert found(deployment()) == []


def test_open_election_booth_four_findings_with_lines() -> None:
    text = deployment(
        name="OpenElectionBooth",
        labels="app: OpenElection",
        selector="app: OpenElectionBooth",
        container=(
            "        - name: web\n          image: nginx\n"
            "          readinessProbe: {httpGet: {path: /, port: 80}}\n"
            "          livenessProbe:\n"
            "            {httpGet: {path: /, port: 80}, failureThreshold: 6}\n"
            "          securityContext:\n            allowPrivilegeEscalation: false\n"
            "            readOnlyRootFilesystem: true\n"
            "            capabilities: {drop: [ALL]}\n"
        ),
    )
    assert found(text) == [
        ("k8s.name-invalid", 4),
        ("k8s.selector-mismatch", 7),
        ("k8s.image-untagged", 19),
        ("k8s.resources-missing", 18),
    ]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ["k8s.image-untagged"]),
        ("nginx:latest", ["k8s.image-latest"]),
        ("nginx@sha256:" + "b" * 64, []),
        ("localhost:5000/nginx", ["k8s.image-untagged"]),
        ("localhost:5000/nginx:1.2", []),
    ],
    ids=["untagged", "latest", "digest", "registry-port", "registry-port-tag"],
)
def test_image_pinning(image: str, expected: list[str]) -> None:
    text = deployment(container=GOOD_CONTAINER.replace("nginx:1.27", image))
    assert found_ids(text) == expected


def test_bare_service_image_passes() -> None:
    settings = load_settings(
        {"tpo": {"deploy": {"services": {"web": {"image": "shop"}}}}}
    )
    text = deployment(container=GOOD_CONTAINER.replace("nginx:1.27", "shop"))
    assert found(text, settings) == []


def test_selector_with_expressions_matching() -> None:
    text = deployment().replace(
        "matchLabels:\n      app: web",
        "matchExpressions:\n      - {key: app, operator: In, values: [web, api]}",
    )
    assert found_ids(text) == []


def test_service_selector_unmatched() -> None:
    service = (
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
        "  selector:\n    app: web\n    tier: front\n  ports: [{port: 80}]\n"
    )
    assert found(deployment() + service) == [("k8s.service-selector-unmatched", 38)]


def test_service_selector_subset_matches() -> None:
    service = (
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
        "  selector:\n    app: web\n  ports: [{port: 80}]\n"
    )
    assert found(deployment(labels="app: web\n        tier: front") + service) == []


def test_missing_probes() -> None:
    container = GOOD_CONTAINER.replace(
        "          readinessProbe:\n            httpGet: {path: /ready, port: 80}\n", ""
    ).replace(
        "          livenessProbe:\n            httpGet: {path: /live, port: 80}\n"
        "            failureThreshold: 6\n",
        "",
    )
    assert found_ids(deployment(container=container)) == [
        "k8s.readiness-missing",
        "k8s.liveness-missing",
    ]


def test_probes_identical_including_thresholds() -> None:
    container = GOOD_CONTAINER.replace(
        "httpGet: {path: /live, port: 80}\n            failureThreshold: 6",
        "httpGet: {path: /ready, port: 80}",
    )
    assert found_ids(deployment(container=container)) == ["k8s.probes-identical"]


def test_job_needs_no_probes() -> None:
    text = textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata: {name: migrate}
        spec:
          template:
            spec:
              restartPolicy: Never
              securityContext: {runAsNonRoot: true}
              containers:
                - name: migrate
                  image: tool:1.0
                  resources: {requests: {cpu: 1m, memory: 1Mi}, limits: {memory: 1Mi}}
                  securityContext:
                    allowPrivilegeEscalation: false
                    readOnlyRootFilesystem: true
                    capabilities: {drop: [ALL]}
        """)
    assert found_ids(text) == []


def test_run_as_non_root_inherited_from_pod() -> None:
    assert "k8s.run-as-non-root" not in found_ids(deployment())


def test_container_overrides_pod_run_as_non_root() -> None:
    container = GOOD_CONTAINER.replace(
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: false\n            runAsNonRoot: false",
    )
    assert found_ids(deployment(container=container)) == ["k8s.run-as-non-root"]


def test_missing_run_as_non_root() -> None:
    text = deployment().replace(
        "      securityContext:\n        runAsNonRoot: true\n", ""
    )
    assert found_ids(text) == ["k8s.run-as-non-root"]


def test_nonzero_run_as_user_counts_as_non_root() -> None:
    text = deployment().replace("runAsNonRoot: true", "runAsUser: 10001")
    assert found_ids(text) == []


def test_pod_level_container_fields_are_errors() -> None:
    text = deployment().replace(
        "runAsNonRoot: true",
        "runAsNonRoot: true\n        privileged: false\n"
        "        readOnlyRootFilesystem: true",
    )
    misplaced = [item for item in found(text) if item[0] != "k8s.schema"]
    assert misplaced == [
        ("k8s.pod-security-misplaced", 17),
        ("k8s.pod-security-misplaced", 18),
    ]


def test_privileged_escalation_host_and_capabilities() -> None:
    container = GOOD_CONTAINER.replace(
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: true\n            privileged: true",
    ).replace("drop: [ALL]", "drop: [CHOWN]")
    text = deployment(
        container=container, pod_extra="      hostNetwork: true\n      hostPID: true\n"
    )
    assert sorted(found_ids(text)) == sorted(
        [
            "k8s.host-namespace",
            "k8s.host-namespace",
            "k8s.privileged",
            "k8s.privilege-escalation",
            "k8s.net-raw",
        ]
    )


def test_unset_escalation_and_writable_root_warn() -> None:
    container = GOOD_CONTAINER.replace(
        "            allowPrivilegeEscalation: false\n", ""
    ).replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    results = check_manifests(deployment(container=container), "m.yaml", SETTINGS)
    assert [(r.id, r.status) for r in results] == [
        ("k8s.privilege-escalation", "warn"),
        ("k8s.root-fs-writable", "warn"),
    ]


def test_literal_secret_in_env_is_masked() -> None:
    container = GOOD_CONTAINER + (
        "          env:\n            - {name: DB_PASSWORD, value: s3cr3t-value}\n"
        "            - {name: LOG_LEVEL, value: info}\n"
        "            - name: API_TOKEN\n              valueFrom:\n"
        "                secretKeyRef: {name: api, key: token}\n"
    )
    results = check_manifests(deployment(container=container), "m.yaml", SETTINGS)
    assert [(r.id, r.line) for r in results] == [("k8s.literal-secret", 33)]
    assert "s3cr3t-value" not in results[0].message


def test_replicas_without_pdb_warn() -> None:
    assert found_ids(deployment(replicas=3)) == ["k8s.pdb-missing"]


def test_replicas_with_pdb_pass() -> None:
    pdb = (
        "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n"
        "  name: web\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n"
        "      app: web\n"
    )
    assert found_ids(deployment(replicas=3) + pdb) == []


@pytest.mark.parametrize(
    ("api", "kind", "status"),
    [
        ("extensions/v1beta1", "Ingress", "fail"),
        ("batch/v1beta1", "CronJob", "fail"),
        ("policy/v1beta1", "PodDisruptionBudget", "fail"),
        ("networking.k8s.io/v1", "Ingress", None),
    ],
    ids=["ingress-extensions", "cronjob-beta", "pdb-beta", "current"],
)
def test_deprecated_api_versions(api: str, kind: str, status: str | None) -> None:
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\nspec: {{}}\n"
    results = [
        r
        for r in check_manifests(text, "m.yaml", SETTINGS)
        if r.id == "k8s.api-deprecated"
    ]
    assert [r.status for r in results] == ([status] if status else [])


def test_deprecated_but_not_removed_warns() -> None:
    settings = load_settings({"tpo": {"checks": {"kubernetes_version": "1.30"}}})
    text = (
        "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\n"
        "metadata:\n  name: x\nspec: {}\n"
    )
    results = [
        r
        for r in check_manifests(text, "m.yaml", settings)
        if r.id == "k8s.api-deprecated"
    ]
    assert [r.status for r in results] == ["warn"]


def test_invalid_yaml_reports_line() -> None:
    results = check_manifests("a: b\n  c: d: e\n", "bad.yaml", SETTINGS)
    assert [(r.id, r.file, r.line) for r in results] == [
        ("k8s.yaml-invalid", "bad.yaml", 2)
    ]


@pytest.mark.skipif(not HAS_SCHEMAS, reason="kubernetes-validate is not installed")
def test_schema_catches_misspelt_resources() -> None:
    text = deployment().replace("          resources:", "          resource:")
    results = [
        r for r in check_manifests(text, "m.yaml", SETTINGS) if r.id == "k8s.schema"
    ]
    assert [(r.line, "resource" in r.message) for r in results] == [(20, True)]


@pytest.mark.skipif(not HAS_SCHEMAS, reason="kubernetes-validate is not installed")
def test_custom_resources_are_unvalidated_not_passed() -> None:
    text = (
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: c\n"
        "spec: {secretName: c}\n---\napiVersion: apps.example.com/v1\n"
        "kind: Deployment\nmetadata:\n  name: d\n"
    )
    results = check_manifests(text, "m.yaml", SETTINGS)
    unvalidated = [r for r in results if r.id == "k8s.schema-unvalidated"]
    assert len(unvalidated) == 1
    assert unvalidated[0].message.startswith("2 custom resource(s)")


# -- the repository: kustomize trees ------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_repo(root: Path, settings=SETTINGS) -> list:
    return run_rules(rules(RepoScan(root), settings))


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_overlay_findings_point_at_source_files(tmp_path: Path) -> None:
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: web\n"
        "          image: nginx:latest\n"
    )
    write(
        tmp_path,
        {
            "kube/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "kube/base/deployment.yaml": deployment(),
            "kube/overlays/dev/kustomization.yaml": (
                "resources:\n  - ../../base\nnamePrefix: dev-\n"
            ),
            "kube/overlays/prod/kustomization.yaml": (
                "resources:\n  - ../../base\npatches:\n  - path: image.yaml\n"
            ),
            "kube/overlays/prod/image.yaml": patch,
        },
    )
    results = [r for r in run_repo(tmp_path) if r.status not in ("pass", "skip")]
    assert [(r.id, r.file, r.line) for r in results] == [
        ("k8s.image-latest", "kube/overlays/prod/image.yaml", 10)
    ]


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_base_finding_reported_once_for_all_overlays(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "kube/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "kube/base/deployment.yaml": deployment(replicas=2),
            "kube/overlays/a/kustomization.yaml": "resources:\n  - ../../base\n",
            "kube/overlays/b/kustomization.yaml": "resources:\n  - ../../base\n",
        },
    )
    results = [r for r in run_repo(tmp_path) if r.id == "k8s.pdb-missing"]
    assert len(results) == 1
    assert (results[0].file, results[0].line) == ("kube/base/deployment.yaml", 6)
    assert "overlays: kube/overlays/a, kube/overlays/b" in results[0].message


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_broken_overlay_fails_render(tmp_path: Path) -> None:
    write(tmp_path, {"kube/kustomization.yaml": "resources:\n  - missing.yaml\n"})
    results = [r for r in run_repo(tmp_path) if r.id == "k8s.render"]
    assert [(r.status, r.file) for r in results] == [("fail", "kube")]


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_common_labels_warns_with_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "k/kustomization.yaml": (
                "resources:\n  - d.yaml\ncommonLabels:\n  team: a\n"
            ),
            "k/d.yaml": deployment(),
        },
    )
    results = [r for r in run_repo(tmp_path) if r.id == "k8s.common-labels"]
    assert [(r.status, r.file, r.line) for r in results] == [
        ("warn", "k/kustomization.yaml", 3)
    ]


def test_plain_manifests_without_kustomization(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "deploy/web.yaml": deployment(
                container=GOOD_CONTAINER.replace("nginx:1.27", "nginx")
            )
        },
    )
    results = [r for r in run_repo(tmp_path) if r.status == "fail"]
    assert [(r.id, r.file, r.line) for r in results] == [
        ("k8s.image-untagged", "deploy/web.yaml", 19)
    ]


def test_invalid_manifest_file_reported(tmp_path: Path) -> None:
    write(tmp_path, {"deploy/web.yaml": "apiVersion: v1\nkind: Service\n  bad: [\n"})
    results = [r for r in run_repo(tmp_path) if r.id == "k8s.yaml-invalid"]
    assert [(r.status, r.file) for r in results] == [("fail", "deploy/web.yaml")]


def test_no_manifests_skips_group(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "hi\n", "mkdocs.yml": "site_name: x\n"})
    statuses = {r.status for r in run_repo(tmp_path)}
    assert statuses == {"skip"}


def test_container_name_must_be_dns_label() -> None:
    text = deployment(container=GOOD_CONTAINER.replace("- name: web", "- name: Web_1"))
    assert found(text) == [("k8s.name-invalid", 18)]


def test_dotted_names_allowed_where_subdomains_are() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app.config-v1\n"
        "data: {a: b}\n"
    )
    assert found(text) == []


def test_service_name_with_dot_is_invalid() -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web.api\nspec:\n"
        "  ports: [{port: 80}]\n"
    )
    assert found(text) == [("k8s.name-invalid", 4)]


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_remote_base_is_not_fetched(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "kube/base/kustomization.yaml": (
                "resources:\n  - deployment.yaml\n"
                "  - https://github.com/example/manifests//web?ref=v1\n"
            ),
            "kube/base/deployment.yaml": deployment(),
            "kube/overlays/dev/kustomization.yaml": "resources:\n  - ../../base\n",
            "local/kustomization.yaml": "resources:\n  - d.yaml\n",
            "local/d.yaml": deployment(name="other"),
        },
    )
    results = [r for r in run_repo(tmp_path) if r.id == "k8s.render"]
    assert [(r.status, r.file) for r in results] == [("warn", "kube/overlays/dev")]
    assert "remote resource https://github.com/example" in results[0].message
