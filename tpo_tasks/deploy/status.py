"""The rollout state of an environment's workloads, for ``deploy.status``."""

from typing import Any

from .render import WORKLOAD_KINDS


def _state(kind: str, obj: dict[str, Any]) -> tuple[int, int, str]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
    else:
        desired = int(spec.get("replicas", 1) or 0)
        ready = int(status.get("readyReplicas") or 0)
        updated = int(status.get("updatedReplicas") or 0)
    for condition in status.get("conditions") or []:
        if condition.get("reason") == "ProgressDeadlineExceeded":
            return desired, ready, "failed (ProgressDeadlineExceeded)"
    observed = status.get("observedGeneration")
    generation = (obj.get("metadata") or {}).get("generation")
    if observed is not None and generation is not None and observed < generation:
        return desired, ready, "progressing"
    if ready >= desired and updated >= desired:
        return desired, ready, "complete"
    return desired, ready, "progressing"


def _images(obj: dict[str, Any]) -> list[str]:
    template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c.get("image", "") for c in template.get("containers") or []]


def _running(obj: dict[str, Any], pods: list[dict[str, Any]]) -> list[str]:
    """Return the image digests (``imageID``) the workload's pods run."""
    labels = (((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
              or {})
    if not labels:
        return []
    running = set()
    for pod in pods:
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        if any(pod_labels.get(key) != value for key, value in labels.items()):
            continue
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            image_id = str(container.get("imageID") or "")
            if image_id:
                running.add(image_id.removeprefix("docker-pullable://"))
    return sorted(running)


def workload_status(kubectl: Any) -> list[dict[str, Any]]:
    """Return kind, name, pods desired and ready, state, images and the digests
    running for each workload."""
    found = kubectl.get_json("deployments,statefulsets,daemonsets") or {}
    pods = (kubectl.get_json("pods") or {}).get("items") or []
    rows = []
    for obj in found.get("items") or []:
        kind = obj.get("kind")
        if kind not in WORKLOAD_KINDS:
            continue
        desired, ready, state = _state(kind, obj)
        rows.append({
            "kind": kind,
            "name": obj["metadata"]["name"],
            "desired": desired,
            "ready": ready,
            "state": state,
            "images": _images(obj),
            "running": _running(obj, pods),
        })
    return sorted(rows, key=lambda r: (r["kind"], r["name"]))
