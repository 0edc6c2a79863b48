"""The consumer contract: one-line tasks.py, the tpo script, exit codes."""

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import NonLoopbackConnection

EXPECTED_TASKS = [
    "issues.sync",
    "release.bump",
    "deploy.staging",
    "checks.predeploy",
    "config",
]


def inv(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from invoke.main import program; program.run()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_one_line_tasks_py_lists_every_namespace(git_repo: Path) -> None:
    (git_repo / "tasks.py").write_text("from tpo_tasks import namespace\n")
    completed = inv("--list", cwd=git_repo)
    assert completed.returncode == 0, completed.stderr
    for name in EXPECTED_TASKS:
        assert f"  {name}" in completed.stdout


def test_tpo_lists_tasks_without_tasks_py(tmp_path: Path, tpo) -> None:
    completed = tpo("--list", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    for name in EXPECTED_TASKS:
        assert f"  {name}" in completed.stdout


def test_consumer_collection_overrides_config(git_repo: Path) -> None:
    (git_repo / "tasks.py").write_text(
        "from invoke import Collection\n"
        "from tpo_tasks.collection import config\n"
        "from tpo_tasks.issues.tasks import ns as issues\n"
        "ns = Collection(issues, config)\n"
        "ns.configure({'tpo': {'issues': {'dir': 'docs/issues'}}})\n"
    )
    completed = inv("config", "--json", cwd=git_repo)
    assert completed.returncode == 0, completed.stderr
    rows = {row["key"]: row for row in json.loads(completed.stdout)}
    assert rows["tpo.issues.dir"]["value"] == "docs/issues"
    assert rows["tpo.issues.dir"]["source"] == "collection"


def test_tpo_finds_tpo_yaml_in_a_parent_folder(tmp_path: Path, tpo) -> None:
    (tmp_path / "tpo.yaml").write_text("tpo:\n  release:\n    branch: trunk\n")
    nested = tmp_path / "services" / "web"
    nested.mkdir(parents=True)
    completed = tpo("config", "--json", cwd=nested)
    assert completed.returncode == 0, completed.stderr
    rows = {row["key"]: row for row in json.loads(completed.stdout)}
    assert rows["tpo.release.branch"]["value"] == "trunk"
    assert "tpo.yaml" in rows["tpo.release.branch"]["source"]


def test_tpo_prefers_invoke_yaml_next_to_tpo_yaml(tmp_path: Path, tpo) -> None:
    (tmp_path / "tpo.yaml").write_text("tpo:\n  release:\n    branch: trunk\n")
    (tmp_path / "invoke.yaml").write_text("tpo:\n  release:\n    branch: develop\n")
    completed = tpo("config", "--json", cwd=tmp_path)
    rows = {row["key"]: row for row in json.loads(completed.stdout)}
    assert rows["tpo.release.branch"]["value"] == "develop"


def test_tpo_parse_error_exits_2(tmp_path: Path, tpo) -> None:
    completed = tpo("config", "--no-such-flag", cwd=tmp_path)
    assert completed.returncode == 2
    assert "--no-such-flag" in completed.stderr


def test_tpo_bad_integer_flag_exits_2(tmp_path: Path, tpo) -> None:
    completed = tpo(
        "checks.health",
        "--url",
        "http://127.0.0.1:9/",
        "--attempts",
        "abc",
        cwd=tmp_path,
    )
    assert completed.returncode == 2
    assert "'abc'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_inv_parse_error_keeps_invoke_exit_1(git_repo: Path) -> None:
    (git_repo / "tasks.py").write_text("from tpo_tasks import namespace\n")
    completed = inv("config", "--no-such-flag", cwd=git_repo)
    assert completed.returncode == 1


def test_config_error_has_no_traceback_unless_debug(tmp_path: Path, tpo) -> None:
    (tmp_path / "invoke.yaml").write_text("tpo:\n  release:\n    scheme: calver\n")
    quiet = tpo("config", cwd=tmp_path)
    loud = tpo("config", cwd=tmp_path, env={"TPO_DEBUG": "1"})
    assert quiet.returncode == 2
    assert quiet.stderr.startswith("Error: invalid tpo.release.scheme: 'calver'")
    assert "Traceback" not in quiet.stderr
    assert loud.returncode == 2
    assert "Traceback" in loud.stderr


def test_section_that_is_not_a_mapping_is_a_usage_error(tmp_path: Path, tpo) -> None:
    (tmp_path / "invoke.yaml").write_text("tpo:\n  deploy: [staging]\n")
    completed = tpo("config", cwd=tmp_path)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr


def test_status_server_serves_health_and_version() -> None:
    from tpo_tasks import __version__
    from tpo_tasks.status_server import serve

    server = serve("127.0.0.1", 0)
    port = server.server_address[1]
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            health = json.loads(r.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as r:
            version = json.loads(r.read())
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz", method="POST", data=b""
        )
        with pytest.raises(urllib.error.HTTPError) as rejected:
            urllib.request.urlopen(request, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert health["status"] == "ok"
    assert version["version"] == __version__
    assert "revision" in version
    assert rejected.value.code == 405


@pytest.mark.parametrize(
    "address", [("192.0.2.10", 443), ("10.0.0.1", 6443)], ids=["public", "private"]
)
def test_network_guard_rejects_non_loopback(address: tuple[str, int]) -> None:
    with socket.socket() as sock, pytest.raises(NonLoopbackConnection):
        sock.connect(address)


def test_network_guard_allows_loopback() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
