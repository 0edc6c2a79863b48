"""Strict schema validation with the schemas the ``kubernetes-validate`` package ships.

The package's own ``validate()`` reads the 1.3 MB definitions file again for every
object. This module loads it once per Kubernetes version and keeps one validator per
kind and apiVersion, so checking hundreds of objects costs one load.
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

# API groups whose kinds the shipped schemas describe: the core group, groups without
# a dot (apps, batch, policy, autoscaling) and *.k8s.io. Anything else is a custom
# resource, even when its kind is Deployment.
_BUILT_IN_GROUP = re.compile(r"^([a-z0-9-]+|[a-z0-9.-]+\.k8s\.io)$")


class SchemaUnavailable(Exception):
    """kubernetes-validate is not installed or has no schema for the version."""


@cache
def schema_root() -> Path:
    """Return the folder of the shipped schemas; raise SchemaUnavailable without it."""
    try:
        import kubernetes_validate
    except ImportError:
        raise SchemaUnavailable(
            "kubernetes-validate is not installed (pip install kubernetes-validate)"
        ) from None
    return (
        Path(kubernetes_validate.__file__).resolve().parent / "kubernetes-json-schema"
    )


@cache
def schema_folder(version: str) -> Path:
    """Return the strict schema folder of the newest release up to ``version``."""
    wanted = tuple(int(part) for part in version.split(".")[:2])
    best: tuple[tuple[int, ...], Path] | None = None
    for folder in schema_root().iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", folder.name)
        if not match:
            continue
        found = (int(match.group(1)), int(match.group(2)))
        if found <= wanted and (best is None or found > best[0]):
            best = (found, folder)
    if best is None:
        raise SchemaUnavailable(
            f"kubernetes-validate has no schemas for Kubernetes {version} or older"
        )
    return best[1]


@cache
def _registry(folder: Path) -> Any:
    from referencing import Registry, Resource

    definitions = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(definitions) @ Registry()


@cache
def _validator(folder: Path, file_name: str) -> Any:
    import jsonschema
    from referencing import Resource

    path = folder / file_name
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    registry = Resource.from_contents(schema) @ _registry(folder)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def is_built_in(api_version: str) -> bool:
    """Return whether ``api_version`` belongs to a Kubernetes API group."""
    group = api_version.rpartition("/")[0]
    return not group or bool(_BUILT_IN_GROUP.match(group))


def validator_for(kind: str, api_version: str, version: str) -> Any:
    """Return a strict validator for the object type, or None for a custom resource."""
    if not is_built_in(api_version):
        return None
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return _validator(schema_folder(version), f"{kind.lower()}-{group_version}.json")


def schema_errors(
    data: dict[str, Any], version: str
) -> list[tuple[tuple[Any, ...], str]] | None:
    """Return (path, message) for each schema error, or None when no schema applies."""
    validator = validator_for(
        str(data.get("kind")), str(data.get("apiVersion")), version
    )
    if validator is None:
        return None
    errors = []
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = re.search(r"\('([^']+)'", error.message)
            if unknown:
                path += (unknown.group(1),)  # point at the unknown key's own line
        errors.append((path, _message(error)))
    return errors


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        match = re.search(r"\('([^']+)'", error.message)
        field = match.group(1) if match else error.message
        where = ".".join(str(part) for part in error.absolute_path) or "the object"
        return f"unknown field {field!r} in {where}"
    where = ".".join(str(part) for part in error.absolute_path)
    text = error.message
    # jsonschema starts most messages with repr(instance), which may be a secret
    # (a Secret's stringData, an env value), so the message names the field instead.
    shown = repr(error.instance)
    if text.startswith(shown):
        text = "the value" + text[len(shown) :]
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{where}: {text}" if where else text
