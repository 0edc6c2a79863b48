"""Patch, server-side apply and selector logic of the fake Kubernetes API server.

Plain functions on JSON-like values (dicts, lists, scalars), used by
:mod:`tpo_tasks.testing.fake_kube`. They follow the Kubernetes rules closely enough
for kubectl and for tests, with these simplifications:

- Server-side apply tracks field ownership per leaf path. Maps are merged key by
  key; a list is one leaf, so the manager that applies a list owns all of it.
- Strategic merge patch merges lists of maps by their merge key (``name`` for most
  lists) and honours ``$patch: delete`` and ``$setElementOrder``; other directives
  are dropped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]

# Merge keys of the lists kubectl sends in strategic merge patches.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "hostAliases": "ip",
    "tolerations": "key",
    "conditions": "type",
    "ownerReferences": "uid",
}
PORT_MERGE_KEYS = ("containerPort", "port")


class PatchError(ValueError):
    """A patch that cannot be applied (bad JSON Patch path, failed test op)."""


# ---------------------------------------------------------------------------------
# JSON merge patch, strategic merge patch, JSON patch
# ---------------------------------------------------------------------------------
def json_merge_patch(target: Any, patch: Any) -> Any:
    """Return ``target`` with an RFC 7386 merge patch applied (inputs unchanged)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field_name: str = "") -> Any:
    """Return ``target`` with a strategic merge patch applied (inputs unchanged)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _is_map_list(value):
            merge_key = _merge_key(key, value)
            if merge_key is None:
                result[key] = [_strip_directives(item) for item in value]
            else:
                result[key] = _merge_list(result.get(key) or [], value, merge_key, key)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value, key)
        else:
            result[key] = copy.deepcopy(value)
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, _merge_key(key, order))
    return result


def _is_map_list(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(item, dict) for item in value)


def _merge_key(field_name: str, items: list[Any]) -> str | None:
    if field_name == "ports":
        for key in PORT_MERGE_KEYS:
            if all(isinstance(item, dict) and key in item for item in items):
                return key
        return None
    key = MERGE_KEYS.get(field_name)
    if key and all(isinstance(item, dict) and key in item for item in items):
        return key
    return None


def _strip_directives(item: Any) -> Any:
    if isinstance(item, dict):
        return {
            k: _strip_directives(v) for k, v in item.items() if not k.startswith("$")
        }
    return copy.deepcopy(item)


def _merge_list(
    current: list[Any], patch: list[Any], merge_key: str, field_name: str
) -> list[Any]:
    result = [copy.deepcopy(item) for item in current]
    for item in patch:
        position = next(
            (
                index
                for index, existing in enumerate(result)
                if isinstance(existing, dict)
                and existing.get(merge_key) == item.get(merge_key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append(_strip_directives(item))
        else:
            result[position] = strategic_merge_patch(result[position], item, field_name)
    return result


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    if merge_key is None:
        return items

    def rank(item: Any) -> int:
        for index, wanted in enumerate(order):
            if isinstance(wanted, dict) and item.get(merge_key) == wanted.get(
                merge_key
            ):
                return index
        return len(order)

    return sorted(items, key=rank)


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """Return ``target`` with RFC 6902 operations applied (inputs unchanged)."""
    result = copy.deepcopy(target)
    for operation in operations:
        op = operation.get("op")
        path = _pointer(operation.get("path", ""))
        if op == "add":
            result = _pointer_set(result, path, operation.get("value"), insert=True)
        elif op == "replace":
            _pointer_get(result, path)
            result = _pointer_set(result, path, operation.get("value"), insert=False)
        elif op == "remove":
            result = _pointer_remove(result, path)
        elif op == "test":
            if _pointer_get(result, path) != operation.get("value"):
                raise PatchError(f"test operation failed at {operation.get('path')}")
        elif op in ("copy", "move"):
            source = _pointer(operation.get("from", ""))
            value = copy.deepcopy(_pointer_get(result, source))
            if op == "move":
                result = _pointer_remove(result, source)
            result = _pointer_set(result, path, value, insert=True)
        else:
            raise PatchError(f"unsupported JSON patch operation {op!r}")
    return result


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise PatchError(f"invalid JSON pointer {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/")]


def _pointer_get(document: Any, path: list[str]) -> Any:
    node = document
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"path /{'/'.join(path)} not found")
    return node


def _pointer_set(document: Any, path: list[str], value: Any, *, insert: bool) -> Any:
    if not path:
        return copy.deepcopy(value)
    parent = _pointer_get(document, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent):
            if insert:
                parent.insert(int(last), copy.deepcopy(value))
            else:
                parent[int(last)] = copy.deepcopy(value)
        else:
            raise PatchError(f"invalid list index {last!r}")
    else:
        raise PatchError(f"path /{'/'.join(path)} not found")
    return document


def _pointer_remove(document: Any, path: list[str]) -> Any:
    if not path:
        raise PatchError("cannot remove the whole document")
    parent = _pointer_get(document, path[:-1])
    _pointer_get(document, path)
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        del parent[int(path[-1])]
    return document


# ---------------------------------------------------------------------------------
# Field ownership and server-side apply
# ---------------------------------------------------------------------------------
@dataclass
class FieldManager:
    """The fields one manager owns on one object, and how it last wrote them."""

    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    paths: set[Path] = field(default_factory=set)


@dataclass
class ApplyConflict(Exception):
    """Fields that another manager owns with a different value."""

    conflicts: list[tuple[Path, str]]
    api_versions: dict[str, str] = field(default_factory=dict)  # manager -> version

    def __str__(self) -> str:
        """Return the API server's message: conflicts grouped by manager."""
        count = len(self.conflicts)
        noun = "conflict" if count == 1 else "conflicts"
        lines = []
        for manager in dict.fromkeys(name for _, name in self.conflicts):
            paths = ["." + ".".join(p) for p, name in self.conflicts if name == manager]
            api_version = self.api_versions.get(manager, "")
            owner = (
                f'"{manager}" using {api_version}' if api_version else f'"{manager}"'
            )
            if len(paths) == 1:
                lines.append(f"conflict with {owner}: {paths[0]}")
            else:
                lines.append(
                    f"conflicts with {owner}:\n" + "\n".join(f"- {p}" for p in paths)
                )
        return f"Apply failed with {count} {noun}: " + "\n".join(lines)


def owned_content(obj: dict[str, Any], *, with_status: bool) -> dict[str, Any]:
    """Return the part of ``obj`` that field managers own: no server-set metadata."""
    content = {
        k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")
    }
    if not with_status:
        content.pop("status", None)
    metadata = obj.get("metadata") or {}
    owned_metadata = {
        key: metadata[key]
        for key in ("labels", "annotations", "finalizers", "ownerReferences")
        if key in metadata
    }
    if owned_metadata:
        content["metadata"] = owned_metadata
    return content


def leaf_paths(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Map every leaf of ``value`` (scalar, list or empty map) to its path."""
    if isinstance(value, dict) and value:
        leaves: dict[Path, Any] = {}
        for key, child in value.items():
            leaves.update(leaf_paths(child, (*prefix, str(key))))
        return leaves
    return {prefix: value} if prefix else {}


_MISSING = object()


def get_path(document: Any, path: Path) -> Any:
    """Return the value at ``path``, or a sentinel when any step is missing."""
    node = document
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def set_path(document: dict[str, Any], path: Path, value: Any) -> None:
    """Set ``path`` in ``document``, creating maps on the way."""
    node = document
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = copy.deepcopy(value)


def remove_path(document: dict[str, Any], path: Path) -> None:
    """Remove ``path`` from ``document`` and the maps it leaves empty."""
    parents = []
    node: Any = document
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents):
        if parent[key] == {}:
            del parent[key]
        else:
            break


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    managers: dict[str, FieldManager],
    *,
    force: bool,
    api_version: str,
    now: str,
) -> tuple[dict[str, Any], dict[str, FieldManager]]:
    """Merge an applied configuration into ``live``; return the body and new owners.

    Raises :class:`ApplyConflict` when ``force`` is false and the configuration sets
    a field that another manager owns to a different value.
    """
    result = copy.deepcopy(live) if live is not None else {}
    applied_leaves = leaf_paths(owned_content(applied, with_status=False))
    new_managers = {name: copy.deepcopy(state) for name, state in managers.items()}

    changed = {
        path
        for path, value in applied_leaves.items()
        if not covers(get_path(result, path), value)
    }
    conflicts = [
        (path, name)
        for path in sorted(changed)
        for name, state in new_managers.items()
        if name != manager and _owns(state, path)
    ]
    if conflicts and not force:
        versions = {name: new_managers[name].api_version for _, name in conflicts}
        raise ApplyConflict(conflicts, versions)

    previous = new_managers.get(manager)
    if previous is not None and previous.operation == "Apply":
        for path in previous.paths - set(applied_leaves):
            owned_by_others = any(
                _owns(state, path)
                for name, state in new_managers.items()
                if name != manager
            )
            if not owned_by_others:
                remove_path(result, path)

    for path, value in applied_leaves.items():
        set_path(result, path, value)
    for name, state in new_managers.items():
        if name != manager:
            state.paths = {path for path in state.paths if path not in changed}
    new_managers[manager] = FieldManager("Apply", api_version, now, set(applied_leaves))
    if previous is not None and previous.paths == set(applied_leaves) and not changed:
        new_managers[manager].time = previous.time
    return result, {name: s for name, s in new_managers.items() if s.paths}


def covers(live: Any, applied: Any) -> bool:
    """Return whether ``live`` has every value of ``applied``.

    Live lists may hold server defaults inside their items (a Service port's
    ``protocol``), so an applied list matches when each item is covered in order.
    """
    if isinstance(applied, dict):
        return isinstance(live, dict) and all(
            key in live and covers(live[key], value) for key, value in applied.items()
        )
    if isinstance(applied, list):
        return (
            isinstance(live, list)
            and len(live) == len(applied)
            and all(covers(a, b) for a, b in zip(live, applied, strict=True))
        )
    return live == applied


def _owns(state: FieldManager, path: Path) -> bool:
    # A manager owns a path when it owns it or a list/scalar above it.
    return any(path[: len(owned)] == owned for owned in state.paths)


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    managers: dict[str, FieldManager],
    *,
    api_version: str,
    now: str,
) -> dict[str, FieldManager]:
    """Return the owners after a non-apply write: ``manager`` takes changed fields."""
    old_leaves = leaf_paths(owned_content(old or {}, with_status=False))
    new_leaves = leaf_paths(owned_content(new, with_status=False))
    changed = {
        path
        for path, value in new_leaves.items()
        if old_leaves.get(path, _MISSING) != value
    }
    removed = set(old_leaves) - set(new_leaves)
    result: dict[str, FieldManager] = {}
    for name, state in managers.items():
        kept = {p for p in state.paths if p not in changed and p not in removed}
        if name == manager:
            continue
        if kept:
            result[name] = FieldManager(
                state.operation, state.api_version, state.time, kept
            )
    if changed or manager in managers:
        mine = managers.get(manager)
        paths = set(changed)
        if mine is not None:
            paths |= {p for p in mine.paths if p not in removed}
        if paths:
            timestamp = now if changed else (mine.time if mine else now)
            result[manager] = FieldManager("Update", api_version, timestamp, paths)
    return result


def managed_fields(managers: dict[str, FieldManager]) -> list[dict[str, Any]]:
    """Render owners as ``metadata.managedFields`` entries (FieldsV1 trees)."""
    entries = []
    for name, state in sorted(managers.items()):
        tree: dict[str, Any] = {}
        for path in sorted(state.paths):
            node = tree
            for part in path:
                node = node.setdefault(f"f:{part}", {})
        entries.append(
            {
                "manager": name,
                "operation": state.operation,
                "apiVersion": state.api_version,
                "time": state.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": tree,
            }
        )
    return entries


# ---------------------------------------------------------------------------------
# Label and field selectors
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    """One term of a selector: ``key op values``."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()


_SET_TERM = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse a label selector such as ``app=web,tier in (a,b),!canary``."""
    requirements = []
    for term in _split_terms(text):
        match = _SET_TERM.match(term)
        if match:
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append(Requirement(match.group(1), match.group(2), values))
        elif "!=" in term:
            key, value = term.split("!=", 1)
            requirements.append(Requirement(key.strip(), "!=", (value.strip(),)))
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            requirements.append(Requirement(key.strip(), "=", (value.strip(),)))
        elif term.startswith("!"):
            requirements.append(Requirement(term[1:].strip(), "!exists"))
        else:
            _check_key(term)
            requirements.append(Requirement(term, "exists"))
    return requirements


def _check_key(term: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9_./]*", term):
        raise ValueError(f"invalid selector term {term!r}")


def _split_terms(text: str) -> Iterator[str]:
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            if current.strip():
                yield current.strip()
            current = ""
        else:
            current += char
    if current.strip():
        yield current.strip()


def matches_labels(labels: dict[str, str], requirements: list[Requirement]) -> bool:
    """Return whether ``labels`` satisfy every requirement."""
    for requirement in requirements:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        if requirement.operator == "=" and value != requirement.values[0]:
            return False
        if requirement.operator == "!=" and value == requirement.values[0]:
            return False
        if requirement.operator == "in" and value not in requirement.values:
            return False
        if requirement.operator == "notin" and present and value in requirement.values:
            return False
        if requirement.operator == "exists" and not present:
            return False
        if requirement.operator == "!exists" and present:
            return False
    return True


def parse_field_selector(text: str) -> list[Requirement]:
    """Parse a field selector such as ``metadata.name=web,status.phase!=Running``."""
    requirements = []
    for term in _split_terms(text):
        if "!=" in term:
            key, value = term.split("!=", 1)
            requirements.append(Requirement(key.strip(), "!=", (value.strip(),)))
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            requirements.append(Requirement(key.strip(), "=", (value.strip(),)))
        else:
            raise ValueError(f"invalid field selector term {term!r}")
    return requirements


def matches_fields(obj: dict[str, Any], requirements: list[Requirement]) -> bool:
    """Return whether ``obj`` satisfies every field requirement (dotted paths)."""
    for requirement in requirements:
        value = get_path(obj, tuple(requirement.key.split(".")))
        text = "" if value is _MISSING or value is None else _field_text(value)
        expected = requirement.values[0]
        if requirement.operator == "=" and text != expected:
            return False
        if requirement.operator == "!=" and text == expected:
            return False
    return True


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
