"""Post-deploy checks: rollouts, pods, HTTP health and error lines in new pods' logs.

Everything is read through the environment's guarded kubectl (its own context and
namespace); nothing in the cluster is changed.
"""

import re
from collections.abc import Iterator
from typing import Any

from .results import WARN, CheckResult, Rule, register

ROLLOUT = register(
    "rollout.status",
    "a workload whose rollout did not complete",
    "inspect it with kubectl rollout status and kubectl describe; roll back with "
    "inv deploy.rollback ENV if it stays broken",
)
PODS_READY = register(
    "pods.ready",
    "pods not ready, or containers waiting (CrashLoopBackOff, ImagePullBackOff)",
    "kubectl describe pod NAME shows the events and the reason",
)
PODS_RESTARTS = register(
    "pods.restarts",
    "containers that restarted, with the reason of the last termination",
    "read the previous logs: kubectl logs NAME --previous",
    status=WARN,
)
LOG_ERRORS = register(
    "logs.errors",
    "error lines (ERROR, FATAL, panic, Traceback, Exception) in the new pods' recent "
    "logs",
    "read the full logs of the pod named in the message",
    status=WARN,
)


WORKLOAD_KINDS = ("deployments", "statefulsets", "daemonsets")
ERROR_LINE = re.compile(
    r"\b(ERROR|FATAL|CRITICAL|PANIC|panic:|Traceback \(most recent "
    r"call last\)|Unhandled exception|Exception:)",
    re.I,
)
LOG_TAIL = 200


def workloads(kubectl: Any) -> list[dict[str, Any]]:
    """Return the Deployments, StatefulSets and DaemonSets of the namespace."""
    found = []
    for kind in WORKLOAD_KINDS:
        listed = kubectl.get_json(kind) or {}
        found.extend(listed.get("items") or [])
    return found


def check_rollouts(
    kubectl: Any, items: list[dict[str, Any]], timeout: int
) -> Iterator[CheckResult]:
    from ..deploy.rollout import wait_for_rollouts

    if not items:
        yield ROLLOUT.skipped(f"no workload in namespace {kubectl.namespace}")
        return
    named = [(item["kind"], item["metadata"]["name"]) for item in items]
    failures = wait_for_rollouts(kubectl, named, timeout)
    for failure in failures:
        yield ROLLOUT.result(
            f"{failure.kind.lower()}/{failure.name}: {failure.message}"
        )
    if not failures:
        yield ROLLOUT.passed(f"{len(named)} workload(s) rolled out")


def pod_findings(pods: list[dict[str, Any]]) -> Iterator[CheckResult]:
    """Yield not-ready and restarted containers with their reasons."""
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded",):
            continue
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        containers = status.get("containerStatuses") or []
        if not ready:
            reasons = []
            for container in containers:
                waiting = (container.get("state") or {}).get("waiting") or {}
                if waiting.get("reason"):
                    reasons.append(f"{container.get('name')}: {waiting['reason']}")
            detail = ", ".join(reasons) or f"phase {status.get('phase', 'unknown')}"
            yield PODS_READY.result(f"pod/{name} is not ready ({detail})")
        for container in containers:
            restarts = int(container.get("restartCount") or 0)
            if restarts:
                last = (container.get("lastState") or {}).get("terminated") or {}
                reason = last.get("reason") or "unknown reason"
                code = last.get("exitCode")
                code_text = f", exit code {code}" if code is not None else ""
                yield PODS_RESTARTS.result(
                    f"pod/{name} container {container.get('name')} restarted "
                    f"{restarts} time(s); last: {reason}{code_text}"
                )


def log_findings(
    kubectl: Any, pods: list[dict[str, Any]], since_minutes: int
) -> Iterator[CheckResult]:
    """Yield one warning per pod whose recent logs hold error lines."""
    from ..output import mask

    for pod in pods:
        name = pod["metadata"]["name"]
        result = kubectl.run(
            "logs",
            name,
            "--all-containers=true",
            f"--since={since_minutes}m",
            f"--tail={LOG_TAIL}",
            check=False,
        )
        if not result.ok:
            continue  # a pod still starting has no logs yet; pods.ready reports it
        errors = [
            line for line in result.stdout.splitlines() if ERROR_LINE.search(line)
        ]
        if errors:
            first = mask(errors[0].strip())[:160]
            yield LOG_ERRORS.result(
                f"pod/{name}: {len(errors)} error line(s) in the "
                f"last {since_minutes} minutes; first: {first}"
            )


def postdeploy_rules(
    settings: Any, environment: Any, *, since_minutes: int = 10
) -> list[Rule]:
    """Return the post-deploy rules for ``environment``."""
    from ..deploy.kubectl import Kubectl
    from .health import HTTP, RetryPolicy, check_urls

    kubectl = Kubectl(environment, settings.deploy)
    kubectl.check_context()
    # One read before the rules run: an unreachable cluster raises ExternalError
    # here (exit 3) instead of crashing every rule into an 'error' result.
    kubectl.get_json("pods")
    state: dict[str, Any] = {}

    def pods() -> list[dict[str, Any]]:
        if "pods" not in state:
            state["pods"] = (kubectl.get_json("pods") or {}).get("items") or []
        return state["pods"]

    def health() -> list[CheckResult]:
        if not environment.health:
            return [
                HTTP.skipped(
                    f"no tpo.deploy.environments.{environment.name}.health URLs"
                )
            ]
        return check_urls(environment.health, RetryPolicy())

    def pod_rule() -> Iterator[CheckResult]:
        state.pop("pods", None)  # read the pods after the rollouts settled
        yield from pod_findings(pods())

    return [
        Rule(
            (ROLLOUT,),
            lambda: check_rollouts(
                kubectl, workloads(kubectl), environment.rollout_timeout
            ),
        ),
        Rule((PODS_READY, PODS_RESTARTS), pod_rule, "every pod is ready, no restarts"),
        Rule((HTTP,), health),
        Rule(
            (LOG_ERRORS,),
            lambda: log_findings(kubectl, pods(), since_minutes),
            "no error lines in the recent logs",
        ),
    ]
