"""Render ``ISSUE.md`` from an issue's metadata and merge it into an edited copy."""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import markers

TEMPLATE = "ISSUE.md.j2"
TYPE_CHOICES = (
    ("Bug", "bug"), ("Feature", "feature"), ("Enhancement", "enhancement"),
    ("Documentation", "documentation"), ("Task", "task"), ("Question", "question"),
)
_WHITESPACE = re.compile(r"\s+")


def one_line(text: Any) -> str:
    """Return ``text`` on one line with runs of whitespace collapsed."""
    return _WHITESPACE.sub(" ", str(text or "")).strip()


def table_cell(text: Any) -> str:
    """Return ``text`` safe inside a Markdown table cell."""
    return markers.escape_markers(one_line(text)).replace("|", "\\|")


def author_of(issue: Mapping[str, Any]) -> str:
    """Return the login of the issue's author; ``ghost`` for a deleted account."""
    user = issue.get("user")
    login = user.get("login") if isinstance(user, Mapping) else None
    return one_line(login) or "ghost"


def _date(value: str | None) -> str:
    return value[:10] if value else "unknown"


def _refs(numbers: list[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers)


def context(metadata: Mapping[str, Any], *, author: str | None, repo: str
            ) -> dict[str, Any]:
    """Return the template variables for one issue; values are plain text."""
    labels = metadata["labels"]
    assignees = [person["login"] for person in metadata["assignees"]]
    milestone = metadata["milestone"]
    milestone_text = "none"
    if milestone["title"]:
        milestone_text = milestone["title"]
        if milestone["due_date"]:
            milestone_text += f" (due {milestone['due_date']})"
    dependencies = metadata["dependencies"]
    related = sorted({*dependencies["related_to"], *dependencies["blocked_by"],
                      *dependencies["blocks"]})
    effort = metadata["effort"]
    effort_text = None
    if effort["estimate"] is not None:
        effort_text = f"{effort['estimate']} {effort['unit']}"
    return {
        "number": metadata["number"],
        "title": markers.escape_markers(one_line(metadata["title"])),
        "status": metadata["status"],
        "created": _date(metadata["created_at"]),
        "updated": _date(metadata["updated_at"]),
        "closed": metadata["closed_at"][:10] if metadata["closed_at"] else "",
        "url": markers.escape_markers(one_line(metadata["url"])),
        "details": [
            ("Labels", table_cell(", ".join(labels)) if labels else "none"),
            ("Assignees", table_cell(", ".join(f"@{a}" for a in assignees))
             if assignees else "none"),
            ("Milestone", table_cell(milestone_text)),
            ("Comments", str(metadata["comments_count"])),
        ],
        "types": [(label, metadata["type"] == value) for label, value in TYPE_CHOICES],
        "description": markers.escape_markers(metadata["description"].rstrip()),
        "acceptance_criteria": [markers.escape_markers(one_line(item))
                                for item in metadata["acceptance_criteria"]],
        "components": [markers.escape_markers(one_line(name))
                       for name in metadata["components"]],
        "blocked_by": _refs(dependencies["blocked_by"]),
        "blocks": _refs(dependencies["blocks"]),
        "priority": metadata["priority"],
        "effort": effort_text,
        "related": related,
        "author": markers.escape_markers(one_line(author)) or "ghost",
        "repo": repo,
        "repo_url": f"https://github.com/{repo}",
    }


def render(metadata: Mapping[str, Any], *, author: str | None, repo: str,
           override_dir: Path | None = None) -> str:
    """Render ``ISSUE.md`` for ``metadata``; ``override_dir/ISSUE.md.j2`` wins."""
    import jinja2

    from ..templates import get_template

    try:
        template = get_template(TEMPLATE, override_dir=override_dir)
        return template.render(**context(metadata, author=author, repo=repo))
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"invalid template {exc.filename or TEMPLATE} line "
                          f"{exc.lineno}: {exc.message}; fix its Jinja2 syntax"
                          ) from None
    except jinja2.TemplateError as exc:
        where = override_dir / TEMPLATE if override_dir else TEMPLATE
        raise ConfigError(f"template {where} failed to render: {exc}; use only "
                          "the variables listed in docs/issues.md") from None


def update(existing: str | None, rendered: str) -> tuple[str, list[str]]:
    """Return the new document text and the regions that had to be appended.

    A new document is ``rendered`` as is. An existing one keeps every line
    outside its generated regions; raises MarkerError when its markers are broken.
    """
    if existing is None:
        markers.split_regions(rendered)  # a custom template must have sound markers
        return rendered, []
    return markers.merge(existing, rendered)
