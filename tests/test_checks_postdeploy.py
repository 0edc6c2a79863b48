"""checks.postdeploy against the loopback fake Kubernetes API with the real kubectl."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
from conftest import run_tpo
from support.fake_kube import kubectl

from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_kube import FakeKube
from tpo_tasks.testing.kube_rollout import Fault

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.test/web:1.0
"""


@pytest.fixture
def health_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def project(
    tmp_path: Path, kube: FakeKube, health: list[str], timeout: int = 20
) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    environment = {
        "kube_context": "fake",
        "server": kube.url,
        "namespace": "default",
        "health": health,
        "rollout_timeout": timeout,
    }
    (root / "invoke.yaml").write_text(
        json.dumps({"tpo": {"deploy": {"environments": {"staging": environment}}}})
    )
    return root


def postdeploy(root: Path, *args: str) -> tuple[int, dict]:
    completed = run_tpo("checks.postdeploy", *args, "--json", cwd=root)
    assert completed.stdout, completed.stderr
    data = json.loads(completed.stdout)
    jsonschema.validate(data, load_schema("checks-report.schema.json"))
    return completed.returncode, data


def statuses(data: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in data["results"]:
        found.setdefault(item["id"], []).append(item["status"])
    return found


def wait_for_write_recorded(kube: FakeKube) -> None:
    """Wait until the fake logs the setup's PATCH: it logs after it replies."""
    deadline = time.monotonic() + 5
    while not kube.requests_matching(method="PATCH") and time.monotonic() < deadline:
        time.sleep(0.01)


def test_healthy_environment_passes(
    fake_kube: FakeKube,
    tmp_path: Path,
    health_url: str,
) -> None:
    applied = kubectl("apply", "--server-side", "-f", "-", input=DEPLOYMENT)
    assert applied.returncode == 0, applied.stderr
    root = project(tmp_path, fake_kube, [health_url + "/healthz"])
    code, data = postdeploy(root, "staging")
    assert statuses(data) == {
        "rollout.status": ["pass"],
        "pods.ready": ["pass"],
        "pods.restarts": ["pass"],
        "health.http": ["pass"],
        "logs.errors": ["pass"],
    }
    assert code == 0


def test_env_flag_works_like_the_argument(
    fake_kube: FakeKube,
    tmp_path: Path,
) -> None:
    root = project(tmp_path, fake_kube, [])
    code, data = postdeploy(root, "--env", "staging")
    assert statuses(data)["rollout.status"] == ["skip"]
    assert statuses(data)["health.http"] == ["skip"]
    assert code == 0


def test_crashing_rollout_reports_pods_and_logs(
    fake_kube: FakeKube,
    tmp_path: Path,
    health_url: str,
) -> None:
    fake_kube.add_fault(Fault(mode="never-ready", name="web"))
    applied = kubectl("apply", "--server-side", "-f", "-", input=DEPLOYMENT)
    assert applied.returncode == 0, applied.stderr
    root = project(tmp_path, fake_kube, [health_url + "/missing"], timeout=2)
    code, data = postdeploy(root, "staging")
    found = statuses(data)
    assert found["rollout.status"] == ["fail"]
    assert "fail" in found["pods.ready"]
    assert "CrashLoopBackOff" in " ".join(
        r["message"] for r in data["results"] if r["id"] == "pods.ready"
    )
    assert found["logs.errors"] == ["warn"]
    assert found["health.http"] == ["fail"]
    assert code == 1


def test_only_reads_the_cluster(fake_kube: FakeKube, tmp_path: Path) -> None:
    kubectl("apply", "--server-side", "-f", "-", input=DEPLOYMENT)
    wait_for_write_recorded(fake_kube)
    fake_kube.clear_requests()
    postdeploy(project(tmp_path, fake_kube, []), "staging")
    writes = [r for r in fake_kube.requests if r.method not in ("GET", "HEAD")]
    assert writes == []


def test_missing_environment_is_a_usage_error(tmp_path: Path) -> None:
    completed = run_tpo("checks.postdeploy", cwd=tmp_path)
    assert completed.returncode == 2
    assert "env" in completed.stderr


def test_undeclared_environment_is_a_config_error(tmp_path: Path) -> None:
    completed = run_tpo("checks.postdeploy", "nowhere", cwd=tmp_path)
    assert completed.returncode == 2
    assert "nowhere" in completed.stderr
