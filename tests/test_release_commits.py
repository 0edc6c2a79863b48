"""Conventional Commits read from real repositories: footers, reverts, merges."""

from pathlib import Path

import pytest
from support.release import commit, git_run, tag

from tpo_tasks.release import commits
from tpo_tasks.release.commits import parse_message

HEADER_CASES = [
    ("feat: add export", ("feat", None, False, "add export")),
    ("feat(api)!: drop v1 endpoints", ("feat", "api", True, "drop v1 endpoints")),
    ("fix(core/io): close files", ("fix", "core/io", False, "close files")),
    ("Fix: capitalised type", ("fix", None, False, "capitalised type")),
    ("fix:no space", (None, None, False, "")),
    ("feat(api: broken scope", (None, None, False, "")),
    ("Update README", (None, None, False, "")),
]


@pytest.mark.parametrize(("message", "expected"), HEADER_CASES,
                         ids=["plain", "scope-and-bang", "nested-scope",
                              "capitalised-type", "missing-space", "unclosed-scope",
                              "free-form"])
def test_header_parsing(message: str, expected: tuple) -> None:
    parsed = parse_message("a" * 40, message)
    assert (parsed.type, parsed.scope, parsed.breaking, parsed.description) == expected


@pytest.mark.parametrize(
    "footer", ["BREAKING CHANGE: config moved", "BREAKING-CHANGE: config moved"],
    ids=["space", "hyphen"])
def test_breaking_footer_marks_breaking(footer: str) -> None:
    parsed = parse_message("a" * 40, f"fix: move config\n\nDetails.\n\n{footer}")
    assert parsed.breaking
    assert parsed.breaking_note == "config moved"


def test_breaking_change_in_prose_is_not_a_footer() -> None:
    parsed = parse_message("a" * 40, "fix: x\n\nThis is no BREAKING CHANGE: really")
    assert not parsed.breaking


def test_since_reads_commits_after_the_tag(git_repo: Path) -> None:
    tag(git_repo, "v1.0.0")
    commit(git_repo, "feat: one")
    commit(git_repo, "fix: two")
    found = commits.since(git_repo, "v1.0.0")
    assert [item.subject for item in found] == ["feat: one", "fix: two"]


def test_revert_cancels_the_reverted_entry(git_repo: Path) -> None:
    tag(git_repo, "v1.0.0")
    commit(git_repo, "feat: x", {"x.txt": "x\n"})
    commit(git_repo, "fix: keep me", {"y.txt": "y\n"})
    git_run(git_repo, "revert", "--no-edit", "HEAD~1")
    found = commits.since(git_repo, "v1.0.0")
    assert [item.subject for item in found] == ["fix: keep me"]


def test_revert_of_a_revert_restores_the_original(git_repo: Path) -> None:
    tag(git_repo, "v1.0.0")
    commit(git_repo, "feat: x", {"x.txt": "x\n"})
    git_run(git_repo, "revert", "--no-edit", "HEAD")
    git_run(git_repo, "revert", "--no-edit", "HEAD")
    found = commits.since(git_repo, "v1.0.0")
    assert [item.subject for item in found] == ["feat: x"]


def test_revert_of_a_released_commit_stays_as_revert(git_repo: Path) -> None:
    commit(git_repo, "feat: x", {"x.txt": "x\n"})
    tag(git_repo, "v1.0.0")
    git_run(git_repo, "revert", "--no-edit", "HEAD")
    found = commits.since(git_repo, "v1.0.0")
    assert [(item.type, item.description) for item in found] == [
        ("revert", 'revert feat: x')]


def test_merge_commit_is_skipped_but_branch_commits_count(git_repo: Path) -> None:
    tag(git_repo, "v1.0.0")
    git_run(git_repo, "checkout", "-q", "-b", "topic")
    commit(git_repo, "feat(api): from the branch", {"api.txt": "1\n"})
    git_run(git_repo, "checkout", "-q", "main")
    commit(git_repo, "fix: on main", {"main.txt": "1\n"})
    git_run(git_repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic")
    found = commits.since(git_repo, "v1.0.0")
    assert sorted(item.subject for item in found) == [
        "feat(api): from the branch", "fix: on main"]


def test_history_splits_at_release_tags(git_repo: Path) -> None:
    commit(git_repo, "feat: first")
    tag(git_repo, "v0.1.0")
    commit(git_repo, "fix: second")
    sha = commit(git_repo, "feat: third")
    tag(git_repo, "v0.2.0")
    commit(git_repo, "fix: unreleased")
    first = git_run(git_repo, "rev-parse", "v0.1.0^{commit}")
    ranges = commits.history(git_repo, [(first, "v0.1.0"), (sha, "v0.2.0")])
    assert [(item.tag, [c.subject for c in item.commits]) for item in ranges] == [
        (None, ["fix: unreleased"]),
        ("v0.2.0", ["fix: second", "feat: third"]),
        ("v0.1.0", ["chore: initial commit", "feat: first"]),
    ]


def test_history_puts_merged_branch_in_its_release(git_repo: Path) -> None:
    git_run(git_repo, "checkout", "-q", "-b", "topic")
    commit(git_repo, "feat: written before v1, merged after", {"t.txt": "1\n"})
    git_run(git_repo, "checkout", "-q", "main")
    first = commit(git_repo, "fix: in v1", {"m.txt": "1\n"})
    git_run(git_repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic")
    second = commit(git_repo, "fix: in v2", {"m.txt": "2\n"})
    ranges = commits.history(git_repo, [(first, "v1"), (second, "v2")])
    assert [(item.tag, sorted(c.subject for c in item.commits)) for item in ranges] == [
        (None, []),
        ("v2", ["feat: written before v1, merged after", "fix: in v2"]),
        ("v1", ["chore: initial commit", "fix: in v1"]),
    ]
