"""kubectl bound to one environment's context and namespace, with the context guard.

Usage::

    from tpo_tasks.deploy.kubectl import Kubectl

    kubectl = Kubectl(settings.deploy.environment("staging"), settings.deploy)
    kubectl.check_context()          # context exists, its server equals `server`
    pods = kubectl.get_json("pods")  # {"items": [...]}; None when not found
    kubectl.run("rollout", "status", "deployment/web", "--timeout=60s")

The kubeconfig is the environment's ``kubeconfig``, else ``tpo.deploy.kubeconfig``,
else the usual ``KUBECONFIG`` rules (a path list; ``~/.kube/config`` when unset).
The context is resolved once from those files; every kubectl call carries
``--context`` and ``--namespace`` and the current context is never read or changed.
The kubectl version is detected once, on first use.
"""

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..command import CommandFailed, Result, run
from ..config import DeploySettings, Environment
from ..errors import ConfigError, ExternalError, RefusedError

log = logging.getLogger("tpo_tasks")

FIELD_MANAGER = "tpo-tasks"
MINIMUM_VERSION = (1, 24)  # server-side apply and diff, built-in kustomize v4+
REQUEST_TIMEOUT = "30s"
_UNREACHABLE = ("connection refused", "was refused", "no such host", "i/o timeout",
                "unable to connect", "dial tcp", "tls handshake timeout")


@dataclass(frozen=True)
class ResolvedContext:
    """The context an environment deploys through, as read from the kubeconfig."""

    name: str
    cluster: str
    server: str
    kubeconfig: tuple[str, ...]


def kubeconfig_paths(env: Environment, deploy: DeploySettings,
                     environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Return the kubeconfig files for ``env``, in kubectl's merge order."""
    environ = os.environ if environ is None else environ
    chosen = env.kubeconfig or deploy.kubeconfig
    if chosen:
        return (os.path.abspath(os.path.expanduser(chosen)),)
    listed = environ.get("KUBECONFIG", "")
    paths = [p for p in listed.split(os.pathsep) if p]
    if paths:
        return tuple(os.path.abspath(os.path.expanduser(p)) for p in paths)
    return (os.path.expanduser("~/.kube/config"),)


def _load_kubeconfig(path: str) -> dict[str, Any]:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ExternalError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ExternalError(f"kubeconfig {path} is not valid YAML ({exc}); "
                            "fix the file or point tpo.deploy.kubeconfig elsewhere"
                            ) from None
    return data if isinstance(data, dict) else {}


def _named(data: Mapping[str, Any], section: str,
           path: str) -> dict[str, Mapping[str, Any]]:
    items = data.get(section) or []
    if not isinstance(items, list):
        raise ConfigError(f"kubeconfig {path}: {section} is not a list of named "
                          "entries; fix the file")
    entries: dict[str, Mapping[str, Any]] = {}
    for entry in items:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            entries.setdefault(entry["name"], entry)
    return entries


def normalize_server(url: str) -> tuple[str, str, int | None, str]:
    """Return a comparable form of an API server URL (scheme, host, port, path)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def resolve_context(env: Environment, paths: Sequence[str]) -> ResolvedContext:
    """Find ``env.kube_context`` in the kubeconfig files and check its server.

    Files are merged as kubectl merges them: the first file naming a context or
    cluster wins. Raises ConfigError when ``server`` is not set or the context is
    missing, and RefusedError when the context points at another server.
    """
    key = f"tpo.deploy.environments.{env.name}"
    if not env.server:
        raise ConfigError(f"{key}.server is not set; set it to the API server URL "
                          f"that context {env.kube_context!r} must point at")
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, Mapping[str, Any]] = {}
    for path in paths:
        data = _load_kubeconfig(path)
        for name, entry in _named(data, "contexts", path).items():
            contexts.setdefault(name, entry)
        for name, entry in _named(data, "clusters", path).items():
            clusters.setdefault(name, entry)
    where = os.pathsep.join(paths)
    context = contexts.get(env.kube_context)
    if context is None:
        raise ConfigError(
            f"context {env.kube_context!r} not found in kubeconfig {where}; add it "
            f"there or set {key}.kube_context / {key}.kubeconfig"
        )
    details = context.get("context")
    cluster_name = details.get("cluster") if isinstance(details, Mapping) else None
    cluster = clusters.get(cluster_name) if isinstance(cluster_name, str) else None
    fields = cluster.get("cluster") if cluster else None
    server = fields.get("server") if isinstance(fields, Mapping) else None
    if not isinstance(server, str) or not server:
        raise ConfigError(f"context {env.kube_context!r} in {where} names cluster "
                          f"{cluster_name!r}, which has no server; fix the kubeconfig")
    if normalize_server(server) != normalize_server(env.server):
        raise RefusedError(
            f"context {env.kube_context!r} points at {server}, not {env.server} "
            f"({key}.server); refusing to deploy to the wrong cluster"
        )
    return ResolvedContext(env.kube_context, cluster_name, server, tuple(paths))


def parse_version(text: str) -> tuple[int, int]:
    """Return (major, minor) from a version such as ``v1.32.4`` or minor ``32+``."""
    import re

    match = re.search(r"(\d+)\.(\d+)", text)
    if not match:
        raise ExternalError(f"cannot read the kubectl version from {text!r}")
    return int(match.group(1)), int(match.group(2))


class Kubectl:
    """kubectl for one environment: fixed context and namespace, guarded once.

    ``check_context()`` runs the context guard (also run by the first command).
    ``run(*args)`` runs ``kubectl --context C --namespace N *args`` and returns
    the command Result. ``get_json``, ``apply`` and ``version`` build on it.
    """

    def __init__(self, env: Environment, deploy: DeploySettings, *,
                 environ: Mapping[str, str] | None = None,
                 runner: Callable[..., Result] = run) -> None:
        self.env = env
        self.namespace = env.namespace
        self.context_name = env.kube_context
        self._paths = kubeconfig_paths(env, deploy, environ)
        self._resolved: ResolvedContext | None = None
        self._version: tuple[int, int] | None = None
        self._runner = runner

    # -- the guard ---------------------------------------------------------------

    def check_context(self) -> ResolvedContext:
        """Resolve the context once; raise when it is missing or on another server."""
        if self._resolved is None:
            self._resolved = resolve_context(self.env, self._paths)
        return self._resolved

    @property
    def server(self) -> str:
        return self.check_context().server

    def argv(self, *args: str) -> list[str]:
        """Return the full kubectl command line for ``args``, context included."""
        self.check_context()
        return ["kubectl", "--context", self.context_name,
                "--namespace", self.namespace, *args]

    def command_env(self) -> dict[str, str]:
        """Return the environment variables kubectl runs with (its kubeconfig)."""
        return {"KUBECONFIG": os.pathsep.join(self._paths)}

    # -- running -----------------------------------------------------------------

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float | None = 120, request_timeout: bool = True,
            on_output: Callable[[str], None] | None = None) -> Result:
        """Run kubectl with this environment's context and namespace.

        A non-zero exit raises ExternalError (unreachable cluster) or CommandFailed
        unless ``check`` is false. ``request_timeout`` adds kubectl's own bound on
        each API request; turn it off for watches such as ``rollout status``.
        """
        self.version()
        return self._run(args, input=input, check=check, timeout=timeout,
                         request_timeout=request_timeout, on_output=on_output)

    def _run(self, args: Sequence[str], *, input: str | None, check: bool,
             timeout: float | None, request_timeout: bool,
             on_output: Callable[[str], None] | None) -> Result:
        extra = [f"--request-timeout={REQUEST_TIMEOUT}"] if request_timeout else []
        argv = self.argv(*extra, *args)
        result = self._runner(argv, input=input, env=self.command_env(), check=False,
                              timeout=timeout, on_output=on_output)
        if check and not result.ok:
            raise self.error_for(result)
        return result

    def error_for(self, result: Result) -> ExternalError:
        detail = (result.stderr or result.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit status {result.returncode}"
        if any(marker in last.lower() for marker in _UNREACHABLE):
            return ExternalError(
                f"cluster of context {self.context_name!r} ({self.server}) is "
                f"unreachable: {last}; check the API server and the network"
            )
        words = [a for a in result.args[5:] if not a.startswith("-")]
        verb = " ".join(words[:2])
        return CommandFailed(result, f"kubectl {verb} in context "
                             f"{self.context_name!r} failed: {last}")

    def version(self) -> tuple[int, int]:
        """Detect kubectl's (major, minor) once; raise when older than supported."""
        if self._version is not None:
            return self._version
        result = self._run(["version", "-o", "json"], input=None, check=False,
                           timeout=60, request_timeout=True, on_output=None)
        try:
            data = json.loads(result.stdout)
            client = data["clientVersion"]
            text = client.get("gitVersion") or f"{client['major']}.{client['minor']}"
        except (ValueError, KeyError, TypeError):
            raise self.error_for(result) from None
        version = parse_version(text)
        if version < MINIMUM_VERSION:
            need = ".".join(map(str, MINIMUM_VERSION))
            raise ExternalError(f"kubectl {text} is too old; install kubectl {need} "
                                "or newer")
        self._version = version
        log.debug("kubectl %s for context %s", text, self.context_name)
        return version

    # -- common calls ------------------------------------------------------------

    def get_json(self, kind: str, name: str | None = None,
                 *selectors: str) -> dict[str, Any] | None:
        """Return ``kubectl get KIND [NAME] -o json`` parsed; None when not found."""
        args = ["get", kind, *([name] if name else []), *selectors, "-o", "json"]
        result = self.run(*args, check=False)
        if not result.ok:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise self.error_for(result)
        return json.loads(result.stdout)

    def apply(self, manifest: str, *, force_conflicts: bool = False,
              timeout: float | None = 300) -> Result:
        """Apply ``manifest`` (YAML or JSON text) server-side as ``tpo-tasks``.

        The manifest goes to kubectl on stdin. ``force_conflicts`` takes over
        fields owned by another field manager; only pass it when the user asked.
        """
        return self.run(*apply_args(force_conflicts), input=manifest, timeout=timeout)


def apply_args(force_conflicts: bool = False) -> list[str]:
    """Return the kubectl arguments of a server-side apply from stdin."""
    args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-"]
    if force_conflicts:
        args.insert(3, "--force-conflicts")
    return args
