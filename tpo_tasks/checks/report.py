"""Report formats: the grouped text report, JSON, Markdown and GitHub annotations."""

import textwrap
from collections.abc import Iterable
from typing import Any

from .results import (
    ERROR,
    FAIL,
    MANUAL,
    PASS,
    SEVERITY,
    SKIP,
    STATUSES,
    WARN,
    CheckResult,
    by_group,
    is_ok,
    summarize,
)

GROUP_TITLES = {
    "repo": "Repository",
    "release": "Release",
    "docker": "Dockerfiles",
    "k8s": "Kubernetes",
    "config": "Configuration",
    "workflow": "Workflows",
    "rollout": "Rollout",
    "pods": "Pods",
    "health": "HTTP health",
    "logs": "Logs",
}


def summary_line(results: list[CheckResult], *, strict: bool = False) -> str:
    counts = summarize(results)
    verdict = "OK" if is_ok(results, strict=strict) else "FAILED"
    parts = ", ".join(
        f"{counts[status]} {status}" for status in STATUSES if counts[status]
    )
    return f"{verdict}: {len(results)} results ({parts})"


def text_report(
    results: list[CheckResult], *, strict: bool = False, verbose: bool = False
) -> str:
    """Return the report a person reads: findings first in each group, passes folded."""
    lines: list[str] = []
    for group, items in by_group(results):
        lines.append(GROUP_TITLES.get(group, group))
        shown = sorted(
            items,
            key=lambda item: (SEVERITY[item.status], item.file or "", item.line or 0),
        )
        passed = []
        for item in shown:
            if item.status == PASS and not verbose:
                passed.append(item.id)
                continue
            lines.append(f"  {item.status.upper():<6} {item.id}  {item.message}")
            if item.location:
                lines.append(f"         at {item.location}")
            if item.hint and item.status in (FAIL, ERROR, WARN, MANUAL):
                lines.append(f"         fix: {item.hint}")
        if passed:
            unique = ", ".join(dict.fromkeys(passed))
            lines.extend(
                textwrap.wrap(
                    unique,
                    width=88,
                    initial_indent="  PASS   ",
                    subsequent_indent="         ",
                    break_on_hyphens=False,
                )
            )
        lines.append("")
    lines.append(summary_line(results, strict=strict))
    return "\n".join(lines)


def json_report(results: list[CheckResult], *, strict: bool = False) -> dict[str, Any]:
    """Return ``{"ok", "results"}``; see templates/checks-report.schema.json."""
    return {
        "ok": is_ok(results, strict=strict),
        "results": [item.to_dict() for item in results],
    }


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def markdown_report(
    results: list[CheckResult], title: str, *, strict: bool = False
) -> str:
    """Return a Markdown report: a summary, then a table of every non-passing item."""
    lines = [f"## {title}", "", summary_line(results, strict=strict), ""]
    findings = sorted(
        (item for item in results if item.status not in (PASS, SKIP)),
        key=lambda item: (SEVERITY[item.status], item.id),
    )
    if findings:
        lines += [
            "| status | check | message | location | fix |",
            "| --- | --- | --- | --- | --- |",
        ]
        for item in findings:
            lines.append(
                f"| {item.status} | `{item.id}` | {_cell(item.message)} | "
                f"{_cell(item.location)} | {_cell(item.hint)} |"
            )
        lines.append("")
    passed = sorted({item.id for item in results if item.status == PASS})
    skipped = [item for item in results if item.status == SKIP]
    if passed:
        lines += [f"Passed: {', '.join(f'`{name}`' for name in passed)}", ""]
    if skipped:
        lines.append("Skipped:")
        lines += [f"- `{item.id}`: {_cell(item.message)}" for item in skipped]
        lines.append("")
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(results: Iterable[CheckResult]) -> list[str]:
    """Return GitHub workflow commands (::error / ::warning) for the findings."""
    commands = []
    for item in results:
        if item.status in (FAIL, ERROR):
            level = "error"
        elif item.status == WARN:
            level = "warning"
        else:
            continue
        properties = [f"title={_escape_property(item.id)}"]
        if item.file:
            properties.insert(0, f"file={_escape_property(item.file)}")
            if item.line:
                properties.insert(1, f"line={item.line}")
        message = item.message + (f" (fix: {item.hint})" if item.hint else "")
        commands.append(f"::{level} {','.join(properties)}::{_escape_data(message)}")
    return commands
