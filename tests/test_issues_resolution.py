"""Which repository the issues tasks read: flag, variable, config, remotes."""

import pytest

from tpo_tasks.errors import ConfigError
from tpo_tasks.issues.sync import repo_from_remote, resolve_repo

REMOTES = {"upstream": "git@github.com:octo/upstream.git",
           "origin": "https://github.com/me/fork.git"}


def remotes(name: str) -> str | None:
    return REMOTES.get(name)


def no_remotes(name: str) -> str | None:
    return None


def origin_only(name: str) -> str | None:
    return REMOTES["origin"] if name == "origin" else None


def test_flag_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARENT_REPO", "env/repo")
    assert resolve_repo("flag/repo", "config/repo", remotes) == ("flag/repo", "--repo")


def test_parent_repo_beats_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARENT_REPO", "env/repo")
    assert resolve_repo(None, "config/repo", remotes) == ("env/repo", "PARENT_REPO")


def test_config_beats_remotes() -> None:
    assert resolve_repo(None, "config/repo", remotes) == ("config/repo",
                                                          "tpo.github.repo")


def test_upstream_beats_origin() -> None:
    assert resolve_repo(None, None, remotes) == ("octo/upstream", "git remote upstream")


def test_origin_is_last_remote() -> None:
    assert resolve_repo(None, None, origin_only) == ("me/fork", "git remote origin")


def test_file_repository_is_the_fallback() -> None:
    assert resolve_repo(None, None, no_remotes, fallback="file/repo") == (
        "file/repo", "the issues file")


def test_remote_beats_file_repository() -> None:
    assert resolve_repo(None, None, origin_only, fallback="file/repo")[0] == "me/fork"


def test_nothing_found_says_how_to_set_one() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_repo(None, None, no_remotes)
    assert "pass --repo OWNER/REPO" in caught.value.message
    assert "PARENT_REPO" in caught.value.message


def test_invalid_flag_is_rejected_even_with_fallback() -> None:
    with pytest.raises(ConfigError, match="invalid --repo"):
        resolve_repo("not-a-repo", None, no_remotes, fallback="file/repo")


def test_invalid_parent_repo_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARENT_REPO", "a/b/c")
    with pytest.raises(ConfigError, match="invalid PARENT_REPO 'a/b/c'"):
        resolve_repo(None, None, no_remotes)


REMOTE_URLS = {
    "https": ("https://github.com/octo/demo.git", "octo/demo"),
    "https-no-suffix": ("https://github.com/octo/demo", "octo/demo"),
    "scp": ("git@github.com:octo/demo.git", "octo/demo"),
    "ssh": ("ssh://git@github.example.com:2222/octo/demo.git", "octo/demo"),
    "token-in-url": ("https://x-access-token:abc123@github.com/octo/demo.git",
                     "octo/demo"),
    "local-path": ("/srv/git/demo.git", None),
    "empty": ("", None),
}


@pytest.mark.parametrize(("url", "expected"), REMOTE_URLS.values(),
                         ids=REMOTE_URLS.keys())
def test_repo_from_remote_url(url: str, expected: str | None) -> None:
    assert repo_from_remote(url) == expected
