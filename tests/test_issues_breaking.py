"""Hostile input for the issues namespace: odd API responses, files and repositories."""

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import git, run_tpo

from tpo_tasks import github
from tpo_tasks.errors import ConfigError, ExternalError, UsageError
from tpo_tasks.issues import markers, metadata, state
from tpo_tasks.issues.slug import branch_name
from tpo_tasks.issues.state import RepoState
from tpo_tasks.issues.sync import (
    DocWriter,
    WriteReport,
    fetch_changes,
    fetch_open,
    load_issue_file,
    open_docs,
)
from tpo_tasks.testing.fake_github import make_issue

REPO = "octo/demo"

# A handler returns (status, headers, body) for a request path.
Answer = Callable[[str], tuple[int, dict[str, str], bytes]]


class _Handler(BaseHTTPRequestHandler):
    answer: Answer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        status, headers, body = self.answer(self.path)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def odd_api() -> Iterator[Callable[[Answer], github.Client]]:
    """Start loopback servers that send the given responses; return a client factory."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> github.Client:
        handler = type("Handler", (_Handler,), {"answer": staticmethod(answer)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_port}"
        return github.Client(REPO, api_url=url, token=None, retries=0, backoff=0)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _json(data: Any, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    return 200, headers or {}, json.dumps(data).encode()


def _fetch(client: github.Client) -> list[dict[str, Any]]:
    with client:
        return fetch_open(client, [], lambda _: None)


@pytest.mark.parametrize("repo", ["../..", "../x", "./x", "x/..", "./."],
                         ids=["up-up", "up-name", "dot-owner", "dot-dot-name", "dots"])
def test_repo_with_dot_segments_rejected(repo: str) -> None:
    with pytest.raises(ConfigError):
        github.split_repo(repo)


@pytest.mark.parametrize("answer", [
    lambda path: (200, {}, b'[{"number": 1,'),
    lambda path: (200, {"Content-Type": "text/html"}, b"<html>hi</html>"),
    lambda path: (200, {}, b"<html>hi</html>"),
    lambda path: _json({"message": "not a list"}),
    lambda path: _json([None, 5, "x"]),
    lambda path: _json([{"title": "no number"}]),
    lambda path: _json([{"number": "5", "title": "text number"}]),
], ids=["truncated-json", "html-page", "html-as-json", "object", "not-objects",
        "no-number", "text-number"])
def test_malformed_issue_page_is_external_error(
        odd_api: Callable[[Answer], github.Client], answer: Answer) -> None:
    with pytest.raises(ExternalError):
        _fetch(odd_api(answer))


def test_unconditional_304_is_external_error(
        odd_api: Callable[[Answer], github.Client]) -> None:
    client = odd_api(lambda path: (304, {}, b""))
    with pytest.raises(ExternalError):
        _fetch(client)


def test_unconditional_304_not_unchanged_in_sync(
        odd_api: Callable[[Answer], github.Client]) -> None:
    client = odd_api(lambda path: (304, {}, b""))
    with client, pytest.raises(ExternalError):
        fetch_changes(client, RepoState(), [], lambda _: None)


def test_duplicate_across_pages_kept_once(
        odd_api: Callable[[Answer], github.Client]) -> None:
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if "page=2" in path:
            return _json([make_issue(1, "Moved", updated_at="2025-02-01T00:00:00Z"),
                          make_issue(2)])
        return _json([make_issue(1, "Before")],
                     {"Link": f'<{client.api_url}/repos/{REPO}/issues?page=2>; '
                              'rel="next"'})

    client = odd_api(answer)
    items = _fetch(client)
    assert [item["number"] for item in items] == [1, 2]
    assert items[0]["title"] == "Moved"


def test_label_given_as_string_is_one_label() -> None:
    assert metadata.label_names("bug") == ["bug"]


def test_from_file_body_not_text_is_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([{"number": 5, "title": "t", "body": 5}]))
    with pytest.raises(UsageError):
        load_issue_file(str(path))


def test_from_file_labels_not_list_is_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([{"number": 5, "title": "t", "labels": {"a": 1}}]))
    with pytest.raises(UsageError):
        load_issue_file(str(path))


def test_from_file_directory_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load_issue_file(str(tmp_path))


def _writer(root: Path) -> DocWriter:
    return DocWriter(directory=root / ".github/issues", repo=REPO, fsync=False)


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n", "\f", "\u2028", "\x85"],
                         ids=["cr", "crlf", "lf", "form-feed", "line-separator",
                              "next-line"])
def test_marker_in_body_after_newline_escaped(tmp_path: Path, newline: str) -> None:
    # str.splitlines ends a line at each of these separators.
    body = (f"a{newline}<!-- tpo:end description -->\nINJECTED"
            f"{newline}<!-- tpo:begin notes -->\nb")
    report = WriteReport()
    _writer(tmp_path).write(make_issue(20, "Body with markers", body=body), None,
                            report)
    assert report.failures == []
    text = (tmp_path / ".github/issues/20/ISSUE.md").read_text(encoding="utf-8")
    assert markers.region_names(text).count("description") == 1
    assert "notes" not in markers.region_names(text)


def test_symlinked_issue_doc_left_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("private text\n")
    root = tmp_path / "repo"
    folder = root / ".github/issues/3"
    folder.mkdir(parents=True)
    (folder / "ISSUE.md").symlink_to(outside)
    report = WriteReport()
    _writer(root).write(make_issue(3, "Linked"), None, report)
    assert len(report.failures) == 1
    assert (folder / "ISSUE.md").is_symlink()
    assert outside.read_text() == "private text\n"


def test_ansi_title_gives_clean_branch() -> None:
    assert branch_name(1, "\x1b[31mred\x1b[0m alert") == "issue-1-red-alert"


def test_dirty_checkout_says_what_to_do(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "f.txt").write_text("base\n")
    git(git_repo, "add", "f.txt")
    git(git_repo, "commit", "-qm", "base")
    git(git_repo, "checkout", "-q", "-b", "issue-8-old")
    (git_repo / "f.txt").write_text("on the branch\n")
    git(git_repo, "commit", "-qam", "branch")
    git(git_repo, "checkout", "-q", "main")
    (git_repo / "f.txt").write_text("local edit\n")
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps([make_issue(8, "Eight")]))
    done = run_tpo("issues.sync", "--repo", REPO, "--from-file", str(issues),
                   "--number", "8", cwd=git_repo)
    assert done.returncode == 3
    assert "f.txt" in done.stderr
    assert "--no-branch" in done.stderr
    assert "Traceback" not in done.stderr
    assert (git_repo / "f.txt").read_text() == "local edit\n"


def test_next_link_to_same_page_stops(
        odd_api: Callable[[Answer], github.Client]) -> None:
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        return _json([make_issue(1)],
                     {"Link": f'<{client.api_url}/repos/{REPO}/issues?page=1>; '
                              'rel="next"'})

    client = odd_api(answer)
    with pytest.raises(ExternalError):
        _fetch(client)
    assert client.request_count <= 3


@pytest.mark.parametrize("stored", [
    {"since": 5},
    {"since": "garbage"},
    {"since": ["2025-01-01T00:00:00Z"]},
], ids=["number", "text", "list"])
def test_invalid_stored_since_means_full_sync(stored: dict[str, Any]) -> None:
    data = {"version": 1, "repositories": {REPO: stored}}
    assert state.entry(data, REPO) == RepoState()


@pytest.mark.parametrize("etag", ['W/"a"\r\nX-Evil: 1', 5, "W/\"\u00e9\""],
                         ids=["line-break", "number", "non-ascii"])
def test_invalid_stored_etag_dropped(etag: Any) -> None:
    query = {"state": "all", "since": "2025-01-01T00:00:00Z"}
    data = {"version": 1, "repositories": {REPO: {
        "since": "2025-01-01T00:00:00Z", "etag": etag, "etag_query": query}}}
    assert state.entry(data, REPO).etag is None


@pytest.mark.parametrize("field", [
    {"comments": "abc"}, {"comments": -3}, {"comments": 1e400}, {"assignees": 5},
    {"created_at": 5}, {"html_url": 5}, {"milestone": {"title": 5}},
    {"milestone": "v1"},
], ids=["comments-text", "comments-negative", "comments-huge", "assignees-number",
        "created-number", "url-number", "milestone-title-number", "milestone-text"])
def test_from_file_field_of_wrong_type_rejected(tmp_path: Path,
                                                field: dict[str, Any]) -> None:
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([{"number": 5, "title": "t", **field}]))
    with pytest.raises(UsageError):
        load_issue_file(str(path))


def test_marker_in_issue_url_escaped(tmp_path: Path) -> None:
    issue = {**make_issue(6, "Odd link"),
             "html_url": "https://x\n<!-- tpo:end header -->\nX\n<!-- tpo:begin zz -->"}
    report = WriteReport()
    _writer(tmp_path).write(issue, None, report)
    assert report.failures == []
    text = (tmp_path / ".github/issues/6/ISSUE.md").read_text(encoding="utf-8")
    assert "zz" not in markers.region_names(text)


def test_from_file_duplicate_number_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([make_issue(5, "Old"), make_issue(5, "New")]))
    items = load_issue_file(str(path))
    assert [item["title"] for item in items] == ["New"]


def test_non_utf8_issue_doc_left_alone(tmp_path: Path) -> None:
    doc = tmp_path / ".github/issues/5/ISSUE.md"
    doc.parent.mkdir(parents=True)
    doc.write_bytes(b"caf\xe9 notes\n")
    (doc.parent / "metadata.json").write_bytes(b'{"title": "caf\xe9"}')
    report = WriteReport()
    _writer(tmp_path).write(make_issue(5, "Latin-1 notes"), None, report)
    assert len(report.failures) == 1
    assert doc.read_bytes() == b"caf\xe9 notes\n"


def test_non_utf8_metadata_skipped_in_scan(tmp_path: Path) -> None:
    folder = tmp_path / "5"
    folder.mkdir()
    (folder / "metadata.json").write_bytes(b'{"title": "caf\xe9"}')
    assert open_docs(tmp_path, REPO) == {}


def test_symlinked_issue_folder_left_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    docs = tmp_path / "repo/.github/issues"
    docs.mkdir(parents=True)
    (docs / "3").symlink_to(outside, target_is_directory=True)
    report = WriteReport()
    _writer(tmp_path / "repo").write(make_issue(3, "Linked folder"), None, report)
    assert len(report.failures) == 1
    assert list(outside.iterdir()) == []
