"""checks.debt: TODO/FIXME/HACK/XXX markers with git blame author and age."""

import json
from pathlib import Path

import jsonschema
from conftest import git, run_tpo

from tpo_tasks.checks.debt import MARKER, parse_line_porcelain
from tpo_tasks.templates import load_schema


def commit_as(repo: Path, name: str, date: str, message: str) -> None:
    git(repo, "add", "-A")
    git(
        repo,
        "commit",
        "-q",
        "-m",
        message,
        f"--author={name} <{name}@example.test>",
        f"--date={date}",
    )


def test_markers_oldest_first_with_authors(git_repo: Path) -> None:
    (git_repo / "a.py").write_text("x = 1  # TODO: newer\n")
    commit_as(git_repo, "Bea", "2025-06-01T00:00:00+00:00", "feat: a")
    (git_repo / "b.py").write_text("# FIXME: oldest\nprint()\n# HACK around it\n")
    commit_as(git_repo, "Ada", "2024-01-01T00:00:00+00:00", "feat: b")
    (git_repo / "c.py").write_text("# XXX not committed\n")
    completed = run_tpo("checks.debt", "--json", cwd=git_repo)
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    jsonschema.validate(data, load_schema("checks-debt.schema.json"))
    assert [(m["kind"], m["file"], m["line"], m["author"]) for m in data] == [
        ("FIXME", "b.py", 1, "Ada"),
        ("HACK", "b.py", 3, "Ada"),
        ("TODO", "a.py", 1, "Bea"),
        ("XXX", "c.py", 1, None),
    ]
    assert data[0]["date"] == "2024-01-01"


def test_debt_markdown_file(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "a.py").write_text("# TODO: one | two\n")
    git(git_repo, "add", "a.py")
    git(git_repo, "commit", "-q", "-m", "feat: a")
    report = tmp_path / "debt.md"
    completed = run_tpo("checks.debt", "--markdown", str(report), cwd=git_repo)
    assert completed.returncode == 0, completed.stderr
    assert "a.py:1" in completed.stdout
    assert "| TODO | a.py:1 | Test Author | TODO: one \\| two |" in report.read_text()


def test_marker_word_boundaries() -> None:
    assert MARKER.search("# TODO(ada): x")
    assert not MARKER.search("TODOS and XXXL sizes")
    assert not MARKER.search("my_TODO_list")


def test_line_porcelain_parser() -> None:
    sha = "a" * 40
    output = (
        f"{sha} 1 1 1\nauthor Ada\nauthor-time 100\nfilename a\n\tline one\n"
        f"{sha} 2 2\nauthor Ada\nauthor-time 100\nfilename a\n\tline two\n"
    )
    assert parse_line_porcelain(output) == {1: ("Ada", 100), 2: ("Ada", 100)}
