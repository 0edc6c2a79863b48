"""The context guard: kubeconfig lookup, server check, context and namespace flags."""

from pathlib import Path

import pytest
import yaml

from tpo_tasks.command import Result
from tpo_tasks.config import load_settings
from tpo_tasks.deploy.kubectl import Kubectl, kubeconfig_paths, normalize_server
from tpo_tasks.errors import ConfigError, ExitCode, RefusedError


def write_kubeconfig(path: Path, servers: dict[str, str], current: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": f"{n}-cluster", "cluster": {"server": s}}
                     for n, s in servers.items()],
        "contexts": [{"name": n, "context": {"cluster": f"{n}-cluster", "user": "u"}}
                     for n in servers],
        "users": [{"name": "u", "user": {}}],
    }))
    return path


def deploy_settings(global_kubeconfig: Path | None, **staging: object):
    env = {"kube_context": "staging", "server": "https://127.0.0.1:6443",
           "namespace": "tally", **staging}
    tpo = {"deploy": {"environments": {"staging": env}}}
    if global_kubeconfig is not None:
        tpo["deploy"]["kubeconfig"] = str(global_kubeconfig)
    return load_settings({"tpo": tpo}).deploy


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "config", {
        "staging": "https://127.0.0.1:6443",
        "prod": "https://127.0.0.1:7443",
    }, current="prod")


class Recorder:
    """Records kubectl command lines; answers `version` like kubectl 1.32."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str], **kwargs: object) -> Result:
        self.calls.append(list(args))
        if "version" in args:
            out = '{"clientVersion": {"gitVersion": "v1.32.4"}}'
            return Result(tuple(args), 0, out, "")
        return Result(tuple(args), 0, "{}", "")


def test_guard_accepts_matching_server(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig)
    resolved = Kubectl(deploy.environment("staging"), deploy).check_context()
    assert resolved.server == "https://127.0.0.1:6443"


def test_guard_rejects_missing_context(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig, kube_context="qa")
    with pytest.raises(ConfigError, match="context 'qa' not found"):
        Kubectl(deploy.environment("staging"), deploy).check_context()


def test_guard_refuses_other_server(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig, server="https://127.0.0.1:7443")
    with pytest.raises(RefusedError) as caught:
        Kubectl(deploy.environment("staging"), deploy).check_context()
    assert caught.value.code == ExitCode.REFUSED


def test_guard_requires_server_key(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig, server=None)
    with pytest.raises(ConfigError, match="server is not set"):
        Kubectl(deploy.environment("staging"), deploy).check_context()


def test_guard_runs_before_any_command(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig, server="https://127.0.0.1:7443")
    recorder = Recorder()
    kubectl = Kubectl(deploy.environment("staging"), deploy, runner=recorder)
    with pytest.raises(RefusedError):
        kubectl.run("get", "pods")
    assert recorder.calls == []


def test_every_call_names_context_and_namespace(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig)
    recorder = Recorder()
    kubectl = Kubectl(deploy.environment("staging"), deploy, runner=recorder)
    kubectl.run("get", "pods")
    kubectl.apply("{}")
    for call in recorder.calls:
        assert call[1:5] == ["--context", "staging", "--namespace", "tally"]


def test_version_detected_once(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig)
    recorder = Recorder()
    kubectl = Kubectl(deploy.environment("staging"), deploy, runner=recorder)
    kubectl.run("get", "pods")
    kubectl.run("get", "leases")
    assert sum("version" in call for call in recorder.calls) == 1


def test_old_kubectl_rejected(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig)

    def old(args: list[str], **kwargs: object) -> Result:
        out = '{"clientVersion": {"gitVersion": "v1.19.2"}}'
        return Result(tuple(args), 0, out, "")

    kubectl = Kubectl(deploy.environment("staging"), deploy, runner=old)
    with pytest.raises(Exception, match="too old"):
        kubectl.run("get", "pods")


def test_apply_is_server_side_with_field_manager(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig)
    recorder = Recorder()
    Kubectl(deploy.environment("staging"), deploy, runner=recorder).apply("{}")
    call = recorder.calls[-1]
    assert "--server-side" in call
    assert "--field-manager=tpo-tasks" in call
    assert "--force-conflicts" not in call


def test_force_conflicts_only_on_request(kubeconfig: Path) -> None:
    deploy = deploy_settings(kubeconfig)
    recorder = Recorder()
    kubectl = Kubectl(deploy.environment("staging"), deploy, runner=recorder)
    kubectl.apply("{}", force_conflicts=True)
    assert "--force-conflicts" in recorder.calls[-1]


def test_kubeconfig_list_merges_first_wins(tmp_path: Path) -> None:
    first = write_kubeconfig(tmp_path / "a", {"staging": "https://127.0.0.1:6443"},
                             current="staging")
    second = write_kubeconfig(tmp_path / "b", {"staging": "https://127.0.0.1:9999"},
                              current="staging")
    deploy = deploy_settings(None)
    env = deploy.environment("staging")
    paths = kubeconfig_paths(env, deploy, {"KUBECONFIG": f"{first}:{second}"})
    assert Kubectl(env, deploy, environ={"KUBECONFIG": ":".join(paths)}
                   ).check_context().server == "https://127.0.0.1:6443"


def test_environment_kubeconfig_wins_over_global(tmp_path: Path) -> None:
    deploy = deploy_settings(tmp_path / "global", kubeconfig=str(tmp_path / "own"))
    paths = kubeconfig_paths(deploy.environment("staging"), deploy, {})
    assert paths == (str(tmp_path / "own"),)


@pytest.mark.parametrize(("a", "b"), [
    ("https://127.0.0.1:443/", "https://127.0.0.1"),
    ("HTTPS://Example.test:6443", "https://example.test:6443/"),
], ids=["default-port", "case-and-slash"])
def test_server_comparison_ignores_spelling(a: str, b: str) -> None:
    assert normalize_server(a) == normalize_server(b)
