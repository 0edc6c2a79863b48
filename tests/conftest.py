"""Shared fixtures: the loopback-only network guard, git repositories, the CLI."""

import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "support.services", "support.release", "support.fake_github", "support.fake_kube",
    "support.deploy",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXED_DATE = "2026-01-15T12:00:00+00:00"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.test",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.test",
    "GIT_AUTHOR_DATE": FIXED_DATE,
    "GIT_COMMITTER_DATE": FIXED_DATE,
}


class NonLoopbackConnection(AssertionError):
    """A test tried to reach an address outside 127.0.0.0/8 and ::1."""


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and other families with no host part
    host = address[0]
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reject any connection from the test process to a non-loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def reject_remote(sock: socket.socket, address: object) -> None:
        is_inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        if is_inet and not _is_loopback(address):
            raise NonLoopbackConnection(f"test tried to connect to {address!r}")

    def guarded_connect(self: socket.socket, address: object) -> None:
        reject_remote(self, address)
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        reject_remote(self, address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop variables from the developer's shell that would change task behaviour."""
    for name in list(os.environ):
        if name.startswith(("INVOKE_", "GITHUB_", "TPO_")) or name in (
            "PARENT_REPO", "GH_HOST", "KUBECONFIG",
        ):
            monkeypatch.delenv(name, raising=False)
    for name, value in GIT_IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with the fixed identity and return its stdout."""
    completed = subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    return completed.stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A new git repository on branch main with one commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test Author")
    git(repo, "config", "user.email", "author@example.test")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "config", "tag.gpgsign", "false")
    (repo / "README.md").write_text("# demo\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "chore: initial commit")
    return repo


def run_tpo(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the ``tpo`` console script in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tpo_tasks", *args], cwd=cwd, capture_output=True,
        text=True, env={**os.environ, **(env or {})}, input=input, timeout=timeout,
    )


@pytest.fixture
def tpo(tmp_path: Path) -> Iterator[object]:
    """Call ``tpo(*args, cwd=..., env=...)`` to run the console script."""
    yield run_tpo
