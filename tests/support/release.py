"""Helpers for the release tests: commits with fixed dates, tags, running tpo.

``release_repo`` is the conftest ``git_repo`` (branch main, one commit) with a
``pyproject.toml`` at 0.4.2 and the tag ``v0.4.2``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RELEASE_DATE = "2026-01-15"
PYPROJECT = """\
[project]
name = "widget"
version = "{version}"
dependencies = ["other-lib>={version}"]
"""


def git_run(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (identity and dates come from the test environment)."""
    completed = subprocess.run(["git", *args], cwd=repo, check=True,
                               capture_output=True, text=True)
    return completed.stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str] | None = None) -> str:
    """Write ``files``, commit them with ``message`` and return the new commit id."""
    for name, content in (files or {}).items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        git_run(repo, "add", name)
    subject, _, body = message.partition("\n\n")
    args = ["commit", "-q", "--allow-empty", "-m", subject]
    if body:
        args += ["-m", body]
    git_run(repo, *args)
    return git_run(repo, "rev-parse", "HEAD")


def tag(repo: Path, name: str, annotated: bool = True) -> None:
    """Create tag ``name`` on HEAD."""
    if annotated:
        git_run(repo, "tag", "-a", name, "-m", name)
    else:
        git_run(repo, "tag", name)


def run_release(repo: Path, *args: str, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """Run ``tpo release.<args>`` in ``repo`` with the release date fixed."""
    return subprocess.run(
        [sys.executable, "-m", "tpo_tasks", *args], cwd=repo, capture_output=True,
        text=True, timeout=120,
        env={**os.environ, "TPO_RELEASE_DATE": RELEASE_DATE, **(env or {})},
    )


def json_output(completed: subprocess.CompletedProcess[str]) -> dict:
    """Return the JSON a task printed on stdout."""
    return json.loads(completed.stdout)


@pytest.fixture
def release_repo(git_repo: Path) -> Path:
    """A repository with pyproject.toml at 0.4.2 tagged v0.4.2."""
    commit(git_repo, "chore: add pyproject",
           {"pyproject.toml": PYPROJECT.format(version="0.4.2")})
    tag(git_repo, "v0.4.2")
    return git_repo
