"""Deploys end to end: real docker, registry and kubectl against fake clusters."""

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import git, run_tpo
from support.deploy import DemoProject, read_argv_log
from support.services import registry_manifest

from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_kube import Fault

pytestmark = pytest.mark.docker


def tpo(project: DemoProject, *args: str, input: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return run_tpo(*args, cwd=project.root, input=input)


def deployed_image(project: DemoProject, context: str) -> str:
    deployment = project.clusters.servers[context].get(
        "apps/v1", "Deployment", "demo", namespace="demo")
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def history(project: DemoProject, env: str) -> list[dict]:
    done = tpo(project, "deploy.history", env, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def staged(demo_project: DemoProject) -> DemoProject:
    """The demo deployed once to staging, request logs cleared."""
    done = tpo(demo_project, "deploy.staging")
    assert done.returncode == 0, done.stderr
    demo_project.clusters.clear()
    return demo_project


def test_staging_pins_image_by_registry_digest(staged: DemoProject) -> None:
    image = deployed_image(staged, "staging")
    repository, _, digest = image.partition("@")
    registry, _, name = repository.partition("/")
    stored, _ = registry_manifest(registry, name, digest)
    assert stored == digest


def test_staging_records_succeeded_revision(staged: DemoProject) -> None:
    [revision] = history(staged, "staging")
    assert revision["result"] == "succeeded"
    assert revision["images"]["demo"] == deployed_image(staged, "staging")


def test_history_json_matches_schema(staged: DemoProject) -> None:
    jsonschema.validate(history(staged, "staging"),
                        load_schema("deploy-history.schema.json"))


def test_staging_never_touches_current_prod_context(demo_project: DemoProject) -> None:
    done = tpo(demo_project, "deploy.staging")
    assert done.returncode == 0, done.stderr
    assert demo_project.clusters.requests("prod") == []


def test_dev_deploy_touches_only_dev(demo_project: DemoProject) -> None:
    done = tpo(demo_project, "deploy.dev")
    assert done.returncode == 0, done.stderr
    assert demo_project.clusters.requests("prod") == []
    assert demo_project.clusters.requests("staging") == []


def test_apply_is_server_side_as_tpo_tasks(staged: DemoProject) -> None:
    tpo(staged, "deploy.staging")
    applies = [r for r in staged.clusters.requests("staging")
               if r.method == "PATCH" and "/deployments/" in r.path]
    assert applies
    assert all(r.param("fieldManager") == "tpo-tasks" for r in applies)
    assert all(r.param("force") in (None, "false") for r in applies)


def test_force_conflicts_only_when_asked(staged: DemoProject) -> None:
    tpo(staged, "deploy.staging", "--force-conflicts")
    applies = [r for r in staged.clusters.requests("staging")
               if r.method == "PATCH" and "/deployments/" in r.path]
    assert any(r.param("force") == "true" for r in applies)


def test_second_staging_deploy_does_not_rebuild(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.staging")
    assert "not rebuilt" in done.stderr
    assert "building demo" not in done.stderr


def test_builds_record_holds_pushed_digest(staged: DemoProject) -> None:
    git(staged.root, "commit", "-q", "--allow-empty", "-m", "chore: rebuild")
    done = tpo(staged, "deploy.build")
    assert done.returncode == 0, done.stderr
    builds = json.loads((staged.root / ".tpo/builds.json").read_text())["builds"]
    reference = builds["demo"]["reference"]
    assert done.stdout.strip() == f"demo: {reference}"


def test_production_promotes_staging_digest(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.production", "--yes")
    assert done.returncode == 0, done.stderr
    assert deployed_image(staged, "prod") == deployed_image(staged, "staging")


def test_production_builds_nothing(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.production", "--yes")
    assert "building" not in done.stderr
    assert "pushing" not in done.stderr


def test_production_reads_staging_read_only(staged: DemoProject) -> None:
    tpo(staged, "deploy.production", "--yes")
    assert staged.clusters.mutating("staging") == []


def test_production_without_terminal_or_yes_refuses(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.production")
    assert done.returncode == 4
    assert staged.clusters.mutating("prod") == []


def test_production_refuses_without_staging_history(
        demo_project: DemoProject) -> None:
    done = tpo(demo_project, "deploy.production", "--yes")
    assert done.returncode == 4
    assert "no deploy history" in done.stderr


def test_production_refuses_dirty_tree(staged: DemoProject) -> None:
    (staged.root / "www/index.html").write_text("changed\n")
    done = tpo(staged, "deploy.production", "--yes")
    assert done.returncode == 4
    assert "uncommitted" in done.stderr


def test_production_refuses_other_commit(staged: DemoProject) -> None:
    git(staged.root, "commit", "-q", "--allow-empty", "-m", "chore: later")
    done = tpo(staged, "deploy.production", "--yes")
    assert done.returncode == 4
    assert "--allow-different-commit" in done.stderr


def test_production_other_commit_allowed_by_flag(staged: DemoProject) -> None:
    git(staged.root, "commit", "-q", "--allow-empty", "-m", "chore: later")
    done = tpo(staged, "deploy.production", "--yes", "--allow-different-commit")
    assert done.returncode == 0, done.stderr


def test_production_refuses_after_staging_rollback(staged: DemoProject) -> None:
    staged.write_config(environments={"staging": {"overlay": "kube/overlays/variant"}})
    assert tpo(staged, "deploy.staging").returncode == 0
    assert tpo(staged, "deploy.rollback", "staging").returncode == 0
    done = tpo(staged, "deploy.production", "--yes")
    assert done.returncode == 4
    assert "is a rollback" in done.stderr


def test_production_refuses_after_failed_staging(staged: DemoProject) -> None:
    staged.clusters.servers["staging"].add_fault(Fault(mode="never-ready"))
    staged.write_config(environments={"staging": {
        "overlay": "kube/overlays/variant", "rollout_timeout": 2}})
    assert tpo(staged, "deploy.staging", "--no-rollback").returncode == 1
    done = tpo(staged, "deploy.production", "--yes")
    assert done.returncode == 4
    assert "failed" in done.stderr


def test_every_kubectl_call_names_context_and_namespace(
        demo_project: DemoProject, kubectl_log: Path) -> None:
    assert tpo(demo_project, "deploy.staging").returncode == 0
    calls = [argv for argv in read_argv_log(kubectl_log) if argv[0] != "kustomize"]
    assert calls
    for argv in calls:
        assert argv[:4] == ["--context", "staging", "--namespace", "demo"], argv


def test_rollout_waits_are_bounded(demo_project: DemoProject,
                                   kubectl_log: Path) -> None:
    assert tpo(demo_project, "deploy.staging").returncode == 0
    waits = [argv for argv in read_argv_log(kubectl_log) if "rollout" in argv]
    assert waits
    assert all(any(a.startswith("--timeout=") for a in argv) for argv in waits)


def test_wrong_server_refused_before_any_request(demo_project: DemoProject) -> None:
    prod_url = demo_project.clusters.servers["prod"].url
    demo_project.write_config(environments={"staging": {"server": prod_url}})
    done = tpo(demo_project, "deploy.staging")
    assert done.returncode == 4
    assert all(demo_project.clusters.requests(c) == [] for c in
               ("dev", "staging", "prod"))


def test_missing_context_names_the_key(demo_project: DemoProject) -> None:
    demo_project.write_config(environments={"staging": {"kube_context": "qa"}})
    done = tpo(demo_project, "deploy.staging")
    assert done.returncode == 2
    assert "kube_context" in done.stderr


def test_undeclared_environment_names_key(demo_project: DemoProject) -> None:
    done = tpo(demo_project, "deploy.to", "qa")
    assert done.returncode == 2
    assert "tpo.deploy.environments.qa" in done.stderr


def test_dry_run_touches_nothing(demo_project: DemoProject) -> None:
    git(demo_project.root, "commit", "-q", "--allow-empty", "-m", "chore: new")
    done = tpo(demo_project, "deploy.staging", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert all(demo_project.clusters.mutating(c) == [] for c in
               ("dev", "staging", "prod"))
    assert "building" not in done.stderr
    assert "kubectl --context staging --namespace demo apply" in done.stdout


def test_production_dry_run_touches_nothing(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.production", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert staged.clusters.mutating("prod") == []


def test_status_json_matches_schema(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.status", "staging", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, load_schema("deploy-status.schema.json"))
    assert data["workloads"][0]["images"] == [deployed_image(staged, "staging")]


def test_diff_exits_zero_without_changes(staged: DemoProject) -> None:
    done = tpo(staged, "deploy.diff", "staging")
    assert done.returncode == 0, done.stdout + done.stderr


def test_diff_exits_one_with_changes(staged: DemoProject) -> None:
    staged.write_config(environments={"staging": {"overlay": "kube/overlays/variant"}})
    done = tpo(staged, "deploy.diff", "staging")
    assert done.returncode == 1, done.stderr
    assert "demo/variant" in done.stdout


def test_render_output_writes_manifests(staged: DemoProject, tmp_path: Path) -> None:
    done = tpo(staged, "deploy.render", "staging", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out/manifests.yaml").read_text()
    assert deployed_image(staged, "staging") in text
