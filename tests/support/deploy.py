"""Fixtures for the deploy tests: a demo project, three fake clusters, a registry proxy.

``demo_project`` is a git repository holding ``examples/demo`` (plus a test overlay
``kube/overlays/variant`` that changes the pod template without changing the
image) and a git-ignored ``invoke.yaml`` pointing at the fakes. Git identity and
dates are fixed by ``tests/conftest.py``, so every test's commit has the same
SHA: the demo image is built once per session and found in the registry after.

``RegistryProxy`` forwards to the test registry and records each request, so a
test can count layer uploads; the registry's ``Location`` headers are rewritten
so docker keeps talking through the proxy.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import stat
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, git

from tpo_tasks.testing.fake_kube import FakeKube, write_kubeconfig

DEMO = REPO_ROOT / "examples" / "demo"
SESSION_REPOSITORY = f"tpo-deploy-test-{uuid.uuid4().hex[:8]}"
VARIANT_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
patches:
  - target: {kind: Deployment, name: demo}
    patch: |-
      - op: add
        path: /spec/template/metadata/annotations
        value: {demo/variant: "2"}
"""


@dataclass
class Clusters:
    """Three fakes (dev, staging, prod) and their kubeconfig; current is prod."""

    kubeconfig: Path
    servers: dict[str, FakeKube]

    def requests(self, context: str) -> list[Any]:
        return list(self.servers[context].requests)

    def mutating(self, context: str) -> list[Any]:
        return [r for r in self.servers[context].requests
                if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def clear(self) -> None:
        for server in self.servers.values():
            server.clear_requests()


@pytest.fixture
def deploy_clusters(tmp_path: Path) -> Iterator[Clusters]:
    """Fake clusters dev, staging and prod; the kubeconfig's current context is prod."""
    servers: dict[str, FakeKube] = {}
    try:
        for name in ("dev", "staging", "prod"):
            servers[name] = FakeKube(context=name, rollout_delay=0.05).start()
        path = write_kubeconfig(tmp_path / "kubeconfig", dict(servers), current="prod")
        yield Clusters(path, servers)
    finally:
        for server in servers.values():
            server.stop()


@dataclass
class DemoProject:
    """A committed copy of the demo service and the settings tests change."""

    root: Path
    registry: str
    clusters: Clusters
    config: dict[str, Any] = field(default_factory=dict)

    def write_config(self, **deploy: Any) -> None:
        """Write invoke.yaml (git-ignored) with the defaults merged with ``deploy``."""
        settings = json.loads(json.dumps(self.config))
        for key, value in deploy.items():
            if key == "environments":
                for env_name, env_values in value.items():
                    settings["environments"].setdefault(env_name, {}).update(env_values)
            else:
                settings[key] = value
        (self.root / "invoke.yaml").write_text(
            yaml.safe_dump({"tpo": {"deploy": settings}}))


def default_config(registry: str, clusters: Clusters) -> dict[str, Any]:
    urls = {name: server.url for name, server in clusters.servers.items()}
    return {
        "registry": registry,
        "kubeconfig": str(clusters.kubeconfig),
        "services": {"demo": {"dockerfile": "Dockerfile", "build_context": "."}},
        "environments": {
            "dev": {"kube_context": "dev", "server": urls["dev"],
                    "namespace": "demo", "rollout_timeout": 20},
            "staging": {"kube_context": "staging", "server": urls["staging"],
                        "namespace": "demo", "rollout_timeout": 20},
            "production": {"kube_context": "prod", "server": urls["prod"],
                           "namespace": "demo", "promote_from": "staging",
                           "confirm": True, "rollout_timeout": 20},
        },
        "history_limit": 20,
        "lock_ttl": 900,
    }


def make_demo_repository(root: Path) -> Path:
    """Copy the demo (with busybox and the variant overlay) into a new git repo."""
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("busybox", ".tpo"))
    shutil.copy2("/bin/busybox", root / "busybox")
    (root / "kube/overlays/variant").mkdir()
    (root / "kube/overlays/variant/kustomization.yaml").write_text(VARIANT_OVERLAY)
    (root / ".gitignore").write_text("busybox\ninvoke.yaml\n.tpo/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feat: demo service")
    return root


@pytest.fixture
def demo_project(tmp_path: Path, docker_env: Any,
                 deploy_clusters: Clusters) -> DemoProject:
    """The demo repository configured for the fakes and the test registry."""
    registry = f"{docker_env.registry}/{SESSION_REPOSITORY}"
    root = make_demo_repository(tmp_path / "demo")
    project = DemoProject(root, registry, deploy_clusters,
                          default_config(registry, deploy_clusters))
    project.write_config()
    return project


# -- a kubectl that records its argv ---------------------------------------------


@pytest.fixture
def kubectl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a kubectl wrapper first on PATH that appends each argv (JSON) to a log."""
    folder = tmp_path / "shim"
    folder.mkdir()
    log = tmp_path / "kubectl-argv.log"
    real = shutil.which("kubectl")
    shim = folder / "kubectl"
    shim.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as handle:\n"
        "    handle.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


def read_argv_log(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


# -- a counting registry proxy ---------------------------------------------------


class RegistryProxy(ThreadingHTTPServer):
    """Forwards HTTP to a registry and records (method, path, query) per request."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.log.append((method, path))

    def blob_uploads(self) -> list[str]:
        """Digests of completed blob uploads (a PUT that ends an upload)."""
        digests = []
        for method, path in self.log:
            if method == "PUT" and "/blobs/uploads/" in path and "digest=" in path:
                digests.append(path.split("digest=", 1)[1].split("&", 1)[0])
        return digests

    def requests_to(self, method: str, fragment: str) -> int:
        return sum(1 for m, p in self.log if m == method and fragment in p)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RegistryProxy

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        self.server.record(self.command, self.path)
        body = self._body()
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "transfer-encoding", "connection",
                                        "content-length")}
        if body or self.command in ("PUT", "PATCH", "POST"):
            headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(self.server.upstream, timeout=600)
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        self.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in ("transfer-encoding", "connection", "content-length"):
                continue
            if lower == "location":
                value = value.replace(f"http://{self.server.upstream}",
                                      f"http://{self.server.address}")
            self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            connection.close()
            return
        data = None
        if length is None:
            data = response.read()
            length = str(len(data))
        self.send_header("Content-Length", length)
        self.end_headers()
        if data is not None:
            self.wfile.write(data)
        else:
            while chunk := response.read(1 << 16):
                self.wfile.write(chunk)
        connection.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


@pytest.fixture
def registry_proxy(docker_env: Any) -> Iterator[RegistryProxy]:
    """A counting proxy in front of the test registry, on its own port."""
    proxy = RegistryProxy(docker_env.registry)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
