"""The ``tpo`` configuration: every key with its default, and a typed, validated view.

Invoke merges these defaults with ``invoke.yaml``, ``INVOKE_TPO_*`` variables and
``ns.configure``. Invoke casts an environment variable to the type of the declared
default before any task runs, so numbers are declared here as strings and parsed by
:func:`load_settings`, which turns a bad value into a one-line :class:`ConfigError`.
"""

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .defaults import CONFIG_KEY, DEFAULTS, defaults
from .errors import ConfigError

__all__ = ["CONFIG_KEY", "DEFAULTS", "defaults", "load_settings", "describe_sources"]

SCHEMES = ("pep440", "semver")
ENVIRONMENT_KEYS = (
    "kube_context",
    "server",
    "namespace",
    "overlay",
    "health",
    "rollout_timeout",
    "promote_from",
    "confirm",
    "registry",
    "kubeconfig",
)
SERVICE_KEYS = ("dockerfile", "build_context", "image", "build_args")
_ENV_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SECRET_KEY_NAME = re.compile(
    r"(^|_)(token|secret|password|passwd|credentials?|api_key)$", re.I
)


# -- the typed view -------------------------------------------------------------


@dataclass(frozen=True)
class GithubSettings:
    repo: str | None
    api_url: str | None


@dataclass(frozen=True)
class IssuesSettings:
    dir: str
    templates_dir: str
    branch_prefix: str
    components: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class VersionFile:
    """A file that carries the version: edited at ``key`` or by ``pattern``."""

    path: str
    key: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class ReleaseSettings:
    tag_format: str
    commit_message: str
    scheme: str | None
    version_files: tuple[VersionFile, ...]
    changelog: str
    repo_url: str | None
    repo: str | None
    migrations: tuple[str, ...]
    branch: str


@dataclass(frozen=True)
class Service:
    name: str
    dockerfile: str
    build_context: str
    image: str
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    name: str
    kube_context: str
    server: str | None
    namespace: str
    overlay: str
    health: tuple[str, ...]
    rollout_timeout: int
    promote_from: str | None
    confirm: bool
    registry: str | None
    kubeconfig: str | None


@dataclass(frozen=True)
class DeploySettings:
    registry: str | None
    services: Mapping[str, Service]
    environments: Mapping[str, Environment]
    history_limit: int
    lock_ttl: int
    notify_url: str | None
    kubeconfig: str | None

    def environment(self, name: str) -> Environment:
        """Return the declared environment ``name`` or raise a ConfigError."""
        try:
            return self.environments[name]
        except KeyError:
            declared = ", ".join(sorted(self.environments)) or "none"
            raise ConfigError(
                f"environment {name!r} is not declared (declared: {declared}); "
                f"add tpo.deploy.environments.{name} to invoke.yaml"
            ) from None


@dataclass(frozen=True)
class ChecksSettings:
    test_command: str | None
    skip: tuple[str, ...]
    release_branch: str
    kubernetes_version: str
    secret_keys: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    github: GithubSettings
    issues: IssuesSettings
    release: ReleaseSettings
    deploy: DeploySettings
    checks: ChecksSettings


# -- value parsers: each names the key path, the value and what is allowed --------


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _invalid(path: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"invalid tpo.{path}: {_describe(value)}; expected {allowed}")


def _string(path: str, value: Any, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, str) and (value or optional):
        return value if value else None
    allowed = "a string" if not optional else "a string or null"
    raise _invalid(path, value, allowed)


def _integer(path: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise _invalid(path, value, f"an integer >= {minimum}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        number = int(value)
    else:
        raise _invalid(path, value, f"an integer >= {minimum}")
    if number < minimum:
        raise _invalid(path, value, f"an integer >= {minimum}")
    return number


def _boolean(path: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "no", "0", "off", ""):
        return False
    raise _invalid(path, value, "true or false")


def _strings(path: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(
        isinstance(item, str) and item for item in value
    ):
        return tuple(value)
    raise _invalid(path, value, "a list of strings")


def _mapping(path: str, value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise _invalid(path, value, f"a mapping of {what}")


def _reject_unknown(path: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(
                f"unknown key tpo.{path}.{key}; expected one of: {', '.join(known)}"
            )


def _url(path: str, value: Any) -> str | None:
    text = _string(path, value, optional=True)
    if text is not None and urlsplit(text).scheme not in ("http", "https"):
        raise _invalid(path, value, "an http:// or https:// URL")
    return text


# -- the namespaces ----------------------------------------------------------------


def _github(data: Mapping[str, Any]) -> GithubSettings:
    repo = _string("github.repo", data.get("repo"), optional=True)
    if repo is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise _invalid("github.repo", repo, "OWNER/REPO")
    return GithubSettings(
        repo=repo, api_url=_url("github.api_url", data.get("api_url"))
    )


def _issues(data: Mapping[str, Any]) -> IssuesSettings:
    prefix = _string("issues.branch_prefix", data.get("branch_prefix"))
    if (
        not re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", prefix)
        or prefix.endswith((".", "/", ".lock"))
        or ".." in prefix
    ):
        raise _invalid(
            "issues.branch_prefix",
            prefix,
            "lowercase letters, digits, '.', '_', '-' or '/'",
        )
    return IssuesSettings(
        dir=_string("issues.dir", data.get("dir")),
        templates_dir=_string("issues.templates_dir", data.get("templates_dir")),
        branch_prefix=prefix,
        components=_strings("issues.components", data.get("components")),
        labels=_strings("issues.labels", data.get("labels")),
    )


def _version_files(value: Any) -> tuple[VersionFile, ...]:
    path = "release.version_files"
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise _invalid(path, value, "a list of {path, key} or {path, pattern}")
    files = []
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if isinstance(item, str):
            files.append(VersionFile(path=item))
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
            raise _invalid(item_path, item, "a mapping with a 'path' string")
        _reject_unknown(item_path, item, ("path", "key", "pattern"))
        key = _string(f"{item_path}.key", item.get("key"), optional=True)
        pattern = _string(f"{item_path}.pattern", item.get("pattern"), optional=True)
        if key and pattern:
            raise _invalid(item_path, item, "either 'key' or 'pattern', not both")
        if pattern is not None:
            try:
                compiled = re.compile(pattern, re.M)
            except re.error as exc:
                raise _invalid(
                    f"{item_path}.pattern",
                    pattern,
                    f"a valid regular expression ({exc})",
                ) from None
            if compiled.groups != 1:
                raise _invalid(
                    f"{item_path}.pattern",
                    pattern,
                    "a regular expression with exactly one group",
                )
        files.append(VersionFile(path=item["path"], key=key, pattern=pattern))
    return tuple(files)


def _release(data: Mapping[str, Any]) -> ReleaseSettings:
    tag_format = _string("release.tag_format", data.get("tag_format"))
    if "{version}" not in tag_format:
        raise _invalid(
            "release.tag_format",
            tag_format,
            "a string containing {version}, such as v{version}",
        )
    scheme = _string("release.scheme", data.get("scheme"), optional=True)
    if scheme is not None and scheme not in SCHEMES:
        raise _invalid("release.scheme", scheme, "pep440 or semver")
    repo = _string("release.repo", data.get("repo"), optional=True)
    if repo is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise _invalid("release.repo", repo, "OWNER/REPO")
    return ReleaseSettings(
        tag_format=tag_format,
        commit_message=_string("release.commit_message", data.get("commit_message")),
        scheme=scheme,
        version_files=_version_files(data.get("version_files")),
        changelog=_string("release.changelog", data.get("changelog")),
        repo_url=_url("release.repo_url", data.get("repo_url")),
        repo=repo,
        migrations=_strings("release.migrations", data.get("migrations")),
        branch=_string("release.branch", data.get("branch")),
    )


def _service(name: str, value: Any) -> Service:
    path = f"deploy.services.{name}"
    data = _mapping(path, value, "service settings")
    _reject_unknown(path, data, SERVICE_KEYS)
    build_args = _mapping(f"{path}.build_args", data.get("build_args"), "strings")
    return Service(
        name=name,
        dockerfile=_string(f"{path}.dockerfile", data.get("dockerfile", "Dockerfile")),
        build_context=_string(f"{path}.build_context", data.get("build_context", ".")),
        image=_string(f"{path}.image", data.get("image", name)),
        build_args={str(k): str(v) for k, v in build_args.items()},
    )


def _environment(name: str, value: Any, deploy: Mapping[str, Any]) -> Environment:
    path = f"deploy.environments.{name}"
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise _invalid(
            "deploy.environments",
            name,
            "environment names of lowercase letters, digits and '-'",
        )
    data = _mapping(path, value, "environment settings")
    _reject_unknown(path, data, ENVIRONMENT_KEYS)
    namespace = _string(f"{path}.namespace", data.get("namespace", "default"))
    return Environment(
        name=name,
        kube_context=_string(f"{path}.kube_context", data.get("kube_context", name)),
        server=_url(f"{path}.server", data.get("server")),
        namespace=namespace,
        overlay=_string(
            f"{path}.overlay", data.get("overlay", f"kube/overlays/{name}")
        ),
        health=tuple(
            _url(f"{path}.health", url)
            for url in _strings(f"{path}.health", data.get("health"))
        ),
        rollout_timeout=_integer(
            f"{path}.rollout_timeout", data.get("rollout_timeout", 300), minimum=1
        ),
        promote_from=_string(
            f"{path}.promote_from", data.get("promote_from"), optional=True
        ),
        confirm=_boolean(f"{path}.confirm", data.get("confirm", False)),
        registry=_string(f"{path}.registry", data.get("registry"), optional=True),
        kubeconfig=_string(f"{path}.kubeconfig", data.get("kubeconfig"), optional=True),
    )


def _deploy(data: Mapping[str, Any]) -> DeploySettings:
    services_data = _mapping(
        "deploy.services",
        data.get("services"),
        "service names to {dockerfile, build_context, image}",
    )
    environments_data = _mapping(
        "deploy.environments",
        data.get("environments"),
        "environment names to {kube_context, server, namespace, ...}",
    )
    services = {
        str(name): _service(str(name), value) for name, value in services_data.items()
    }
    environments = {
        name: _environment(name, value, data)
        for name, value in environments_data.items()
    }
    for env in environments.values():
        if env.promote_from is not None and env.promote_from not in environments:
            raise _invalid(
                f"deploy.environments.{env.name}.promote_from",
                env.promote_from,
                f"a declared environment ({', '.join(sorted(environments))})",
            )
        if env.promote_from == env.name:
            raise _invalid(
                f"deploy.environments.{env.name}.promote_from",
                env.promote_from,
                "another environment than itself",
            )
    return DeploySettings(
        registry=_string("deploy.registry", data.get("registry"), optional=True),
        services=services,
        environments=environments,
        history_limit=_integer(
            "deploy.history_limit", data.get("history_limit"), minimum=1
        ),
        lock_ttl=_integer("deploy.lock_ttl", data.get("lock_ttl"), minimum=1),
        notify_url=_url("deploy.notify_url", data.get("notify_url")),
        kubeconfig=_string("deploy.kubeconfig", data.get("kubeconfig"), optional=True),
    )


def _checks(data: Mapping[str, Any], release: ReleaseSettings) -> ChecksSettings:
    version = data.get("kubernetes_version")
    if isinstance(version, float):
        # YAML reads an unquoted 1.30 as the float 1.3; the text is what was meant.
        raise _invalid(
            "checks.kubernetes_version",
            version,
            'a quoted "MAJOR.MINOR" string such as "1.32"',
        )
    version = _string("checks.kubernetes_version", version)
    if not re.fullmatch(r"1\.\d+", version):
        raise _invalid(
            "checks.kubernetes_version",
            version,
            'a "MAJOR.MINOR" string such as "1.32"',
        )
    return ChecksSettings(
        test_command=_string(
            "checks.test_command", data.get("test_command"), optional=True
        ),
        skip=_strings("checks.skip", data.get("skip")),
        release_branch=_string(
            "checks.release_branch", data.get("release_branch"), optional=True
        )
        or release.branch,
        kubernetes_version=version,
        secret_keys=_strings("checks.secret_keys", data.get("secret_keys")),
        exclude=_strings("checks.exclude", data.get("exclude")),
    )


def _with_defaults(base: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in data.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _with_defaults(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config: Any) -> Settings:
    """Validate the ``tpo`` part of an Invoke config and return its typed view.

    ``config`` is an Invoke ``Config`` (or ``Context.config``) or a plain mapping
    holding the ``tpo`` key. Raises :class:`ConfigError` on the first bad value.
    """
    root = config.get(CONFIG_KEY) if hasattr(config, "get") else None
    data = _with_defaults(DEFAULTS, _mapping("", root, "namespaces"))
    sections = {}
    for name in DEFAULTS:
        section = data.get(name, {})
        if not isinstance(section, Mapping):
            raise _invalid(name, section, "a mapping")
        sections[name] = section
    for name in data:
        if name not in DEFAULTS:
            raise ConfigError(
                f"unknown key tpo.{name}; expected one of: {', '.join(DEFAULTS)}"
            )
    release = _release(sections["release"])
    return Settings(
        github=_github(sections["github"]),
        issues=_issues(sections["issues"]),
        release=release,
        deploy=_deploy(sections["deploy"]),
        checks=_checks(sections["checks"], release),
    )


# -- where each value came from, for ``inv config`` ------------------------------

# Invoke's config levels, highest precedence first, with the names shown to users.
_LEVELS = (
    ("_overrides", "command line"),
    ("_runtime", "runtime file"),
    ("_env", "environment"),
    ("_project", "project file"),
    ("_user", "user file"),
    ("_system", "system file"),
    ("_collection", "collection"),
)


def _leaves(data: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(data, Mapping) and data:
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, data


def _lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    for part in dotted.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return False, None
        data = data[part]
    return True, data


def mask_value(key: str, value: Any) -> Any:
    """Return ``value`` with secrets hidden: secret-named keys and URL credentials."""
    if value is None:
        return None
    if _SECRET_KEY_NAME.search(key.rsplit(".", 1)[-1]):
        return "***"
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        query = "***" if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return value


def describe_sources(config: Any) -> list[dict[str, Any]]:
    """List every effective ``tpo`` value with the level it came from, masked."""
    merged = config.get(CONFIG_KEY) or {}
    project_path = getattr(config, "_project_path", None)
    rows = []
    leaves = dict(_leaves(merged, ""))
    for key, value in _leaves(DEFAULTS, ""):
        if not _lookup(merged, key)[0] and not any(
            k.startswith(key + ".") for k in leaves
        ):
            leaves[key] = value
    for key, value in leaves.items():
        source = "default"
        for attribute, label in _LEVELS:
            found, _ = _lookup(getattr(config, attribute, {}).get(CONFIG_KEY, {}), key)
            if not found:
                continue
            source = label
            if attribute == "_collection":
                is_default, default = _lookup(DEFAULTS, key)
                if is_default and default == value:
                    source = "default"
            elif attribute == "_project" and project_path:
                source = f"project file {project_path}"
            elif attribute == "_env":
                source = "environment INVOKE_TPO_" + key.upper().replace(".", "_")
            break
        rows.append(
            {"key": f"tpo.{key}", "value": mask_value(key, value), "source": source}
        )
    for variable, key in (
        ("PARENT_REPO", "tpo.github.repo"),
        ("GITHUB_API_URL", "tpo.github.api_url"),
        ("GITHUB_TOKEN", "github token"),
    ):
        if os.environ.get(variable):
            value = (
                "***"
                if variable == "GITHUB_TOKEN"
                else mask_value(key, os.environ[variable])
            )
            rows.append(
                {
                    "key": key,
                    "value": value,
                    "source": f"environment {variable} (overrides the key)"
                    if variable != "GITHUB_TOKEN"
                    else "environment GITHUB_TOKEN",
                }
            )
    return rows
