"""One walk over the repository's files, each file read and parsed at most once.

In a git work tree the file list is ``git ls-files --cached --others
--exclude-standard``, so ``.gitignore`` is respected; elsewhere the folders are
walked, skipping ``.git`` and common dependency folders. Paths matching a
``tpo.checks.exclude`` glob are left out. Reads and parses are cached on the scan,
so every check that looks at a file shares one read.
"""

import os
import re
import subprocess
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from ..globs import glob_to_regex
from .yaml_lines import Document, YamlSyntaxError, parse_documents

T = TypeVar("T")

# Folders never walked outside git: dependencies and build output.
_WALK_SKIP = {
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    "bin",
    "obj",
    "dist",
    "build",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}
MAX_FILE_BYTES = 2_000_000


def is_excluded(path: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    return any(pattern.match(path) for pattern in patterns)


def in_git_work_tree(root: Path) -> bool:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (FileNotFoundError, OSError):
        return False
    return completed.returncode == 0 and completed.stdout.strip() == "true"


def _is_repository_file(root: Path, path: Path) -> bool:
    """Return whether ``path`` is a regular file that resolves inside ``root``.

    A symbolic link to a file outside the repository, or one in a loop, is not
    repository content, so its target is never read.
    """
    try:
        return path.is_file() and path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def list_files(root: Path, exclude: Iterable[str] = ()) -> tuple[list[str], bool]:
    """Return (sorted relative POSIX paths, whether git listed them)."""
    root = root.resolve()
    patterns = [glob_to_regex(pattern) for pattern in exclude]
    in_git = in_git_work_tree(root)
    if in_git:
        completed = subprocess.run(
            [
                "git",
                "-c",
                "core.quotePath=false",
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=120,
        )
        names = [
            name
            for name in completed.stdout.decode("utf-8", "replace").split("\0")
            if name
        ]
        # ls-files lists deleted-but-tracked files too; keep what exists.
        files = sorted(
            {name for name in names if _is_repository_file(root, root / name)}
        )
    else:
        files = []
        for folder, subfolders, filenames in os.walk(root):
            subfolders[:] = [name for name in subfolders if name not in _WALK_SKIP]
            relative = os.path.relpath(folder, root)
            for filename in filenames:
                if not _is_repository_file(root, Path(folder) / filename):
                    continue
                path = filename if relative == "." else f"{relative}/{filename}"
                files.append(path.replace(os.sep, "/"))
        files.sort()
    return [path for path in files if not is_excluded(path, patterns)], in_git


def too_large_message(path: str) -> str:
    return (
        f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB, so it was not "
        "parsed or checked; split it, or add it to tpo.checks.exclude"
    )


class RepoScan:
    """The files of one repository and a cache of their text and parsed forms."""

    def __init__(self, root: Path | str, exclude: Iterable[str] = ()) -> None:
        self.root = Path(root).resolve()
        self.exclude = tuple(exclude)
        self.files, self.in_git = list_files(self.root, self.exclude)
        self._cache: dict[Any, Any] = {}
        self.reads = 0
        # Files cut at MAX_FILE_BYTES by raw(): the checks report them as not parsed
        # instead of checking a truncated text.
        self.truncated: set[str] = set()

    @cached_property
    def file_set(self) -> frozenset[str]:
        return frozenset(self.files)

    def cached(self, key: Any, build: Callable[[], T]) -> T:
        """Return the value stored under ``key``, building it on the first call."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def matching(self, *globs: str) -> list[str]:
        """Return the files whose path or name matches one of ``globs``."""
        patterns = [glob_to_regex(glob) for glob in globs]
        return [
            path
            for path in self.files
            if any(
                pattern.match(path) or pattern.match(path.rsplit("/", 1)[-1])
                for pattern in patterns
            )
        ]

    def raw(self, path: str) -> bytes:
        """Return the bytes of ``path`` (at most 2 MB), read once."""

        def read() -> bytes:
            self.reads += 1
            with open(self.root / path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                self.truncated.add(path)
            return data[:MAX_FILE_BYTES]

        return self.cached(("raw", path), read)

    def text(self, path: str) -> str:
        """Return ``path`` decoded as UTF-8 with a leading BOM removed."""

        def decode() -> str:
            text = self.raw(path).decode("utf-8", "replace")
            return text[1:] if text.startswith("\ufeff") else text

        return self.cached(("text", path), decode)

    def yaml(self, path: str) -> list[Document] | YamlSyntaxError:
        """Return the YAML documents of ``path``, or the syntax error, parsed once."""

        def parse() -> list[Document] | YamlSyntaxError:
            text = self.text(path)
            if path in self.truncated:
                return YamlSyntaxError(too_large_message(path), None)
            try:
                return parse_documents(text, path)
            except YamlSyntaxError as exc:
                return exc

        return self.cached(("yaml", path), parse)

    def is_dir(self, path: str) -> bool:
        return (self.root / path).is_dir()

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()
