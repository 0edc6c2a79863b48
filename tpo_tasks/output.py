"""Results to stdout, progress and diagnostics to stderr, with secrets masked.

Every message a task prints passes through :func:`mask`, which replaces each
registered secret (a token, a Secret's value) with ``***``.
"""

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that no output path prints it."""
    if value and len(value) >= 4:
        _secrets.add(value)


def mask(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def result(text: str = "") -> None:
    """Print a result line on stdout."""
    sys.stdout.write(mask(text) + "\n")
    sys.stdout.flush()


def info(text: str) -> None:
    """Print a progress or diagnostic line on stderr."""
    sys.stderr.write(mask(text) + "\n")
    sys.stderr.flush()


def warn(text: str) -> None:
    """Print a warning on stderr."""
    info(f"warning: {text}")


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout, the only thing printed there."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    result(text)


def table(rows: Iterable[Iterable[Any]], headers: Iterable[str] | None = None) -> str:
    """Format rows as left-aligned columns separated by two spaces."""
    lines = [[str(cell) for cell in row] for row in rows]
    if headers is not None:
        lines.insert(0, [str(h) for h in headers])
    if not lines:
        return ""
    widths = [
        max(len(row[i]) for row in lines if i < len(row))
        for i in range(max(len(row) for row in lines))
    ]
    formatted = []
    for row in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        formatted.append("  ".join(cells).rstrip())
    return "\n".join(formatted)


def in_github_actions() -> bool:
    """Return whether the process runs as a GitHub Actions step."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def github_output(values: Mapping[str, str]) -> None:
    """Append ``name=value`` lines to ``$GITHUB_OUTPUT`` when Actions sets it."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            handle.write(f"{name}={mask(str(value))}\n")


def github_step_summary(markdown: str) -> None:
    """Append Markdown to ``$GITHUB_STEP_SUMMARY`` when Actions sets it."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(mask(markdown).rstrip("\n") + "\n")
