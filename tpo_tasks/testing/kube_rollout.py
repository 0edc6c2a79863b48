"""Simulated workload controllers of the fake Kubernetes API server.

When a Deployment, StatefulSet or DaemonSet is created or its spec changes, the
:class:`RolloutController` plays what the real controllers and kubelet would do,
on a short timer: it creates a ReplicaSet (Deployments) and Pods, marks the pods
running and ready, and updates the workload's status and conditions so that
``kubectl rollout status`` completes. Each Pod's container status carries an
``imageID`` with a digest, and its log can be read through the log endpoint.

A Job gets one pod that succeeds after one step, and the ``Complete`` condition.

A :class:`Fault` changes the outcome for matching workloads: the new pods crash
(``CrashLoopBackOff`` with restart counts, ``BackOff`` warning events and error
lines in their log) and the workload never becomes available; a Job's pod exits 1
and the Job gets the ``Failed`` condition. A stalled Deployment
reports ``Progressing=False`` with reason ``ProgressDeadlineExceeded`` after its
``spec.progressDeadlineSeconds`` (600 by default), or after ``Fault.after`` seconds
with mode ``progress-deadline``; ``kubectl rollout status`` then fails at once.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tpo_tasks.testing.kube_resources import BY_KEY, Resource
from tpo_tasks.testing.kube_store import Store, now_text

logger = logging.getLogger("tpo_tasks.testing.fake_kube")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
FAULT_MODES = ("never-ready", "progress-deadline")
DEFAULT_ERROR_LOG = (
    "starting service",
    "ERROR failed to load configuration: missing required setting DATABASE_URL",
    "ERROR exiting with status 1",
)
NODE_NAME = "fake-node-1"

DEPLOYMENTS = BY_KEY[("apps", "deployments")]
STATEFULSETS = BY_KEY[("apps", "statefulsets")]
DAEMONSETS = BY_KEY[("apps", "daemonsets")]
REPLICASETS = BY_KEY[("apps", "replicasets")]
PODS = BY_KEY[("", "pods")]
EVENTS = BY_KEY[("", "events")]
JOBS = BY_KEY[("batch", "jobs")]


@dataclass
class Fault:
    """Make matching workload rollouts fail.

    ``name``, ``kind`` and ``namespace`` match the workload (``*`` matches any);
    ``image`` matches when it is a substring of any container image (empty: any).
    ``times`` is how many rollouts fail before the fault clears itself (None: until
    removed). ``after`` is the delay in seconds before ``ProgressDeadlineExceeded``.
    """

    mode: str = "never-ready"
    name: str = "*"
    kind: str = "*"
    namespace: str = "*"
    image: str = ""
    times: int | None = None
    after: float = 1.0
    log: list[str] = field(default_factory=lambda: list(DEFAULT_ERROR_LOG))

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(
                f"invalid fault mode {self.mode!r}; use one of {', '.join(FAULT_MODES)}"
            )
        if self.kind != "*" and self.kind not in WORKLOAD_KINDS:
            raise ValueError(
                f"invalid fault kind {self.kind!r}; use * or one of "
                + ", ".join(WORKLOAD_KINDS)
            )

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse ``NAME=MODE`` or ``key=value,...`` (keys are the field names)."""
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if len(parts) == 1 and parts[0].split("=", 1)[-1] in FAULT_MODES:
            name, _, mode = parts[0].partition("=")
            return cls(mode=mode, name=name or "*")
        values: dict[str, Any] = {}
        for part in parts:
            key, sep, value = part.partition("=")
            if not sep or key not in cls.__dataclass_fields__ or key == "log":
                raise ValueError(
                    f"invalid fault term {part!r}; use NAME=MODE or "
                    "mode=...,name=...,kind=...,namespace=...,image=...,times=N,after=S"
                )
            values[key] = value
        if "times" in values:
            values["times"] = int(values["times"])
        if "after" in values:
            values["after"] = float(values["after"])
        return cls(**values)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from a JSON object with the field names as keys."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        """Return the fault as a JSON object."""
        return asdict(self)

    def matches(self, kind: str, namespace: str, name: str, images: list[str]) -> bool:
        """Return whether this fault applies to a workload's rollout."""
        if self.kind not in ("*", kind) or self.name not in ("*", name):
            return False
        if self.namespace not in ("*", namespace):
            return False
        return not self.image or any(self.image in image for image in images)


class Scheduler:
    """Run callbacks at given times on one background thread."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._wakeup = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name="fake-kube-controllers", daemon=True
        )
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay`` seconds."""
        with self._wakeup:
            heapq.heappush(
                self._queue, (time.monotonic() + delay, next(self._counter), callback)
            )
            self._wakeup.notify()

    def stop(self) -> None:
        """Stop the thread; pending callbacks are dropped."""
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopped:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    timeout = (
                        self._queue[0][0] - time.monotonic() if self._queue else None
                    )
                    self._wakeup.wait(timeout)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._queue)
            try:
                callback()
            except Exception:  # a failing step must not stop the other rollouts
                logger.exception("fake controller step failed")


class RolloutController:
    """Drive workloads in a :class:`Store` through their rollout."""

    def __init__(
        self,
        store: Store,
        *,
        delay: float = 0.2,
        digest_resolver: Callable[[str], str | None] | None = None,
    ) -> None:
        self.store = store
        self.delay = delay
        self.digest_resolver = digest_resolver
        self.faults: list[Fault] = []
        self.logs: dict[tuple[str, str, str], list[str]] = {}
        self._lock = threading.Lock()
        self._scheduler = Scheduler()
        store.listeners.append(self._on_change)

    def stop(self) -> None:
        """Stop the background thread."""
        self._scheduler.stop()

    # -- faults -----------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        """Make rollouts that match ``fault`` fail from now on.

        The controller keeps a copy, so one fault given to several fake clusters
        counts its ``times`` on each of them.
        """
        with self._lock:
            self.faults.append(copy.deepcopy(fault))

    def clear_faults(self) -> None:
        """Remove every fault."""
        with self._lock:
            self.faults.clear()

    def _take_fault(self, kind: str, namespace: str, name: str, images: list[str]):
        with self._lock:
            for fault in self.faults:
                if fault.matches(kind, namespace, name, images):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return copy.deepcopy(fault)
        return None

    # -- logs -------------------------------------------------------------------
    def pod_log(self, namespace: str, pod: str, container: str) -> list[str]:
        """Return the log lines of one container (empty when it logged nothing)."""
        return list(self.logs.get((namespace, pod, container), []))

    # -- reacting to writes -----------------------------------------------------
    def _on_change(
        self, event: str, resource: Resource, old: dict | None, new: dict | None
    ) -> None:
        if new is None or resource.kind not in WORKLOAD_KINDS:
            return
        generation = new["metadata"].get("generation", 1)
        if old is not None and old["metadata"].get("generation", 1) == generation:
            return
        namespace = new["metadata"]["namespace"]
        name = new["metadata"]["name"]
        self._scheduler.call_later(
            self.delay, lambda: self._start(resource, namespace, name, generation)
        )

    def _current(
        self, resource: Resource, namespace: str, name: str, generation: int
    ) -> dict | None:
        obj = self.store.find(resource, namespace, name)
        if obj is None or obj["metadata"].get("generation", 1) != generation:
            return None  # deleted, or a newer spec took over
        return obj

    def _start(self, resource: Resource, namespace: str, name: str, generation: int):
        workload = self._current(resource, namespace, name, generation)
        if workload is None:
            return
        template = workload["spec"].get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        images = [c.get("image", "") for c in containers]
        fault = self._take_fault(resource.kind, namespace, name, images)
        if fault is not None:
            logger.info(
                "fault %s for %s %s/%s", fault.mode, resource.kind, namespace, name
            )
        if resource.kind == "Deployment":
            self._deployment_started(workload, generation, fault)
        elif resource.kind == "StatefulSet":
            self._statefulset_started(workload, generation, fault)
        elif resource.kind == "Job":
            self._job_started(workload, generation, fault)
        else:
            self._daemonset_started(workload, generation, fault)

    # -- Jobs -------------------------------------------------------------------
    def _job_started(self, job: dict, generation: int, fault: Fault | None) -> None:
        namespace = job["metadata"]["namespace"]
        name = job["metadata"]["name"]
        if (job.get("status") or {}).get("startTime"):
            return  # a Job runs once; later spec edits do not restart it
        labels = {
            "job-name": name,
            "batch.kubernetes.io/job-name": name,
            "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
        }
        pod_name = f"{name}-{_suffix()}"
        template = job["spec"].get("template") or {}
        self.store.put(PODS, namespace, self._new_pod(job, pod_name, template, labels))
        self._event(job, "Normal", "SuccessfulCreate", f"Created pod: {pod_name}")
        started = now_text()
        self.store.write_status(
            JOBS, namespace, name, {"startTime": started, "active": 1, "ready": 0}
        )
        self._scheduler.call_later(
            self.delay,
            lambda: self._job_finished(namespace, name, pod_name, started, fault),
        )

    def _job_finished(
        self,
        namespace: str,
        name: str,
        pod_name: str,
        started: str,
        fault: Fault | None,
    ) -> None:
        job = self.store.find(JOBS, namespace, name)
        pod = self.store.find(PODS, namespace, pod_name)
        if job is None or pod is None:
            return
        finished = now_text()
        exit_code = 1 if fault else 0
        status = copy.deepcopy(pod["status"])
        status.update(phase="Failed" if fault else "Succeeded", startTime=started)
        for container in status["containerStatuses"]:
            container.update(
                imageID=self._image_id(container["image"]),
                ready=False,
                started=False,
                state={
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": "Error" if fault else "Completed",
                        "startedAt": started,
                        "finishedAt": finished,
                    }
                },
            )
            lines = list(fault.log) if fault else [f"{finished} done"]
            self.logs[(namespace, pod_name, container["name"])] = lines
        self.store.write_status(PODS, namespace, pod_name, status)
        if fault:
            backoff_limit = int(job["spec"].get("backoffLimit", 6))
            job_status = {
                "startTime": started,
                "failed": backoff_limit + 1,
                "conditions": [
                    _condition(
                        "FailureTarget",
                        "True",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    ),
                    _condition(
                        "Failed",
                        "True",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    ),
                ],
            }
            self._event(
                job,
                "Warning",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        else:
            job_status = {
                "startTime": started,
                "completionTime": finished,
                "succeeded": 1,
                "conditions": [
                    _condition(
                        "SuccessCriteriaMet",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    ),
                    _condition(
                        "Complete",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    ),
                ],
            }
            self._event(job, "Normal", "Completed", "Job completed")
        self.store.write_status(JOBS, namespace, name, job_status)

    # -- Deployments ------------------------------------------------------------
    def _deployment_started(
        self, deployment: dict, generation: int, fault: Fault | None
    ):
        namespace = deployment["metadata"]["namespace"]
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        template_hash = _template_hash(template)
        rs_name = f"{name}-{template_hash}"
        revision = self._next_revision(namespace, name, rs_name)

        replica_set = self._replica_set(
            deployment, rs_name, template_hash, replicas, revision
        )
        replica_set = self.store.put(REPLICASETS, namespace, replica_set)
        # The deployment controller records the revision on the Deployment too;
        # `kubectl rollout undo` patches that annotation.
        self.store.annotate(
            DEPLOYMENTS,
            namespace,
            name,
            {"deployment.kubernetes.io/revision": str(revision)},
        )
        pods = self._owned_pods(namespace, replica_set)
        for _ in range(max(0, replicas - len(pods))):
            pod = self._new_pod(
                replica_set,
                f"{rs_name}-{_suffix()}",
                template,
                {"pod-template-hash": template_hash},
            )
            self.store.put(PODS, namespace, pod)
        for pod in pods[replicas:]:
            self.store.remove(PODS, namespace, pod["metadata"]["name"])
        self._event(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled up replica set {rs_name} to {replicas}",
        )

        old_ready = self._old_ready_pods(namespace, deployment, rs_name)
        status = {
            "observedGeneration": generation,
            "replicas": replicas + old_ready,
            "updatedReplicas": replicas,
            "readyReplicas": old_ready,
            "availableReplicas": old_ready,
            "unavailableReplicas": replicas,
            "conditions": [
                _condition(
                    "Available",
                    "True" if old_ready else "False",
                    "MinimumReplicasAvailable"
                    if old_ready
                    else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if old_ready
                    else "Deployment does not have minimum availability.",
                ),
                _condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                ),
            ],
        }
        if replicas == 0:
            status.pop("unavailableReplicas")
        self.store.write_status(DEPLOYMENTS, namespace, name, status)
        self._scheduler.call_later(
            self.delay,
            lambda: self._deployment_pods_started(
                namespace, name, generation, rs_name, fault
            ),
        )

    def _deployment_pods_started(
        self,
        namespace: str,
        name: str,
        generation: int,
        rs_name: str,
        fault: Fault | None,
    ) -> None:
        deployment = self._current(DEPLOYMENTS, namespace, name, generation)
        replica_set = self.store.find(REPLICASETS, namespace, rs_name)
        if deployment is None or replica_set is None:
            return
        pods = self._owned_pods(namespace, replica_set)
        replicas = int(deployment["spec"].get("replicas", 1))
        if fault is not None and replicas > 0:
            for pod in pods:
                self._crash(pod, fault)
            old_ready = self._old_ready_pods(namespace, deployment, rs_name)
            status = copy.deepcopy(deployment.get("status") or {})
            status["readyReplicas"] = old_ready
            status["availableReplicas"] = old_ready
            self.store.write_status(DEPLOYMENTS, namespace, name, status)
            self._set_replica_set_status(replica_set, len(pods), 0)
            # A stalled Deployment exceeds its own progressDeadlineSeconds too, as
            # on a real cluster; the progress-deadline fault only brings it forward.
            deadline = float(deployment["spec"].get("progressDeadlineSeconds", 600))
            if fault.mode == "progress-deadline":
                deadline = fault.after
            self._scheduler.call_later(
                deadline,
                lambda: self._deadline_exceeded(namespace, name, generation, rs_name),
            )
            return

        for pod in pods:
            self._run(pod)
        self._set_replica_set_status(replica_set, replicas, replicas)
        for old in self._other_replica_sets(namespace, deployment, rs_name):
            for pod in self._owned_pods(namespace, old):
                self.store.remove(PODS, namespace, pod["metadata"]["name"])
            scaled = copy.deepcopy(old)
            scaled["spec"]["replicas"] = 0
            self.store.put(REPLICASETS, namespace, scaled)
            self._set_replica_set_status(scaled, 0, 0)
            self._event(
                deployment,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled down replica set {old['metadata']['name']} to 0",
            )
        status = {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                _condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                ),
                _condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                ),
            ],
        }
        if replicas == 0:
            for key in ("readyReplicas", "availableReplicas", "updatedReplicas"):
                status.pop(key)
        self.store.write_status(DEPLOYMENTS, namespace, name, status)

    def _deadline_exceeded(
        self, namespace: str, name: str, generation: int, rs_name: str
    ) -> None:
        deployment = self._current(DEPLOYMENTS, namespace, name, generation)
        if deployment is None:
            return
        status = copy.deepcopy(deployment.get("status") or {})
        status["conditions"] = [
            c for c in status.get("conditions", []) if c["type"] != "Progressing"
        ] + [
            _condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            ),
        ]
        self.store.write_status(DEPLOYMENTS, namespace, name, status)
        self._event(
            deployment,
            "Warning",
            "ProgressDeadlineExceeded",
            f'Deployment "{name}" has timed out progressing.',
        )

    def _replica_set(
        self,
        deployment: dict,
        rs_name: str,
        template_hash: str,
        replicas: int,
        revision: int,
    ) -> dict:
        namespace = deployment["metadata"]["namespace"]
        existing = self.store.find(REPLICASETS, namespace, rs_name)
        template = copy.deepcopy(deployment["spec"].get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})
        template["metadata"]["labels"]["pod-template-hash"] = template_hash
        selector = copy.deepcopy(deployment["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
        replica_set = existing or {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": namespace,
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [_owner(deployment)],
            },
            "spec": {"selector": selector, "template": template},
        }
        replica_set["spec"]["replicas"] = replicas
        annotations = replica_set["metadata"].setdefault("annotations", {})
        annotations["deployment.kubernetes.io/revision"] = str(revision)
        annotations["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        return replica_set

    def _next_revision(self, namespace: str, name: str, rs_name: str) -> int:
        existing = self.store.find(REPLICASETS, namespace, rs_name)
        revisions = []
        for replica_set in self._replica_sets_of(namespace, name):
            if existing and replica_set["metadata"]["name"] == rs_name:
                continue
            annotations = replica_set["metadata"].get("annotations") or {}
            revisions.append(
                int(annotations.get("deployment.kubernetes.io/revision", 0))
            )
        return max(revisions, default=0) + 1

    def _replica_sets_of(self, namespace: str, name: str) -> list[dict]:
        deployment = self.store.find(DEPLOYMENTS, namespace, name)
        if deployment is None:
            return []
        uid = deployment["metadata"]["uid"]
        items, _ = self.store.list(REPLICASETS, namespace)
        return [rs for rs in items if _owned_by(rs, uid)]

    def _other_replica_sets(self, namespace: str, deployment: dict, rs_name: str):
        return [
            rs
            for rs in self._replica_sets_of(namespace, deployment["metadata"]["name"])
            if rs["metadata"]["name"] != rs_name
        ]

    def _old_ready_pods(self, namespace: str, deployment: dict, rs_name: str) -> int:
        return sum(
            1
            for rs in self._other_replica_sets(namespace, deployment, rs_name)
            for pod in self._owned_pods(namespace, rs)
            if _pod_ready(pod)
        )

    def _set_replica_set_status(self, replica_set: dict, replicas: int, ready: int):
        self.store.write_status(
            REPLICASETS,
            replica_set["metadata"]["namespace"],
            replica_set["metadata"]["name"],
            {
                "replicas": replicas,
                "fullyLabeledReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": replica_set["metadata"].get("generation", 1),
            },
        )

    # -- StatefulSets and DaemonSets --------------------------------------------
    def _statefulset_started(self, sts: dict, generation: int, fault: Fault | None):
        namespace = sts["metadata"]["namespace"]
        name = sts["metadata"]["name"]
        replicas = int(sts["spec"].get("replicas", 1))
        template = sts["spec"].get("template") or {}
        revision = f"{name}-{_template_hash(template)}"
        current_revision = (sts.get("status") or {}).get("currentRevision") or revision
        for pod in self._owned_pods(namespace, sts):
            self.store.remove(PODS, namespace, pod["metadata"]["name"])
        for index in range(replicas):
            labels = {
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": f"{name}-{index}",
            }
            pod = self._new_pod(sts, f"{name}-{index}", template, labels)
            self.store.put(PODS, namespace, pod)
        self._event(
            sts,
            "Normal",
            "SuccessfulCreate",
            f"create Pod {name}-0 in StatefulSet {name} successful",
        )
        self.store.write_status(
            STATEFULSETS,
            namespace,
            name,
            {
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": 0,
                "currentReplicas": 0,
                "updatedReplicas": replicas,
                "currentRevision": current_revision,
                "updateRevision": revision,
                "collisionCount": 0,
                "availableReplicas": 0,
            },
        )
        self._scheduler.call_later(
            self.delay,
            lambda: self._set_pods_started(
                STATEFULSETS, namespace, name, generation, fault
            ),
        )

    def _daemonset_started(self, ds: dict, generation: int, fault: Fault | None):
        namespace = ds["metadata"]["namespace"]
        name = ds["metadata"]["name"]
        template = ds["spec"].get("template") or {}
        for pod in self._owned_pods(namespace, ds):
            self.store.remove(PODS, namespace, pod["metadata"]["name"])
        labels = {"controller-revision-hash": _template_hash(template)}
        pod = self._new_pod(ds, f"{name}-{_suffix()}", template, labels)
        self.store.put(PODS, namespace, pod)
        self.store.write_status(
            DAEMONSETS,
            namespace,
            name,
            {
                "observedGeneration": generation,
                "desiredNumberScheduled": 1,
                "currentNumberScheduled": 1,
                "updatedNumberScheduled": 1,
                "numberReady": 0,
                "numberAvailable": 0,
                "numberUnavailable": 1,
                "numberMisscheduled": 0,
            },
        )
        self._scheduler.call_later(
            self.delay,
            lambda: self._set_pods_started(
                DAEMONSETS, namespace, name, generation, fault
            ),
        )

    def _set_pods_started(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        generation: int,
        fault: Fault | None,
    ) -> None:
        workload = self._current(resource, namespace, name, generation)
        if workload is None:
            return
        pods = self._owned_pods(namespace, workload)
        for pod in pods:
            if fault is None:
                self._run(pod)
            else:
                self._crash(pod, fault)
        ready = 0 if fault else len(pods)
        status = copy.deepcopy(workload.get("status") or {})
        if resource.kind == "StatefulSet":
            status.update(readyReplicas=ready, availableReplicas=ready)
            if fault is None:
                status["currentReplicas"] = len(pods)
                status["currentRevision"] = status.get("updateRevision")
        else:
            status.update(
                numberReady=ready,
                numberAvailable=ready,
                numberUnavailable=len(pods) - ready,
            )
        self.store.write_status(resource, namespace, name, status)

    # -- Pods -------------------------------------------------------------------
    def _owned_pods(self, namespace: str, owner: dict) -> list[dict]:
        items, _ = self.store.list(PODS, namespace)
        return [pod for pod in items if _owned_by(pod, owner["metadata"]["uid"])]

    def _new_pod(self, owner: dict, name: str, template: dict, labels: dict) -> dict:
        metadata = copy.deepcopy(template.get("metadata") or {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
        metadata.update(
            name=name,
            namespace=owner["metadata"]["namespace"],
            ownerReferences=[_owner(owner)],
        )
        spec = copy.deepcopy(template.get("spec") or {})
        spec["nodeName"] = NODE_NAME
        spec.setdefault("restartPolicy", "Always")
        containers = spec.get("containers") or []
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": spec,
            "status": {
                "phase": "Pending",
                "hostIP": "10.0.0.10",
                "conditions": [_condition("PodScheduled", "True", "", "")],
                "containerStatuses": [
                    {
                        "name": c.get("name", ""),
                        "image": c.get("image", ""),
                        "imageID": "",
                        "ready": False,
                        "started": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in containers
                ],
                "qosClass": "BestEffort",
            },
        }

    def _run(self, pod: dict) -> None:
        namespace = pod["metadata"]["namespace"]
        name = pod["metadata"]["name"]
        started = now_text()
        status = copy.deepcopy(pod["status"])
        status.update(
            phase="Running",
            podIP=_pod_ip(name),
            podIPs=[{"ip": _pod_ip(name)}],
            startTime=started,
            conditions=[
                _condition(kind, "True", "", "")
                for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
        )
        for container in status["containerStatuses"]:
            container.update(
                imageID=self._image_id(container["image"]),
                containerID=f"containerd://{_digest(name + container['name'])}",
                ready=True,
                started=True,
                state={"running": {"startedAt": started}},
            )
            self.logs[(namespace, name, container["name"])] = [
                f"{started} starting {container['image']}",
                f"{started} listening on :8080",
            ]
        self.store.write_status(PODS, namespace, name, status)
        self._event(
            pod,
            "Normal",
            "Started",
            "Started container "
            + ", ".join(c["name"] for c in status["containerStatuses"]),
        )

    def _crash(self, pod: dict, fault: Fault) -> None:
        namespace = pod["metadata"]["namespace"]
        name = pod["metadata"]["name"]
        started = now_text()
        status = copy.deepcopy(pod["status"])
        status.update(
            phase="Running",
            podIP=_pod_ip(name),
            startTime=started,
            conditions=[
                _condition("Initialized", "True", "", ""),
                _condition(
                    "Ready",
                    "False",
                    "ContainersNotReady",
                    "containers with unready status",
                ),
                _condition(
                    "ContainersReady",
                    "False",
                    "ContainersNotReady",
                    "containers with unready status",
                ),
                _condition("PodScheduled", "True", "", ""),
            ],
        )
        for container in status["containerStatuses"]:
            container.update(
                imageID=self._image_id(container["image"]),
                containerID=f"containerd://{_digest(name + container['name'])}",
                ready=False,
                started=False,
                restartCount=3,
                state={
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 40s restarting failed container="
                        f"{container['name']} pod={name}",
                    }
                },
                lastState={
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": started,
                        "finishedAt": started,
                    }
                },
            )
            self.logs[(namespace, name, container["name"])] = list(fault.log)
            self._event(
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {container['name']} "
                f"in pod {name}_{namespace}",
            )
        self.store.write_status(PODS, namespace, name, status)

    def _image_id(self, image: str) -> str:
        """Return ``repository@sha256:...`` for a container image reference.

        A reference pinned by digest keeps its digest. Otherwise the resolver decides,
        and without one the digest is derived from the reference text.
        """
        repository, _, digest = image.partition("@")
        if digest:
            return image
        if self.digest_resolver is not None:
            resolved = self.digest_resolver(image)
            if resolved:
                return resolved
        name = repository
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name = name[: len(name) - len(last)] + last.split(":", 1)[0]
        # NOTE: a made-up digest; pass digest_resolver to report registry digests.
        return f"{name}@sha256:{_digest(image, 64)}"

    def _event(self, obj: dict, kind: str, reason: str, message: str) -> None:
        namespace = obj["metadata"].get("namespace", "default")
        stamp = now_text()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{obj['metadata']['name']}.{_digest(message + stamp, 16)}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", "v1"),
                "kind": obj.get("kind", ""),
                "name": obj["metadata"]["name"],
                "namespace": namespace,
                "uid": obj["metadata"].get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": "fake-controller-manager"},
            "reportingComponent": "fake-controller-manager",
            "reportingInstance": "",
        }
        self.store.put(EVENTS, namespace, event)


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    stamp = now_text()
    condition = {
        "type": kind,
        "status": status,
        "lastTransitionTime": stamp,
        "lastUpdateTime": stamp,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _owner(obj: dict) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(obj: dict, uid: str) -> bool:
    return any(
        ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []
    )


def _pod_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _template_hash(template: dict) -> str:
    import json

    text = json.dumps(template, sort_keys=True)
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


_suffix_counter = itertools.count()


def _suffix() -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    seed = hashlib.sha256(f"{time.time_ns()}-{next(_suffix_counter)}".encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in seed[:5])


def _digest(text: str, length: int = 64) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _pod_ip(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return f"10.244.{digest[0]}.{digest[1] or 1}"
