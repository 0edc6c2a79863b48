"""Patch, server-side apply and selector logic of the fake Kubernetes API server.

Plain functions on JSON-like values (dicts, lists, scalars), used by
:mod:`tpo_tasks.testing.fake_kube`. They follow the Kubernetes rules closely enough
for kubectl and for tests, with these simplifications:

- Server-side apply tracks field ownership per leaf path. Maps are merged key by
  key, and so are the associative lists in :data:`ASSOCIATIVE_KEYS` and ``ports``
  (their items named ``k:{...}`` as in managedFields); any other list is one leaf,
  so the manager that applies it owns all of it.
- Strategic merge patch merges lists of maps by their merge key (``name`` for most
  lists) and honours ``$patch: delete`` and ``$setElementOrder``; other directives
  are dropped.
"""

from __future__ import annotations

import copy
import json
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
            paths = [render_path(p) for p, name in self.conflicts if name == manager]
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


# Lists the Kubernetes schema marks as maps (``x-kubernetes-list-type: map``): their
# items are owned one by one, named by their key fields. Other lists are atomic.
ASSOCIATIVE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
}
KEY_DEFAULTS = {"protocol": "TCP"}  # key fields the server defaults when missing


def _list_keys(field_name: str, items: list[Any]) -> tuple[str, ...] | None:
    """Return the key fields of an associative list, or None for an atomic one."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    if field_name == "ports":
        for first in ("containerPort", "port"):
            if all(first in item for item in items):
                return (first, "protocol")
        return None
    keys = ASSOCIATIVE_KEYS.get(field_name)
    if keys and all(key in item for item in items for key in keys):
        return keys
    return None


def _item_element(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    """Return the ``k:{...}`` path element naming a list item, as managedFields does."""
    values = {key: item.get(key, KEY_DEFAULTS.get(key)) for key in keys}
    return "k:" + json.dumps(values, sort_keys=True, separators=(",", ":"))


def _item_matches(item: Any, element: str) -> bool:
    if not isinstance(item, dict):
        return False
    wanted = json.loads(element[2:])
    return all(item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in wanted.items())


def render_path(path: Path) -> str:
    """Return a path as the API server prints it: ``.containers[name="web"].image``."""
    text = ""
    for part in path:
        if part.startswith("k:"):
            keys = json.loads(part[2:])
            text += (
                "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
            )
        else:
            text += f".{part}"
    return text


def leaf_paths(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Map every leaf of ``value`` (scalar, atomic list or empty map) to its path.

    Items of associative lists are not leaves: their fields are, under a
    ``k:{...}`` path element naming the item.
    """
    if not (isinstance(value, dict) and value):
        return {prefix: value} if prefix else {}
    leaves: dict[Path, Any] = {}
    for key, child in value.items():
        keys = _list_keys(str(key), child) if isinstance(child, list) else None
        if keys is None:
            leaves.update(leaf_paths(child, (*prefix, str(key))))
            continue
        for item in child:
            element = _item_element(item, keys)
            leaves.update(leaf_paths(item, (*prefix, str(key), element)))
    return leaves


_MISSING = object()


def _step(node: Any, part: str) -> Any:
    if part.startswith("k:"):
        if isinstance(node, list):
            for item in node:
                if _item_matches(item, part):
                    return item
        return _MISSING
    if isinstance(node, dict) and part in node:
        return node[part]
    return _MISSING


def get_path(document: Any, path: Path) -> Any:
    """Return the value at ``path``, or a sentinel when any step is missing."""
    node = document
    for part in path:
        node = _step(node, part)
        if node is _MISSING:
            return _MISSING
    return node


def set_path(document: dict[str, Any], path: Path, value: Any) -> None:
    """Set ``path`` in ``document``, creating maps, lists and list items on the way."""
    node: Any = document
    for index, part in enumerate(path[:-1]):
        child = _step(node, part)
        if part.startswith("k:"):
            if child is _MISSING:
                child = dict(json.loads(part[2:]))
                node.append(child)
        else:
            wants_list = path[index + 1].startswith("k:")
            if not isinstance(child, list if wants_list else dict):
                child = [] if wants_list else {}
                node[part] = child
        node = child
    node[path[-1]] = copy.deepcopy(value)


def remove_path(document: dict[str, Any], path: Path) -> None:
    """Remove ``path``, then the maps, list items and lists it leaves empty.

    A key field of a list item goes only with the last other field of the item,
    because the item could not be found again without it.
    """
    chain: list[tuple[Any, str, Any]] = []  # (container, element, child) to the leaf
    node: Any = document
    for part in path[:-1]:
        child = _step(node, part)
        if child is _MISSING:
            return
        chain.append((node, part, child))
        node = child
    if not isinstance(node, dict) or path[-1] not in node:
        return
    if _is_key_field(path):
        if set(node) - set(json.loads(path[-2][2:])):
            return
        node.clear()
    else:
        del node[path[-1]]
    for container, part, child in reversed(chain):
        if child not in ({}, []):
            break
        if isinstance(container, list):
            container[:] = [item for item in container if item is not child]
        else:
            del container[part]


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
        stale = [
            path
            for path in previous.paths - set(applied_leaves)
            if not any(
                _owns(state, path)
                for name, state in new_managers.items()
                if name != manager
            )
        ]
        # Key fields last, so an item keeps its key until its other fields are gone.
        for path in sorted(stale, key=_is_key_field):
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


def _is_key_field(path: Path) -> bool:
    return (
        len(path) > 1
        and path[-2].startswith("k:")
        and path[-1] in json.loads(path[-2][2:])
    )


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
                node = node.setdefault(
                    part if part.startswith("k:") else f"f:{part}", {}
                )
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
