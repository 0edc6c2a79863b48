"""docker build and push, manifest digests from the registry API, copy by digest.

The daemon's version is detected once (the client may be newer than the daemon).
Without buildx, or with a daemon older than 23.0, builds use the legacy builder
(``DOCKER_BUILDKIT=0``) so the client never asks for a component it lacks.
"""

import ipaddress
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..command import CommandFailed, Result, run, which
from ..errors import ExternalError, TaskFailed
from .images import split_pinned

log = logging.getLogger("tpo_tasks")

MINIMUM_DAEMON = (19, 3)
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)", text)
    if not match:
        raise ExternalError(f"cannot read the docker daemon version from {text!r}")
    return int(match.group(1)), int(match.group(2))


def registry_scheme(host: str) -> str:
    """Return ``http`` for a loopback registry (as docker treats it), else ``https``."""
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 else host
    if name == "localhost":
        return "http"
    try:
        return "http" if ipaddress.ip_address(name).is_loopback else "https"
    except ValueError:
        return "https"


def split_repository(repository: str) -> tuple[str, str]:
    """Split ``host[:port]/path`` into (host, path)."""
    host, _, path = repository.partition("/")
    if not path or ("." not in host and ":" not in host and host != "localhost"):
        raise ExternalError(f"image repository {repository!r} names no registry host; "
                            "set tpo.deploy.registry to HOST[:PORT]/PATH")
    return host, path


def manifest_digest(repository: str, reference: str, *,
                    timeout: float = 15) -> str | None:
    """Return the digest of ``repository:reference`` from the registry, or None.

    Sends a HEAD request for the manifest to the registry API, so checking an
    image never pulls it. Raises ExternalError when the registry cannot be reached or
    asks for credentials.
    """
    host, path = split_repository(repository)
    url = f"{registry_scheme(host)}://{host}/v2/{path}/manifests/{reference}"
    request = urllib.request.Request(url, method="HEAD",
                                     headers={"Accept": ", ".join(MANIFEST_TYPES)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise ExternalError(f"registry {host} returned HTTP {exc.code} for {path}:"
                            f"{reference}; check the registry and its credentials"
                            ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExternalError(f"registry {host} is unreachable ({reason}); start it or "
                            "fix tpo.deploy.registry") from None


class Docker:
    """Docker client wrapper that checks the daemon version once."""

    def __init__(self, *, env: Mapping[str, str] | None = None,
                 runner: Callable[..., Result] = run) -> None:
        self._env = dict(env or {})
        self._runner = runner
        self._daemon: str | None = None
        self.builds = 0
        self.pushes = 0

    def daemon_version(self) -> str:
        """Return the daemon's version (detected once); raise when unusable."""
        if self._daemon is not None:
            return self._daemon
        result = self._runner(["docker", "version", "--format", "{{json .}}"],
                              env=self._env, check=False, timeout=30)
        try:
            data = json.loads(result.stdout.strip().splitlines()[-1])
            server = (data.get("Server") or {}).get("Version")
        except (ValueError, IndexError, AttributeError):
            server = None
        if not server:
            detail = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            raise ExternalError(f"docker daemon not reachable ({detail}); start it "
                                "(scripts/services-start) or set DOCKER_HOST")
        if _version_tuple(server) < MINIMUM_DAEMON:
            raise ExternalError(f"docker daemon {server} is too old; use 19.03+")
        if _version_tuple(server) < (23, 0) or not self._has_buildx():
            self._env.setdefault("DOCKER_BUILDKIT", "0")
        self._daemon = server
        log.debug("docker daemon %s", server)
        return server

    def _has_buildx(self) -> bool:
        result = self._runner(["docker", "buildx", "version"], env=self._env,
                              check=False, timeout=30)
        return result.ok

    def _docker(self, args: Sequence[str], **kwargs: object) -> Result:
        self.daemon_version()
        return self._runner(["docker", *args], env=self._env, **kwargs)

    def build(self, *, context: Path, dockerfile: Path, tag: str,
              labels: Mapping[str, str], build_args: Mapping[str, str],
              on_output: Callable[[str], None] | None = None) -> None:
        """Build ``tag``, streaming the builder's output to ``on_output``."""
        args = ["build", "--file", str(dockerfile), "--tag", tag]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        for key, value in build_args.items():
            args += ["--build-arg", f"{key}={value}"]
        args.append(str(context))
        result = self._docker(args, check=False, timeout=3600, on_output=on_output)
        self.builds += 1
        if not result.ok:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise TaskFailed(f"docker build of {tag} failed: "
                             f"{lines[-1] if lines else 'no output'}")

    def push(self, tag: str, on_output: Callable[[str], None] | None = None) -> str:
        """Push ``tag`` and return the manifest digest the registry stored."""
        result = self._docker(["push", tag], check=False, timeout=3600,
                              on_output=on_output)
        self.pushes += 1
        if not result.ok:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise ExternalError(f"docker push {tag} failed: "
                                f"{lines[-1] if lines else 'no output'}")
        match = _PUSHED_DIGEST.search(result.stdout + result.stderr)
        if match:
            return match.group(1)
        repository, _, reference = tag.rpartition(":")
        digest = manifest_digest(repository, reference)
        if digest is None:
            raise ExternalError(f"docker push {tag} reported no digest")
        return digest

    def copy(self, source: str, repository: str, tag: str) -> str:
        """Copy ``source`` (``repo@sha256:...``) to ``repository:tag``, same digest.

        Nothing is copied when the target registry already has the digest.
        Uses ``skopeo copy`` when installed, else docker pull, tag and push.
        """
        _, digest = split_pinned(source)
        if manifest_digest(repository, digest) == digest:
            log.debug("%s already has %s; not copied", repository, digest)
            return digest
        target = f"{repository}:{tag}"
        if which("skopeo"):
            self._skopeo_copy(source, target)
        else:
            try:
                self._docker(["pull", source], timeout=3600)
                self._docker(["tag", source, target], timeout=60)
            except CommandFailed as exc:
                raise ExternalError(f"cannot copy {source}: {exc.message}") from None
            pushed = self.push(target)
            if pushed != digest:
                raise TaskFailed(f"copying {source} to {target} changed its digest to "
                                 f"{pushed}; install skopeo to copy images unchanged")
        return digest

    # NOTE: the tests run where skopeo is not installed, so they cover the docker
    # pull, tag and push path; this one is untested here.
    def _skopeo_copy(self, source: str, target: str) -> None:
        args = ["skopeo", "copy", "--all", "--preserve-digests"]
        for flag, host in (("--src-tls-verify=false", source.split("/", 1)[0]),
                           ("--dest-tls-verify=false", target.split("/", 1)[0])):
            if registry_scheme(host) == "http":
                args.append(flag)
        args += [f"docker://{source}", f"docker://{target}"]
        result = self._runner(args, check=False, timeout=3600)
        if not result.ok:
            lines = result.stderr.strip().splitlines()
            raise ExternalError(f"skopeo copy {source} failed: "
                                f"{lines[-1] if lines else 'no output'}")
