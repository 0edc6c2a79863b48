"""release.publish against the loopback GitHub fake, through the real ghapi client."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.release import commit, git_run, run_release, tag

from tpo_tasks.testing.fake_github import FakeGitHub

CHANGELOG = """\
# Changelog

## [Unreleased]

## [1.1.0-rc.1] - 2026-01-15

### Fixed

- a bug

## [1.0.0] - 2026-01-10

### Added

- first feature
"""
TOKEN = "ghp_fake_token_value_123"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.repo("acme/widget")
        server.repo("someone/fork")
        yield server


@pytest.fixture
def published_repo(git_repo: Path) -> Path:
    commit(git_repo, "chore: changelog", {"CHANGELOG.md": CHANGELOG})
    tag(git_repo, "v1.0.0")
    tag(git_repo, "v1.1.0-rc.1")
    git_run(git_repo, "remote", "add", "origin", "https://github.com/acme/widget.git")
    return git_repo


def publish(repo: Path, fake: FakeGitHub, *args: str, **env: str):
    return run_release(repo, "release.publish", *args,
                       env={"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, **env})


def releases(fake: FakeGitHub, name: str = "acme/widget") -> list[dict]:
    return sorted(fake.repos[name].releases.values(), key=lambda item: item["id"])


def test_publish_creates_release_with_latest_notes(published_repo: Path,
                                                   fake: FakeGitHub) -> None:
    completed = publish(published_repo, fake)
    assert completed.returncode == 0, completed.stderr
    [created] = releases(fake)
    assert (created["tag_name"], created["body"], created["prerelease"],
            created["draft"]) == ("v1.1.0-rc.1", "### Fixed\n\n- a bug\n", True, False)


def test_publish_named_version_as_draft(published_repo: Path, fake: FakeGitHub) -> None:
    publish(published_repo, fake, "--version", "1.0.0", "--draft")
    [created] = releases(fake)
    assert (created["tag_name"], created["draft"], created["prerelease"]) == (
        "v1.0.0", True, False)


def test_publish_twice_updates_the_release(published_repo: Path,
                                           fake: FakeGitHub) -> None:
    publish(published_repo, fake, "--version", "1.0.0")
    text = (published_repo / "CHANGELOG.md").read_text()
    (published_repo / "CHANGELOG.md").write_text(
        text.replace("- first feature", "- first feature, reworded"))
    completed = publish(published_repo, fake, "--version", "1.0.0")
    assert completed.stdout.startswith("updated published release v1.0.0")
    [release] = releases(fake)
    assert release["body"] == "### Added\n\n- first feature, reworded\n"


def test_publish_sends_the_token_but_never_prints_it(published_repo: Path,
                                                     fake: FakeGitHub) -> None:
    fake.token = TOKEN
    completed = publish(published_repo, fake)
    assert completed.returncode == 0, completed.stderr
    assert all(request.authorized for request in fake.requests)
    assert TOKEN not in completed.stdout + completed.stderr


def test_repo_flag_wins_over_github_repository(published_repo: Path,
                                               fake: FakeGitHub) -> None:
    publish(published_repo, fake, "--repo", "someone/fork",
            GITHUB_REPOSITORY="acme/widget")
    assert len(releases(fake, "someone/fork")) == 1
    assert releases(fake) == []


def test_github_repository_wins_over_origin(published_repo: Path,
                                            fake: FakeGitHub) -> None:
    publish(published_repo, fake, GITHUB_REPOSITORY="someone/fork")
    assert len(releases(fake, "someone/fork")) == 1


def test_parent_repo_is_never_the_target(published_repo: Path,
                                         fake: FakeGitHub) -> None:
    publish(published_repo, fake, PARENT_REPO="someone/fork")
    assert releases(fake, "someone/fork") == []
    assert len(releases(fake)) == 1


def test_publish_without_any_repository_says_how_to_set_one(
        git_repo: Path, fake: FakeGitHub) -> None:
    commit(git_repo, "chore: changelog", {"CHANGELOG.md": CHANGELOG})
    completed = publish(git_repo, fake)
    assert completed.returncode == 2
    assert "pass --repo OWNER/REPO" in completed.stderr


def test_publish_reports_an_api_failure(published_repo: Path,
                                        fake: FakeGitHub) -> None:
    fake.token = "another-token-value"
    completed = publish(published_repo, fake)
    assert completed.returncode == 3
    assert "Traceback" not in completed.stderr
