"""The Docker daemon and registry from scripts/services-start work for the suite."""

import os
import subprocess
import sys
from pathlib import Path

from support.services import (
    DockerServices,
    RegistryLog,
    build_busybox_image,
    docker,
    push_image,
    read_env_file,
    registry_manifest,
)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def test_daemon_version_is_the_servers(docker_env: DockerServices) -> None:
    reported = docker(docker_env, "version", "--format", "{{.Server.Version}}").strip()
    assert reported == docker_env.server_version


def test_pushed_digest_matches_registry(
    docker_env: DockerServices, image_repository: str, tmp_path: Path
) -> None:
    tag = f"{image_repository}:1.0.0"
    build_busybox_image(docker_env, tmp_path / "context", tag)

    pushed_digest = push_image(docker_env, tag)

    name = image_repository.split("/", 1)[1]
    registry_digest, manifest = registry_manifest(docker_env.registry, name, "1.0.0")
    assert pushed_digest.startswith("sha256:")
    assert registry_digest == pushed_digest
    assert manifest["schemaVersion"] == 2


def test_registry_log_lists_uploads(
    docker_env: DockerServices,
    image_repository: str,
    tmp_path: Path,
    registry_log: RegistryLog,
) -> None:
    tag = f"{image_repository}:1.0.0"
    build_busybox_image(docker_env, tmp_path / "context", tag)

    push_image(docker_env, tag)
    pushed = registry_log.uploads()
    registry_log.mark()
    push_image(docker_env, tag)
    pushed_again = registry_log.uploads()

    name = image_repository.split("/", 1)[1]
    assert any(r.path == f"/v2/{name}/manifests/1.0.0" for r in pushed)
    assert any("/blobs/uploads/" in r.path for r in pushed)
    assert not any("/blobs/uploads/" in r.path for r in pushed_again)


def test_image_runs_busybox_without_network(
    docker_env: DockerServices, tmp_path: Path, image_repository: str
) -> None:
    tag = f"{image_repository}:run"
    build_busybox_image(
        docker_env,
        tmp_path / "context",
        tag,
        files={"srv/index.html": "<p>ok</p>\n"},
        dockerfile_lines=['CMD ["/bin/busybox", "cat", "/srv/index.html"]'],
    )

    output = docker(docker_env, "run", "--rm", "--network", "none", tag)

    assert output == "<p>ok</p>\n"


def test_env_file_parses_export_lines(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(
        "# comment\nexport DOCKER_HOST=unix:///tmp/d/docker.sock\n"
        "export TPO_TEST_REGISTRY=127.0.0.1:5001\n"
    )

    values = read_env_file(env_file)

    assert values == {
        "DOCKER_HOST": "unix:///tmp/d/docker.sock",
        "TPO_TEST_REGISTRY": "127.0.0.1:5001",
    }


def test_missing_daemon_skip_names_service(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_needs_docker.py").write_text(
        "def test_docker(docker_env):\n    pass\n"
    )
    (tmp_path / "tests" / "conftest.py").write_text(
        'pytest_plugins = ["support.services"]\n'
    )
    support_dir = Path(__file__).resolve().parent
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(support_dir),
        "TPO_SERVICES_DIR": str(tmp_path / "no-services"),
    }

    pytest_args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
    ]

    skipped = subprocess.run(
        [*pytest_args, "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    required = subprocess.run(
        [*pytest_args, "tests"],
        cwd=tmp_path,
        env={**env, "TPO_REQUIRE_SERVICES": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert skipped.returncode == 0, skipped.stdout
    assert "docker daemon not running" in skipped.stdout
    assert required.returncode == 1, required.stdout
    assert "TPO_REQUIRE_SERVICES=1" in required.stdout


def _process_runs(pid: int, name: str) -> bool:
    try:
        return name in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
            errors="replace"
        )
    except OSError:
        return False


def test_scripts_start_and_stop_services(
    docker_env: DockerServices, tmp_path: Path
) -> None:
    # A second pair of services in its own folder, so the suite's pair keeps running;
    # port 5000 may be taken, which exercises the free-port fallback.
    env = {**os.environ, "TPO_SERVICES_DIR": str(tmp_path / "services")}
    env.pop("DOCKER_HOST", None)
    start = [str(SCRIPTS / "services-start")]

    started = subprocess.run(
        start, env=env, capture_output=True, text=True, timeout=180
    )
    values = read_env_file(tmp_path / "services" / "env")
    again = subprocess.run(start, env=env, capture_output=True, text=True, timeout=180)
    stopped = subprocess.run(
        [str(SCRIPTS / "services-stop")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert started.returncode == 0, started.stderr
    assert values["TPO_TEST_REGISTRY"].startswith("127.0.0.1:")
    assert values["TPO_DOCKER_SERVER_VERSION"] == docker_env.server_version
    assert again.returncode == 0, again.stderr
    assert "dockerd already running" in again.stderr
    assert stopped.returncode == 0, stopped.stderr
    assert not _process_runs(int(values["TPO_DOCKERD_PID"]), "dockerd")
    assert not _process_runs(int(values["TPO_REGISTRY_PID"]), "docker-registry")
    assert not (tmp_path / "services" / "env").exists()
