"""YAML documents as plain Python values plus the line of every key and item.

PyYAML's composer (the C one when available) gives nodes with positions; this module
builds the values from the nodes itself so each path such as
``("spec", "template", "spec", "containers", 0, "image")`` keeps its 1-based line.
Tags are not resolved beyond the YAML 1.1 core scalars, so custom tags such as
``!Ref`` parse instead of failing.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """Text that is not valid YAML; ``line`` is 1-based."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Document:
    """One YAML document: its value, the line of each path, and its first line."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    start_line: int = 1
    source: str = ""

    def line(self, *path: str | int) -> int:
        """Return the line of ``path`` or of its deepest existing parent."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.start_line

    def has(self, *path: str | int) -> bool:
        return tuple(path) in self.lines


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_SCALAR_TOOLS: list[Any] = []


def _scalar(node: Any) -> Any:
    import yaml

    if node.style in ("'", '"', "|", ">"):
        return node.value
    if node.tag and not node.tag.startswith("tag:yaml.org,2002:"):
        return node.value
    if not _SCALAR_TOOLS:
        _SCALAR_TOOLS.extend((yaml.resolver.Resolver(), yaml.SafeLoader("")))
    resolver, constructor = _SCALAR_TOOLS
    tag = resolver.resolve(yaml.ScalarNode, node.value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return node.value
    construct = yaml.SafeLoader.yaml_constructors.get(tag)
    if construct is None:
        return node.value
    try:
        return construct(constructor, yaml.ScalarNode(tag, node.value))
    except Exception:  # noqa: BLE001  (an odd scalar such as a bad date stays text)
        return node.value


# Limits that keep a hostile document cheap: an alias bomb ("billion laughs") would
# otherwise expand to billions of nodes, and a recursive alias or deep nesting would
# exhaust the Python stack. Both limits are estimates, set well above what
# manifests, compose files and CRD schemas use.
MAX_ALIAS_NODES = 100_000
MAX_DEPTH = 200


class _Budget:
    """Counts the nodes built again through aliases, and the nodes being built."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.aliased = 0


def _build(node: Any, path: Path, lines: dict[Path, int], budget: _Budget) -> Any:
    line = node.start_mark.line + 1
    if id(node) in budget.active:
        raise YamlSyntaxError("an alias refers to a node that contains it", line)
    if len(path) > MAX_DEPTH:
        raise YamlSyntaxError(f"nesting deeper than {MAX_DEPTH} levels", line)
    if id(node) in budget.seen:
        budget.aliased += 1
        if budget.aliased > MAX_ALIAS_NODES:
            raise YamlSyntaxError(
                f"aliases expand to more than {MAX_ALIAS_NODES} nodes", line
            )
    budget.seen.add(id(node))
    budget.active.add(id(node))
    try:
        return _build_node(node, path, lines, budget)
    finally:
        budget.active.discard(id(node))


def _build_node(node: Any, path: Path, lines: dict[Path, int], budget: _Budget) -> Any:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        value: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.tag == "tag:yaml.org,2002:merge" or key_node.value == "<<":
                    merged = _build(value_node, path + ("<<",), lines, budget)
                    for item in merged if isinstance(merged, list) else [merged]:
                        if isinstance(item, dict):
                            for k, v in item.items():
                                value.setdefault(k, v)
                    continue
                key = key_node.value
            else:
                key = str(_build(key_node, path + ("?",), lines, budget))
            if key in value and (path + (key,)) in lines:
                # kubectl, kustomize, compose and the Actions runner all reject a
                # repeated key, so silently keeping the last one would hide it.
                raise YamlSyntaxError(
                    f"duplicate key {key!r}", key_node.start_mark.line + 1
                )
            child = path + (key,)
            value[key] = _build(value_node, child, lines, budget)
            lines[child] = key_node.start_mark.line + 1
        return value
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, path + (index,), lines, budget)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node)


def parse_documents(text: str, source: str = "") -> list[Document]:
    """Parse every document of ``text``; raise YamlSyntaxError with the line.

    Empty documents (a lone ``---``) are dropped.
    """
    import yaml

    if text.startswith("\ufeff"):
        text = text[1:]
    documents = []
    try:
        for node in yaml.compose_all(text, Loader=_loader()):
            if node is None:
                continue
            lines: dict[Path, int] = {}
            data = _build(node, (), lines, _Budget())
            if data is None or data == "":
                continue
            documents.append(Document(data, lines, node.start_mark.line + 1, source))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(problem, line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc).splitlines()[0], None) from None
    return documents


def walk_scalars(data: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield (path, value) for every scalar leaf of ``data``."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk_scalars(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk_scalars(value, path + (index,))
    else:
        yield path, data


def dotted(path: Path) -> str:
    """Return ``a.b[0].c`` for the path ("a", "b", 0, "c")."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
