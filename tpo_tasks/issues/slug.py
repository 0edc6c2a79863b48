"""Branch names for issues: ``<prefix>-<number>-<slug>``, always a valid git branch.

Titles are transliterated to ASCII with text-unidecode (pinned in the package
dependencies, and called directly so that an installed Unidecode cannot change the
result), then slugified to lowercase letters, digits and single hyphens. The slug
never starts or ends with a hyphen or contains ``.``, ``/`` or ``..``, so the name
passes ``git check-ref-format --branch`` whatever the title holds.
"""

import re

MAX_SLUG_LENGTH = 50  # characters; git allows 250 bytes, short names read better


def title_slug(title: str, *, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Return the ASCII slug of ``title``, cut at a word boundary, or ''."""
    from slugify import slugify
    from text_unidecode import unidecode

    from .picker import sanitize

    # Without this, "\x1b[31m" would leave "31m" in the slug.
    ascii_title = unidecode(sanitize(title))
    slug = slugify(ascii_title, max_length=max_length, word_boundary=True,
                   save_order=True, separator="-", lowercase=True)
    return re.sub(r"[^a-z0-9-]+", "", slug).strip("-")


def branch_name(number: int, title: str, *, prefix: str = "issue") -> str:
    """Return ``<prefix>-<number>-<slug>``, or ``<prefix>-<number>`` without a slug."""
    slug = title_slug(title)
    return f"{prefix}-{number}-{slug}" if slug else f"{prefix}-{number}"


def issue_branch_pattern(prefix: str) -> re.Pattern[str]:
    """Return a pattern for ``<prefix>-<N>`` and ``<prefix>-<N>-*`` (group 1: N)."""
    return re.compile(rf"^{re.escape(prefix)}-(\d+)(?:-.*)?$")


def branches_by_issue(branches: list[str], prefix: str) -> dict[int, str]:
    """Map issue numbers to their branch among ``branches`` (the first in order).

    An exact ``<prefix>-<N>`` wins over ``<prefix>-<N>-<slug>``.
    """
    pattern = issue_branch_pattern(prefix)
    found: dict[int, str] = {}
    for branch in sorted(branches, key=lambda name: (len(name), name)):
        match = pattern.match(branch)
        if match:
            found.setdefault(int(match[1]), branch)
    return found
