"""Fixtures for the GitHub tests: the loopback fake API and its environment."""

from collections.abc import Iterator

import pytest

from tpo_tasks.testing.fake_github import FakeGitHub

TOKEN = "ghp_TestTokenValue0123456789abcdef"


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A started fake GitHub API; GITHUB_API_URL points at it, GH_HOST misleads."""
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        # gh CLI users set GH_HOST to a bare host name; it must be ignored.
        monkeypatch.setenv("GH_HOST", "github.example.invalid")
        yield fake


@pytest.fixture
def github_token(monkeypatch: pytest.MonkeyPatch, fake_github: FakeGitHub) -> str:
    """A token in GITHUB_TOKEN that the fake requires."""
    fake_github.token = TOKEN
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return TOKEN
