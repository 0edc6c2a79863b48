"""Fixtures for tests that use the Docker daemon and registry of services-start.

``docker_env`` returns a :class:`DockerServices` and puts ``DOCKER_HOST``,
``DOCKER_BUILDKIT=0`` and ``TPO_TEST_REGISTRY`` into ``os.environ`` for the test, so
subprocesses (``docker``, ``tpo``) reach the test daemon. ``registry`` returns the
registry address ``127.0.0.1:PORT`` and needs only the registry.

The services are found through the environment the test run started with
(``DOCKER_HOST`` plus ``TPO_TEST_REGISTRY``) or else through ``.services/env``. When a
service does not respond, the test is skipped with a reason naming it, unless
``TPO_REQUIRE_SERVICES=1`` was set when pytest started (``.ci/run`` sets it): then the
test fails. The environment is read when this module is imported, because the autouse
``clean_environment`` fixture removes every ``TPO_*`` variable before each test.

``build_busybox_image`` builds a ``FROM scratch`` image containing the static
``/bin/busybox``, ``push_image`` pushes a tag and returns its manifest digest, and
``registry_digest_resolver`` lets a fake cluster report the registry's digests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = Path("/bin/busybox")
START_HINT = "start it with scripts/services-start"

# Manifest media types the registry may serve for a pushed image. Docker 20.10 pushes
# the schema 2 type; the others let the same code read images pushed by newer tools.
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)

_STARTUP_ENV = dict(os.environ)


@dataclass(frozen=True)
class DockerServices:
    """The running test daemon and registry."""

    docker_host: str
    registry: str  # 127.0.0.1:PORT
    server_version: str  # the daemon's version, e.g. 20.10.24+dfsg1

    @property
    def env(self) -> dict[str, str]:
        """Return a copy of ``os.environ`` pointing docker at the test daemon."""
        return {
            **os.environ,
            "DOCKER_HOST": self.docker_host,
            "DOCKER_BUILDKIT": "0",
            "TPO_TEST_REGISTRY": self.registry,
        }


def services_required() -> bool:
    """Return whether a missing service fails the test instead of skipping it."""
    return _STARTUP_ENV.get("TPO_REQUIRE_SERVICES", "") not in ("", "0")


def read_env_file(path: Path) -> dict[str, str]:
    """Parse the ``export NAME=VALUE`` lines that scripts/services-start writes."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        name, _, value = line[len("export ") :].partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def service_settings() -> dict[str, str]:
    """Return DOCKER_HOST, TPO_TEST_REGISTRY... from the start-up env or env file."""
    if _STARTUP_ENV.get("DOCKER_HOST") and _STARTUP_ENV.get("TPO_TEST_REGISTRY"):
        names = ("DOCKER_HOST", "TPO_TEST_REGISTRY", "TPO_SERVICES_DIR")
        return {name: _STARTUP_ENV[name] for name in names if name in _STARTUP_ENV}
    services_dir = Path(_STARTUP_ENV.get("TPO_SERVICES_DIR") or REPO_ROOT / ".services")
    env_file = services_dir / "env"
    if env_file.is_file():
        return read_env_file(env_file)
    return {}


def _missing(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason} (TPO_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(reason)


def _registry_answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _daemon_version(docker_host: str) -> str | None:
    if shutil.which("docker") is None:
        return None
    try:
        completed = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env={**os.environ, "DOCKER_HOST": docker_host},
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        return None
    version = completed.stdout.strip()
    return version if completed.returncode == 0 and version else None


@pytest.fixture(scope="session")
def _registry_address() -> str | None:
    address = service_settings().get("TPO_TEST_REGISTRY")
    if address and _registry_answers(address):
        return address
    return None


@pytest.fixture(scope="session")
def _docker_services(_registry_address: str | None) -> DockerServices | str:
    """Return the services, or the reason they cannot be used (checked once)."""
    settings = service_settings()
    docker_host = settings.get("DOCKER_HOST")
    if not docker_host:
        return (
            "docker daemon not running: no DOCKER_HOST and no .services/env; "
            + START_HINT
        )
    if shutil.which("docker") is None:
        return "docker client not installed; install docker.io or a docker CLI"
    version = _daemon_version(docker_host)
    if version is None:
        return f"docker daemon not responding on {docker_host}; {START_HINT}"
    if _registry_address is None:
        address = settings.get("TPO_TEST_REGISTRY")
        return f"docker registry not responding at {address}; {START_HINT}"
    return DockerServices(docker_host, _registry_address, version)


@pytest.fixture
def docker_env(
    _docker_services: DockerServices | str, monkeypatch: pytest.MonkeyPatch
) -> DockerServices:
    """The test daemon and registry, exported into ``os.environ`` for this test."""
    if isinstance(_docker_services, str):
        _missing(_docker_services)
    assert isinstance(_docker_services, DockerServices)
    monkeypatch.setenv("DOCKER_HOST", _docker_services.docker_host)
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    monkeypatch.setenv("TPO_TEST_REGISTRY", _docker_services.registry)
    return _docker_services


@pytest.fixture
def registry(_registry_address: str | None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The loopback registry address ``127.0.0.1:PORT``."""
    if _registry_address is None:
        address = service_settings().get("TPO_TEST_REGISTRY", "no address configured")
        _missing(f"docker registry not responding ({address}); {START_HINT}")
    assert _registry_address is not None
    monkeypatch.setenv("TPO_TEST_REGISTRY", _registry_address)
    return _registry_address


@pytest.fixture
def image_repository(registry: str) -> str:
    """A repository name in the test registry that no other test uses."""
    return f"{registry}/tpo-test/{uuid.uuid4().hex[:12]}"


def docker(services: DockerServices, *args: str, timeout: float = 120) -> str:
    """Run the docker client against the test daemon and return its stdout."""
    completed = subprocess.run(
        ["docker", *args],
        env=services.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {completed.returncode}: "
            f"{completed.stderr.strip()}"
        )
    return completed.stdout


def build_busybox_image(
    services: DockerServices,
    context_dir: Path,
    tag: str,
    *,
    files: Mapping[str, str | bytes] | None = None,
    dockerfile_lines: list[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build a ``FROM scratch`` image with static /bin/busybox and return its ID.

    ``files`` are written into the build context (path relative to it -> content) and
    copied into the image at the same path; ``dockerfile_lines`` are appended after the
    copies (``CMD``, ``USER``, ``HEALTHCHECK``...).
    """
    context_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, context_dir / "busybox")
    lines = ["FROM scratch", "COPY busybox /bin/busybox"]
    for relative, content in (files or {}).items():
        target = context_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        lines.append(f"COPY {relative} /{relative}")
    for key, value in (labels or {}).items():
        lines.append(f"LABEL {json.dumps(key)}={json.dumps(value)}")
    lines.extend(dockerfile_lines or ['CMD ["/bin/busybox", "true"]'])
    (context_dir / "Dockerfile").write_text("\n".join(lines) + "\n")
    docker(services, "build", "--quiet", "--tag", tag, str(context_dir))
    return docker(services, "image", "inspect", "--format", "{{.Id}}", tag).strip()


def push_image(services: DockerServices, tag: str) -> str:
    """Push ``tag`` to its registry and return the manifest digest docker reports."""
    docker(services, "push", tag)
    repository = tag.rsplit(":", 1)[0]
    digests = json.loads(
        docker(services, "image", "inspect", "--format", "{{json .RepoDigests}}", tag)
    )
    for reference in digests:
        name, _, digest = reference.partition("@")
        if name == repository:
            return digest
    raise AssertionError(f"docker reports no digest for {repository}: {digests}")


def registry_manifest(registry: str, name: str, reference: str) -> tuple[str, dict]:
    """Fetch a manifest from the registry API; return (Docker-Content-Digest, body)."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{reference}",
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        digest = response.headers["Docker-Content-Digest"]
        return digest, json.loads(response.read())


def registry_digest_resolver(registry: str) -> Callable[[str], str | None]:
    """Return a ``FakeKube`` digest resolver that asks the test registry for tags.

    The resolver maps ``127.0.0.1:PORT/name:tag`` to ``127.0.0.1:PORT/name@sha256:...``
    and returns None for other registries or unknown tags.
    """

    def resolve(image: str) -> str | None:
        host, _, path = image.partition("/")
        if host != registry or not path:
            return None
        name, tag = path, "latest"
        if ":" in path.rsplit("/", 1)[-1]:
            name, _, tag = path.rpartition(":")
        try:
            digest, _ = registry_manifest(registry, name, tag)
        except (urllib.error.URLError, OSError):
            return None
        return f"{host}/{name}@{digest}"

    return resolve


# One access log line of the registry, for example:
# 127.0.0.1 - - [04/Dec/2026:16:21:37 +0000] "HEAD /v2/a/manifests/1 HTTP/1.1" 404 103
_ACCESS_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) ')


@dataclass(frozen=True)
class RegistryRequest:
    """One request from the registry's access log."""

    method: str
    path: str
    status: int

    @property
    def is_upload(self) -> bool:
        """Whether this request writes a blob (layer or config) or a manifest."""
        return self.method in ("POST", "PUT", "PATCH")


class RegistryLog:
    """The registry's requests since this object was created (or since ``mark``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.mark()

    def mark(self) -> None:
        """Forget the requests logged so far."""
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def requests(self) -> list[RegistryRequest]:
        """Return the requests logged after the mark, oldest first."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            size = self.path.stat().st_size
            handle.seek(self.offset if self.offset <= size else 0)
            text = handle.read().decode(errors="replace")
        found = []
        for line in text.splitlines():
            match = _ACCESS_LINE.match(line)
            if match:
                method, path, status = match.groups()
                found.append(RegistryRequest(method, path, int(status)))
        return found

    def uploads(self) -> list[RegistryRequest]:
        """Return the logged requests that wrote to the registry."""
        return [r for r in self.requests() if r.is_upload]


@pytest.fixture
def registry_log(registry: str) -> RegistryLog:
    """The test registry's access log from now on (``.uploads()``, ``.requests()``).

    Lets a test assert that a step pushed nothing: ``registry_log.uploads() == []``.
    """
    services_dir = service_settings().get("TPO_SERVICES_DIR") or str(
        REPO_ROOT / ".services"
    )
    path = Path(services_dir) / "registry.log"
    if not path.exists():
        _missing(f"registry log {path} not found; {START_HINT}")
    return RegistryLog(path)


@pytest.fixture
def busybox_image(docker_env: DockerServices, tmp_path: Path) -> Iterator[str]:
    """A busybox image tag built in the test daemon (not pushed), removed afterwards."""
    tag = f"tpo-test/busybox:{uuid.uuid4().hex[:12]}"
    build_busybox_image(docker_env, tmp_path / "busybox-image", tag)
    yield tag
    subprocess.run(
        ["docker", "image", "rm", "--force", tag],
        env=docker_env.env,
        capture_output=True,
        timeout=60,
    )
