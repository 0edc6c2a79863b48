"""The per-environment deploy lock: a Lease ``tpo-deploy-lock`` in the namespace.

The Lease records the owner, host, start time and time to live. Creating it is
the atomic step (the API server rejects a second create); an expired Lease is
replaced with its ``resourceVersion``, so two deploys taking over the same stale
lock cannot both win.
"""

import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import RefusedError
from ..output import warn

LEASE = "tpo-deploy-lock"
_ANNOTATION = "tpo-tasks.dev/"


@dataclass(frozen=True)
class LockHolder:
    """The holder of the lock and the time it expires."""

    owner: str
    host: str
    started: datetime
    ttl: int
    identity: str

    @property
    def expires(self) -> datetime:
        return self.started + timedelta(seconds=self.ttl)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires

    def describe(self) -> str:
        return (f"{self.owner} on {self.host} since "
                f"{self.started.strftime('%Y-%m-%dT%H:%M:%SZ')} (ttl {self.ttl} s)")


def actor() -> str:
    """Return who runs the deploy: the CI actor, else the local user."""
    for name in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def holder_of(lease: dict[str, Any]) -> LockHolder:
    """Return the holder recorded in a Lease object."""
    metadata = lease.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    spec = lease.get("spec") or {}
    started = (_parse_time(annotations.get(_ANNOTATION + "started"))
               or _parse_time(spec.get("acquireTime"))
               or datetime.fromtimestamp(0, UTC))
    return LockHolder(
        owner=annotations.get(_ANNOTATION + "owner", spec.get("holderIdentity", "?")),
        host=annotations.get(_ANNOTATION + "host", "?"),
        started=started,
        ttl=int(spec.get("leaseDurationSeconds") or 0),
        identity=str(spec.get("holderIdentity", "")),
    )


def lease_object(namespace: str, owner: str, host: str, started: datetime, ttl: int,
                 identity: str, resource_version: str | None = None) -> dict[str, Any]:
    """Return the Lease that records a lock holder."""
    metadata: dict[str, Any] = {
        "name": LEASE,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "tpo-tasks"},
        "annotations": {
            _ANNOTATION + "owner": owner,
            _ANNOTATION + "host": host,
            _ANNOTATION + "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": ttl,
            "acquireTime": _micro_time(started),
            "renewTime": _micro_time(started),
        },
    }


class DeployLock:
    """The lock of one environment; use as a context manager around a deploy.

    NOTE: the Lease is not renewed while a deploy runs, so ``lock_ttl`` must be
    longer than the slowest deploy (rollout waits and a rollback included), or a
    second deploy may take the lock over while the first still runs.
    """

    def __init__(self, kubectl: Any, ttl: int, *, owner: str | None = None,
                 now: datetime | None = None) -> None:
        self.kubectl = kubectl
        self.ttl = ttl
        self.owner = owner or actor()
        self.host = socket.gethostname()
        self.identity = f"{self.owner}@{self.host}/{uuid.uuid4().hex[:8]}"
        self._now = now
        self.held = False

    def _time(self) -> datetime:
        return self._now or datetime.now(UTC)

    def _busy(self, holder: LockHolder) -> RefusedError:
        return RefusedError(
            f"environment {self.kubectl.env.name!r} is locked by "
            f"{holder.describe()}; wait for that deploy, or run "
            f"inv deploy.unlock {self.kubectl.env.name} if it is stale"
        )

    def acquire(self) -> None:
        """Take the lock, taking over an expired one with a warning."""
        started = self._time()
        lease = lease_object(self.kubectl.namespace, self.owner, self.host, started,
                             self.ttl, self.identity)
        created = self.kubectl.run("create", "-f", "-", input=json.dumps(lease),
                                   check=False)
        if created.ok:
            self.held = True
            return
        if "AlreadyExists" not in created.stderr and "already exists" not in (
                created.stderr):
            raise self.kubectl.error_for(created)
        current = self.kubectl.get_json("lease", LEASE)
        if current is None:  # released between the two calls
            return self.acquire()
        holder = holder_of(current)
        if not holder.expired(started):
            raise self._busy(holder)
        warn(f"taking over the expired deploy lock of {holder.describe()}")
        version = (current.get("metadata") or {}).get("resourceVersion")
        lease = lease_object(self.kubectl.namespace, self.owner, self.host, started,
                             self.ttl, self.identity, resource_version=version)
        replaced = self.kubectl.run("replace", "-f", "-", input=json.dumps(lease),
                                    check=False)
        if not replaced.ok:
            if "Conflict" in replaced.stderr or "modified" in replaced.stderr:
                again = self.kubectl.get_json("lease", LEASE)
                raise self._busy(holder_of(again) if again else holder)
            raise self.kubectl.error_for(replaced)
        self.held = True

    def release(self) -> None:
        """Delete the Lease if this deploy still holds it."""
        if not self.held:
            return
        current = self.kubectl.get_json("lease", LEASE)
        if current is not None and holder_of(current).identity == self.identity:
            self.kubectl.run("delete", "lease", LEASE, "--wait=false", check=False)
        self.held = False

    def __enter__(self) -> "DeployLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def unlock(kubectl: Any) -> LockHolder | None:
    """Delete the lock whoever holds it; return the holder, None when unlocked."""
    current = kubectl.get_json("lease", LEASE)
    if current is None:
        return None
    kubectl.run("delete", "lease", LEASE, "--wait=false")
    return holder_of(current)
