"""Create or update the GitHub release of a tag, with the changelog section as body.

The repository is ``--repo``, then ``GITHUB_REPOSITORY`` (set by GitHub Actions),
then ``tpo.release.repo``, then the ``origin`` remote. The upstream of a fork
(``PARENT_REPO``, ``tpo.github.repo``) is never used: a release belongs to the
repository whose tags it names.
"""

import os
import re
from dataclasses import dataclass
from typing import Any

from ..config import ReleaseSettings
from ..errors import ConfigError
from ..git import parse_remote, remote_url

_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")


def resolve_repo(root: str | os.PathLike[str], explicit: str | None,
                 settings: ReleaseSettings) -> tuple[str, str]:
    """Return ``(OWNER/REPO, source)``, trying the sources in the documented order.

    Raises ConfigError naming the bad value, or saying how to set one.
    """
    candidates = (
        ("--repo", explicit),
        ("GITHUB_REPOSITORY", os.environ.get("GITHUB_REPOSITORY")),
        ("tpo.release.repo", settings.repo),
    )
    for source, value in candidates:
        if not value:
            continue
        if not _REPO.fullmatch(value):
            raise ConfigError(f"invalid {source} {value!r}; expected OWNER/REPO")
        return value, source
    url = remote_url(root, "origin")
    parsed = parse_remote(url) if url else None
    if parsed is None:
        raise ConfigError("no GitHub repository found: pass --repo OWNER/REPO, set "
                          "tpo.release.repo, or add an origin remote on GitHub")
    return parsed[1], "the origin remote"


@dataclass(frozen=True)
class Published:
    """The outcome of :func:`publish`: ``action`` is ``created`` or ``updated``."""

    action: str
    release: dict[str, Any]


def find_release(client: Any, tag: str) -> dict[str, Any] | None:
    """Return the release of ``tag``, drafts included, or None.

    GitHub's by-tag endpoint does not return drafts, so a miss falls back to
    the first 100 releases of the list.
    """
    from ..github import NotFound

    try:
        return client.request(f"/repos/{{owner}}/{{repo}}/releases/tags/{tag}")
    except NotFound:
        pass
    listed = client.request("/repos/{owner}/{repo}/releases", query={"per_page": 100})
    return next((item for item in listed or [] if item.get("tag_name") == tag), None)


def publish(client: Any, tag: str, title: str, body: str, *, draft: bool,
            prerelease: bool) -> Published:
    """Create the release of ``tag``, or update the body and title of an existing
    one (``draft`` True turns it into a draft; False leaves its state)."""
    existing = find_release(client, tag)
    if existing is None:
        created = client.request("/repos/{owner}/{repo}/releases", "POST", data={
            "tag_name": tag, "name": title, "body": body, "draft": draft,
            "prerelease": prerelease,
        })
        return Published("created", created)
    changes: dict[str, Any] = {"name": title, "body": body, "prerelease": prerelease}
    if draft:
        changes["draft"] = True
    updated = client.request(f"/repos/{{owner}}/{{repo}}/releases/{existing['id']}",
                             "PATCH", data=changes)
    return Published("updated", updated)
