"""Atomic file writes: a temporary file in the same folder, then a rename."""

import os
import tempfile
from pathlib import Path


def write_bytes_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    fsync: bool = True,
    mode: int | None = None,
) -> None:
    """Replace ``path`` with ``data``; readers see the old or the new file, never half.

    The parent folder is created when missing. ``fsync`` flushes the data to disk
    before the rename; ``mode`` sets the permission bits (default: those of the
    file being replaced, else 0o644).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(
    path: str | os.PathLike[str],
    text: str,
    *,
    fsync: bool = True,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> None:
    """Replace ``path`` with ``text`` atomically; see :func:`write_bytes_atomic`.

    ``newline`` translates ``\\n`` when set, as :func:`open` does.
    """
    if newline is not None and newline != "\n":
        text = text.replace("\n", newline)
    write_bytes_atomic(path, text.encode(encoding), fsync=fsync)
