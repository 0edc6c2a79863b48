"""Path globs shared by the namespaces: ``**`` crosses folders, ``*`` does not."""

import re


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob where ``**`` crosses folders and ``*`` does not."""
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("^" + "".join(parts) + "$")
