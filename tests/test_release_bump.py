"""release.bump end to end in real repositories: files, commit, tag, push, refusals,
rollback and the lock."""

import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from support.release import (
    PYPROJECT,
    RELEASE_DATE,
    commit,
    git_run,
    json_output,
    run_release,
    tag,
)

from tpo_tasks.templates import load_schema

DATA = Path(__file__).parent / "data" / "release"
BUMP_SCHEMA = load_schema("release-bump.schema.json")


def snapshot(repo: Path) -> dict[str, bytes]:
    return {str(path.relative_to(repo)): path.read_bytes()
            for path in sorted(repo.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(repo).parts}


def state(repo: Path) -> tuple[str, str, dict[str, bytes]]:
    return (git_run(repo, "rev-parse", "HEAD"), git_run(repo, "tag", "--list"),
            snapshot(repo))


def test_breaking_change_on_zero_x_bumps_minor(release_repo: Path) -> None:
    commit(release_repo, "feat(api)!: drop v1 endpoints")
    completed = run_release(release_repo, "release.bump", "--json")
    assert completed.returncode == 0, completed.stderr
    output = json_output(completed)
    jsonschema.validate(output, BUMP_SCHEMA)
    assert (output["released"], output["old_version"], output["new_version"],
            output["tag"]) == (True, "0.4.2", "0.5.0", "v0.5.0")
    assert "0.x" in output["rule"]


def test_bump_changes_only_the_project_version(release_repo: Path) -> None:
    commit(release_repo, "feat(api)!: drop v1 endpoints")
    run_release(release_repo, "release.bump")
    expected = PYPROJECT.format(version="0.5.0").replace(">=0.5.0", ">=0.4.2")
    assert (release_repo / "pyproject.toml").read_text() == expected


def test_bump_commits_and_creates_an_annotated_tag(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    run_release(release_repo, "release.bump")
    assert git_run(release_repo, "log", "-1", "--format=%s") == "chore(release): 0.4.3"
    assert git_run(release_repo, "cat-file", "-t", "v0.4.3") == "tag"
    assert git_run(release_repo, "rev-parse", "v0.4.3^{commit}") == git_run(
        release_repo, "rev-parse", "HEAD")
    assert git_run(release_repo, "status", "--porcelain") == ""


def test_major_flag_gives_one_zero_zero(release_repo: Path) -> None:
    commit(release_repo, "feat(api)!: drop v1 endpoints")
    completed = run_release(release_repo, "release.bump", "--major", "--json")
    assert json_output(completed)["new_version"] == "1.0.0"


def test_commit_message_comes_from_config(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    run_release(release_repo, "release.bump",
                env={"INVOKE_TPO_RELEASE_COMMIT_MESSAGE": "release {version} ({tag})"})
    assert git_run(release_repo, "log", "-1", "--format=%s") == "release 0.4.3 (v0.4.3)"


def test_package_json_fix_bumps_patch_only_in_own_version(git_repo: Path) -> None:
    package = ('{\n  "name": "widget",\n  "version": "0.37.10",\n  "dependencies": {\n'
               '    "sibling-pkg": "0.37.10"\n  }\n}\n')
    citation = "cff-version: 0.37.10\ntitle: widget\n"
    config = "tpo:\n  release:\n    version_files: [package.json]\n"
    commit(git_repo, "chore: setup", {"package.json": package,
                                      "CITATION.cff": citation,
                                      "invoke.yaml": config})
    tag(git_repo, "v0.37.10")
    commit(git_repo, "fix: off by one")
    completed = run_release(git_repo, "release.bump", "--json")
    assert json_output(completed)["new_version"] == "0.37.11", completed.stderr
    assert (git_repo / "package.json").read_text() == package.replace(
        '"version": "0.37.10"', '"version": "0.37.11"')
    assert (git_repo / "CITATION.cff").read_text() == citation


@pytest.fixture
def beta_repo(git_repo: Path) -> Path:
    commit(git_repo, "chore: setup",
           {"pyproject.toml": '[project]\nname = "w"\nversion = "0.0.2b0"\n'})
    tag(git_repo, "v0.0.2b0")
    return git_repo


def test_build_commit_on_pre_release_releases_nothing(beta_repo: Path) -> None:
    commit(beta_repo, "build: pin the toolchain")
    before = state(beta_repo)
    completed = run_release(beta_repo, "release.bump", "--json")
    assert completed.returncode == 0
    assert json_output(completed)["released"] is False
    assert json_output(completed)["new_version"] is None
    assert state(beta_repo) == before


def test_nothing_releasable_prints_the_reason(beta_repo: Path) -> None:
    commit(beta_repo, "build: pin the toolchain")
    completed = run_release(beta_repo, "release.bump")
    assert completed.returncode == 0
    assert "nothing to release at 0.0.2b0" in completed.stdout


def test_fix_with_pre_beta_counts_up_the_beta(beta_repo: Path) -> None:
    commit(beta_repo, "fix: crash")
    completed = run_release(beta_repo, "release.bump", "--pre", "beta", "--json")
    assert json_output(completed)["new_version"] == "0.0.2b1", completed.stderr
    assert git_run(beta_repo, "tag", "--list", "v0.0.2b1") == "v0.0.2b1"


def test_finalize_drops_the_pre_release(beta_repo: Path) -> None:
    commit(beta_repo, "fix: crash")
    completed = run_release(beta_repo, "release.bump", "--finalize", "--json")
    assert json_output(completed)["new_version"] == "0.0.2"


def test_pep440_pre_release_refused_for_package_json(git_repo: Path) -> None:
    config = "tpo:\n  release:\n    version_files: [package.json]\n"
    commit(git_repo, "chore: setup", {
        "pyproject.toml": '[project]\nversion = "1.0.0"\n',
        "package.json": '{"version": "1.0.0"}\n', "invoke.yaml": config})
    commit(git_repo, "feat: x")
    completed = run_release(git_repo, "release.bump", "--pre", "rc")
    assert completed.returncode == 4
    assert "package.json needs a SemVer version but 1.1.0rc0 is not one" in (
        completed.stderr)


# -- refusals -------------------------------------------------------------------


def test_dirty_tree_is_refused_listing_files(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug", {"src.py": "a = 1\n"})
    (release_repo / "src.py").write_text("a = 2\n")
    (release_repo / "README.md").write_text("changed\n")
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 4
    assert "uncommitted changes: README.md, src.py" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_existing_tag_is_refused(release_repo: Path) -> None:
    git_run(release_repo, "checkout", "-q", "-b", "hotfix")
    commit(release_repo, "fix: on a side branch")
    tag(release_repo, "v0.4.3")
    git_run(release_repo, "checkout", "-q", "main")
    commit(release_repo, "fix: a bug")
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 4
    assert "tag v0.4.3 already exists" in completed.stderr


def test_disagreeing_version_files_are_refused(release_repo: Path) -> None:
    config = "tpo:\n  release:\n    version_files: [VERSION]\n"
    commit(release_repo, "fix: a bug", {"VERSION": "0.4.1\n", "invoke.yaml": config})
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 4
    assert "pyproject.toml = 0.4.2, VERSION = 0.4.1" in completed.stderr


def test_version_file_behind_head_tag_is_refused(git_repo: Path) -> None:
    commit(git_repo, "feat: x",
           {"pyproject.toml": PYPROJECT.format(version="0.100.0")})
    tag(git_repo, "v0.101.0")
    commit(git_repo, "fix: y")
    git_run(git_repo, "tag", "-d", "v0.101.0")
    git_run(git_repo, "tag", "-a", "v0.101.0", "-m", "v0.101.0", "HEAD")
    completed = run_release(git_repo, "release.bump")
    assert completed.returncode == 4
    assert "says 0.100.0 but HEAD is tagged v0.101.0" in completed.stderr


def test_conflicting_part_flags_are_a_usage_error(release_repo: Path) -> None:
    completed = run_release(release_repo, "release.bump", "--major", "--minor")
    assert completed.returncode == 2
    assert "pass only one of --major, --minor, --patch" in completed.stderr


# -- dry run ----------------------------------------------------------------------


def test_dry_run_changes_nothing(release_repo: Path) -> None:
    commit(release_repo, "feat: export")
    before = state(release_repo)
    completed = run_release(release_repo, "release.bump", "--dry-run")
    assert completed.returncode == 0, completed.stderr
    assert state(release_repo) == before


def test_dry_run_prints_the_whole_plan(release_repo: Path) -> None:
    commit(release_repo, "feat: export")
    output = run_release(release_repo, "release.bump", "--dry-run").stdout
    for expected in ("release 0.4.2 -> 0.5.0", '-version = "0.4.2"',
                     '+version = "0.5.0"', "+++ b/CHANGELOG.md",
                     f"## [0.5.0] - {RELEASE_DATE}", "- export",
                     "commit message: chore(release): 0.5.0", "tag: v0.5.0"):
        assert expected in output


def test_real_run_writes_what_dry_run_showed(release_repo: Path) -> None:
    commit(release_repo, "feat: export")
    preview = run_release(release_repo, "release.bump", "--dry-run").stdout
    run_release(release_repo, "release.bump")
    section = preview.split("changelog section:\n", 1)[1].split("\ncommit message")[0]
    assert section in (release_repo / "CHANGELOG.md").read_text()


def test_no_commit_only_writes_files(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    head = git_run(release_repo, "rev-parse", "HEAD")
    run_release(release_repo, "release.bump", "--no-commit")
    assert git_run(release_repo, "rev-parse", "HEAD") == head
    assert git_run(release_repo, "tag", "--list", "v0.4.3") == ""
    assert 'version = "0.4.3"' in (release_repo / "pyproject.toml").read_text()


def test_no_tag_commits_without_tag(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    run_release(release_repo, "release.bump", "--no-tag")
    assert git_run(release_repo, "log", "-1", "--format=%s") == "chore(release): 0.4.3"
    assert git_run(release_repo, "tag", "--list", "v0.4.3") == ""


# -- changelog through bump -------------------------------------------------------


def test_bump_releases_hand_written_changelog(git_repo: Path) -> None:
    commit(git_repo, "chore: setup", {
        "pyproject.toml": PYPROJECT.format(version="1.2.0"),
        "CHANGELOG.md": (DATA / "handwritten.md").read_text(),
    })
    tag(git_repo, "v1.2.0")
    git_run(git_repo, "remote", "add", "origin", "git@github.com:acme/widget.git")
    commit(git_repo, "feat(cli): add --json output")
    commit(git_repo, "fix(security): escape HTML in reports")
    commit(git_repo, "ci: cache pip")
    completed = run_release(git_repo, "release.bump")
    assert completed.returncode == 0, completed.stderr
    assert (git_repo / "CHANGELOG.md").read_text() == (
        DATA / "bump-released.md").read_text()


def test_bump_creates_a_missing_changelog(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    run_release(release_repo, "release.bump")
    text = (release_repo / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert f"## [Unreleased]\n\n## [0.4.3] - {RELEASE_DATE}\n\n### Fixed\n\n- a bug\n" \
        in text


def test_two_unreleased_sections_refuse_the_bump(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug",
           {"CHANGELOG.md": (DATA / "two-unreleased.md").read_text()})
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 4
    assert "2 Unreleased sections, at lines 3 and 9" in completed.stderr


# -- all or nothing ----------------------------------------------------------------


def install_hook(repo: Path, name: str, script: str) -> None:
    hooks = repo / ".git" / "hooks" if (repo / ".git").is_dir() else repo / "hooks"
    hooks.mkdir(exist_ok=True)
    hook = hooks / name
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)


def test_failing_commit_hook_leaves_everything_as_it_was(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    install_hook(release_repo, "pre-commit", "echo 'lint failed' >&2\nexit 1\n")
    before = state(release_repo)
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 3
    assert "the release was undone" in completed.stderr
    assert state(release_repo) == before
    assert git_run(release_repo, "status", "--porcelain") == ""


def test_failing_tag_step_removes_the_release_commit(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    install_hook(release_repo, "reference-transaction",
                 'while read old new ref; do\n  case "$ref" in refs/tags/*) '
                 "exit 1;; esac\ndone\nexit 0\n")
    before = state(release_repo)
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 3, completed.stderr
    assert state(release_repo) == before
    assert git_run(release_repo, "status", "--porcelain") == ""


def test_failing_signature_leaves_no_commit(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    git_run(release_repo, "config", "gpg.program", "false")
    before = state(release_repo)
    completed = run_release(release_repo, "release.bump", "--sign")
    assert completed.returncode == 3
    assert state(release_repo) == before


# -- push ---------------------------------------------------------------------------


@pytest.fixture
def remote(release_repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git_run(tmp_path, "init", "-q", "--bare", str(bare))
    git_run(release_repo, "remote", "add", "origin", str(bare))
    git_run(release_repo, "push", "-q", "origin", "main", "v0.4.2")
    return bare


def test_push_sends_commit_and_tag_together(release_repo: Path, remote: Path) -> None:
    commit(release_repo, "fix: a bug")
    completed = run_release(release_repo, "release.bump", "--push")
    assert completed.returncode == 0, completed.stderr
    assert git_run(remote, "rev-parse", "main") == git_run(release_repo, "rev-parse",
                                                           "HEAD")
    assert git_run(remote, "rev-parse", "v0.4.3^{commit}") == git_run(
        release_repo, "rev-parse", "HEAD")


def test_rejected_push_undoes_the_release(release_repo: Path, remote: Path) -> None:
    commit(release_repo, "fix: a bug")
    install_hook(remote, "pre-receive", "echo 'protected branch' >&2\nexit 1\n")
    remote_head = git_run(remote, "rev-parse", "main")
    before = state(release_repo)
    completed = run_release(release_repo, "release.bump", "--push")
    assert completed.returncode == 3
    assert "(remote: protected branch)" in completed.stderr
    assert state(release_repo) == before
    assert git_run(remote, "rev-parse", "main") == remote_head
    assert git_run(remote, "tag", "--list", "v0.4.3") == ""


def test_push_without_remote_is_a_usage_error(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    before = state(release_repo)
    completed = run_release(release_repo, "release.bump", "--push")
    assert completed.returncode == 2
    assert "remote 'origin' not found" in completed.stderr
    assert state(release_repo) == before


# -- lock and GitHub Actions ---------------------------------------------------------


def test_lock_held_by_a_live_process_refuses(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    (release_repo / ".git" / "tpo-release.lock").write_text(f"{os.getpid()}\n")
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 4
    assert f"another release.bump (process {os.getpid()}) is running" in (
        completed.stderr)


def test_stale_lock_is_taken_over(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (release_repo / ".git" / "tpo-release.lock").write_text(f"{dead.pid}\n")
    completed = run_release(release_repo, "release.bump")
    assert completed.returncode == 0, completed.stderr
    assert not (release_repo / ".git" / "tpo-release.lock").exists()


def test_second_bump_refuses_while_first_runs(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    marker = release_repo.parent / "hook-started"
    install_hook(release_repo, "pre-commit", f"touch '{marker}'\nsleep 2\nexit 0\n")
    first = subprocess.Popen(
        [sys.executable, "-m", "tpo_tasks", "release.bump"], cwd=release_repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TPO_RELEASE_DATE": RELEASE_DATE})
    try:
        for _ in range(100):
            if marker.exists():
                break
            time.sleep(0.05)
        second = run_release(release_repo, "release.bump")
    finally:
        first_out, first_err = first.communicate(timeout=60)
    assert second.returncode == 4
    assert "another release.bump" in second.stderr
    assert first.returncode == 0, first_err


def test_github_output_gets_version_and_tag(release_repo: Path, tmp_path: Path) -> None:
    commit(release_repo, "fix: a bug")
    output = tmp_path / "github_output"
    run_release(release_repo, "release.bump",
                env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)})
    assert output.read_text() == "version=0.4.3\ntag=v0.4.3\n"


def test_github_output_omits_missing_tag(release_repo: Path, tmp_path: Path) -> None:
    commit(release_repo, "fix: a bug")
    output = tmp_path / "github_output"
    run_release(release_repo, "release.bump", "--no-tag",
                env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)})
    assert output.read_text() == "version=0.4.3\n"
