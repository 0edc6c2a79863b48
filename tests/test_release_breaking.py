"""Hostile inputs for the release namespace, each found by trying to break it.

Cases: an invalid pyproject.toml, a write that fails halfway through a bump, a
``{version}`` tag format next to ``v``-prefixed tags, a project file with two
``<Version>`` elements, a ``[project]`` inline table, a symlinked version file,
link references followed by an HTML comment, an ignored changelog, a repository
with no commit, a Latin-1 changelog, paths outside the repository, hand-written
Unreleased entries under ``--from-history``, two bumps taking one stale lock, a
lock in a linked worktree, SIGTERM during the commit, and an invalid tag name.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.release import commit, git_run, json_output, run_release, tag

from tpo_tasks.config import load_settings
from tpo_tasks.errors import ExternalError, RefusedError
from tpo_tasks.release import bump as bumping
from tpo_tasks.release import plan as planning


def snapshot(repo: Path) -> tuple[str, str, str, dict[str, bytes]]:
    files = {str(path.relative_to(repo)): path.read_bytes()
             for path in sorted(repo.rglob("*"))
             if path.is_file() and ".git" not in path.relative_to(repo).parts}
    return (git_run(repo, "rev-parse", "HEAD"), git_run(repo, "tag", "--list"),
            git_run(repo, "status", "--porcelain"), files)


def test_invalid_pyproject_fails_without_traceback(git_repo: Path) -> None:
    commit(git_repo, "chore: add pyproject", {"pyproject.toml": (
        '[project]\nname = "x"\nversion = "0.4.2"\nname = "y"\n')})
    commit(git_repo, "fix: a bug")
    completed = run_release(git_repo, "release.bump")
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 1
    assert "pyproject.toml is not valid TOML" in completed.stderr


def test_failed_write_restores_and_says_so(
    release_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(release_repo, "fix: a bug")
    before = snapshot(release_repo)
    settings = load_settings({"tpo": {}}).release
    _, plan = planning.plan(release_repo, settings)
    prepared = bumping.prepare(release_repo, settings, plan, "2026-01-15")
    real_write = bumping.write_bytes_atomic

    def fail_on_changelog(path: Path, data: bytes) -> None:
        if Path(path).name == "CHANGELOG.md":
            raise PermissionError(1, "Operation not permitted", f"{path}.tmp")
        real_write(path, data)

    monkeypatch.setattr(bumping, "write_bytes_atomic", fail_on_changelog)
    with pytest.raises(ExternalError) as raised:
        bumping.execute(release_repo, prepared, bumping.Steps())
    assert "writing CHANGELOG.md failed" in raised.value.message
    assert "the release was undone" in raised.value.message
    assert snapshot(release_repo) == before


def test_bare_tag_format_ignores_v_tags(git_repo: Path) -> None:
    commit(git_repo, "chore: add pyproject", {
        "pyproject.toml": '[project]\nname = "x"\nversion = "0.4.2"\n',
        "invoke.yaml": "tpo:\n  release:\n    tag_format: '{version}'\n",
    })
    tag(git_repo, "0.4.2")
    tag(git_repo, "v5.0.0")
    commit(git_repo, "fix: a bug")
    completed = run_release(git_repo, "release.plan", "--json")
    plan = json_output(completed)
    assert plan["last_tag"] == "0.4.2"
    assert plan["next_version"] == "0.4.3"
    assert plan["go"] is True


TWO_VERSIONS_CSPROJ = """\
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <Version>0.4.2</Version>
  </PropertyGroup>
  <PropertyGroup Condition="'$(Configuration)' == 'Release'">
    <Version>0.4.2</Version>
  </PropertyGroup>
</Project>
"""


def test_project_with_two_versions_is_refused(git_repo: Path) -> None:
    commit(git_repo, "chore: add project", {
        "Api.csproj": TWO_VERSIONS_CSPROJ,
        "invoke.yaml": "tpo:\n  release:\n    version_files: [Api.csproj]\n",
    })
    tag(git_repo, "v0.4.2")
    commit(git_repo, "fix: a bug")
    completed = run_release(git_repo, "release.bump")
    assert completed.returncode == 4
    assert "Api.csproj has 2 <Version> elements, at lines 3 and 6" in completed.stderr
    assert (git_repo / "Api.csproj").read_text() == TWO_VERSIONS_CSPROJ
    assert git_run(git_repo, "tag", "--list") == "v0.4.2"


def test_inline_project_table_is_not_skipped(git_repo: Path) -> None:
    pyproject = 'project = { name = "x", version = "0.4.2" }\n'
    commit(git_repo, "chore: add pyproject", {"pyproject.toml": pyproject})
    tag(git_repo, "v0.4.2")
    commit(git_repo, "fix: a bug")
    completed = run_release(git_repo, "release.bump")
    assert completed.returncode == 4
    assert "pyproject.toml: no version found at key project.version" in (
        completed.stderr)
    assert git_run(git_repo, "tag", "--list") == "v0.4.2"


def test_symlinked_version_file_is_refused(git_repo: Path) -> None:
    commit(git_repo, "chore: add version files", {
        "VERSION": "0.4.2\n",
        "invoke.yaml": "tpo:\n  release:\n    version_files: [pkg/VERSION]\n",
    })
    (git_repo / "pkg").mkdir()
    (git_repo / "pkg" / "VERSION").symlink_to("../VERSION")
    git_run(git_repo, "add", "pkg/VERSION")
    commit(git_repo, "chore: link the version")
    tag(git_repo, "v0.4.2")
    commit(git_repo, "fix: a bug")
    completed = run_release(git_repo, "release.bump")
    assert completed.returncode == 4
    assert "pkg/VERSION is a symbolic link" in completed.stderr
    assert (git_repo / "pkg" / "VERSION").is_symlink()
    assert git_run(git_repo, "tag", "--list") == "v0.4.2"


CHANGELOG_WITH_FOOTER = """\
# Changelog

## [Unreleased]

## [0.4.2] - 2026-01-01

### Fixed

- an old bug

[Unreleased]: https://github.com/acme/widget/compare/v0.4.2...HEAD
[0.4.2]: https://github.com/acme/widget/releases/tag/v0.4.2

<!-- markdownlint-disable-file MD024 -->
"""


def test_links_before_a_comment_are_updated(release_repo: Path) -> None:
    commit(release_repo, "docs: add the changelog", {
        "CHANGELOG.md": CHANGELOG_WITH_FOOTER,
        "invoke.yaml": "tpo:\n  release:\n    repo_url: https://github.com/acme/widget\n",
    })
    commit(release_repo, "fix: a bug")
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 0, completed.stderr
    text = (release_repo / "CHANGELOG.md").read_text()
    assert text.count("[Unreleased]: ") == 1
    assert "[Unreleased]: https://github.com/acme/widget/compare/v0.4.3...HEAD" in text
    assert text.endswith(
        "[0.4.3]: https://github.com/acme/widget/compare/v0.4.2...v0.4.3\n"
        "[0.4.2]: https://github.com/acme/widget/releases/tag/v0.4.2\n"
        "<!-- markdownlint-disable-file MD024 -->\n")


def test_ignored_changelog_is_refused_up_front(release_repo: Path) -> None:
    commit(release_repo, "chore: ignore the changelog",
           {".gitignore": "CHANGELOG.md\n"})
    commit(release_repo, "fix: a bug")
    before = snapshot(release_repo)
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 4
    assert "CHANGELOG.md is ignored by git" in completed.stderr
    assert snapshot(release_repo) == before


def test_bump_without_any_commit_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git_run(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.4.2"\n')
    completed = run_release(repo, "release.bump", "--patch")
    assert completed.returncode == 4
    assert "has no commit yet" in completed.stderr
    assert git_run(repo, "for-each-ref") == ""
    assert git_run(repo, "status", "--porcelain") == "?? pyproject.toml"


@pytest.mark.parametrize("task", [
    ("release.notes",), ("release.changelog",), ("release.publish", "--repo", "o/r"),
], ids=["notes", "changelog", "publish"])
def test_latin1_changelog_fails_cleanly(release_repo: Path, task: tuple[str, ...]
                                        ) -> None:
    (release_repo / "CHANGELOG.md").write_bytes(
        b"# Changelog\n\n## [Unreleased]\n\n## [0.4.2] - 2026-01-01\n\n- caf\xe9\n")
    commit(release_repo, "fix: a bug")
    # Nothing is sent: the changelog is read before any request.
    completed = run_release(release_repo, *task,
                            env={"GITHUB_API_URL": "http://127.0.0.1:9"})
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 4
    assert "CHANGELOG.md is not UTF-8" in completed.stderr


@pytest.mark.parametrize("setting", [
    "version_files: [../outside/VERSION]",
    "changelog: ../outside/CHANGELOG.md",
], ids=["version-file", "changelog"])
def test_path_outside_repository_is_rejected(release_repo: Path, setting: str
                                             ) -> None:
    outside = release_repo.parent / "outside"
    outside.mkdir()
    (outside / "VERSION").write_text("0.4.2\n")
    commit(release_repo, "chore: configure", {
        "invoke.yaml": f"tpo:\n  release:\n    {setting}\n"})
    commit(release_repo, "fix: a bug")
    completed = run_release(release_repo, "release.bump", "--no-commit")
    assert completed.returncode == 2
    assert "is outside the repository" in completed.stderr
    assert (outside / "VERSION").read_text() == "0.4.2\n"
    assert not (outside / "CHANGELOG.md").exists()


def test_from_history_keeps_unreleased_entries(release_repo: Path) -> None:
    commit(release_repo, "docs: start the changelog", {"CHANGELOG.md": (
        "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- a hand-written note\n")})
    commit(release_repo, "fix: a bug")
    completed = run_release(release_repo, "release.changelog", "--from-history")
    assert completed.returncode == 0, completed.stderr
    text = (release_repo / "CHANGELOG.md").read_text()
    unreleased = text.split("## [Unreleased]")[1].split("## [0.4.2]")[0]
    assert "- a hand-written note" in unreleased
    assert "- a bug" in unreleased


def test_stale_lock_takeover_admits_one_bump(
    release_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_path = release_repo / ".git" / bumping.LOCK_NAME
    lock_path.write_text("999999999\n")  # a process id that does not exist
    real_alive = bumping._process_alive
    second = bumping.ReleaseLock(release_repo)
    outcomes: list[str] = []

    def alive_with_a_rival(pid: int) -> bool:
        if pid == 999999999 and not outcomes:
            # While the first bump checks the stale lock, a second one tries too.
            outcomes.append("checking")
            try:
                second.__enter__()
                outcomes.append("second took it")
            except RefusedError:
                outcomes.append("second refused")
            return False
        return real_alive(pid)

    monkeypatch.setattr(bumping, "_process_alive", alive_with_a_rival)
    first = bumping.ReleaseLock(release_repo)
    try:
        first.__enter__()
        outcomes.append("first took it")
    except RefusedError:
        outcomes.append("first refused")
    finally:
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
    assert sum(item.endswith("took it") for item in outcomes) == 1


def test_sigterm_during_commit_undoes_release(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    hook = release_repo / ".git" / "hooks" / "pre-commit"
    marker = release_repo.parent / "hook-started"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 1\n")
    hook.chmod(0o755)
    before = snapshot(release_repo)
    process = subprocess.Popen(
        [sys.executable, "-m", "tpo_tasks", "release.bump"], cwd=release_repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TPO_RELEASE_DATE": "2026-01-15"})
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)  # the job is cancelled while git commits
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3
    assert "the release was undone" in stderr
    assert snapshot(release_repo) == before
    assert not (release_repo / ".git" / bumping.LOCK_NAME).exists()


def test_lock_covers_linked_worktrees(release_repo: Path) -> None:
    worktree = release_repo.parent / "second-worktree"
    git_run(release_repo, "worktree", "add", "-q", "-b", "other", str(worktree))
    with bumping.ReleaseLock(release_repo):
        with pytest.raises(RefusedError):
            bumping.ReleaseLock(worktree).__enter__()


def test_invalid_tag_name_fails_before_writing(release_repo: Path) -> None:
    commit(release_repo, "chore: configure", {
        "invoke.yaml": "tpo:\n  release:\n    tag_format: 'v{version} final'\n"})
    commit(release_repo, "fix: a bug")
    before = snapshot(release_repo)
    completed = run_release(release_repo, "release.bump", "--dry-run")
    assert completed.returncode == 2
    assert "'v0.4.3 final' is not a valid git tag name" in completed.stderr
    assert snapshot(release_repo) == before
