"""The demo image: built by deploy.build, labelled, non-root, serving its page."""

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
from conftest import git
from support.deploy import DemoProject, scenario
from support.services import service_settings

pytestmark = pytest.mark.docker


def docker(*args: str) -> str:
    env = {**os.environ, "DOCKER_HOST": service_settings()["DOCKER_HOST"]}
    done = subprocess.run(["docker", *args], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory,
          module_services: object) -> Iterator[tuple[DemoProject, str, str]]:
    """The demo built and pushed once by deploy.build, with an origin remote."""
    with scenario(tmp_path_factory.mktemp("demo"), module_services) as s:
        s.git("remote", "add", "origin",
              "https://ci:s3cret@git.example.test/team/demo.git")
        done = s.run("build", "deploy.build")
        assert done.returncode == 0, done.stderr
        yield s.project, done.stdout.strip().split(": ", 1)[1], done.stderr


def config(reference: str) -> dict:
    return json.loads(docker("image", "inspect", "--format", "{{json .Config}}",
                             reference))


def test_build_labels_follow_oci(built: tuple[DemoProject, str, str]) -> None:
    project, reference, _ = built
    labels = config(reference)["Labels"]
    head = git(project.root, "rev-parse", "HEAD").strip()
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.source"] == (
        "https://git.example.test/team/demo")
    assert labels["org.opencontainers.image.created"].endswith("Z")


def test_build_tag_is_version_and_short_sha(
        built: tuple[DemoProject, str, str]) -> None:
    project, _, _ = built
    builds = json.loads((project.root / ".tpo/builds.json").read_text())["builds"]
    head = git(project.root, "rev-parse", "--short=7", "HEAD").strip()
    assert builds["demo"]["tag"] == f"1.0.0-{head}"


def test_demo_runs_as_non_root_with_healthcheck(
        built: tuple[DemoProject, str, str]) -> None:
    _, reference, _ = built
    settings = config(reference)
    assert settings["User"] == "65534:65534"
    assert settings["Healthcheck"]["Test"][0] == "CMD"


def test_demo_serves_its_page(built: tuple[DemoProject, str, str]) -> None:
    _, reference, _ = built
    container = docker("run", "--detach", "--network", "none", reference).strip()
    try:
        page = ""
        for _ in range(20):
            done = subprocess.run(
                ["docker", "exec", container, "/bin/busybox", "wget", "-q", "-O",
                 "-", "http://127.0.0.1:8080/"],
                capture_output=True, text=True, timeout=30,
                env={**os.environ, "DOCKER_HOST": service_settings()["DOCKER_HOST"]})
            if done.returncode == 0:
                page = done.stdout
                break
        assert "<h1>demo</h1>" in page
    finally:
        docker("rm", "--force", container)


def test_build_streams_progress(built: tuple[DemoProject, str, str]) -> None:
    _, _, progress = built
    assert "Step 1/" in progress
    assert "pushing " in progress
