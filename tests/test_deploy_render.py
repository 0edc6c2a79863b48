"""Rendering: images pinned by digest through a generated kustomization."""

import hashlib
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from tpo_tasks.config import load_settings
from tpo_tasks.deploy.pipeline import render_checked
from tpo_tasks.deploy.render import deploy_rule_findings, render_overlay
from tpo_tasks.errors import ConfigError, TaskFailed, UsageError

DEMO = REPO_ROOT / "examples" / "demo"
PIN = "127.0.0.1:5000/team/demo@sha256:" + "a" * 64


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(DEMO / "kube", root / "kube")
    return root


def settings():
    return load_settings({"tpo": {"deploy": {
        "services": {"demo": {}},
        "environments": {"staging": {"namespace": "demo",
                                     "server": "https://127.0.0.1:1"}},
    }}})


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_render_pins_image_by_digest(project: Path) -> None:
    rendered = render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    deployment = next(d for d in rendered.documents if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == PIN


def test_render_sets_namespace(project: Path) -> None:
    rendered = render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    assert {d["metadata"]["namespace"] for d in rendered.documents} == {"demo"}


def test_render_leaves_team_files_unchanged(project: Path) -> None:
    before = tree_digest(project)
    render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    assert tree_digest(project) == before


def test_render_lists_workloads(project: Path) -> None:
    rendered = render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    assert rendered.workloads() == [("Deployment", "demo")]


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A loopback TCP port that records every connection made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            accepted.append(connection)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_render_contacts_no_cluster(project: Path, listener: tuple[int, list],
                                    monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    port, accepted = listener
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {
            "server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    assert accepted == []


def test_missing_overlay_names_the_key(project: Path) -> None:
    env = replace(settings().deploy.environment("staging"), overlay="kube/nope")
    with pytest.raises(UsageError, match="environments.staging.overlay"):
        render_checked(project, settings(), env, {})


def test_overlay_without_kustomization_is_config_error(project: Path) -> None:
    (project / "kube/overlays/empty").mkdir()
    with pytest.raises(ConfigError, match="no kustomization.yaml"):
        render_overlay(project / "kube/overlays/empty", "demo", {})


def test_broken_overlay_fails_with_render_hint(project: Path) -> None:
    (project / "kube/overlays/staging/kustomization.yaml").write_text(
        "resources: [../../missing]\n")
    with pytest.raises(TaskFailed, match="inv deploy.render"):
        render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})


def test_unpinned_service_image_is_a_finding(project: Path) -> None:
    rendered = render_overlay(project / "kube/overlays/staging", "demo", {})
    findings = deploy_rule_findings(rendered, {"demo": PIN}, "demo")
    assert any("not pinned by digest" in f for f in findings)


def test_object_in_other_namespace_is_a_finding(project: Path) -> None:
    rendered = render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    assert deploy_rule_findings(rendered, {"demo": PIN}, "other")


def test_reserved_history_name_is_a_finding(project: Path) -> None:
    base = project / "kube/base"
    (base / "history.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tpo-deploy-history}\n")
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    kustomization["resources"].append("history.yaml")
    (base / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    rendered = render_overlay(project / "kube/overlays/staging", "demo", {"demo": PIN})
    findings = deploy_rule_findings(rendered, {"demo": PIN}, "demo")
    assert any("reserved" in f for f in findings)


def test_failing_manifest_check_blocks_deploy(project: Path) -> None:
    deployment = project / "kube/base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace(
        "image: demo", "image: nginx:latest"))
    env = settings().deploy.environment("staging")
    with pytest.raises(TaskFailed, match="nothing was applied"):
        render_checked(project, settings(), env, {"demo": PIN})


def test_clean_demo_passes_checks(project: Path) -> None:
    env = settings().deploy.environment("staging")
    rendered = render_checked(project, settings(), env, {"demo": PIN})
    assert rendered.sha256
