"""Image tags, OCI labels, pinned references, git state and ``.tpo/builds.json``."""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..command import run
from ..errors import ConfigError, ExternalError, UsageError
from ..fileio import write_text_atomic

BUILDS_FILE = ".tpo/builds.json"
BUILDS_FORMAT = 1
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# One or more path components of a Docker image name, with no tag or digest.
_IMAGE_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
# A Kubernetes namespace is an RFC 1123 label of at most 63 characters.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SourceState:
    """The commit being deployed and whether the working tree differs from it."""

    sha: str
    dirty: bool
    remote_url: str | None

    @property
    def short(self) -> str:
        return self.sha[:7]


def check_names(deploy: Any) -> None:
    """Raise ConfigError when an image name or a namespace is invalid.

    Run before any build or kubectl call, so a bad name exits 2 instead of
    failing halfway through a deploy.
    """
    for service in deploy.services.values():
        if not _IMAGE_NAME.fullmatch(service.image):
            key = f"tpo.deploy.services.{service.name}"
            raise ConfigError(
                f"invalid image name {service.image!r} for {key}; use lowercase "
                f"letters, digits, '.', '_', '-' and '/' without a tag, or set "
                f"{key}.image")
    for env in deploy.environments.values():
        if not _NAMESPACE.fullmatch(env.namespace):
            raise ConfigError(
                f"invalid tpo.deploy.environments.{env.name}.namespace "
                f"{env.namespace!r}; use at most 63 lowercase letters, digits and '-'")


def image_tag(version: str, sha: str, dirty: bool) -> str:
    """Return ``<version>-<short sha>[-dirty]``, with SemVer ``+`` turned into ``_``.

    Image tags allow only letters, digits, ``_``, ``.`` and ``-`` (at most 128).
    """
    tag = f"{version.replace('+', '_')}-{sha[:7]}" + ("-dirty" if dirty else "")
    if not _TAG.fullmatch(tag):
        raise UsageError(f"version {version!r} gives the invalid image tag {tag!r}; "
                         "use letters, digits, '.', '-' and '+' in the version")
    return tag


def oci_labels(version: str, revision: str, source: str | None,
               created: datetime | None = None) -> dict[str, str]:
    """Return the OCI annotations every built image carries."""
    created = created or datetime.now(UTC)
    labels = {
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if source:
        labels["org.opencontainers.image.source"] = source
    return labels


def repository(registry: str | None, image: str) -> str:
    """Return ``<registry>/<image>``, or the bare image when no registry is set."""
    return f"{registry.rstrip('/')}/{image}" if registry else image


def pinned(registry: str | None, image: str, digest: str) -> str:
    """Return ``<registry>/<image>@sha256:...``."""
    if not _DIGEST.fullmatch(digest):
        raise ExternalError(f"invalid image digest {digest!r} for {image}")
    return f"{repository(registry, image)}@{digest}"


def split_pinned(reference: str) -> tuple[str, str]:
    """Split ``repo@sha256:...`` into (repository, digest)."""
    name, _, digest = reference.partition("@")
    if not _DIGEST.fullmatch(digest):
        raise ExternalError(f"image {reference!r} is not pinned by digest")
    return name, digest


def public_source(url: str | None) -> str | None:
    """Return a git remote URL without credentials, as a browsable https URL."""
    if not url:
        return None
    url = url.strip()
    match = re.match(r"^git@([^:]+):(.+?)(\.git)?$", url)
    if match:
        return f"https://{match.group(1)}/{match.group(2)}"
    url = re.sub(r"^(https?://)[^@/]+@", r"\1", url)
    return url[:-4] if url.endswith(".git") else url


def source_state(root: Path) -> SourceState:
    """Read HEAD, the dirty flag (ignoring ``.tpo/``) and the origin URL from git."""
    head = run(["git", "rev-parse", "HEAD"], cwd=root, check=False)
    if not head.ok:
        raise ExternalError(f"{root} is not a git repository with a commit; "
                            "run the deploy from the repository that holds it")
    status = run(["git", "status", "--porcelain", "--", ".", ":(exclude).tpo"],
                 cwd=root)
    remote = run(["git", "remote", "get-url", "origin"], cwd=root, check=False)
    return SourceState(
        sha=head.stdout.strip(),
        dirty=bool(status.stdout.strip()),
        remote_url=public_source(remote.stdout) if remote.ok else None,
    )


def project_version(root: Path, settings: Any) -> str:
    """Return the project's version: the release namespace's, else pyproject's.

    ``settings`` is the full typed view; the release namespace reads its version
    files and tags, and ``0.0.0`` from it falls back to ``[project].version``.
    """
    from ..release.plan import current_version

    version = str(current_version(root, settings.release))
    return version if version != "0.0.0" else pyproject_version(root)


def pyproject_version(root: Path) -> str:
    """Return ``[project].version`` from pyproject.toml, else ``0.0.0``."""
    import tomllib

    path = root / "pyproject.toml"
    if not path.is_file():
        return "0.0.0"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ExternalError(f"{path} is not valid TOML ({exc}); fix it") from None
    version = data.get("project", {}).get("version")
    return str(version) if version else "0.0.0"


# -- .tpo/builds.json ---------------------------------------------------------------


def read_builds(root: Path) -> dict[str, Any]:
    """Return the recorded builds: ``{"format": 1, "builds": {service: {...}}}``."""
    path = root / BUILDS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": BUILDS_FORMAT, "builds": {}}
    except ValueError:
        raise ExternalError(f"{path} is not valid JSON; delete it and build again"
                            ) from None
    if not isinstance(data, dict) or not isinstance(data.get("builds"), dict):
        raise ExternalError(f"{path} has an unknown layout; delete it and build again")
    return data


def record_builds(root: Path, entries: Mapping[str, Mapping[str, Any]]) -> None:
    """Merge ``entries`` (service -> build record) into builds.json atomically."""
    data = read_builds(root)
    data["format"] = BUILDS_FORMAT
    data["builds"].update({name: dict(entry) for name, entry in entries.items()})
    write_text_atomic(root / BUILDS_FILE,
                      json.dumps(data, indent=2, sort_keys=True) + "\n")
