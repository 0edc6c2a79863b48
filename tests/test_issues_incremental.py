"""issues.sync --all: first and incremental syncs, ETags, since, closed issues."""

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import run_tpo

from tpo_tasks import github
from tpo_tasks.issues.state import RepoState
from tpo_tasks.issues.sync import fetch_changes
from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_github import FakeGitHub, make_issue, make_pull_request

REPO = "octo/demo"
ISSUES_PATH = "/repos/octo/demo/issues"
SCHEMA = load_schema("issue-metadata.schema.json")


def quiet(message: str) -> None:
    pass


@pytest.fixture
def upstream(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.links = "next"
    fake_github.add_issues(REPO, [make_issue(n, body=f"Body {n}")
                                  for n in range(1, 131)])
    fake_github.add_issues(REPO, [make_pull_request(n) for n in range(131, 141)])
    return fake_github


def sync_all(repo: Path) -> str:
    done = run_tpo("issues.sync", "--repo", REPO, "--all", cwd=repo)
    assert done.returncode == 0, done.stderr
    return done.stdout


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in folder.rglob("*") if p.is_file() and p.name != ".sync-state.json"}


def test_first_fetch_pages_through_open_issues(upstream: FakeGitHub) -> None:
    with github.connect(REPO) as client:
        fetched = fetch_changes(client, RepoState(), [], quiet)
    assert len(fetched.items) == 140
    assert fetched.requests == 2
    assert fetched.full
    assert upstream.requests_to(ISSUES_PATH)[0].query == {"state": "open",
                                                          "per_page": "100"}


def test_resync_asks_since_newest_update(upstream: FakeGitHub) -> None:
    with github.connect(REPO) as client:
        first = fetch_changes(client, RepoState(), [], quiet)
        again = fetch_changes(client, first.state, [], quiet)
    query = upstream.requests_to(ISSUES_PATH)[-1].query
    assert query == {"state": "all", "since": first.state.since, "per_page": "100"}
    assert again.requests == 1


def test_third_sync_is_a_304(upstream: FakeGitHub) -> None:
    with github.connect(REPO) as client:
        first = fetch_changes(client, RepoState(), [], quiet)
        second = fetch_changes(client, first.state, [], quiet)
        third = fetch_changes(client, second.state, [], quiet)
    last = upstream.requests_to(ISSUES_PATH)[-1]
    assert third.not_modified
    assert last.status == 304
    assert last.headers["if-none-match"] == second.state.etag


def test_resync_sees_closed_issue(upstream: FakeGitHub) -> None:
    with github.connect(REPO) as client:
        first = fetch_changes(client, RepoState(), [], quiet)
        upstream.update_issue(REPO, 17, state="closed")
        again = fetch_changes(client, first.state, [], quiet)
    # ``since`` is inclusive, so the newest item of the first sync comes back too.
    assert [(i["number"], i["state"]) for i in again.items] == [(140, "open"),
                                                                (17, "closed")]
    assert again.state.since > first.state.since


def test_label_filter_is_sent(upstream: FakeGitHub) -> None:
    with github.connect(REPO) as client:
        fetch_changes(client, RepoState(), ["bug", "ui"], quiet)
    assert upstream.requests_to(ISSUES_PATH)[0].query["labels"] == "bug,ui"


def test_sync_all_writes_every_open_issue(upstream: FakeGitHub,
                                          git_repo: Path) -> None:
    output = sync_all(git_repo)
    folder = git_repo / ".github/issues"
    numbers = sorted(int(p.name) for p in folder.iterdir() if p.is_dir())
    assert numbers == list(range(1, 131))
    assert "130 issue(s) updated" in output
    assert len(upstream.requests_to(ISSUES_PATH)) == 2
    for path in folder.glob("*/metadata.json"):
        jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), SCHEMA)


def test_sync_all_creates_no_branch(upstream: FakeGitHub, git_repo: Path) -> None:
    sync_all(git_repo)
    from conftest import git
    assert git(git_repo, "branch", "--list").split() == ["*", "main"]


def test_unchanged_resync_writes_no_file(upstream: FakeGitHub,
                                         git_repo: Path) -> None:
    sync_all(git_repo)
    before = stamps(git_repo / ".github/issues")
    count = len(upstream.requests)
    output = sync_all(git_repo)
    new_requests = upstream.requests[count:]
    assert stamps(git_repo / ".github/issues") == before
    assert "0 file(s) written" in output
    assert len(new_requests) == 1
    assert "since" in new_requests[0].query


def test_unchanged_resyncs_turn_into_304(upstream: FakeGitHub, git_repo: Path) -> None:
    sync_all(git_repo)
    sync_all(git_repo)
    count = len(upstream.requests)
    state = git_repo / ".github/issues/.sync-state.json"
    before = (state.stat().st_mtime_ns, state.stat().st_ino)
    sync_all(git_repo)
    assert [r.status for r in upstream.requests[count:]] == [304]
    assert (state.stat().st_mtime_ns, state.stat().st_ino) == before


def test_resync_updates_changed_and_closed(upstream: FakeGitHub,
                                           git_repo: Path) -> None:
    sync_all(git_repo)
    folder = git_repo / ".github/issues"
    note = folder / "5" / "ISSUE.md"
    note.write_text(note.read_text() + "\nPerson's note.\n")
    upstream.update_issue(REPO, 5, title="Renamed upstream")
    upstream.update_issue(REPO, 6, state="closed")
    before = stamps(folder)
    output = sync_all(git_repo)
    after = stamps(folder)
    changed = sorted(path for path in after if after[path] != before[path])
    assert changed == sorted(str(folder / n / f) for n in ("5", "6")
                             for f in ("ISSUE.md", "metadata.json"))
    assert "2 issue(s) updated" in output
    closed = json.loads((folder / "6" / "metadata.json").read_text())
    jsonschema.validate(closed, SCHEMA)
    assert closed["status"] == "closed"
    assert "Renamed upstream" in note.read_text()
    assert "Person's note." in note.read_text()


def test_closed_issue_without_docs_is_not_created(upstream: FakeGitHub,
                                                  git_repo: Path) -> None:
    sync_all(git_repo)
    upstream.add_issues(REPO, [make_issue(500, state="closed")])
    upstream.update_issue(REPO, 500, state="closed")
    sync_all(git_repo)
    assert not (git_repo / ".github/issues/500").exists()


def test_new_issue_appears_on_resync(upstream: FakeGitHub, git_repo: Path) -> None:
    sync_all(git_repo)
    upstream.add_issues(REPO, [make_issue(501)])
    upstream.update_issue(REPO, 501, title="Brand new")
    sync_all(git_repo)
    assert (git_repo / ".github/issues/501/metadata.json").is_file()


def test_open_issue_with_branch_is_in_progress(upstream: FakeGitHub,
                                               git_repo: Path) -> None:
    from conftest import git
    git(git_repo, "branch", "issue-9-started")
    sync_all(git_repo)
    record = json.loads((git_repo / ".github/issues/9/metadata.json").read_text())
    assert record["status"] == "in_progress"
    assert record["branch_created"] == "issue-9-started"


def test_unreadable_state_means_full_sync(upstream: FakeGitHub, git_repo: Path) -> None:
    sync_all(git_repo)
    state = git_repo / ".github/issues/.sync-state.json"
    state.write_text("{broken")
    count = len(upstream.requests)
    done = run_tpo("issues.sync", "--repo", REPO, "--all", cwd=git_repo)
    assert done.returncode == 0
    assert "ignoring unreadable" in done.stderr
    assert len(upstream.requests) - count == 2
    assert json.loads(state.read_text())["repositories"][REPO]["since"]


def test_progress_is_shown_on_stderr(upstream: FakeGitHub, git_repo: Path) -> None:
    done = run_tpo("issues.sync", "--repo", REPO, "--all", cwd=git_repo)
    assert "fetched page 2 (140 items)" in done.stderr
    assert "fetched page" not in done.stdout


def test_failed_page_writes_nothing(upstream: FakeGitHub, git_repo: Path) -> None:
    upstream.inject(404, path=ISSUES_PATH, query={"page": "2"})
    done = run_tpo("issues.sync", "--repo", REPO, "--all", cwd=git_repo)
    assert done.returncode == 3
    assert not (git_repo / ".github").exists()


def test_full_sync_marks_docs_of_closed_issues(upstream: FakeGitHub,
                                               git_repo: Path) -> None:
    sync_all(git_repo)
    (git_repo / ".github/issues/.sync-state.json").unlink()
    upstream.update_issue(REPO, 8, state="closed")
    count = len(upstream.requests)
    sync_all(git_repo)
    record = json.loads((git_repo / ".github/issues/8/metadata.json").read_text())
    closed_queries = [r.query for r in upstream.requests[count:]
                      if r.query.get("state") == "closed"]
    assert record["status"] == "closed"
    assert closed_queries == [{"state": "closed", "since": "2025-01-01T00:08:00Z",
                               "per_page": "100"}]
