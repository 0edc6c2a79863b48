"""Hard cases of the deploy namespace found by trying to break it.

Invalid names, a missing overlay and a file given as --output exit 2 before any
build or kubectl call. A malformed kubeconfig or a tampered history ConfigMap
gives a one-line error, not a traceback. Dotenv values may span lines, and a
rollback after --no-rollback restores the newest successful revision.
"""

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import git, run_tpo
from support.deploy import DemoProject

from tpo_tasks.deploy.secrets import parse_dotenv
from tpo_tasks.errors import UsageError


def write_deploy_config(repo: Path, *, services: dict, namespace: str = "demo") -> None:
    deploy = {
        "registry": "127.0.0.1:5000/team",
        "services": services,
        "environments": {
            "staging": {"kube_context": "staging", "server": "http://127.0.0.1:9",
                        "namespace": namespace,
                        "kubeconfig": str(repo / "kubeconfig")},
        },
    }
    (repo / "invoke.yaml").write_text(yaml.safe_dump({"tpo": {"deploy": deploy}}))


@pytest.mark.parametrize(
    "services",
    [{"a b": {}}, {"Web": {}}, {"../x": {}}, {"web": {"image": "Web:latest"}}],
    ids=["space", "upper-case", "path", "image-with-tag"],
)
def test_invalid_image_name_exits_2(git_repo: Path, services: dict) -> None:
    write_deploy_config(git_repo, services=services)
    completed = run_tpo("deploy.build", "--dry-run", cwd=git_repo)
    assert completed.returncode == 2, completed.stderr
    assert "tpo.deploy.services." in completed.stderr
    assert "would build" not in completed.stdout
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("namespace", ["../x", "a b", "Demo", "x" * 64],
                         ids=["path", "space", "upper-case", "too-long"])
def test_invalid_namespace_exits_2(git_repo: Path, namespace: str) -> None:
    write_deploy_config(git_repo, services={"web": {}}, namespace=namespace)
    completed = run_tpo("deploy.history", "staging", cwd=git_repo)
    assert completed.returncode == 2, completed.stderr
    assert "tpo.deploy.environments.staging.namespace" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_valid_names_still_accepted(git_repo: Path) -> None:
    services = {"web": {}, "api-v2": {"image": "team/api_v2.x"}}
    write_deploy_config(git_repo, services=services)
    completed = run_tpo("deploy.build", "--dry-run", cwd=git_repo)
    assert completed.returncode == 0, completed.stderr
    assert "team/api_v2.x:" in completed.stdout


PEM = "-----BEGIN KEY-----\nYWJjZGVmZ2hpamts\n-----END KEY-----"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'PEM="{PEM}"\nNEXT=1\n', {"PEM": PEM, "NEXT": "1"}),
        (f"export PEM='{PEM}'\n", {"PEM": PEM}),
        ('A="one\n  two # not a comment\n"\n', {"A": "one\n  two # not a comment\n"}),
        ('A="x\\"\ny"\n', {"A": 'x"\ny'}),
    ],
    ids=["double-quoted", "single-quoted-export", "inner-hash-and-indent",
         "escaped-quote"],
)
def test_dotenv_multiline_quoted_value(text: str, expected: dict) -> None:
    assert parse_dotenv(text) == expected


def test_dotenv_unterminated_multiline_names_first_line() -> None:
    with pytest.raises(UsageError) as caught:
        parse_dotenv('OK=1\nPEM="-----BEGIN KEY-----\nc2VjcmV0LXBheWxvYWQ=\n', "x.env")
    assert "x.env:2:" in str(caught.value)
    assert "c2VjcmV0LXBheWxvYWQ=" not in str(caught.value)


def test_missing_overlay_stops_before_build(demo_project: DemoProject) -> None:
    # A commit of its own, so the demo image is not yet in the registry.
    (demo_project.root / "www" / "build-id.txt").write_text(uuid.uuid4().hex)
    git(demo_project.root, "add", "www/build-id.txt")
    git(demo_project.root, "commit", "-q", "-m", "chore: new build")
    demo_project.write_config(
        environments={"staging": {"overlay": "kube/overlays/missing"}})
    done = run_tpo("deploy.staging", cwd=demo_project.root)
    assert done.returncode == 2, done.stderr
    assert "kube/overlays/missing" in done.stderr
    assert "building" not in done.stderr
    assert demo_project.clusters.mutating("staging") == []


@pytest.mark.parametrize("line", ["A='it''s'", 'A="abc"def', "A='x' y"],
                         ids=["shell-concatenation", "suffix", "word-after"])
def test_dotenv_text_after_quote_rejected(line: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_dotenv(line + "\n", "x.env")
    assert "x.env:1:" in str(caught.value)


def test_dotenv_comment_after_quote_allowed() -> None:
    assert parse_dotenv('A="x y"  # note\n') == {"A": "x y"}


HOSTILE_ENV = f"""\
# comment
export API_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB
QUOTED="say \\"hi\\" a=b"
EQUALS=a=b=c
EMPTY=
UNICODE=pässwörd✓
INLINE=kept # dropped comment
PEM="{PEM}"
"""
HOSTILE_VALUES = {
    "API_TOKEN": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
    "QUOTED": 'say "hi" a=b',
    "EQUALS": "a=b=c",
    "EMPTY": "",
    "UNICODE": "pässwörd✓",
    "INLINE": "kept",
    "PEM": PEM,
}


def test_secrets_hostile_dotenv_applied(tmp_path: Path, deploy_clusters: Any) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    staging = deploy_clusters.servers["staging"]
    deploy = {"environments": {"staging": {
        "server": staging.url, "namespace": "demo",
        "kubeconfig": str(deploy_clusters.kubeconfig)}}}
    (repo / "invoke.yaml").write_text(yaml.safe_dump({"tpo": {"deploy": deploy}}))
    env_file = tmp_path / "app.env"
    env_file.write_text(HOSTILE_ENV, encoding="utf-8")
    done = run_tpo("deploy.secrets", "staging", "--from-env-file", str(env_file),
                   cwd=repo, env={"KUBECACHEDIR": str(tmp_path / "kube-cache")})
    assert done.returncode == 0, done.stderr
    secret = staging.get("v1", "Secret", "app", namespace="demo")
    decoded = {key: base64.b64decode(value).decode("utf-8")
               for key, value in (secret or {}).get("data", {}).items()}
    assert decoded == HOSTILE_VALUES
    token = HOSTILE_VALUES["API_TOKEN"]
    assert token not in done.stdout + done.stderr
    assert "BEGIN KEY" not in done.stdout + done.stderr
    others = [r for r in staging.requests if not r.path.endswith("/secrets/app")]
    assert not [r.path for r in others if token.encode() in r.body]
    assert deploy_clusters.requests("prod") == []


def test_rollback_after_no_rollback_restores_last_success(
        demo_project: DemoProject) -> None:
    """A failed deploy left in place is replaced by the newest success."""
    import json

    from tpo_tasks.testing.fake_kube import Fault

    staging = demo_project.clusters.servers["staging"]
    first = run_tpo("deploy.staging", cwd=demo_project.root)
    assert first.returncode == 0, first.stderr
    staging.add_fault(Fault(mode="progress-deadline", times=1, after=0.2))
    demo_project.write_config(environments={"staging": {
        "overlay": "kube/overlays/variant", "rollout_timeout": 3}})
    failed = run_tpo("deploy.staging", "--no-rollback", cwd=demo_project.root)
    assert failed.returncode == 1, failed.stderr
    rollback = run_tpo("deploy.rollback", "staging", cwd=demo_project.root)
    assert rollback.returncode == 0, rollback.stderr
    listed = run_tpo("deploy.history", "staging", "--json", cwd=demo_project.root)
    results = {r["revision"]: (r["result"], r["rollback_of"])
               for r in json.loads(listed.stdout)}
    assert results == {1: ("succeeded", None), 2: ("failed", None),
                       3: ("succeeded", 1)}
    template = staging.get("apps/v1", "Deployment", "demo",
                           namespace="demo")["spec"]["template"]
    assert "demo/variant" not in template["metadata"].get("annotations", {})


MALFORMED_KUBECONFIGS = {
    "cluster-null": "clusters:\n- {name: staging, cluster: null}\n"
                    "contexts:\n- {name: staging, context: {cluster: staging}}\n",
    "cluster-string": "clusters:\n- {name: staging, cluster: x}\n"
                      "contexts:\n- {name: staging, context: {cluster: staging}}\n",
    "context-string": "clusters:\n- {name: staging, cluster: {server: 'http://x'}}\n"
                      "contexts:\n- {name: staging, context: x}\n",
    "contexts-number": "contexts: 5\n",
    "clusters-mapping": "clusters: {staging: 1}\n"
                        "contexts:\n- {name: staging, context: {cluster: staging}}\n",
}


@pytest.mark.parametrize("text", list(MALFORMED_KUBECONFIGS.values()),
                         ids=list(MALFORMED_KUBECONFIGS))
def test_malformed_kubeconfig_is_one_line_error(git_repo: Path, text: str) -> None:
    write_deploy_config(git_repo, services={"web": {}})
    (git_repo / "kubeconfig").write_text(text)
    completed = run_tpo("deploy.history", "staging", cwd=git_repo)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("Error: "), completed.stderr
    assert "Traceback" not in completed.stderr


def _revision(**changes: Any) -> dict[str, Any]:
    revision = {"revision": 1, "time": "2026-01-01T00:00:00Z", "version": "1.0.0",
                "git_sha": "a" * 40, "images": {"web": "r/web@sha256:" + "0" * 64},
                "actor": "ci", "result": "succeeded", "rollback_of": None,
                "manifest_sha256": "0" * 64, "reason": None}
    revision.update(changes)
    return revision


TAMPERED_HISTORIES = {
    "images-string": ({"revisions": [_revision(images="web")]}, None),
    "images-list": ({"revisions": [_revision(images=["web"])]}, None),
    "unknown-result": ({"revisions": [_revision(result="maybe")]}, None),
    "revision-mapping": ({"revisions": [{"revision": {}}]}, None),
    "manifests-not-base64": ({"revisions": [_revision()]}, "%%%"),
    "manifests-not-gzip": ({"revisions": [_revision()]}, "bm90IGd6aXA="),
}


@pytest.mark.parametrize(("stored", "packed"), list(TAMPERED_HISTORIES.values()),
                         ids=list(TAMPERED_HISTORIES))
def test_tampered_history_is_one_line_error(
        tmp_path: Path, deploy_clusters: Any, stored: dict, packed: str | None) -> None:
    import json

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    staging = deploy_clusters.servers["staging"]
    deploy = {"environments": {"staging": {
        "server": staging.url, "namespace": "demo",
        "kubeconfig": str(deploy_clusters.kubeconfig)}}}
    (repo / "invoke.yaml").write_text(yaml.safe_dump({"tpo": {"deploy": deploy}}))
    configmap: dict[str, Any] = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "tpo-deploy-history", "namespace": "demo"},
        "data": {"history.json": json.dumps({"format": 1, **stored})}}
    if packed is not None:
        configmap["binaryData"] = {"manifest-1.yaml.gz": packed}
    staging.put(configmap)
    completed = run_tpo("deploy.history", "staging", cwd=repo,
                        env={"KUBECACHEDIR": str(tmp_path / "kube-cache")})
    assert completed.returncode == 3, completed.stderr
    assert completed.stderr.startswith("Error: "), completed.stderr
    assert "Traceback" not in completed.stderr


def test_render_output_file_is_usage_error(git_repo: Path) -> None:
    write_deploy_config(git_repo, services={"web": {}})
    (git_repo / "taken").write_text("keep me\n")
    completed = run_tpo("deploy.render", "staging", "--output", "taken", cwd=git_repo)
    assert completed.returncode == 2, completed.stderr
    assert "--output" in completed.stderr
    assert (git_repo / "taken").read_text() == "keep me\n"
