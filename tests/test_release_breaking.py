"""Hostile inputs for the release namespace, each found by trying to break it.

Cases: an invalid pyproject.toml, a write that fails halfway through a bump, a
``{version}`` tag format next to ``v``-prefixed tags, a project file with two
``<Version>`` elements, a ``[project]`` inline table, and a symlinked version file.
"""

from pathlib import Path

from support.release import commit, git_run, json_output, run_release, tag



def snapshot(repo: Path) -> tuple[str, str, str, dict[str, bytes]]:
    files = {str(path.relative_to(repo)): path.read_bytes()
             for path in sorted(repo.rglob("*"))
             if path.is_file() and ".git" not in path.relative_to(repo).parts}
    return (git_run(repo, "rev-parse", "HEAD"), git_run(repo, "tag", "--list"),
            git_run(repo, "status", "--porcelain"), files)


def test_invalid_pyproject_fails_without_traceback(git_repo: Path) -> None:
    commit(git_repo, "chore: add pyproject", {"pyproject.toml": (
        '[project]\nname = "x"\nversion = "0.4.2"\nname = "y"\n')})
    commit(git_repo, "fix: a bug")
    completed = run_release(git_repo, "release.bump")
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 1
    assert "pyproject.toml is not valid TOML" in completed.stderr
