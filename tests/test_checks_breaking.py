"""Hostile and tricky input for the checks namespace, each case a past defect."""

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import git, run_tpo

from tpo_tasks.checks.yaml_lines import YamlSyntaxError, parse_documents
from tpo_tasks.templates import load_schema


def alias_bomb() -> str:
    """Return a "billion laughs" document: nine levels of nine aliases each."""
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: bomb}",
        "data:",
        '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    for level in range(1, 9):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def commit_all(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "test: add hostile input")


def predeploy_json(repo: Path, *args: str) -> tuple[int, dict, str]:
    completed = run_tpo("checks.predeploy", "--json", *args, cwd=repo, timeout=60)
    report = json.loads(completed.stdout)
    jsonschema.validate(report, load_schema("checks-report.schema.json"))
    return completed.returncode, report, completed.stderr


def findings(report: dict, check_id: str) -> list[dict]:
    return [item for item in report["results"] if item["id"] == check_id]


# -- YAML that would hang or overflow the stack -------------------------------------


@pytest.mark.parametrize(
    "text",
    [alias_bomb(), "a: &a [*a]\n", "a: &a {b: *a}\n", "a: " + "[" * 300 + "]" * 300],
    ids=["alias-bomb", "recursive-sequence", "recursive-mapping", "nesting-300"],
)
def test_hostile_yaml_is_a_syntax_error(text: str) -> None:
    with pytest.raises(YamlSyntaxError):
        parse_documents(text, "hostile.yaml")


def test_nesting_below_limit_parses() -> None:
    documents = parse_documents("a: " + "[" * 150 + "]" * 150, "deep.yaml")
    assert len(documents) == 1


def test_alias_bomb_manifest_reported_quickly(git_repo: Path) -> None:
    (git_repo / "bomb.yaml").write_text(alias_bomb())
    (git_repo / "recursive.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &a [*a]\n"
    )
    commit_all(git_repo)
    code, report, stderr = predeploy_json(git_repo)
    invalid = {item["file"] for item in findings(report, "k8s.yaml-invalid")}
    assert invalid == {"bomb.yaml", "recursive.yaml"}
    assert code == 1
    assert "Traceback" not in stderr
