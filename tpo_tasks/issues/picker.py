"""The interactive issue picker and the sanitising of text shown on a terminal."""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import metadata

# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST),
# other two-byte escapes, and their 8-bit C1 forms.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# Remaining C0/C1 controls, DEL, and bidirectional overrides that reorder text.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def sanitize(text: Any) -> str:
    """Return ``text`` without escape sequences or control characters, on one line."""
    cleaned = _ESCAPES.sub("", str(text or ""))
    cleaned = _CONTROLS.sub(" ", cleaned)
    return " ".join(cleaned.split())


def describe(issue: Mapping[str, Any], width: int = 72) -> str:
    """Return ``#N title [labels]`` for a list line, sanitised and shortened."""
    title = sanitize(issue.get("title"))
    if len(title) > width:
        title = title[: width - 3] + "..."
    labels = [sanitize(name) for name in metadata.label_names(issue.get("labels"))]
    suffix = f"  [{', '.join(labels)}]" if labels else ""
    return f"#{issue['number']}  {title}{suffix}"


def choose(issues: Sequence[Mapping[str, Any]], *, ask: Callable[[str], str],
           show: Callable[[str], None], attempts: int = 5) -> Mapping[str, Any] | None:
    """Show a numbered list and return the chosen issue, or None when the user quits.

    The answer is a list position (``2``) or an issue number (``#49``); ``q``
    or end of input quits. After ``attempts`` invalid answers the picker quits.
    """
    for position, issue in enumerate(issues, start=1):
        show(f"{position:>4}. {describe(issue)}")
    by_number = {int(issue["number"]): issue for issue in issues}
    for _ in range(attempts):
        try:
            answer = ask(f"Choose an issue (1-{len(issues)}, #N, q to quit): ").strip()
        except EOFError:
            return None
        if answer.lower() in ("q", "quit", "exit"):
            return None
        if answer.startswith("#") and answer[1:].isdigit():
            if int(answer[1:]) in by_number:
                return by_number[int(answer[1:])]
        elif answer.isdigit() and 1 <= int(answer) <= len(issues):
            return issues[int(answer) - 1]
        show(f"invalid choice {sanitize(answer)!r}; enter 1-{len(issues)}, #N or q")
    return None
