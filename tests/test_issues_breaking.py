"""Hostile input for the issues namespace: odd API answers, files and repositories."""

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
from tpo_tasks.issues import markers, metadata
from tpo_tasks.issues.slug import branch_name
from tpo_tasks.issues.state import RepoState
from tpo_tasks.issues.sync import (
    DocWriter,
    WriteReport,
    fetch_changes,
    fetch_open,
    load_issue_file,
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
    """Start loopback servers answering as told; return a client factory."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> github.Client:
        handler = type("Handler", (_Handler,), {"answer": staticmethod(answer)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
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


