"""issues.sync and issues.list end to end: the tpo script, real git, the fake API."""

import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import git, run_tpo

from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_github import FakeGitHub, make_issue, make_pull_request

REPO = "octo/demo"
ISSUES_PATH = "/repos/octo/demo/issues"
METADATA_SCHEMA = load_schema("issue-metadata.schema.json")
LIST_SCHEMA = load_schema("issues-list.schema.json")
FIX_LOGIN_BODY = """Users cannot log in after the upgrade.

Blocked by #12. Related to #3 and #21.

## Acceptance Criteria
- [ ] login works with SSO
- [ ] errors are shown
"""


@pytest.fixture
def upstream(fake_github: FakeGitHub, tmp_path: Path) -> FakeGitHub:
    """The fake API serving a repository with the hard-case issues."""
    fake_github.add_issues(REPO, [
        make_issue(1, "Fix login", labels=["bug", "priority: high"],
                   body=FIX_LOGIN_BODY, assignees=["amy"]),
        make_issue(2, "修复登录错误"),
        make_issue(3, f"x$(touch {tmp_path}/owned)"),
        make_issue(4, "Templates", body="{{ 7*7 }} {% for x in y %}"),
        {**make_issue(5, "Odd shapes", body=None), "user": None, "labels": []},
        {**make_issue(6, "String labels"), "labels": ["enhancement", "P2"]},
        make_issue(7, "\x1b[31mred\x1b[0m alert\x07\x1b]0;pwned\x07"),
        make_pull_request(10, "A pull request"),
    ])
    return fake_github


def tpo(*args: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_tpo(*args, cwd=cwd, **kwargs)


def read_metadata(root: Path, number: int) -> dict[str, Any]:
    data = json.loads((root / ".github/issues" / str(number) / "metadata.json")
                      .read_text(encoding="utf-8"))
    jsonschema.validate(data, METADATA_SCHEMA)
    return data


def current_branch(repo: Path) -> str:
    return git(repo, "branch", "--show-current").strip()


def file_stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_mtime_ns, path.stat().st_ino)
            for path in sorted(folder.rglob("*")) if path.is_file()}


# -- one issue -------------------------------------------------------------------


def test_sync_number_writes_docs_and_branch(upstream: FakeGitHub,
                                            git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "issue-1-fix-login"
    record = read_metadata(git_repo, 1)
    assert record["status"] == "in_progress"
    assert record["branch_created"] == "issue-1-fix-login"
    assert record["type"] == "bug"
    assert record["priority"] == "high"
    assert record["dependencies"] == {"blocks": [], "blocked_by": [12],
                                      "related_to": [3, 21]}
    assert record["acceptance_criteria"] == ["login works with SSO", "errors are shown"]
    assert (git_repo / ".github/issues/1/ISSUE.md").is_file()


def test_sync_checks_out_existing_branch(upstream: FakeGitHub, git_repo: Path) -> None:
    git(git_repo, "branch", "issue-1-old-name")
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "issue-1-old-name"
    assert "issue-1-fix-login" not in git(git_repo, "branch", "--list")


def test_sync_checks_out_bare_number_branch(upstream: FakeGitHub,
                                            git_repo: Path) -> None:
    git(git_repo, "branch", "issue-2")
    git(git_repo, "tag", "issue-2")  # an equal tag name must not confuse the lookup
    done = tpo("issues.sync", "--repo", REPO, "--number", "2", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "issue-2"


def test_sync_transliterates_branch(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "2", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "issue-2-xiu-fu-deng-lu-cuo-wu"


def test_sync_no_branch_keeps_branch(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", "--no-branch",
               cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "main"
    assert read_metadata(git_repo, 1)["status"] == "open"


def test_sync_custom_branch_prefix(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=git_repo,
               env={"INVOKE_TPO_ISSUES_BRANCH_PREFIX": "gh"})
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "gh-1-fix-login"


def test_sync_outside_git_warns_and_writes(upstream: FakeGitHub,
                                           tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr
    assert "not inside a git work tree" in done.stderr
    assert read_metadata(folder, 1)["branch_created"] is None


def test_shell_title_runs_nothing(upstream: FakeGitHub, git_repo: Path,
                                  tmp_path: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "3", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "owned").exists()
    assert current_branch(git_repo).startswith("issue-3-x-touch-")


def test_template_syntax_in_body_is_written_literally(upstream: FakeGitHub,
                                                      git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "4", "--no-branch",
               cwd=git_repo)
    assert done.returncode == 0, done.stderr
    text = (git_repo / ".github/issues/4/ISSUE.md").read_text(encoding="utf-8")
    assert "{{ 7*7 }} {% for x in y %}" in text


@pytest.mark.parametrize("number", ["5", "6"], ids=["nulls-and-ghost", "string-labels"])
def test_odd_issue_shapes_sync(upstream: FakeGitHub, git_repo: Path,
                               number: str) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", number, "--no-branch",
               cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert read_metadata(git_repo, int(number))["number"] == number


def test_pull_request_number_is_rejected(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "10", cwd=git_repo)
    assert done.returncode == 2
    assert "is a pull request" in done.stderr
    assert not (git_repo / ".github").exists()


def test_missing_issue_is_a_usage_error(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "999", cwd=git_repo)
    assert done.returncode == 2
    assert "issue #999 not found in octo/demo" in done.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-3", "²", "##4"],
                         ids=["text", "zero", "negative", "superscript", "two-hashes"])
def test_invalid_number_is_rejected(git_repo: Path, value: str) -> None:
    done = tpo("issues.sync", "--repo", REPO, f"--number={value}", cwd=git_repo)
    assert done.returncode == 2
    assert "invalid --number" in done.stderr


def test_number_and_all_conflict(git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", "--all", cwd=git_repo)
    assert done.returncode == 2
    assert "cannot be combined" in done.stderr


def test_unchanged_resync_rewrites_nothing(upstream: FakeGitHub,
                                           git_repo: Path) -> None:
    args = ("issues.sync", "--repo", REPO, "--number", "1", "--no-branch")
    assert tpo(*args, cwd=git_repo).returncode == 0
    before = file_stamps(git_repo / ".github/issues")
    assert tpo(*args, cwd=git_repo).returncode == 0
    assert file_stamps(git_repo / ".github/issues") == before


def test_human_edits_survive_upstream_change(upstream: FakeGitHub,
                                             git_repo: Path) -> None:
    args = ("issues.sync", "--repo", REPO, "--number", "1", "--no-branch")
    assert tpo(*args, cwd=git_repo).returncode == 0
    doc = git_repo / ".github/issues/1/ISSUE.md"
    text = doc.read_text(encoding="utf-8")
    text = text.replace("_Anything else worth keeping with this issue._",
                        "Talked to Amy: use the new SSO client.")
    doc.write_text(text + "\nA closing remark.\n", encoding="utf-8")
    upstream.update_issue(REPO, 1, title="Fix login for SSO users",
                          body="New body text.", state="closed",
                          labels=[{"name": "enhancement"}])
    done = tpo(*args, cwd=git_repo)
    assert done.returncode == 0, done.stderr
    merged = doc.read_text(encoding="utf-8")
    assert "Talked to Amy: use the new SSO client." in merged
    assert merged.endswith("A closing remark.\n")
    assert "# Issue #1: Fix login for SSO users" in merged
    assert "New body text." in merged
    assert "**Status:** closed" in merged
    assert "- [x] Enhancement" in merged
    assert read_metadata(git_repo, 1)["status"] == "closed"


def test_broken_markers_fail_and_keep_file(upstream: FakeGitHub,
                                           git_repo: Path) -> None:
    args = ("issues.sync", "--repo", REPO, "--number", "1", "--no-branch")
    assert tpo(*args, cwd=git_repo).returncode == 0
    doc = git_repo / ".github/issues/1/ISSUE.md"
    broken = doc.read_text(encoding="utf-8").replace("<!-- tpo:end details -->\n", "")
    doc.write_text(broken, encoding="utf-8")
    upstream.update_issue(REPO, 1, title="Changed")
    done = tpo(*args, cwd=git_repo)
    assert done.returncode == 1
    assert "markers are broken" in done.stderr
    assert doc.read_text(encoding="utf-8") == broken


def test_repository_template_is_used(upstream: FakeGitHub, git_repo: Path) -> None:
    templates = git_repo / ".github/templates"
    templates.mkdir(parents=True)
    (templates / "ISSUE.md.j2").write_text(
        "<!-- tpo:begin header -->\nOur format: {{ title }}\n<!-- tpo:end header -->\n",
        encoding="utf-8")
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", "--no-branch",
               cwd=git_repo)
    assert done.returncode == 0, done.stderr
    text = (git_repo / ".github/issues/1/ISSUE.md").read_text(encoding="utf-8")
    assert text == "<!-- tpo:begin header -->\nOur format: Fix login\n" \
                   "<!-- tpo:end header -->\n"


def test_issues_dir_is_configurable(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", "--no-branch",
               cwd=git_repo, env={"INVOKE_TPO_ISSUES_DIR": "docs/issues"})
    assert done.returncode == 0, done.stderr
    assert (git_repo / "docs/issues/1/metadata.json").is_file()


# -- choosing an issue -------------------------------------------------------------


def test_picker_needs_a_terminal(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.sync", "--repo", REPO, cwd=git_repo, input="1\n")
    assert done.returncode == 2
    assert "--number" in done.stderr
    assert upstream.requests == []


def run_with_terminal(args: list[str], cwd: Path, answer: str
                      ) -> subprocess.CompletedProcess[str]:
    """Run tpo with a pseudo-terminal as stdin, typing ``answer``."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tpo_tasks", *args], cwd=cwd, stdin=terminal,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(terminal)
        os.write(controller, answer.encode())
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def test_picker_chooses_by_position(upstream: FakeGitHub, git_repo: Path) -> None:
    done = run_with_terminal(["issues.sync", "--repo", REPO, "--no-branch"],
                             git_repo, "7\n")
    assert done.returncode == 0, done.stderr
    assert "Choose an issue" in done.stderr
    assert (git_repo / ".github/issues/1/metadata.json").is_file()


def test_picker_sanitises_titles(upstream: FakeGitHub, git_repo: Path) -> None:
    done = run_with_terminal(["issues.sync", "--repo", REPO], git_repo, "q\n")
    assert "#7  red alert" in done.stderr
    assert "\x1b" not in done.stderr
    assert "\x07" not in done.stderr


def test_picker_lists_no_pull_requests(upstream: FakeGitHub, git_repo: Path) -> None:
    done = run_with_terminal(["issues.sync", "--repo", REPO], git_repo, "q\n")
    assert "A pull request" not in done.stderr


def test_picker_quit_writes_nothing(upstream: FakeGitHub, git_repo: Path) -> None:
    done = run_with_terminal(["issues.sync", "--repo", REPO], git_repo, "q\n")
    assert done.returncode == 0, done.stderr
    assert "no issue chosen" in done.stderr
    assert not (git_repo / ".github").exists()
    assert current_branch(git_repo) == "main"


# -- listing ------------------------------------------------------------------------


def test_list_json_matches_schema(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.list", "--repo", REPO, "--json", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    jsonschema.validate(items, LIST_SCHEMA)
    assert [item["number"] for item in items] == [7, 6, 5, 4, 3, 2, 1]
    assert items[-1]["labels"] == ["bug", "priority: high"]


def test_list_filters_by_label(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.list", "--repo", REPO, "--label", "bug", "--json", cwd=git_repo)
    assert [item["number"] for item in json.loads(done.stdout)] == [1]
    assert upstream.requests_to(ISSUES_PATH)[0].query["labels"] == "bug"


def test_list_uses_configured_labels(upstream: FakeGitHub, git_repo: Path) -> None:
    (git_repo / "invoke.yaml").write_text("tpo:\n  issues:\n    labels: [P2]\n")
    done = tpo("issues.list", "--repo", REPO, "--json", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert [item["number"] for item in json.loads(done.stdout)] == [6]


def test_list_table_is_sanitised(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.list", "--repo", REPO, cwd=git_repo)
    assert "#7  red alert" in done.stdout
    assert "\x1b" not in done.stdout


def test_list_follows_pages(fake_github: FakeGitHub, git_repo: Path) -> None:
    fake_github.links = "next"
    fake_github.add_issues(REPO, [make_issue(n) for n in range(1, 206)]
                           + [make_pull_request(n) for n in range(206, 216)])
    done = tpo("issues.list", "--repo", REPO, "--json", cwd=git_repo)
    assert len(json.loads(done.stdout)) == 205
    assert len(fake_github.requests_to(ISSUES_PATH)) == 3


# -- offline ----------------------------------------------------------------------


@pytest.fixture
def saved_issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Issues saved from the API, and an API URL where nothing listens."""
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([
        make_issue(1, "Fix login", labels=["bug"], body=FIX_LOGIN_BODY),
        make_issue(2, "Closed one", state="closed"),
        make_pull_request(3),
    ]), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    return path


def test_from_file_syncs_offline(saved_issues: Path, git_repo: Path) -> None:
    done = tpo("issues.sync", "--from-file", str(saved_issues), "--number", "1",
               cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert current_branch(git_repo) == "issue-1-fix-login"
    assert read_metadata(git_repo, 1)["last_synced_from"] == REPO


def test_from_file_all_skips_closed_and_pulls(saved_issues: Path,
                                              git_repo: Path) -> None:
    done = tpo("issues.sync", "--from-file", str(saved_issues), "--all", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    folders = sorted(p.name for p in (git_repo / ".github/issues").iterdir())
    assert folders == ["1"]


def test_from_file_list(saved_issues: Path, git_repo: Path) -> None:
    done = tpo("issues.list", "--from-file", str(saved_issues), "--json", cwd=git_repo)
    assert [item["number"] for item in json.loads(done.stdout)] == [1]


def test_from_file_pull_request_rejected(saved_issues: Path, git_repo: Path) -> None:
    done = tpo("issues.sync", "--from-file", str(saved_issues), "--number", "3",
               cwd=git_repo)
    assert done.returncode == 2
    assert "pull request" in done.stderr


BAD_FILES = {
    "not-json": ("{oops", "invalid JSON"),
    "not-array": ('{"a": 1}', "expected a JSON array"),
    "no-number": ('[{"title": "x"}]', "no integer 'number'"),
}


@pytest.mark.parametrize(("content", "message"), BAD_FILES.values(),
                         ids=BAD_FILES.keys())
def test_bad_from_file_is_one_line(tmp_path: Path, git_repo: Path, content: str,
                                   message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    done = tpo("issues.sync", "--repo", REPO, "--from-file", str(path), "--all",
               cwd=git_repo)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


# -- repository resolution --------------------------------------------------------


def test_repo_from_upstream_remote(upstream: FakeGitHub, git_repo: Path) -> None:
    git(git_repo, "remote", "add", "origin", "git@github.com:me/fork.git")
    git(git_repo, "remote", "add", "upstream", "https://github.com/octo/demo.git")
    done = tpo("issues.list", "--json", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert upstream.requests_to(ISSUES_PATH)


def test_parent_repo_variable_wins_over_remote(upstream: FakeGitHub,
                                               git_repo: Path) -> None:
    git(git_repo, "remote", "add", "upstream", "https://github.com/other/place.git")
    done = tpo("issues.list", "--json", cwd=git_repo, env={"PARENT_REPO": REPO})
    assert done.returncode == 0, done.stderr


def test_no_repository_is_a_config_error(git_repo: Path) -> None:
    done = tpo("issues.list", cwd=git_repo)
    assert done.returncode == 2
    assert "pass --repo OWNER/REPO" in done.stderr


# -- failures ---------------------------------------------------------------------


def test_rate_limit_stops_before_writing(upstream: FakeGitHub, git_repo: Path) -> None:
    upstream.add_issues(REPO, [make_issue(n) for n in range(20, 150)])
    upstream.inject_rate_limit(path=ISSUES_PATH, query={"page": "2"})
    done = tpo("issues.sync", "--repo", REPO, "--all", cwd=git_repo)
    assert done.returncode == 3
    assert "rate limit exceeded" in done.stderr
    assert "set GITHUB_TOKEN" in done.stderr
    assert not (git_repo / ".github").exists()


def test_issues_disabled_message(upstream: FakeGitHub, git_repo: Path) -> None:
    upstream.disable_issues(REPO)
    done = tpo("issues.list", "--repo", REPO, cwd=git_repo)
    assert done.returncode == 3
    assert "gone (410)" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_repository_message(upstream: FakeGitHub, git_repo: Path) -> None:
    done = tpo("issues.list", "--repo", "octo/nothing", cwd=git_repo)
    assert done.returncode == 3
    assert "not found (404) in octo/nothing, or no access" in done.stderr


def test_token_never_leaks(upstream: FakeGitHub, github_token: str,
                           git_repo: Path) -> None:
    outputs = [
        tpo("issues.sync", "--repo", REPO, "--all", cwd=git_repo),
        tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=git_repo),
        tpo("issues.list", "--repo", REPO, "--json", cwd=git_repo),
        tpo("config", "--json", cwd=git_repo),
        tpo("issues.list", "--repo", REPO, cwd=git_repo,
            env={"GITHUB_TOKEN": github_token + "-wrong", "TPO_DEBUG": "1"}),
    ]
    assert [done.returncode for done in outputs] == [0, 0, 0, 0, 3]
    for done in outputs:
        assert github_token not in done.stdout
        assert github_token not in done.stderr
    for path in git_repo.rglob("*"):
        if path.is_file():
            assert github_token.encode() not in path.read_bytes(), path
    assert all(r.headers.get("authorization") == f"token {github_token}"
               for r in upstream.requests[:3])


def test_sync_without_git_warns_and_writes(upstream: FakeGitHub, git_repo: Path,
                                           tmp_path: Path) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=git_repo,
               env={"PATH": str(empty)})
    assert done.returncode == 0, done.stderr
    assert "git not found" in done.stderr
    assert read_metadata(git_repo, 1)["branch_created"] is None
    assert current_branch(git_repo) == "main"


def test_dirty_checkout_conflict_is_one_line(upstream: FakeGitHub,
                                             git_repo: Path) -> None:
    git(git_repo, "checkout", "-q", "-b", "issue-1-started")
    (git_repo / "README.md").write_text("# changed on the branch\n")
    git(git_repo, "commit", "-q", "-am", "docs: change readme")
    git(git_repo, "checkout", "-q", "main")
    (git_repo / "README.md").write_text("# local edit\n")
    done = tpo("issues.sync", "--repo", REPO, "--number", "1", cwd=git_repo)
    assert done.returncode == 3
    assert done.stderr.startswith("Error: git checkout failed")
    assert "Traceback" not in done.stderr
    assert not (git_repo / ".github").exists()
