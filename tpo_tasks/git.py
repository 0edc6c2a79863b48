"""Small git helpers shared by the namespaces: run git, read the tree's state, remotes.

These call ``subprocess`` directly rather than :func:`tpo_tasks.command.run`:
release planning runs git several times per task, and ``sh`` adds about 100 ms of
import time and several milliseconds per call (measured on the 2-core CI machine).
Arguments are always lists, never shell strings.
"""

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ExternalError


class GitError(ExternalError):
    """A git command failed; ``stderr`` holds its message."""

    def __init__(self, message: str, stderr: str = "", returncode: int = 1) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode


def run_git(
    root: str | os.PathLike[str],
    *args: str,
    input: str | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``git <args>`` in ``root`` and return the finished process (text mode).

    Raises GitError naming the subcommand and git's last error line when ``check``
    is true and git exits non-zero, and ExternalError when git is not installed.
    """
    command_env = {**os.environ, **env} if env else None
    # Output goes to temporary files rather than pipes: git writes a long log
    # in small pieces, and draining a pipe piece by piece took twice as long
    # for 50,000 commits (bench/release_history.py).
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            finished = subprocess.run(
                ["git", *args], cwd=root, stdout=out, stderr=err, env=command_env,
                input=input.encode("utf-8") if input is not None else None,
            )
        except FileNotFoundError:
            raise ExternalError("git not found on PATH; install git") from None
        out.seek(0)
        err.seek(0)
        completed = subprocess.CompletedProcess(
            finished.args, finished.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
    if check and completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit status {completed.returncode}"
        # A rejected push ends with "failed to push some refs"; the reason is in
        # the remote's own "remote:" lines, so show the first of them too.
        remote = [line[7:].strip() for line in lines if line.startswith("remote:")]
        remote = [line for line in remote if line]
        if remote:
            last = f"{last} (remote: {remote[0]})"
        raise GitError(f"git {args[0]} failed: {last}", completed.stderr,
                       completed.returncode)
    return completed


def git_output(root: str | os.PathLike[str], *args: str) -> str:
    """Run git and return its stdout with the trailing newline removed."""
    return run_git(root, *args).stdout.rstrip("\n")


def repo_root(start: str | os.PathLike[str] = ".") -> Path:
    """Return the top folder of the work tree containing ``start``.

    Raises ExternalError when ``start`` is not inside a git work tree.
    """
    completed = run_git(start, "rev-parse", "--show-toplevel", check=False)
    if completed.returncode != 0:
        raise ExternalError(f"{Path(start).resolve()} is not inside a git work tree; "
                            "run the task from a clone of the repository")
    return Path(completed.stdout.strip())


def git_dir(root: str | os.PathLike[str]) -> Path:
    """Return the repository's ``.git`` folder (absolute)."""
    path = Path(git_output(root, "rev-parse", "--git-dir"))
    return path if path.is_absolute() else Path(root) / path


def head_sha(root: str | os.PathLike[str]) -> str | None:
    """Return the commit id of HEAD, or None in a repository with no commit."""
    completed = run_git(root, "rev-parse", "-q", "--verify", "HEAD^{commit}",
                        check=False)
    return completed.stdout.strip() or None


def current_branch(root: str | os.PathLike[str]) -> str | None:
    """Return the checked-out branch name, or None on a detached HEAD."""
    completed = run_git(root, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    return completed.stdout.strip() or None


def dirty_files(root: str | os.PathLike[str], *, untracked: bool = False) -> list[str]:
    """Return the paths with staged or unstaged changes (untracked ones if asked)."""
    mode = "--untracked-files=normal" if untracked else "--untracked-files=no"
    output = run_git(root, "status", "--porcelain=v1", "-z", mode).stdout
    paths = []
    entries = output.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            index += 1  # a rename is followed by its source path
    return paths


@dataclass(frozen=True)
class TreeStatus:
    """HEAD, the checked-out branch and the changed paths, from one ``git status``."""

    head: str | None  # None before the first commit
    branch: str | None  # None on a detached HEAD
    changed: tuple[str, ...]  # staged or unstaged changes to tracked files


def tree_status(root: str | os.PathLike[str]) -> TreeStatus:
    """Return HEAD, the branch and the changed tracked paths with one git process."""
    output = run_git(root, "status", "--porcelain=v2", "--branch", "-z",
                     "--untracked-files=no").stdout
    head = branch = None
    changed = []
    entries = output.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if entry.startswith("# branch.oid "):
            value = entry.split(" ", 2)[2]
            head = None if value == "(initial)" else value
        elif entry.startswith("# branch.head "):
            value = entry.split(" ", 2)[2]
            branch = None if value == "(detached)" else value
        elif entry.startswith("1 "):
            changed.append(entry.split(" ", 8)[8])
        elif entry.startswith("2 "):
            changed.append(entry.split(" ", 9)[9])
            index += 1  # a rename or copy is followed by its source path
        elif entry.startswith("u "):
            changed.append(entry.split(" ", 10)[10])
    return TreeStatus(head=head, branch=branch, changed=tuple(changed))


def is_ancestor(root: str | os.PathLike[str], commit: str, descendant: str) -> bool:
    """Return whether ``commit`` is reachable from ``descendant``."""
    completed = run_git(root, "merge-base", "--is-ancestor", commit, descendant,
                        check=False)
    return completed.returncode == 0


def ref_exists(root: str | os.PathLike[str], ref: str) -> bool:
    """Return whether ``ref`` (for example ``refs/tags/v1.0.0``) exists."""
    completed = run_git(root, "rev-parse", "-q", "--verify", ref, check=False)
    return completed.returncode == 0


def tag_exists(root: str | os.PathLike[str], tag: str) -> bool:
    """Return whether the tag ``tag`` exists locally."""
    return ref_exists(root, f"refs/tags/{tag}")


def remote_url(root: str | os.PathLike[str], remote: str = "origin") -> str | None:
    """Return the fetch URL of ``remote``, or None when it is not configured."""
    completed = run_git(root, "remote", "get-url", remote, check=False)
    return completed.stdout.strip() or None


_REMOTE = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host1>[^/:]+)(?::\d+)?/"
    r"|(?:[^@/]+@)?(?P<host2>[^/:]+):)"
    r"(?P<path>[^\s]+?)(?:\.git)?/?$"
)


def parse_remote(url: str) -> tuple[str, str] | None:
    """Return ``(host, "owner/name")`` for an https, ssh or scp-style remote URL."""
    match = _REMOTE.match(url.strip())
    if not match:
        return None
    host = match.group("host1") or match.group("host2")
    path = match.group("path").strip("/")
    if path.count("/") != 1:
        return None
    return host, path


def web_url(url: str) -> str | None:
    """Return the ``https://host/owner/name`` page of a remote URL, or None."""
    parsed = parse_remote(url)
    if parsed is None:
        return None
    host, path = parsed
    return f"https://{host}/{path}"
