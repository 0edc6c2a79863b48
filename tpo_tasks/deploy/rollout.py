"""Bounded rollout waits and the diagnostics printed when a rollout fails.

kubectl's own ``rollout status`` waits forever by default; every call here passes
``--timeout`` with what is left of the environment's ``rollout_timeout``.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LOG_LINES = 20
EVENT_LINES = 10


@dataclass(frozen=True)
class RolloutFailure:
    """A workload that did not become ready in time."""

    kind: str
    name: str
    message: str

    def describe(self) -> str:
        return f"{self.kind.lower()}/{self.name}: {self.message}"


def status_args(kind: str, name: str, seconds: int) -> list[str]:
    """Return the kubectl arguments of a bounded rollout wait."""
    return ["rollout", "status", f"{kind.lower()}/{name}", f"--timeout={seconds}s"]


def wait_for_rollouts(kubectl: Any, workloads: Sequence[tuple[str, str]],
                      timeout: int) -> list[RolloutFailure]:
    """Wait for each workload; return those that failed or timed out.

    All the waits share one budget of ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    failures = []
    for kind, name in workloads:
        remaining = max(1, int(deadline - time.monotonic()))
        result = kubectl.run(*status_args(kind, name, remaining), check=False,
                             request_timeout=False, timeout=remaining + 30)
        if not result.ok:
            lines = (result.stderr or result.stdout).strip().splitlines()
            message = lines[-1] if lines else f"exit status {result.returncode}"
            failures.append(RolloutFailure(kind, name, message.removeprefix("error: ")))
    return failures


def _ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _failing_containers(pod: dict[str, Any]) -> list[str]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    failing = [s.get("name") for s in statuses if not s.get("ready")]
    if not statuses:
        failing = [c.get("name") for c in
                   ((pod.get("spec") or {}).get("containers") or [])]
    return [name for name in failing if name]


def _selector(workload: dict[str, Any]) -> str | None:
    labels = (((workload.get("spec") or {}).get("selector") or {})
              .get("matchLabels") or {})
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _events(kubectl: Any, kind: str, name: str) -> list[str]:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    result = kubectl.run("get", "events", "--field-selector", selector, "-o", "json",
                         check=False)
    if not result.ok:
        return [f"  (events unavailable: {result.stderr.strip()[:200]})"]
    import json

    items = json.loads(result.stdout or "{}").get("items") or []
    lines = []
    for event in items[-EVENT_LINES:]:
        lines.append(f"  {event.get('type', '')} {event.get('reason', '')}: "
                     f"{event.get('message', '')}".rstrip())
    return lines


def diagnose(kubectl: Any, failure: RolloutFailure) -> list[str]:
    """Return the events and last log lines of the failing pods of a workload."""
    lines = [f"{failure.describe()}"]
    workload = kubectl.get_json(failure.kind.lower(), failure.name)
    if workload is None:
        return [*lines, "  (workload not found)"]
    for condition in (workload.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True" or condition.get("reason") == (
                "ProgressDeadlineExceeded"):
            lines.append(f"  condition {condition.get('type')}: "
                         f"{condition.get('reason', '')} {condition.get('message', '')}"
                         .rstrip())
    lines += _events(kubectl, failure.kind, failure.name)
    selector = _selector(workload)
    pods = kubectl.get_json("pods", None, "-l", selector) if selector else None
    for pod in (pods or {}).get("items") or []:
        if _ready(pod):
            continue
        pod_name = pod["metadata"]["name"]
        lines.append(f"pod/{pod_name} is not ready")
        lines += _events(kubectl, "Pod", pod_name)
        for container in _failing_containers(pod):
            result = kubectl.run("logs", pod_name, "-c", container,
                                 f"--tail={LOG_LINES}", check=False)
            text = (result.stdout if result.ok else result.stderr).rstrip()
            lines.append(f"  last log lines of container {container}:")
            lines += [f"    {line}" for line in text.splitlines()[-LOG_LINES:]] or [
                "    (no output)"]
    return lines
