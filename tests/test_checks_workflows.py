"""Workflow checks and the post-deploy pod rules on plain objects."""

from pathlib import Path

import pytest

from tpo_tasks.checks.postdeploy import pod_findings
from tpo_tasks.checks.repo_files import RepoScan
from tpo_tasks.checks.workflows import check_workflow


def workflow(tmp_path: Path, text: str) -> list[tuple[str, int | None]]:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text(text)
    scan = RepoScan(tmp_path)
    return [
        (r.message, r.line) for r in check_workflow(scan, ".github/workflows/ci.yml")
    ]


def test_valid_workflow_passes(tmp_path: Path) -> None:
    text = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps: [{run: x}]\n"
    assert workflow(tmp_path, text) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\njobs:\n  t: {runs-on: x, steps: [{run: y}]}\n", "no 'on:' trigger"),
        ("on: push\n", "no jobs"),
        ("- a\n- b\n", "one YAML mapping"),
        ("on: push\njobs:\n  t: {runs-on: x\n", "invalid YAML"),
    ],
    ids=["no-trigger", "no-jobs", "not-a-mapping", "invalid-yaml"],
)
def test_broken_workflows_fail(tmp_path: Path, text: str, message: str) -> None:
    found = workflow(tmp_path, text)
    assert len(found) == 1
    assert message in found[0][0]


def pod(name: str, ready: bool, statuses: list[dict]) -> dict:
    return {
        "metadata": {"name": name},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


def test_ready_pod_without_restarts_passes() -> None:
    assert (
        list(pod_findings([pod("a", True, [{"name": "c", "restartCount": 0}])])) == []
    )


def test_restarted_container_warns_with_reason() -> None:
    status = {
        "name": "c",
        "restartCount": 3,
        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
    }
    found = list(pod_findings([pod("a", True, [status])]))
    assert [(r.id, r.status) for r in found] == [("pods.restarts", "warn")]
    assert "OOMKilled, exit code 137" in found[0].message


def test_waiting_pod_fails_with_reason() -> None:
    status = {
        "name": "c",
        "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff"}},
    }
    found = list(pod_findings([pod("a", False, [status])]))
    assert [(r.id, r.status) for r in found] == [("pods.ready", "fail")]
    assert "c: ImagePullBackOff" in found[0].message


def test_completed_pod_is_ignored() -> None:
    done = pod("job", False, [])
    done["status"]["phase"] = "Succeeded"
    assert list(pod_findings([done])) == []
