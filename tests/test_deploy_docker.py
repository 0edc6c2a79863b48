"""Docker daemon detection and registry lookups behind builds and promotion."""

import json

import pytest
from support.services import DockerServices, build_busybox_image, push_image

from tpo_tasks.command import Result
from tpo_tasks.deploy.docker import (
    Docker,
    manifest_digest,
    registry_scheme,
    split_repository,
)
from tpo_tasks.errors import ExternalError


def fake_docker(server: str | None, buildx: bool = True):
    calls: list[list[str]] = []

    def runner(args: list[str], **kwargs: object) -> Result:
        calls.append(list(args))
        if args[1] == "version":
            data = {"Client": {"Version": "28.2.2"}}
            if server:
                data["Server"] = {"Version": server}
            return Result(tuple(args), 0 if server else 1, json.dumps(data),
                          "" if server else "Cannot connect to the Docker daemon")
        if args[1] == "buildx":
            return Result(tuple(args), 0 if buildx else 1, "", "")
        return Result(tuple(args), 0, "", "")

    return runner, calls


def test_old_daemon_uses_legacy_builder() -> None:
    runner, calls = fake_docker("20.10.24+dfsg1")
    docker = Docker(runner=runner)
    docker.daemon_version()
    assert docker._env["DOCKER_BUILDKIT"] == "0"


def test_missing_buildx_uses_legacy_builder() -> None:
    runner, calls = fake_docker("27.0.1", buildx=False)
    docker = Docker(runner=runner)
    docker.daemon_version()
    assert docker._env["DOCKER_BUILDKIT"] == "0"


def test_new_daemon_with_buildx_keeps_buildkit() -> None:
    runner, calls = fake_docker("27.0.1", buildx=True)
    docker = Docker(runner=runner)
    docker.daemon_version()
    assert "DOCKER_BUILDKIT" not in docker._env


def test_daemon_version_detected_once() -> None:
    runner, calls = fake_docker("20.10.24")
    docker = Docker(runner=runner)
    docker.daemon_version()
    docker.daemon_version()
    assert sum(call[1] == "version" for call in calls) == 1


def test_unreachable_daemon_is_outside_failure() -> None:
    runner, _ = fake_docker(None)
    with pytest.raises(ExternalError, match="docker daemon not reachable"):
        Docker(runner=runner).daemon_version()


def test_too_old_daemon_rejected() -> None:
    runner, _ = fake_docker("18.09.1")
    with pytest.raises(ExternalError, match="too old"):
        Docker(runner=runner).daemon_version()


@pytest.mark.parametrize(("host", "scheme"), [
    ("127.0.0.1:5000", "http"), ("localhost:5000", "http"),
    ("registry.example.test", "https"), ("10.0.0.1:5000", "https"),
], ids=["loopback", "localhost", "named", "private-address"])
def test_registry_scheme(host: str, scheme: str) -> None:
    assert registry_scheme(host) == scheme


def test_repository_without_host_rejected() -> None:
    with pytest.raises(ExternalError, match="tpo.deploy.registry"):
        split_repository("team/web")


def test_unreachable_registry_is_outside_failure() -> None:
    with pytest.raises(ExternalError, match="unreachable"):
        manifest_digest("127.0.0.1:9/team/web", "latest", timeout=2)


@pytest.mark.docker
def test_manifest_digest_matches_push(docker_env: DockerServices,
                                      image_repository: str, tmp_path) -> None:
    tag = f"{image_repository}:1.0.0-abcdef0"
    build_busybox_image(docker_env, tmp_path / "image", tag)
    pushed = push_image(docker_env, tag)
    repository, _, reference = tag.rpartition(":")
    assert manifest_digest(repository, reference) == pushed


@pytest.mark.docker
def test_manifest_digest_none_for_missing_tag(registry: str) -> None:
    assert manifest_digest(f"{registry}/tpo-test/none", "0.0.0-0000000") is None
