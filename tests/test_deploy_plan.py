"""The deploy plan: what --dry-run prints and when a deploy asks first."""

import io
from pathlib import Path

import pytest
from test_deploy_context import deploy_settings, write_kubeconfig

from tpo_tasks.deploy.kubectl import Kubectl
from tpo_tasks.deploy.pipeline import Plan, confirm, describe_plan
from tpo_tasks.deploy.render import Rendered
from tpo_tasks.errors import RefusedError

PIN = "127.0.0.1:5000/team/web@sha256:" + "a" * 64
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web"}}


class Terminal(io.StringIO):
    """Standard input that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    kubeconfig = write_kubeconfig(tmp_path / "config", {
        "staging": "https://127.0.0.1:6443"}, current="staging")
    deploy = deploy_settings(kubeconfig)
    env = deploy.environment("staging")
    return Plan(env=env, kubectl=Kubectl(env, deploy), version="1.2.3",
                git_sha="b" * 40, images={"web": PIN}, pins={"web": PIN},
                rendered=Rendered("kind: Deployment\n", (DEPLOYMENT,)))


def test_plan_names_target_and_images(plan: Plan) -> None:
    text = "\n".join(describe_plan(plan))
    assert "context:     staging" in text
    assert "server:      https://127.0.0.1:6443" in text
    assert f"web: {PIN}" in text


def test_plan_commands_carry_context_and_namespace(plan: Plan) -> None:
    commands = [line for line in describe_plan(plan) if line.startswith("  kubectl")]
    assert commands
    assert all("--context staging --namespace tally" in line for line in commands)


def test_plan_waits_with_timeout(plan: Plan) -> None:
    text = "\n".join(describe_plan(plan))
    assert "rollout status deployment/web --timeout=300s" in text


def test_plan_shows_force_conflicts_when_asked(plan: Plan) -> None:
    assert "--force-conflicts" in "\n".join(describe_plan(plan, True))


def test_confirm_without_terminal_refuses(plan: Plan) -> None:
    with pytest.raises(RefusedError, match="--yes"):
        confirm(plan, False, stdin=io.StringIO("y\n"))


def test_confirm_with_yes_flag_asks_nothing(plan: Plan) -> None:
    confirm(plan, True, stdin=io.StringIO(""))


def test_confirm_accepts_y_on_terminal(plan: Plan) -> None:
    confirm(plan, False, stdin=Terminal("y\n"))


@pytest.mark.parametrize("answer", ["\n", "n\n", "nope\n"],
                         ids=["empty", "no", "other"])
def test_confirm_refuses_other_answers(plan: Plan, answer: str) -> None:
    with pytest.raises(RefusedError, match="not confirmed"):
        confirm(plan, False, stdin=Terminal(answer))
