"""The fake GitHub API as a separate process, as the benchmark and demos run it."""

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tpo_tasks import github
from tpo_tasks.testing.fake_github import FakeGitHub


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tpo_tasks.testing.fake_github", "--repo", "octo/demo",
         "--issues", "120", "--pulls", "3", "--links", "next"],
        stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    yield process, url
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_module_prints_loopback_url(served: tuple[subprocess.Popen[str], str]) -> None:
    _, url = served
    assert url.startswith("http://127.0.0.1:")


def test_module_serves_generated_issues(
        served: tuple[subprocess.Popen[str], str]) -> None:
    _, url = served
    first = get_json(f"{url}/repos/octo/demo/issues?per_page=100")
    second = get_json(f"{url}/repos/octo/demo/issues?per_page=100&page=2")
    assert [item["number"] for item in first[:3]] == [123, 122, 121]
    assert "pull_request" in first[0]
    assert [item["number"] for item in second] == list(range(23, 0, -1))


def test_request_log_over_http(served: tuple[subprocess.Popen[str], str]) -> None:
    _, url = served
    get_json(f"{url}/repos/octo/demo/issues?state=open")
    log = get_json(f"{url}/_fake/requests")
    assert log == [{"method": "GET", "path": "/repos/octo/demo/issues",
                    "query": {"state": "open"}, "status": 200, "authorized": False,
                    "if_none_match": None}]


def test_module_stops_on_sigterm(served: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_duplicate_release_tag_is_422(fake_github: FakeGitHub) -> None:
    fake_github.repo("octo/demo")
    with github.connect("octo/demo", backoff=0.01) as client:
        client.request("/repos/{owner}/{repo}/releases", "POST",
                       data={"tag_name": "v1.0.0"})
        with pytest.raises(github.GitHubError) as caught:
            client.request("/repos/{owner}/{repo}/releases", "POST",
                           data={"tag_name": "v1.0.0"})
    assert caught.value.status == 422


def test_unknown_path_is_404(served: tuple[subprocess.Popen[str], str]) -> None:
    _, url = served
    with pytest.raises(urllib.error.HTTPError) as caught:
        get_json(f"{url}/users/octocat")
    assert caught.value.code == 404
