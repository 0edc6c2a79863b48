"""The shared GitHub client against the loopback fake, through the real ghapi."""

import socket

import pytest

from tpo_tasks import github
from tpo_tasks.errors import ConfigError, ExitCode
from tpo_tasks.testing.fake_github import FakeGitHub, make_issue, make_pull_request

REPO = "octo/demo"
ISSUES = "/repos/octo/demo/issues"


def connect(**kwargs: object) -> github.Client:
    options = {"backoff": 0.01, "timeout": 5.0, **kwargs}
    return github.connect(REPO, **options)


@pytest.fixture
def fake(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_issues(REPO, [make_issue(n) for n in range(1, 251)])
    return fake_github


def test_pagination_follows_next_without_last(fake: FakeGitHub) -> None:
    fake.links = "next"
    with connect() as client:
        pages = list(client.paginate(ISSUES, query={"state": "open"}))
    assert [len(page.data) for page in pages] == [100, 100, 50]
    assert len(fake.requests_to(ISSUES)) == 3


def test_pagination_makes_no_request_for_empty_page(fake: FakeGitHub) -> None:
    fake.add_issues(REPO, [make_issue(n) for n in range(251, 301)])
    with connect() as client:
        pages = list(client.paginate(ISSUES))
    assert sum(len(page.data) for page in pages) == 300
    assert len(fake.requests_to(ISSUES)) == 3


def test_pagination_asks_for_100_per_page(fake: FakeGitHub) -> None:
    with connect() as client:
        list(client.paginate(ISSUES, query={"state": "open"}))
    first = fake.requests_to(ISSUES)[0]
    assert first.query == {"state": "open", "per_page": "100"}


def test_conditional_request_returns_not_modified(fake: FakeGitHub) -> None:
    with connect() as client:
        first = client.send(ISSUES)
        again = client.send(ISSUES, etag=first.etag)
    assert again.not_modified
    assert fake.requests[-1].headers["if-none-match"] == first.etag


def test_conditional_request_stops_pagination(fake: FakeGitHub) -> None:
    with connect() as client:
        etag = next(client.paginate(ISSUES)).etag
        pages = list(client.paginate(ISSUES, etag=etag))
    assert [page.not_modified for page in pages] == [True]


def test_gh_host_variable_is_ignored(fake: FakeGitHub) -> None:
    with connect() as client:
        client.request(ISSUES)
    assert client.api.gh_host == fake.url


def test_api_url_variable_wins_over_config(fake: FakeGitHub) -> None:
    assert github.resolve_api_url("https://ghe.example.test/api/v3") == fake.url


def test_api_url_config_used_without_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    configured = "https://ghe.example.test/api/v3/"
    assert github.resolve_api_url(configured) == "https://ghe.example.test/api/v3"


def test_api_url_defaults_to_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    assert github.resolve_api_url(None) == "https://api.github.com"


@pytest.mark.parametrize("value", ["api.github.com", "ftp://x.test", "https://u:p@x.test"],
                         ids=["bare-host", "ftp", "credentials"])
def test_invalid_api_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch,
                                           value: str) -> None:
    monkeypatch.setenv("GITHUB_API_URL", value)
    with pytest.raises(ConfigError, match="GITHUB_API_URL"):
        github.resolve_api_url(None)


def test_token_goes_only_in_authorization_header(fake: FakeGitHub,
                                                 github_token: str) -> None:
    with connect() as client:
        list(client.paginate(ISSUES))
    recorded = fake.requests_to(ISSUES)
    assert all(r.headers["authorization"] == f"token {github_token}" for r in recorded)
    assert all(github_token not in str(r.query) for r in recorded)


def test_no_token_sends_no_authorization(fake: FakeGitHub) -> None:
    with connect() as client:
        client.request(ISSUES)
    assert not fake.requests[-1].authorized


def test_bad_credentials(fake: FakeGitHub, github_token: str) -> None:
    fake.token = "another-token-value"
    with connect() as client, pytest.raises(github.BadCredentials) as caught:
        client.request(ISSUES)
    assert "bad credentials" in caught.value.message
    assert github_token not in caught.value.message


def test_rate_limit_names_reset_and_token(fake: FakeGitHub) -> None:
    reset = 1_900_000_000
    fake.inject_rate_limit(reset=reset)
    with connect() as client, pytest.raises(github.RateLimited) as caught:
        client.request(ISSUES)
    assert "2030-03-17 17:46:40 UTC" in caught.value.message
    assert "GITHUB_TOKEN" in caught.value.message
    assert caught.value.code == ExitCode.EXTERNAL


def test_rate_limit_is_not_retried(fake: FakeGitHub) -> None:
    fake.inject_rate_limit(times=5)
    with connect() as client, pytest.raises(github.RateLimited):
        client.request(ISSUES)
    assert len(fake.requests_to(ISSUES)) == 1


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_secondary_limit_backs_off_and_retries(fake: FakeGitHub, status: int) -> None:
    fake.inject_secondary_limit(retry_after=1, status=status, times=2)
    waits: list[float] = []
    with connect() as client:
        client.sleep = waits.append
        items = client.request(ISSUES)
    assert len(items) == 30
    assert waits == [1.0, 1.0]


def test_secondary_limit_retries_are_bounded(fake: FakeGitHub) -> None:
    fake.inject_secondary_limit(retry_after=0, times=50)
    with connect(retries=2) as client, pytest.raises(github.RateLimited) as caught:
        client.request(ISSUES)
    assert len(fake.requests_to(ISSUES)) == 3
    assert "secondary rate limit" in caught.value.message


def test_server_errors_retry_with_backoff(fake: FakeGitHub) -> None:
    fake.inject(502, path=ISSUES, times=2)
    waits: list[float] = []
    with connect(backoff=0.5) as client:
        client.sleep = waits.append
        items = client.request(ISSUES)
    assert len(items) == 30
    assert waits == [0.5, 1.0]


def test_server_errors_stop_after_retries(fake: FakeGitHub) -> None:
    fake.inject(500, path=ISSUES, times=10)
    with connect(retries=3) as client, pytest.raises(github.GitHubError) as caught:
        client.request(ISSUES)
    assert len(fake.requests_to(ISSUES)) == 4
    assert "server error 500" in caught.value.message


def test_post_is_not_retried_on_server_error(fake: FakeGitHub) -> None:
    path = "/repos/octo/demo/releases"
    fake.inject(500, path=path, method="POST", times=3)
    with connect() as client, pytest.raises(github.GitHubError):
        client.request(path, "POST", data={"tag_name": "v1.0.0"})
    assert len(fake.requests_to(path, "POST")) == 1


def test_timeout_retries_then_succeeds(fake: FakeGitHub) -> None:
    fake.inject(None, path=ISSUES, delay=3.0)
    with connect(timeout=1.0) as client:
        items = client.request(ISSUES)
    assert len(items) == 30


def test_timeout_exhausted_is_one_line(fake: FakeGitHub) -> None:
    fake.inject(None, path=ISSUES, delay=1.0, times=3)
    with connect(timeout=0.3, retries=1) as client, \
            pytest.raises(github.GitHubError) as caught:
        client.request(ISSUES)
    assert "timed out after 2 attempt(s)" in caught.value.message


def test_unreachable_api_is_an_external_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    with connect(retries=1) as client, pytest.raises(github.GitHubError) as caught:
        client.request(ISSUES)
    assert "cannot reach the GitHub API" in caught.value.message


def test_not_found(fake: FakeGitHub) -> None:
    with github.connect("octo/missing", backoff=0.01) as client, \
            pytest.raises(github.NotFound) as caught:
        client.request("/repos/{owner}/{repo}/issues")
    assert "not found (404) in octo/missing, or no access" in caught.value.message


def test_issues_disabled_is_gone(fake: FakeGitHub) -> None:
    fake.disable_issues(REPO)
    with connect() as client, pytest.raises(github.Gone) as caught:
        client.request(ISSUES)
    assert "gone (410)" in caught.value.message


def test_forbidden_without_rate_limit(fake: FakeGitHub) -> None:
    fake.inject(403, path=ISSUES, body={"message": "Resource not accessible"})
    with connect() as client, pytest.raises(github.Forbidden) as caught:
        client.request(ISSUES)
    assert "Resource not accessible" in caught.value.message


def test_error_messages_hide_the_api_url(fake: FakeGitHub) -> None:
    fake.inject(404, path=ISSUES)
    with connect() as client, pytest.raises(github.NotFound) as caught:
        client.request(ISSUES)
    assert fake.url not in caught.value.message


def test_link_to_another_host_is_refused(fake: FakeGitHub, github_token: str) -> None:
    fake.inject(200, path=ISSUES, body=[make_issue(1)], headers={
        "link": '<http://198.51.100.7/repos/octo/demo/issues?page=2>; rel="next"'})
    with connect() as client, pytest.raises(github.GitHubError) as caught:
        list(client.paginate(ISSUES))
    assert "another host" in caught.value.message


def test_pull_requests_come_back_in_issue_list(fake: FakeGitHub) -> None:
    fake.add_issues(REPO, [make_pull_request(900)])
    with connect() as client:
        first = client.request(ISSUES, query={"per_page": 1})
    assert "pull_request" in first[0]


def test_release_create_read_update(fake_github: FakeGitHub) -> None:
    fake_github.repo(REPO)
    with connect() as client:
        created = client.request("/repos/{owner}/{repo}/releases", "POST",
                                 data={"tag_name": "v1.2.0", "body": "notes"})
        by_tag = client.request("/repos/{owner}/{repo}/releases/tags/v1.2.0")
        client.request(f"/repos/{{owner}}/{{repo}}/releases/{created['id']}", "PATCH",
                       data={"body": "new notes"})
        updated = client.request("/repos/{owner}/{repo}/releases/tags/v1.2.0")
    assert by_tag["id"] == created["id"]
    assert updated["body"] == "new notes"


def test_missing_release_is_not_found(fake_github: FakeGitHub) -> None:
    fake_github.repo(REPO)
    with connect() as client, pytest.raises(github.NotFound):
        client.request("/repos/{owner}/{repo}/releases/tags/v9.9.9")


def test_results_are_plain_json_types(fake: FakeGitHub) -> None:
    with connect() as client:
        items = client.request(ISSUES)
    assert type(items) is list
    assert type(items[0]["labels"]) is list


def test_invalid_repo_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OWNER/REPO"):
        github.connect("not a repo")


def test_request_count_counts_every_attempt(fake: FakeGitHub) -> None:
    fake.inject(503, path=ISSUES)
    with connect() as client:
        client.request(ISSUES)
    assert client.request_count == 2
