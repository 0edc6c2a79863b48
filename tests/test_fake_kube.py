"""The real kubectl works against the loopback fake Kubernetes API server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from support.fake_kube import kubectl
from support.services import (
    DockerServices,
    build_busybox_image,
    push_image,
    registry_digest_resolver,
)

from tpo_tasks.testing import kube_merge
from tpo_tasks.testing.fake_kube import (
    FakeClusters,
    FakeKube,
    Fault,
    InjectedError,
    write_kubeconfig,
)

NAMESPACE = "tally"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def deployment(name: str = "web", digest: str = DIGEST_A, replicas: int = 2) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": f"127.0.0.1:5000/team/{name}@{digest}",
                            "ports": [{"containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def app_manifests(digest: str = DIGEST_A, log_level: str = "info") -> list[dict]:
    return [
        deployment(digest=digest),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-config", "namespace": NAMESPACE},
            "data": {"LOG_LEVEL": log_level},
        },
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "tpo-deploy-lock", "namespace": NAMESPACE},
            "spec": {"holderIdentity": "ci@runner-1", "leaseDurationSeconds": 900},
        },
    ]


def write_manifests(path: Path, documents: list[dict]) -> Path:
    path.write_text(yaml.safe_dump_all(documents))
    return path


def apply(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return kubectl(
        "apply", "--server-side", "--field-manager=tpo-tasks", "-f", str(path), *extra
    )


def get_json(*args: str) -> dict:
    completed = kubectl("get", *args, "-o", "json")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


# -------------------------------------------------------------------------------------
# apply, get, rollout status
# -------------------------------------------------------------------------------------
def test_server_side_apply_creates_objects(fake_kube: FakeKube, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "app.yaml", app_manifests())

    applied = apply(manifests)

    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/web serverside-applied" in applied.stdout
    assert (
        "lease.coordination.k8s.io/tpo-deploy-lock serverside-applied" in applied.stdout
    )
    patches = fake_kube.requests_matching(method="PATCH")
    assert len(patches) == 4
    assert {p.param("fieldManager") for p in patches} == {"tpo-tasks"}
    assert {p.headers["content-type"] for p in patches} == {
        "application/apply-patch+yaml"
    }


def test_get_returns_server_fields(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    obj = get_json("-n", NAMESPACE, "deployment/web", "--show-managed-fields")

    metadata = obj["metadata"]
    assert metadata["generation"] == 1
    assert metadata["uid"]
    assert metadata["creationTimestamp"].endswith("Z")
    assert [m["manager"] for m in metadata["managedFields"]] == ["tpo-tasks"]
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"


def test_reapply_unchanged_keeps_version(fake_kube: FakeKube, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "app.yaml", app_manifests())
    apply(manifests)
    before = get_json("-n", NAMESPACE, "configmap/web-config")

    apply(manifests)

    after = get_json("-n", NAMESPACE, "configmap/web-config")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_spec_change_bumps_generation(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "a.yaml", app_manifests(DIGEST_A)))

    apply(write_manifests(tmp_path / "b.yaml", app_manifests(DIGEST_B)))

    obj = get_json("-n", NAMESPACE, "deployment/web")
    assert obj["metadata"]["generation"] == 2
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith(DIGEST_B)


def test_rollout_status_succeeds(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s"
    )

    assert status.returncode == 0, status.stderr
    assert 'deployment "web" successfully rolled out' in status.stdout
    assert fake_kube.requests_matching(method="GET", path_prefix="/apis/apps/v1")
    watches = [r for r in fake_kube.requests if r.param("watch") == "true"]
    assert watches


def test_pods_report_image_digest(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests(DIGEST_B)))
    kubectl("rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s")

    pods = get_json("-n", NAMESPACE, "pods", "-l", "app=web")["items"]

    assert len(pods) == 2
    image_ids = {p["status"]["containerStatuses"][0]["imageID"] for p in pods}
    assert image_ids == {f"127.0.0.1:5000/team/web@{DIGEST_B}"}
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert all(
        p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods
    )


def test_new_image_replaces_old_pods(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "a.yaml", app_manifests(DIGEST_A)))
    kubectl("rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s")
    apply(write_manifests(tmp_path / "b.yaml", app_manifests(DIGEST_B)))

    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s"
    )

    assert status.returncode == 0, status.stderr
    pods = get_json("-n", NAMESPACE, "pods")["items"]
    images = {p["spec"]["containers"][0]["image"] for p in pods}
    assert images == {f"127.0.0.1:5000/team/web@{DIGEST_B}"}


@pytest.mark.parametrize(
    "kind", ["StatefulSet", "DaemonSet"], ids=["statefulset", "daemonset"]
)
def test_other_workloads_roll_out(
    fake_kube: FakeKube, tmp_path: Path, kind: str
) -> None:
    workload = deployment("db")
    workload["kind"] = kind
    if kind == "DaemonSet":
        del workload["spec"]["replicas"]
    else:
        workload["spec"]["serviceName"] = "db"
    apply(write_manifests(tmp_path / "db.yaml", [workload]))

    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, f"{kind.lower()}/db", "--timeout=20s"
    )

    assert status.returncode == 0, status.stderr


def test_pods_report_registry_digest(
    docker_env: DockerServices,
    image_repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = f"{image_repository}:1.0.0"
    build_busybox_image(docker_env, tmp_path / "image", tag)
    pushed = push_image(docker_env, tag)
    workload = deployment(replicas=1)
    workload["spec"]["template"]["spec"]["containers"][0]["image"] = tag
    resolver = registry_digest_resolver(docker_env.registry)

    with FakeKube(rollout_delay=0.05, digest_resolver=resolver) as fake:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"fake": fake})
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "cache"))
        apply(write_manifests(tmp_path / "app.yaml", [workload]))
        status = kubectl(
            "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s"
        )
        pods = get_json("-n", NAMESPACE, "pods")["items"]

    assert status.returncode == 0, status.stderr
    image_id = pods[0]["status"]["containerStatuses"][0]["imageID"]
    assert image_id == f"{image_repository}@{pushed}"


def job(name: str = "migrate") -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": name, "image": f"tools@{DIGEST_A}"}],
                }
            }
        },
    }


def test_job_completes(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "job.yaml", [job()]))

    waited = kubectl(
        "wait",
        "-n",
        NAMESPACE,
        "--for=condition=complete",
        "job/migrate",
        "--timeout=20s",
    )

    pods = get_json("-n", NAMESPACE, "pods", "-l", "job-name=migrate")["items"]
    assert waited.returncode == 0, waited.stderr
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]


def test_job_fault_fails_job(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.add_fault(Fault(mode="never-ready", kind="Job"))
    apply(write_manifests(tmp_path / "job.yaml", [job()]))

    waited = kubectl(
        "wait",
        "-n",
        NAMESPACE,
        "--for=condition=failed",
        "job/migrate",
        "--timeout=20s",
    )

    pods = get_json("-n", NAMESPACE, "pods", "-l", "job-name=migrate")["items"]
    log = kubectl("logs", "-n", NAMESPACE, "job/migrate")
    assert waited.returncode == 0, waited.stderr
    assert [p["status"]["phase"] for p in pods] == ["Failed"]
    assert "ERROR" in log.stdout


# -------------------------------------------------------------------------------------
# faults
# -------------------------------------------------------------------------------------
def test_never_ready_fault_times_out(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.add_fault(Fault(mode="never-ready", name="web"))
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    started = time.monotonic()
    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=2s"
    )

    assert status.returncode == 1
    assert "timed out" in status.stderr
    assert time.monotonic() - started < 15


def test_progress_deadline_fails_fast(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.add_fault(Fault(mode="progress-deadline", name="web", after=0.2))
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    started = time.monotonic()
    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=30s"
    )

    assert status.returncode == 1
    assert 'deployment "web" exceeded its progress deadline' in status.stderr
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"], ids=["sts", "ds"])
def test_fault_stalls_other_workloads(
    fake_kube: FakeKube, tmp_path: Path, kind: str
) -> None:
    fake_kube.add_fault(Fault(mode="never-ready", kind=kind))
    workload = deployment("db")
    workload["kind"] = kind
    if kind == "DaemonSet":
        del workload["spec"]["replicas"]
    apply(write_manifests(tmp_path / "db.yaml", [workload]))

    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, f"{kind.lower()}/db", "--timeout=1s"
    )

    pods = get_json("-n", NAMESPACE, "pods", "-l", "app=db")["items"]
    assert status.returncode == 1
    assert "timed out" in status.stderr
    assert pods[0]["status"]["containerStatuses"][0]["ready"] is False


def test_stalled_rollout_honours_deadline(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.add_fault(Fault(mode="never-ready", name="web"))
    workload = deployment()
    workload["spec"]["progressDeadlineSeconds"] = 1
    apply(write_manifests(tmp_path / "app.yaml", [workload]))

    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=30s"
    )

    assert status.returncode == 1
    assert 'deployment "web" exceeded its progress deadline' in status.stderr


def test_fault_shows_crashing_pods(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.add_fault(Fault(mode="never-ready", name="web"))
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))
    kubectl("rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=1s")

    pods = get_json("-n", NAMESPACE, "pods", "-l", "app=web")["items"]
    events = get_json(
        "-n", NAMESPACE, "events", "--field-selector", "type=Warning,reason=BackOff"
    )["items"]
    log = kubectl("logs", "-n", NAMESPACE, pods[0]["metadata"]["name"], "--tail=2")

    waiting = pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    assert len(events) == 2
    assert log.returncode == 0, log.stderr
    assert "ERROR" in log.stdout
    assert len(log.stdout.splitlines()) == 2


def test_fault_times_then_recovers(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.add_fault(
        Fault(mode="progress-deadline", image=DIGEST_B, after=0.1, times=1)
    )
    apply(write_manifests(tmp_path / "a.yaml", app_manifests(DIGEST_A)))
    first = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s"
    )
    apply(write_manifests(tmp_path / "b.yaml", app_manifests(DIGEST_B)))
    failed = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s"
    )

    apply(write_manifests(tmp_path / "a.yaml", app_manifests(DIGEST_A)))
    rolled_back = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s"
    )

    assert first.returncode == 0, first.stderr
    assert failed.returncode == 1
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert fake_kube.faults == []


def test_fault_endpoint_sets_fault(fake_kube: FakeKube, tmp_path: Path) -> None:
    request = urllib.request.Request(
        f"{fake_kube.url}/_fake/faults",
        method="POST",
        data=json.dumps({"mode": "never-ready", "name": "web"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201

    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))
    status = kubectl(
        "rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=1s"
    )

    assert [f.name for f in fake_kube.faults] == ["web"]
    assert status.returncode == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web=never-ready", Fault(mode="never-ready", name="web")),
        ("*=progress-deadline", Fault(mode="progress-deadline")),
        (
            "mode=progress-deadline,kind=Deployment,image=:bad,times=2,after=0.5",
            Fault(
                mode="progress-deadline",
                kind="Deployment",
                image=":bad",
                times=2,
                after=0.5,
            ),
        ),
    ],
    ids=["name-mode", "all", "fields"],
)
def test_fault_parses_flag_text(text: str, expected: Fault) -> None:
    assert Fault.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["web=explode", "mode=never-ready,colour=red", "kind=Pod,mode=never-ready"],
    ids=["bad-mode", "unknown-field", "bad-kind"],
)
def test_fault_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        Fault.parse(text)


def test_injected_error_fails_one_write(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.inject(
        InjectedError(
            status=500,
            method="PATCH",
            path_prefix=f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            message="etcd is on fire",
        )
    )

    applied = apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    assert applied.returncode == 1
    assert "etcd is on fire" in applied.stderr
    assert fake_kube.get("v1", "ConfigMap", "web-config", namespace=NAMESPACE) is None
    assert fake_kube.get("v1", "Service", "web", namespace=NAMESPACE) is not None
    assert fake_kube.errors == []


def test_injected_drop_breaks_connection(fake_kube: FakeKube, tmp_path: Path) -> None:
    # kubectl retries a GET after a dropped connection but not a PATCH.
    request = urllib.request.Request(
        f"{fake_kube.url}/_fake/errors",
        method="POST",
        data=json.dumps({"status": 0, "method": "PATCH", "times": None}).encode(),
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201

    applied = apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    assert applied.returncode == 1
    assert "Unable to connect to the server: EOF" in applied.stderr
    assert fake_kube.objects("apps/v1", "Deployment") == []


# -------------------------------------------------------------------------------------
# diff, conflicts, create, replace, stdin apply
# -------------------------------------------------------------------------------------
def test_diff_exits_zero_without_change(fake_kube: FakeKube, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "app.yaml", app_manifests())
    apply(manifests)
    writes_before = len(fake_kube.requests_matching(method="PATCH"))

    diff = kubectl(
        "diff", "--server-side", "--field-manager=tpo-tasks", "-f", str(manifests)
    )

    assert diff.returncode == 0, diff.stdout + diff.stderr
    dry_runs = fake_kube.requests_matching(method="PATCH")[writes_before:]
    assert {r.param("dryRun") for r in dry_runs} == {"All"}


def test_diff_exits_one_on_change(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))
    changed = write_manifests(tmp_path / "new.yaml", app_manifests(log_level="debug"))

    diff = kubectl(
        "diff", "--server-side", "--field-manager=tpo-tasks", "-f", str(changed)
    )

    assert diff.returncode == 1, diff.stderr
    assert "+  LOG_LEVEL: debug" in diff.stdout
    assert get_json("-n", NAMESPACE, "cm/web-config")["data"] == {"LOG_LEVEL": "info"}


def test_diff_shows_missing_object(fake_kube: FakeKube, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "app.yaml", app_manifests())

    diff = kubectl(
        "diff", "--server-side", "--field-manager=tpo-tasks", "-f", str(manifests)
    )

    assert diff.returncode == 1, diff.stderr
    assert kubectl("get", "-n", NAMESPACE, "cm/web-config").returncode == 1


def typo_deployment() -> dict:
    workload = deployment()
    workload["spec"]["replica"] = 3
    return workload


def test_strict_validation_rejects_typo(fake_kube: FakeKube, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "typo.yaml", [typo_deployment()])

    applied = apply(manifests)
    created = kubectl("create", "-f", str(manifests))

    assert applied.returncode == 1
    assert ".spec.replica: field not declared in schema" in applied.stderr
    assert created.returncode == 1
    assert 'strict decoding error: unknown field "spec.replica"' in created.stderr
    assert fake_kube.objects("apps/v1", "Deployment") == []


def test_warn_validation_drops_typo(fake_kube: FakeKube, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "typo.yaml", [typo_deployment()])

    applied = apply(manifests, "--validate=warn")

    stored = fake_kube.get("apps/v1", "Deployment", "web", namespace=NAMESPACE)
    assert applied.returncode == 0, applied.stderr
    assert 'Warning: unknown field "spec.replica"' in applied.stderr
    assert stored is not None
    assert "replica" not in stored["spec"]


def test_apply_conflict_needs_force(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))
    other = write_manifests(
        tmp_path / "other.yaml", app_manifests(log_level="debug")[2:3]
    )

    rejected = kubectl(
        "apply", "--server-side", "--field-manager=someone-else", "-f", str(other)
    )
    forced = kubectl(
        "apply",
        "--server-side",
        "--field-manager=someone-else",
        "--force-conflicts",
        "-f",
        str(other),
    )

    assert rejected.returncode == 1
    assert 'conflict with "tpo-tasks" using v1: .data.LOG_LEVEL' in rejected.stderr
    assert forced.returncode == 0, forced.stderr
    assert get_json("-n", NAMESPACE, "cm/web-config")["data"] == {"LOG_LEVEL": "debug"}


def test_configmap_create_and_replace(fake_kube: FakeKube, tmp_path: Path) -> None:
    created = kubectl(
        "create", "configmap", "history", "-n", NAMESPACE, "--from-literal=revisions=[]"
    )
    live = get_json("-n", NAMESPACE, "configmap/history")
    live["data"]["revisions"] = "[1]"
    (tmp_path / "cm.json").write_text(json.dumps(live))

    replaced = kubectl("replace", "-f", str(tmp_path / "cm.json"))
    stale = kubectl("replace", "-f", str(tmp_path / "cm.json"))
    again = kubectl("create", "configmap", "history", "-n", NAMESPACE)

    posts = fake_kube.requests_matching(method="POST")
    assert created.returncode == 0, created.stderr
    assert posts[0].headers["content-type"] == "application/vnd.kubernetes.protobuf"
    assert replaced.returncode == 0, replaced.stderr
    assert stale.returncode == 1
    assert "the object has been modified" in stale.stderr
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert get_json("-n", NAMESPACE, "cm/history")["data"] == {"revisions": "[1]"}


def test_lease_create_conflicts_when_held(fake_kube: FakeKube, tmp_path: Path) -> None:
    lease = app_manifests()[3]
    first = kubectl("create", "-f", "-", input=json.dumps(lease))

    second = kubectl("create", "-f", "-", input=json.dumps(lease))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert "AlreadyExists" in second.stderr


@pytest.mark.parametrize(
    "server_side", [False, True], ids=["client-side", "server-side"]
)
def test_stdin_secret_apply(fake_kube: FakeKube, server_side: bool) -> None:
    extra = ["--server-side", "--field-manager=tpo-tasks"] if server_side else []
    for value in ("first-value", "second-value"):
        rendered = kubectl(
            "create",
            "secret",
            "generic",
            "web-secrets",
            "-n",
            NAMESPACE,
            f"--from-literal=TOKEN={value}",
            "--dry-run=client",
            "-o",
            "yaml",
        )
        assert rendered.returncode == 0, rendered.stderr
        applied = kubectl("apply", *extra, "-f", "-", input=rendered.stdout)
        assert applied.returncode == 0, applied.stderr

    secret = get_json("-n", NAMESPACE, "secret/web-secrets")

    assert secret["data"] == {"TOKEN": "c2Vjb25kLXZhbHVl"}
    assert secret["type"] == "Opaque"


def test_large_configmap_needs_server_side(fake_kube: FakeKube, tmp_path: Path) -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": NAMESPACE},
        "data": {"payload": "x" * 300_000},
    }
    manifests = write_manifests(tmp_path / "big.yaml", [big])

    client_side = kubectl("apply", "-f", str(manifests))
    server_side = apply(manifests)

    assert client_side.returncode == 1
    assert "Too long" in client_side.stderr
    assert server_side.returncode == 0, server_side.stderr


@pytest.mark.parametrize(
    ("args", "kind", "data"),
    [
        (
            ["configmap", "made", "--from-literal=mode=fast"],
            "ConfigMap",
            {"mode": "fast"},
        ),
        (
            ["secret", "generic", "made", "--from-literal=k=s3cret"],
            "Secret",
            {"k": "czNjcmV0"},
        ),
        (["namespace", "made"], "Namespace", None),
    ],
    ids=["configmap", "secret", "namespace"],
)
def test_create_sends_protobuf(
    fake_kube: FakeKube, args: list[str], kind: str, data: dict | None
) -> None:
    namespace = [] if kind == "Namespace" else ["-n", NAMESPACE]

    created = kubectl("create", *args, *namespace)

    post = fake_kube.requests_matching(method="POST")[0]
    stored = fake_kube.get("v1", kind, "made", namespace=NAMESPACE)
    assert created.returncode == 0, created.stderr
    assert post.headers["content-type"] == "application/vnd.kubernetes.protobuf"
    assert stored is not None
    assert stored.get("data") == data


# -------------------------------------------------------------------------------------
# selectors, watch, delete
# -------------------------------------------------------------------------------------
def test_list_filters_by_selectors(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(
        write_manifests(
            tmp_path / "app.yaml",
            [deployment("web"), deployment("api"), deployment("jobs")],
        )
    )

    by_label = get_json("-n", NAMESPACE, "deployments", "-l", "app in (web,api)")
    by_field = get_json(
        "-n", NAMESPACE, "deployments", "--field-selector", "metadata.name!=web"
    )

    assert [d["metadata"]["name"] for d in by_label["items"]] == ["api", "web"]
    assert [d["metadata"]["name"] for d in by_field["items"]] == ["api", "jobs"]


def test_watch_streams_events(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()[2:3]))
    url = (
        f"{fake_kube.url}/api/v1/namespaces/{NAMESPACE}/configmaps"
        "?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dweb-config"
    )

    with urllib.request.urlopen(url, timeout=10) as response:
        lines = response.read().decode().splitlines()

    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == ["ADDED"]
    assert events[0]["object"]["data"] == {"LOG_LEVEL": "info"}


def test_delete_removes_owned_pods(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))
    kubectl("rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=20s")

    deleted = kubectl("delete", "-n", NAMESPACE, "deployment/web")

    assert deleted.returncode == 0, deleted.stderr
    assert get_json("-n", NAMESPACE, "pods")["items"] == []
    assert get_json("-n", NAMESPACE, "replicasets")["items"] == []


def test_discovery_is_aggregated(fake_kube: FakeKube) -> None:
    listed = kubectl("get", "configmaps,leases", "-A")

    paths = [r.path for r in fake_kube.requests if r.method == "GET"]
    assert listed.returncode == 0, listed.stderr
    assert "/apis" in paths
    assert "/apis/coordination.k8s.io/v1" not in paths


def test_legacy_discovery_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeKube(aggregated_discovery=False) as fake:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"fake": fake})
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "cache"))

        listed = kubectl("get", "leases", "-A")

    paths = [r.path for r in fake.requests if r.method == "GET"]
    assert listed.returncode == 0, listed.stderr
    assert "/apis/coordination.k8s.io/v1" in paths


def test_namespace_delete_removes_contents(fake_kube: FakeKube, tmp_path: Path) -> None:
    apply(write_manifests(tmp_path / "app.yaml", app_manifests()))

    deleted = kubectl("delete", "namespace", NAMESPACE)

    assert deleted.returncode == 0, deleted.stderr
    assert fake_kube.objects("v1", "ConfigMap", namespace=NAMESPACE) == []
    assert fake_kube.objects("apps/v1", "Deployment", namespace=NAMESPACE) == []


# -------------------------------------------------------------------------------------
# several clusters, the command line
# -------------------------------------------------------------------------------------
def test_three_contexts_current_is_prod(fake_clusters: FakeClusters) -> None:
    config = yaml.safe_load(fake_clusters.kubeconfig.read_text())

    assert config["current-context"] == "prod"
    assert [c["name"] for c in config["contexts"]] == ["dev", "staging", "prod"]
    assert len(set(fake_clusters.urls.values())) == 3


def test_context_flag_picks_server(fake_clusters: FakeClusters) -> None:
    result = kubectl("--context", "staging", "get", "namespaces", "-o", "name")

    assert result.returncode == 0, result.stderr
    assert fake_clusters.requests("staging")
    assert fake_clusters.requests("prod") == []
    assert fake_clusters.requests("dev") == []


def test_no_context_flag_reaches_prod(fake_clusters: FakeClusters) -> None:
    kubectl("get", "namespaces")

    assert fake_clusters.requests("prod")
    assert fake_clusters.requests("staging") == []


def test_command_line_writes_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tpo_tasks.testing.fake_kube",
            "--port",
            "0",
            "--write-kubeconfig",
            str(kubeconfig),
            "--context",
            "demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        config = yaml.safe_load(kubeconfig.read_text())
        with urllib.request.urlopen(f"{line[1]}/version", timeout=5) as response:
            version = json.loads(response.read())
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert line[0] == "demo"
    assert line[1].startswith("http://127.0.0.1:")
    assert config["clusters"][0]["cluster"]["server"] == line[1]
    assert version["gitVersion"].startswith("v1.32.")
    assert process.returncode == 0


def test_command_line_serves_contexts_and_faults(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    command = [sys.executable, "-m", "tpo_tasks.testing.fake_kube"]
    command += ["--write-kubeconfig", str(kubeconfig), "--context", "dev"]
    command += ["--context", "prod", "--fault", "web=never-ready"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in range(2)]
        config = yaml.safe_load(kubeconfig.read_text())
        faults = []
        for _, url in lines:
            with urllib.request.urlopen(f"{url}/_fake/faults", timeout=5) as response:
                faults.append(json.loads(response.read()))
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert [name for name, _ in lines] == ["dev", "prod"]
    assert config["current-context"] == "prod"
    assert [[f["name"] for f in listed] for listed in faults] == [["web"], ["web"]]
    assert faults[0][0]["mode"] == "never-ready"


def test_command_line_keeps_foreign_file(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tpo_tasks.testing.fake_kube",
            "--write-kubeconfig",
            str(kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert completed.returncode == 3
    assert "was not written by the fake" in completed.stderr
    assert kubeconfig.read_text() == "apiVersion: v1\nkind: Config\n"


# -------------------------------------------------------------------------------------
# merge and selector functions
# -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("tier in (a, b)", {"tier": "b"}, True),
        ("tier notin (a,b)", {}, True),
        ("canary", {"canary": "1"}, True),
        ("!canary", {"canary": "1"}, False),
    ],
    ids=["equals", "not-equals", "in", "notin-missing", "exists", "not-exists"],
)
def test_label_selector_matches(selector: str, labels: dict, expected: bool) -> None:
    requirements = kube_merge.parse_label_selector(selector)

    assert kube_merge.matches_labels(labels, requirements) is expected


def test_strategic_patch_merges_containers() -> None:
    live = {
        "spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "b", "image": "z"},
                {"name": "a", "$patch": "delete"},
            ]
        }
    }

    result = kube_merge.strategic_merge_patch(live, patch)

    assert result == {"spec": {"containers": [{"name": "b", "image": "z"}]}}


def test_apply_merges_containers_by_name() -> None:
    def config(containers: list[dict]) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": containers}}},
        }

    live, managers = kube_merge.server_side_apply(
        None,
        config([{"name": "web", "image": "a"}]),
        "tpo-tasks",
        {},
        force=False,
        api_version="apps/v1",
        now="t",
    )
    live, managers = kube_merge.server_side_apply(
        live,
        config([{"name": "proxy", "image": "p"}]),
        "mesh",
        managers,
        force=False,
        api_version="apps/v1",
        now="t",
    )

    with pytest.raises(kube_merge.ApplyConflict) as conflict:
        kube_merge.server_side_apply(
            live,
            config([{"name": "web", "image": "b"}]),
            "mesh",
            managers,
            force=False,
            api_version="apps/v1",
            now="t",
        )
    containers = live["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "proxy"]
    assert '.spec.template.spec.containers[name="web"].image' in str(conflict.value)


def test_apply_drops_fields_no_longer_applied() -> None:
    first = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    second = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
    }
    live, managers = kube_merge.server_side_apply(
        None, first, "m", {}, force=False, api_version="v1", now="t"
    )

    result, _ = kube_merge.server_side_apply(
        live, second, "m", managers, force=False, api_version="v1", now="t"
    )

    assert result["data"] == {"a": "1"}
