"""Configuration and context errors stop a deploy before any cluster request."""

import json
import subprocess

import pytest
from conftest import git, run_tpo
from support.deploy import DemoProject

from tpo_tasks.deploy.history import History, Revision, build_configmap

pytestmark = pytest.mark.docker


def no_requests(project: DemoProject) -> bool:
    return all(project.clusters.requests(c) == [] for c in ("dev", "staging", "prod"))


def test_wrong_server_refused_before_any_request(demo_project: DemoProject) -> None:
    prod_url = demo_project.clusters.servers["prod"].url
    demo_project.write_config(environments={"staging": {"server": prod_url}})
    done = run_tpo("deploy.staging", cwd=demo_project.root)
    assert done.returncode == 4
    assert no_requests(demo_project)


def test_missing_context_names_the_key(demo_project: DemoProject) -> None:
    demo_project.write_config(environments={"staging": {"kube_context": "qa"}})
    done = run_tpo("deploy.staging", cwd=demo_project.root)
    assert done.returncode == 2
    assert "kube_context" in done.stderr
    assert no_requests(demo_project)


def test_undeclared_environment_names_the_key(demo_project: DemoProject) -> None:
    done = run_tpo("deploy.to", "qa", cwd=demo_project.root)
    assert done.returncode == 2
    assert "tpo.deploy.environments.qa" in done.stderr


def test_production_refuses_without_staging_history(
        demo_project: DemoProject) -> None:
    done = run_tpo("deploy.production", "--yes", cwd=demo_project.root)
    assert done.returncode == 4
    assert "no deploy history" in done.stderr


def test_missing_overlay_is_usage_error(demo_project: DemoProject) -> None:
    demo_project.write_config(environments={"staging": {"overlay": "kube/none"}})
    done = run_tpo("deploy.staging", "--dry-run", cwd=demo_project.root)
    assert done.returncode == 2
    assert "overlay" in done.stderr
    assert no_requests(demo_project)


def test_unreachable_cluster_is_outside_failure(demo_project: DemoProject) -> None:
    server = demo_project.clusters.servers["dev"]
    server.stop()
    done = run_tpo("deploy.history", "dev", cwd=demo_project.root)
    assert done.returncode == 3
    assert "unreachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_production_refuses_image_missing_from_registry(
        demo_project: DemoProject) -> None:
    head = git(demo_project.root, "rev-parse", "HEAD").strip()
    missing = f"{demo_project.registry}/demo@sha256:{'1' * 64}"
    history = History()
    history.add(Revision(revision=1, time="2026-01-15T12:00:00Z", version="1.0.0",
                         git_sha=head, images={"demo": missing}, actor="ci",
                         result="succeeded", rollback_of=None,
                         manifest_sha256="0" * 64), "")
    subprocess.run(
        ["kubectl", "--kubeconfig", str(demo_project.clusters.kubeconfig),
         "--context", "staging", "--namespace", "demo", "apply", "--server-side",
         "-f", "-"],
        input=json.dumps(build_configmap(history, "demo", 20)), text=True,
        check=True, capture_output=True)
    done = run_tpo("deploy.production", "--yes", cwd=demo_project.root)
    assert done.returncode == 3
    assert "not found in its registry" in done.stderr
    assert demo_project.clusters.mutating("prod") == []
