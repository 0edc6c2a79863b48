"""Deploy history, kept in the ConfigMap ``tpo-deploy-history`` of each environment.

Usage::

    from tpo_tasks.deploy.history import read_history, write_history

    history = read_history(kubectl)           # History, revisions newest first
    last = history.last_successful()          # Revision or None
    manifest = history.manifests.get(last.revision)   # rendered YAML or None
    history.add(revision, manifest_text)
    write_history(kubectl, history, limit=settings.deploy.history_limit)

The ConfigMap contains ``history.json`` (``{"format": 1, "revisions": [...]}``,
newest first) and, in ``binaryData``, the gzipped manifest set of each revision
(``manifest-<revision>.yaml.gz``) so a rollback re-applies exactly what ran.
A reader refuses a ``format`` newer than it knows instead of guessing.
Reading only runs ``kubectl get``; ``write_history`` applies the ConfigMap
server-side as the ``tpo-tasks`` field manager.
"""

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import ExternalError

CONFIGMAP = "tpo-deploy-history"
FORMAT = 1
RESULTS = ("succeeded", "failed", "rolled_back")
_HISTORY_KEY = "history.json"
MAX_STORED_BYTES = 900 * 1024  # below the API server's 1 MiB object limit


@dataclass(frozen=True)
class Revision:
    """One deploy or rollback of an environment."""

    revision: int
    time: str
    version: str
    git_sha: str
    images: Mapping[str, str]  # service -> registry/image@sha256:...
    actor: str
    result: str  # succeeded | failed | rolled_back
    rollback_of: int | None  # a rollback's source: the revision it re-applied
    manifest_sha256: str
    reason: str | None = None  # why a failed revision failed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["images"] = dict(self.images)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Revision":
        return cls(
            revision=int(data["revision"]),
            time=str(data.get("time", "")),
            version=str(data.get("version", "")),
            git_sha=str(data.get("git_sha", "")),
            images={str(k): str(v) for k, v in (data.get("images") or {}).items()},
            actor=str(data.get("actor", "")),
            result=str(data.get("result", "failed")),
            rollback_of=(int(data["rollback_of"])
                         if data.get("rollback_of") is not None else None),
            manifest_sha256=str(data.get("manifest_sha256", "")),
            reason=data.get("reason"),
        )


@dataclass
class History:
    """The revisions of one environment, newest first, with their manifests."""

    revisions: list[Revision] = field(default_factory=list)
    manifests: dict[int, str] = field(default_factory=dict)
    resource_version: str | None = None

    def next_revision(self) -> int:
        return max((r.revision for r in self.revisions), default=0) + 1

    def get(self, number: int) -> Revision | None:
        return next((r for r in self.revisions if r.revision == number), None)

    def newest(self) -> Revision | None:
        return self.revisions[0] if self.revisions else None

    def last_successful(self, *, before: int | None = None) -> Revision | None:
        """Return the newest succeeded revision, older than ``before`` when given."""
        for revision in self.revisions:
            if before is not None and revision.revision >= before:
                continue
            if revision.result == "succeeded":
                return revision
        return None

    def add(self, revision: Revision, manifest: str | None = None) -> None:
        """Put ``revision`` first (replacing one with the same number)."""
        self.revisions = [r for r in self.revisions if r.revision != revision.revision]
        self.revisions.insert(0, revision)
        self.revisions.sort(key=lambda r: r.revision, reverse=True)
        if manifest is not None:
            self.manifests[revision.revision] = manifest

    def mark(self, number: int, result: str) -> None:
        """Set the result of revision ``number``."""
        if result not in RESULTS:
            raise ValueError(f"unknown result {result!r}")
        self.revisions = [replace(r, result=result) if r.revision == number else r
                          for r in self.revisions]

    def cap(self, limit: int) -> None:
        """Keep only the newest ``limit`` revisions and their manifests."""
        self.revisions = self.revisions[:limit]
        kept = {r.revision for r in self.revisions}
        self.manifests = {n: m for n, m in self.manifests.items() if n in kept}


def _manifest_key(number: int) -> str:
    return f"manifest-{number}.yaml.gz"


def parse_configmap(obj: Mapping[str, Any] | None, where: str = "") -> History:
    """Return the History stored in a ConfigMap object (None means no history yet)."""
    if obj is None:
        return History()
    data = obj.get("data") or {}
    text = data.get(_HISTORY_KEY)
    if not text:
        return History(resource_version=obj.get("metadata", {}).get("resourceVersion"))
    try:
        stored = json.loads(text)
        version = int(stored.get("format", 0))
    except (ValueError, AttributeError, TypeError):
        raise ExternalError(f"ConfigMap {CONFIGMAP}{where} is not valid deploy "
                            "history; inspect it with kubectl get configmap") from None
    if version > FORMAT:
        raise ExternalError(
            f"ConfigMap {CONFIGMAP}{where} uses history format {version}, newer than "
            f"this tpo-tasks reads ({FORMAT}); upgrade tpo-tasks"
        )
    malformed = ExternalError(f"ConfigMap {CONFIGMAP}{where} contains a malformed "
                              "revision; inspect it with kubectl get configmap")
    try:
        revisions = [Revision.from_json(item) for item in stored.get("revisions", [])]
    except (KeyError, ValueError, TypeError, AttributeError):
        raise malformed from None
    if any(revision.result not in RESULTS for revision in revisions):
        raise malformed
    revisions.sort(key=lambda r: r.revision, reverse=True)
    manifests = {}
    binary = obj.get("binaryData") or {}
    for revision in revisions:
        packed = binary.get(_manifest_key(revision.revision))
        if packed:
            try:
                manifests[revision.revision] = gzip.decompress(
                    base64.b64decode(packed, validate=True)).decode("utf-8")
            except (ValueError, OSError, EOFError):
                # binascii.Error and UnicodeDecodeError are ValueErrors;
                # gzip.BadGzipFile is an OSError.
                raise ExternalError(
                    f"ConfigMap {CONFIGMAP}{where} holds unreadable manifests for "
                    f"revision {revision.revision}; inspect it with kubectl get "
                    "configmap") from None
    return History(revisions, manifests,
                   obj.get("metadata", {}).get("resourceVersion"))


def build_configmap(history: History, namespace: str, limit: int) -> dict[str, Any]:
    """Return the ConfigMap object storing ``history`` capped at ``limit`` revisions."""
    capped = History(list(history.revisions), dict(history.manifests))
    capped.cap(limit)
    document = {"format": FORMAT,
                "revisions": [r.to_json() for r in capped.revisions]}
    binary = {
        _manifest_key(number): base64.b64encode(
            gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")
        for number, text in sorted(capped.manifests.items())
    }
    # The API server rejects an object over 1 MiB; the oldest manifests go first
    # (those revisions can no longer be rollback targets), the records stay.
    size = len(document_text := json.dumps(document, indent=1, sort_keys=True))
    size += sum(len(value) for value in binary.values())
    for key in sorted(binary, key=lambda k: int(k.split("-")[1].split(".")[0])):
        if size <= MAX_STORED_BYTES or len(binary) == 1:
            break
        size -= len(binary.pop(key))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "tpo-tasks"},
        },
        "data": {_HISTORY_KEY: document_text},
        "binaryData": binary,
    }


def read_history(kubectl: Any) -> History:
    """Read the history of ``kubectl``'s environment (only ``kubectl get``)."""
    obj = kubectl.get_json("configmap", CONFIGMAP)
    return parse_configmap(obj, f" in context {kubectl.context_name!r}")


def write_history(kubectl: Any, history: History, limit: int) -> None:
    """Store ``history`` (capped at ``limit``) with a server-side apply."""
    configmap = build_configmap(history, kubectl.namespace, limit)
    kubectl.apply(json.dumps(configmap))
    history.cap(limit)


def revisions_json(revisions: Iterable[Revision]) -> list[dict[str, Any]]:
    """Return revisions as the list printed by ``deploy.history --json``."""
    return [r.to_json() for r in revisions]
