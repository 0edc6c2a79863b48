"""Build once, deploy to staging, promote the same digests to production.

One scenario per module (real docker, registry and kubectl against three fake
clusters whose current context is prod); each test checks one step's evidence.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from support.deploy import Scenario, Step, scenario
from support.services import registry_manifest

from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_kube import Fault

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory,
        module_services: object) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("promotion")
    actions = {"GITHUB_OUTPUT": str(tmp / "github-output"),
               "GITHUB_STEP_SUMMARY": str(tmp / "step-summary")}
    with scenario(tmp, module_services, **actions) as s:
        project = s.project
        s.run("dev", "deploy.dev")
        s.run("staging", "deploy.staging")
        s.run("staging_again", "deploy.staging", "--force-conflicts")
        s.run("history", "deploy.history", "staging", "--json")
        s.run("status", "deploy.status", "staging", "--json")
        s.run("diff_same", "deploy.diff", "staging")
        s.run("render", "deploy.render", "staging", "--output",
              str(project.root.parent / "rendered"))
        s.run("prod_unconfirmed", "deploy.production", input="")
        s.run("prod_dry_run", "deploy.production", "--dry-run")
        s.run("prod", "deploy.production", "--yes")
        s.run("prod_history", "deploy.history", "production", "--json")

        s.git("commit", "-q", "--allow-empty", "-m", "chore: later commit")
        s.run("prod_other_commit", "deploy.production", "--yes")
        s.run("prod_allowed", "deploy.production", "--yes",
              "--allow-different-commit")
        (project.root / "www/index.html").write_text("uncommitted\n")
        s.run("prod_dirty", "deploy.production", "--yes",
              "--allow-different-commit")
        s.run("render_prod_dirty", "deploy.render", "production")
        s.git("checkout", "--", "www/index.html")
        s.git("reset", "-q", "--hard", "HEAD~1")  # back to the commit staging runs

        project.write_config(environments={"staging": {
            "overlay": "kube/overlays/variant"}})
        s.run("diff_changed", "deploy.diff", "staging")
        s.run("staging_dry_run", "deploy.staging", "--dry-run")
        s.run("staging_variant", "deploy.staging")
        s.run("rollback", "deploy.rollback", "staging")
        s.run("prod_after_rollback", "deploy.production", "--yes")

        project.clusters.servers["staging"].add_fault(Fault(mode="never-ready"))
        project.write_config(environments={"staging": {
            "overlay": "kube/overlays/variant-3", "rollout_timeout": 2}})
        s.run("staging_failed", "deploy.staging", "--no-rollback")
        project.clusters.servers["staging"].clear_faults()
        s.run("prod_after_failure", "deploy.production", "--yes")
        s.deployments = {  # type: ignore[attr-defined]
            c: project.clusters.servers[c].get("apps/v1", "Deployment", "demo",
                                               namespace="demo")
            for c in ("dev", "staging", "prod")}
        yield s


def step(run: Scenario, name: str) -> Step:
    return run.steps[name]


def image_of(run: Scenario, context: str) -> str:
    deployment = run.deployments[context]  # type: ignore[attr-defined]
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def revisions(run: Scenario, name: str) -> list[dict]:
    return json.loads(step(run, name).stdout)


def applied(step_: Step, context: str) -> list:
    return [r for r in step_.requests[context]
            if r.method == "PATCH" and "/deployments/" in r.path
            and r.param("dryRun") is None]


@pytest.mark.parametrize("name", ["dev", "staging", "staging_again", "prod",
                                  "rollback"])
def test_step_succeeds(run: Scenario, name: str) -> None:
    assert step(run, name).returncode == 0, step(run, name).stderr


def test_dev_deploy_touches_only_dev(run: Scenario) -> None:
    assert step(run, "dev").requests["staging"] == []
    assert step(run, "dev").requests["prod"] == []


def test_staging_never_touches_current_prod_context(run: Scenario) -> None:
    assert step(run, "staging").requests["prod"] == []
    assert step(run, "staging_variant").requests["prod"] == []


def test_staging_pins_image_by_registry_digest(run: Scenario) -> None:
    first = revisions(run, "history")[-1]["images"]["demo"]
    repository, _, digest = first.partition("@")
    registry, _, name = repository.partition("/")
    stored, _ = registry_manifest(registry, name, digest)
    assert stored == digest


def test_second_staging_deploy_does_not_rebuild(run: Scenario) -> None:
    assert "not rebuilt" in step(run, "staging_again").stderr
    assert "building demo" not in step(run, "staging_again").stderr


def test_every_kubectl_call_names_context_and_namespace(run: Scenario) -> None:
    calls = [a for a in step(run, "staging").argv if a[0] != "kustomize"]
    assert calls
    assert all(a[:4] == ["--context", "staging", "--namespace", "demo"]
               for a in calls), calls


def test_render_runs_kustomize_without_any_context(run: Scenario) -> None:
    renders = [a for a in step(run, "staging").argv if a[0] == "kustomize"]
    assert renders
    assert all("--context" not in a for a in renders)


def test_rollout_waits_are_bounded(run: Scenario) -> None:
    waits = [a for a in step(run, "staging").argv if "rollout" in a]
    assert waits
    assert all(any(x.startswith("--timeout=") for x in a) for a in waits)


def test_apply_is_server_side_as_tpo_tasks(run: Scenario) -> None:
    patches = applied(step(run, "staging"), "staging")
    assert patches
    assert all(r.param("fieldManager") == "tpo-tasks" for r in patches)
    assert all(r.param("force") in (None, "false") for r in patches)


def test_force_conflicts_only_when_asked(run: Scenario) -> None:
    patches = applied(step(run, "staging_again"), "staging")
    assert any(r.param("force") == "true" for r in patches)


def test_history_lists_newest_first(run: Scenario) -> None:
    numbers = [r["revision"] for r in revisions(run, "history")]
    assert numbers == sorted(numbers, reverse=True)


def test_history_json_matches_schema(run: Scenario) -> None:
    jsonschema.validate(revisions(run, "history"),
                        load_schema("deploy-history.schema.json"))


def test_status_json_matches_schema(run: Scenario) -> None:
    jsonschema.validate(json.loads(step(run, "status").stdout),
                        load_schema("deploy-status.schema.json"))


def test_diff_exits_zero_without_changes(run: Scenario) -> None:
    assert step(run, "diff_same").returncode == 0, step(run, "diff_same").stderr


def test_diff_exits_one_with_changes(run: Scenario) -> None:
    assert step(run, "diff_changed").returncode == 1
    assert "demo/variant" in step(run, "diff_changed").stdout


def test_render_output_holds_pinned_image(run: Scenario) -> None:
    text = (run.project.root.parent / "rendered/manifests.yaml").read_text()
    assert revisions(run, "history")[0]["images"]["demo"] in text


def test_production_promotes_staging_digest(run: Scenario) -> None:
    staged = revisions(run, "history")[0]["images"]
    assert revisions(run, "prod_history")[0]["images"] == staged


def test_production_builds_and_pushes_nothing(run: Scenario) -> None:
    assert "building" not in step(run, "prod").stderr
    assert "pushing" not in step(run, "prod").stderr


def test_production_reads_staging_read_only(run: Scenario) -> None:
    assert step(run, "prod").mutating("staging") == []
    assert step(run, "prod").requests["staging"]


def test_production_without_terminal_or_yes_refuses(run: Scenario) -> None:
    assert step(run, "prod_unconfirmed").returncode == 4
    assert step(run, "prod_unconfirmed").mutating("prod") == []


def test_production_dry_run_touches_nothing(run: Scenario) -> None:
    assert step(run, "prod_dry_run").returncode == 0
    assert step(run, "prod_dry_run").mutating("prod") == []
    assert "kubectl --context prod --namespace demo apply" in step(
        run, "prod_dry_run").stdout


def test_staging_dry_run_touches_nothing(run: Scenario) -> None:
    dry = step(run, "staging_dry_run")
    assert dry.returncode == 0, dry.stderr
    assert all(dry.mutating(c) == [] for c in ("dev", "staging", "prod"))


@pytest.mark.parametrize(("name", "message"), [
    ("prod_other_commit", "--allow-different-commit"),
    ("prod_dirty", "uncommitted"),
    ("prod_after_rollback", "is a rollback"),
    ("prod_after_failure", "is failed"),
], ids=["other-commit", "dirty-tree", "staging-rolled-back", "staging-failed"])
def test_production_refuses(run: Scenario, name: str, message: str) -> None:
    assert step(run, name).returncode == 4
    assert message in step(run, name).stderr
    assert step(run, name).mutating("prod") == []


def test_other_commit_allowed_by_flag(run: Scenario) -> None:
    assert step(run, "prod_allowed").returncode == 0, step(run, "prod_allowed").stderr


def test_failed_rollout_exits_one(run: Scenario) -> None:
    assert step(run, "staging_failed").returncode == 1


def test_no_rollback_flag_leaves_failed_revision_newest(run: Scenario) -> None:
    failed = step(run, "staging_failed")
    assert "rolling back" not in failed.stderr


def test_production_never_ran_a_build(run: Scenario) -> None:
    prod_steps = [s for n, s in run.steps.items() if n.startswith("prod")]
    assert all("building" not in s.stderr for s in prod_steps)


def test_dev_and_staging_never_touch_prod(run: Scenario) -> None:
    for name, s in run.steps.items():
        if not name.startswith("prod"):
            assert s.requests["prod"] == [], name


def test_prod_runs_promoted_image(run: Scenario) -> None:
    assert image_of(run, "prod").split("@")[1] == revisions(
        run, "prod_history")[0]["images"]["demo"].split("@")[1]


def test_dry_run_outputs_plan(run: Scenario) -> None:
    assert "dry run: nothing was built, pushed or applied" in step(
        run, "staging_dry_run").stdout


def test_rendered_path_exists(run: Scenario) -> None:
    assert Path(step(run, "render").stdout.strip()).is_file()


def test_actions_output_names_pinned_image(run: Scenario) -> None:
    text = (run.project.root.parent / "github-output").read_text()
    pinned = revisions(run, "history")[-1]["images"]["demo"]
    assert f"image_demo={pinned}" in text.splitlines()


def test_actions_summary_reports_each_deploy(run: Scenario) -> None:
    text = (run.project.root.parent / "step-summary").read_text()
    assert "### deploy of production succeeded" in text


def test_status_reports_running_digest(run: Scenario) -> None:
    [workload] = json.loads(step(run, "status").stdout)["workloads"]
    assert workload["running"] == [revisions(run, "history")[0]["images"]["demo"]]


def test_render_production_ignores_dirty_tree(run: Scenario) -> None:
    rendered = step(run, "render_prod_dirty")
    assert rendered.returncode == 0, rendered.stderr
    assert revisions(run, "prod_history")[0]["images"]["demo"] in rendered.stdout
