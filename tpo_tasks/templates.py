"""Locate the shipped templates and JSON Schemas, and render Jinja2 templates.

The repository keeps them in the top-level ``templates/`` folder; the wheel carries
the same files inside the package as ``tpo_tasks/templates``.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def templates_dir() -> Path:
    """Return the folder of the shipped templates, installed or in a source checkout."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"templates folder not found next to {_PACKAGE_DIR}")


def load_schema(name: str) -> dict[str, Any]:
    """Return the JSON Schema ``templates/<name>`` as a dict."""
    return json.loads((templates_dir() / name).read_text(encoding="utf-8"))


def render(
    name: str, context: dict[str, Any], *, override_dir: Path | None = None
) -> str:
    """Render template ``name`` with ``context``; a file in ``override_dir`` wins.

    Values are inserted as data: a ``{{ 7*7 }}`` inside a value stays literal text.
    Undefined variables raise instead of rendering as empty text.
    """
    return get_template(name, override_dir=override_dir).render(**context)


def get_template(name: str, *, override_dir: Path | None = None) -> Any:
    """Return the compiled ``jinja2.Template`` ``name``, for rendering it many times.

    The Jinja2 environment is cached per search path, so the template is parsed
    once; a file in ``override_dir`` wins over the shipped one.
    """
    search = [str(templates_dir())]
    if override_dir is not None and (override_dir / name).is_file():
        search.insert(0, str(override_dir))
    return _environment(tuple(search)).get_template(name)


@cache
def _environment(search: tuple[str, ...]) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
