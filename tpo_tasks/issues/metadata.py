"""Build the ``metadata.json`` record of an issue from a GitHub issue object.

The deriving rules (type, priority, components, dependencies, effort, acceptance
criteria) read labels and the body only; they take plain values and return plain
values, so they are tested without a network or a repository.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

TYPES = ("feature", "bug", "enhancement", "documentation", "task", "question")
PRIORITIES = ("critical", "high", "medium", "low")
DEFAULT_TYPE = "task"

# Label name (after removing a "type:" / "kind/" style prefix) to issue type.
_TYPE_LABELS = {
    "bug": "bug", "defect": "bug", "regression": "bug", "crash": "bug",
    "feature": "feature", "feature request": "feature", "new feature": "feature",
    "enhancement": "enhancement", "improvement": "enhancement",
    "documentation": "documentation", "docs": "documentation", "doc": "documentation",
    "question": "question", "support": "question",
    "task": "task", "chore": "task", "maintenance": "task",
}
# When several labels name a type, the first type in this order wins.
_TYPE_ORDER = ("bug", "feature", "enhancement", "documentation", "question", "task")
_TYPE_PREFIX = re.compile(r"^(?:type|kind|t)\s*[:/]\s*", re.I)

_PRIORITY_WORDS = {
    "critical": "critical", "urgent": "critical", "blocker": "critical",
    "highest": "critical", "high": "high", "medium": "medium", "normal": "medium",
    "moderate": "medium", "low": "low", "lowest": "low", "minor": "low",
}
_PRIORITY_PREFIXED = re.compile(r"^(?:priority|prio|pri)\s*[:/ -]\s*(\w+)$", re.I)
_PRIORITY_SUFFIXED = re.compile(r"^(\w+)[ -]priority$", re.I)
_PRIORITY_P = re.compile(r"^(?:priority\s*[:/ -]\s*)?p([0-4])$", re.I)
_P_LEVELS = {"0": "critical", "1": "high", "2": "medium", "3": "low", "4": "low"}

_COMPONENT_LABEL = re.compile(r"^(?:component|area|module|service)\s*[:/]\s*(.+)$",
                              re.I)
_EFFORT_LABEL = re.compile(
    r"^(effort|points|story[ -]?points|estimate|sp|size)\s*[:/=]\s*"
    r"(\d+(?:\.\d+)?)\s*([a-z]*)$", re.I)
_EFFORT_UNITS = {"": "points", "pt": "points", "pts": "points", "points": "points",
                 "h": "hours", "hr": "hours", "hrs": "hours", "hours": "hours",
                 "d": "days", "day": "days", "days": "days",
                 "w": "weeks", "wk": "weeks", "weeks": "weeks"}

_REFS = r"((?:[ \t]*(?:,[ \t]*and\b|,|\band\b|&|\bor\b)?[ \t]*#\d+\b)+)"
_DEPENDENCY_PHRASES = {
    "blocked_by": r"blocked[ \t]+by|depends[ \t]+on|depend[ \t]+on|dependent[ \t]+on"
                  r"|requires|waiting[ \t]+(?:for|on)",
    "blocks": r"blocks|blocking",
    "related_to": r"related[ \t]+to|relates[ \t]+to|see[ \t]+also|related",
}
_DEPENDENCY_PATTERNS = {
    kind: re.compile(rf"(?<![\w/])(?:{phrase})\b[ \t]*:?[ \t]*{_REFS}", re.I)
    for kind, phrase in _DEPENDENCY_PHRASES.items()
}
_ISSUE_REF = re.compile(r"(?<![\w/])#(\d+)\b")

_TASK_ITEM = re.compile(r"^\s*[-*+]\s+\[([ xX])\]\s+(.*\S)\s*$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_HEADING = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__):?\s*$")


def label_names(labels: Iterable[Any] | None) -> list[str]:
    """Return label names; GitHub gives objects, hand-written files plain strings."""
    names = []
    if isinstance(labels, str):
        labels = [labels]
    for label in labels or ():
        if isinstance(label, Mapping):
            name = label.get("name")
        else:
            name = label
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def issue_type(labels: Sequence[str]) -> str:
    """Return the issue type named by ``labels``, or ``task``."""
    found = set()
    for label in labels:
        key = _TYPE_PREFIX.sub("", label).strip().lower()
        if key in _TYPE_LABELS:
            found.add(_TYPE_LABELS[key])
    for kind in _TYPE_ORDER:
        if kind in found:
            return kind
    return DEFAULT_TYPE


def priority(labels: Sequence[str]) -> str | None:
    """Return the highest priority that a label states, or None."""
    found = set()
    for label in labels:
        text = label.strip()
        level = None
        if match := _PRIORITY_P.match(text):
            level = _P_LEVELS[match[1]]
        elif match := _PRIORITY_PREFIXED.match(text):
            level = _PRIORITY_WORDS.get(match[1].lower())
        elif match := _PRIORITY_SUFFIXED.match(text):
            level = _PRIORITY_WORDS.get(match[1].lower())
        elif text.lower() in ("critical", "urgent", "blocker"):
            level = "critical"
        if level:
            found.add(level)
    for level in PRIORITIES:
        if level in found:
            return level
    return None


def components(labels: Sequence[str], body: str, known: Sequence[str]) -> list[str]:
    """Return components named by ``component: X``/``area/X`` labels or in the body."""
    result: list[str] = []
    for label in labels:
        if match := _COMPONENT_LABEL.match(label.strip()):
            result.append(match[1].strip())
    for name in known:
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", body, re.I):
            result.append(name)
    unique: list[str] = []
    seen: set[str] = set()
    for name in result:
        if name.lower() not in seen:
            seen.add(name.lower())
            unique.append(name)
    return unique


def dependencies(body: str, number: int | None = None) -> dict[str, list[int]]:
    """Return issue numbers after phrases such as "Blocked by #12" or "Blocks #50"."""
    result: dict[str, list[int]] = {"blocks": [], "blocked_by": [], "related_to": []}
    for kind, pattern in _DEPENDENCY_PATTERNS.items():
        for match in pattern.finditer(body):
            for ref in _ISSUE_REF.findall(match[1]):
                value = int(ref)
                if value != number and value not in result[kind]:
                    result[kind].append(value)
    return result


def effort(labels: Sequence[str]) -> dict[str, Any]:
    """Return ``{estimate, unit}`` from labels such as ``effort: 5``, else nulls."""
    for label in labels:
        match = _EFFORT_LABEL.match(label.strip())
        if not match:
            continue
        unit = _EFFORT_UNITS.get(match[3].lower())
        if unit is None:
            continue
        value = float(match[2])
        return {"estimate": int(value) if value.is_integer() else value, "unit": unit}
    return {"estimate": None, "unit": None}


def milestone(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``{title, due_date}`` with the due date as YYYY-MM-DD, or nulls."""
    if not isinstance(data, Mapping):
        return {"title": None, "due_date": None}
    due = data.get("due_on")
    due_date = None
    if isinstance(due, str) and due:
        try:
            due_date = datetime.fromisoformat(due.replace("Z", "+00:00")).date()
            due_date = due_date.isoformat()
        except ValueError:
            due_date = None
    return {"title": data.get("title"), "due_date": due_date}


def acceptance_criteria(body: str) -> list[str]:
    """Return the task-list items under an "Acceptance Criteria" heading.

    Without such a heading, or when it has no task items, return every task-list
    item of the body. The heading may be a Markdown heading or a bold line; its
    section ends at the next heading of the same or a higher level.
    """
    lines = body.splitlines()
    section: list[str] | None = None
    level = 0
    for index, line in enumerate(lines):
        heading = _HEADING.match(line)
        bold = _BOLD_HEADING.match(line) if not heading else None
        title = heading[2] if heading else bold[1] if bold else None
        if title and "acceptance criteria" in title.lower():
            level = len(heading[1]) if heading else 7
            section = []
            for following in lines[index + 1:]:
                next_heading = _HEADING.match(following)
                if next_heading and len(next_heading[1]) <= level:
                    break
                if level == 7 and (next_heading or _BOLD_HEADING.match(following)):
                    break
                section.append(following)
            break
    items = _task_items(section) if section is not None else []
    return items or _task_items(lines)


def _task_items(lines: Iterable[str]) -> list[str]:
    return [match[2] for line in lines if (match := _TASK_ITEM.match(line))]


def status(state: str, branch: str | None) -> str:
    """Return ``closed``, ``in_progress`` (open with a branch) or ``open``."""
    if state == "closed":
        return "closed"
    return "in_progress" if branch else "open"


def build_metadata(issue: Mapping[str, Any], *, repo: str, branch: str | None,
                   synced_at: str, known_components: Sequence[str] = ()
                   ) -> dict[str, Any]:
    """Return the metadata record of ``issue`` with its keys in the documented order."""
    number = int(issue["number"])
    body = issue.get("body") or ""
    labels = label_names(issue.get("labels"))
    assignees = [
        {"login": person.get("login"), "avatar_url": person.get("avatar_url")}
        for person in issue.get("assignees") or ()
        if isinstance(person, Mapping) and person.get("login")
    ]
    return {
        "number": str(number),
        "title": issue.get("title") or "",
        "status": status(issue.get("state", "open"), branch),
        "type": issue_type(labels),
        "priority": priority(labels),
        "url": issue.get("html_url") or issue.get("url"),
        "created_at": issue.get("created_at"),
        "updated_at": issue.get("updated_at"),
        "closed_at": issue.get("closed_at"),
        "labels": labels,
        "assignees": assignees,
        "description": body,
        "comments_count": int(issue.get("comments") or 0),
        "components": components(labels, body, known_components),
        "dependencies": dependencies(body, number),
        "effort": effort(labels),
        "milestone": milestone(issue.get("milestone")),
        "acceptance_criteria": acceptance_criteria(body),
        "branch_created": branch,
        "pr_created": None,
        "synced_at": synced_at,
        "last_synced_from": repo,
    }


def encode(metadata: Mapping[str, Any]) -> str:
    """Return the JSON text written to ``metadata.json``: one top-level key a line.

    Nested values stay on their key's line. Unlike ``indent=2``, this keeps
    Python's C encoder, which matters when thousands of records are written.
    """
    lines = [f"  {json.dumps(str(key))}: {json.dumps(value, ensure_ascii=False)}"
             for key, value in metadata.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def same_except_sync_time(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Return whether two records differ at most in ``synced_at``."""
    keys = (set(old) | set(new)) - {"synced_at"}
    return all(old.get(key) == new.get(key) for key in keys) and list(old) == list(new)
