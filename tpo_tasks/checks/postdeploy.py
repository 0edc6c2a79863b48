"""Post-deploy checks: rollouts, pods, HTTP health and error lines in new pods' logs."""

from .results import WARN, register

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


def postdeploy_rules(settings, environment, since_minutes=10):  # filled in below
    raise NotImplementedError
