"""Fixtures for the deploy tests: a demo project, three fake clusters, a registry proxy.

``demo_project`` is a git repository holding ``examples/demo`` (plus the test
overlays ``kube/overlays/variant`` and ``variant-3``, which change the pod template
but not the image) and a git-ignored ``invoke.yaml`` pointing at the fakes. Git
identity and dates are fixed by ``tests/conftest.py``, so every test's commit has
the same SHA: the demo image is built once per session and found in the registry
after that.

``RegistryProxy`` forwards to the test registry and records each request, so a
test can count layer uploads; the registry's ``Location`` headers are rewritten
so docker keeps talking through the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import io
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
        release = {"version_files": ["VERSION"]}
        (self.root / "invoke.yaml").write_text(
            yaml.safe_dump({"tpo": {"release": release, "deploy": settings}}))


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
    for number, name in ((2, "variant"), (3, "variant-3")):
        (root / "kube/overlays" / name).mkdir()
        (root / "kube/overlays" / name / "kustomization.yaml").write_text(
            VARIANT_OVERLAY.replace('"2"', f'"{number}"'))
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


def make_kubectl_shim(folder: Path) -> tuple[Path, Path]:
    """Write a kubectl wrapper that logs each argv as one line; return (dir, log).

    A shell script, so the wrapper adds no interpreter start-up to each call.
    Arguments are separated by the ASCII unit separator (0x1f).
    """
    shim_dir = folder / "shim"
    shim_dir.mkdir()
    log = folder / "kubectl-argv.log"
    real = shutil.which("kubectl")
    shim = shim_dir / "kubectl"
    shim.write_text(
        "#!/bin/sh\n"
        f"{{ printf '%s\\037' \"$@\"; printf '\\n'; }} >> '{log}'\n"
        f"exec '{real}' \"$@\"\n"
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return shim_dir, log


@pytest.fixture
def kubectl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a kubectl wrapper first on PATH that appends each argv (JSON) to a log."""
    shim_dir, log = make_kubectl_shim(tmp_path)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def read_argv_log(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.rstrip("\x1f").split("\x1f")
            for line in log.read_text().splitlines() if line]


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


# -- module-scoped scenarios -------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """A copy of os.environ without the developer's INVOKE/TPO/GITHUB/KUBECONFIG
    variables, with the fixed git identity (what ``clean_environment`` does for
    one test, usable from a module-scoped fixture)."""
    from conftest import GIT_IDENTITY

    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("INVOKE_", "GITHUB_", "TPO_"))
           and name not in ("PARENT_REPO", "GH_HOST", "KUBECONFIG")}
    env.update(GIT_IDENTITY)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def module_services(_docker_services: Any) -> Any:
    """The docker daemon and registry, for module-scoped scenarios."""
    from support.services import DockerServices, _missing

    if isinstance(_docker_services, str):
        _missing(_docker_services)
    assert isinstance(_docker_services, DockerServices)
    return _docker_services


@dataclass
class Step:
    """One ``tpo`` run of a scenario and what the fakes saw during it."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    requests: dict[str, list[Any]]
    argv: list[list[str]]

    def mutating(self, context: str) -> list[Any]:
        return [r for r in self.requests[context]
                if r.method in ("POST", "PUT", "PATCH", "DELETE")]


class Scenario:
    """Runs ``tpo`` steps in one demo project and keeps each step's evidence."""

    def __init__(self, project: DemoProject, env: dict[str, str],
                 argv_log: Path) -> None:
        self.project = project
        self.env = env
        self.argv_log = argv_log
        self.steps: dict[str, Step] = {}

    def run(self, name: str, *args: str, input: str | None = None) -> Step:
        """Run ``tpo ARGS`` in this process (as the console script would, from the
        project folder, with the scenario's environment) and record the step.

        In-process runs skip about 0.6 s of interpreter start-up per step; the
        subprocess path of the console script is covered by the other tests.
        """
        from tpo_tasks.program import main

        self.project.clusters.clear()
        self.argv_log.write_text("")
        stdout, stderr = io.StringIO(), io.StringIO()
        saved_env = dict(os.environ)
        saved_cwd = os.getcwd()
        saved_stdin = sys.stdin
        code = 0
        try:
            os.environ.clear()
            os.environ.update(self.env)
            os.chdir(self.project.root)
            sys.stdin = io.StringIO(input or "")
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    main(["tpo", *args])
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else int(
                        bool(exc.code))
        finally:
            sys.stdin = saved_stdin
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        step = Step(
            args=args, returncode=code, stdout=stdout.getvalue(),
            stderr=stderr.getvalue(),
            requests={c: self.project.clusters.requests(c)
                      for c in self.project.clusters.servers},
            argv=read_argv_log(self.argv_log),
        )
        self.steps[name] = step
        return step

    def git(self, *args: str) -> str:
        return git(self.project.root, *args)


@contextlib.contextmanager
def scenario(tmp: Path, services: Any, **extra_env: str) -> Iterator[Scenario]:
    """Start fakes, make the demo project and a kubectl argv shim in ``tmp``.

    ``extra_env`` is added to the environment the steps run with.
    """
    servers: dict[str, FakeKube] = {}
    try:
        for name in ("dev", "staging", "prod"):
            servers[name] = FakeKube(context=name, rollout_delay=0.05).start()
        kubeconfig = write_kubeconfig(tmp / "kubeconfig", dict(servers), current="prod")
        clusters = Clusters(kubeconfig, servers)
        registry = f"{services.registry}/{SESSION_REPOSITORY}"
        root = make_demo_repository(tmp / "demo")
        project = DemoProject(root, registry, clusters,
                              default_config(registry, clusters))
        project.write_config()
        shim_dir, argv_log = make_kubectl_shim(tmp)
        env = clean_env(DOCKER_HOST=services.docker_host, DOCKER_BUILDKIT="0",
                        PATH=f"{shim_dir}{os.pathsep}{os.environ['PATH']}",
                        **extra_env)
        yield Scenario(project, env, argv_log)
    finally:
        for server in servers.values():
            server.stop()
