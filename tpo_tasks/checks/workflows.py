"""GitHub Actions workflow checks: every workflow parses; actionlint when present."""

import json
from collections.abc import Iterator
from typing import Any

from .results import WARN, CheckResult, register
from .yaml_lines import YamlSyntaxError

PARSE = register(
    "workflow.parse",
    "a .github/workflows file that is not valid YAML or lacks 'on' and 'jobs'",
    "fix the YAML at the reported line; a workflow needs top-level on: and jobs:",
)
ACTIONLINT = register(
    "workflow.actionlint",
    "actionlint findings (expressions, job needs, shell scripts); runs only when "
    "actionlint is on PATH",
    "follow the actionlint message",
    status=WARN,
)


def workflow_files(scan: Any) -> list[str]:
    return [
        path
        for path in scan.files
        if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml"))
    ]


def check_workflow(scan: Any, path: str) -> Iterator[CheckResult]:
    documents = scan.yaml(path)
    if isinstance(documents, YamlSyntaxError):
        yield PARSE.result(
            f"invalid YAML: {documents.message}", file=path, line=documents.line
        )
        return
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        yield PARSE.result("a workflow must be one YAML mapping", file=path, line=1)
        return
    data = documents[0].data
    # YAML 1.1 reads a bare "on" key as the boolean true.
    if "on" not in data and True not in data and "true" not in data:
        yield PARSE.result("the workflow has no 'on:' trigger", file=path, line=1)
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        yield PARSE.result(
            "the workflow has no jobs", file=path, line=documents[0].line("jobs")
        )


def actionlint_results(
    root: Any, paths: list[str], executable: str
) -> list[CheckResult]:
    """Run actionlint once over ``paths``; return its findings."""
    from ..command import run

    result = run(
        [executable, "-format", "{{json .}}", *paths],
        cwd=root,
        check=False,
        timeout=300,
    )
    try:
        findings = json.loads(result.stdout or "[]")
    except ValueError:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(
            "actionlint printed no JSON: " + (detail[-1] if detail else "no output")
        ) from None
    return [
        ACTIONLINT.result(
            f"{item.get('kind')}: {item.get('message')}",
            file=item.get("filepath"),
            line=item.get("line"),
        )
        for item in findings or []
    ]
