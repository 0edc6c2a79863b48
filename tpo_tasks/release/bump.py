"""Carry out a release plan: edit files, commit, tag and push, all or nothing.

:func:`prepare` computes every file's new bytes from a :class:`~.plan.Plan` without
writing anything, so ``--dry-run`` shows exactly what :func:`execute` will write.
:func:`execute` holds :class:`ReleaseLock` and, if any step fails (a commit hook,
signing, the push), restores every file, removes the tag and moves the branch back,
so no release commit or tag is left behind.
"""

import datetime
import difflib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import ReleaseSettings
from ..errors import ConfigError, ExternalError, RefusedError, UsageError
from ..fileio import write_bytes_atomic
from ..git import GitError, git_output, head_sha, remote_url, run_git, web_url
from . import changelog, version_files
from .plan import Plan

DATE_VARIABLE = "TPO_RELEASE_DATE"
LOCK_NAME = "tpo-release.lock"


@dataclass(frozen=True)
class FileChange:
    """One file the release writes; ``old`` is None for a file it creates."""

    path: str
    old: bytes | None
    new: bytes

    def diff(self) -> str:
        """Return a unified diff of the change (text files, UTF-8)."""
        before = (self.old or b"").decode("utf-8", "replace").splitlines(keepends=True)
        after = self.new.decode("utf-8", "replace").splitlines(keepends=True)
        source = f"a/{self.path}" if self.old is not None else "/dev/null"
        lines = difflib.unified_diff(before, after, source, f"b/{self.path}")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class Prepared:
    """Everything a release writes and records."""

    changes: list[FileChange]
    section: str  # the new changelog section, as Markdown
    message: str
    tag: str


def release_date(today: datetime.date | None = None) -> str:
    """Return the release date: ``$TPO_RELEASE_DATE`` (YYYY-MM-DD) or today."""
    value = os.environ.get(DATE_VARIABLE)
    if value:
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            raise UsageError(f"invalid {DATE_VARIABLE} {value!r}; expected YYYY-MM-DD"
                             ) from None
    return (today or datetime.date.today()).isoformat()


def repository_url(root: str | os.PathLike[str], settings: ReleaseSettings
                   ) -> str | None:
    """Return the web URL for compare links: ``tpo.release.repo_url``, else the
    ``origin`` remote's page, else None (links are then left alone)."""
    if settings.repo_url:
        return settings.repo_url.rstrip("/")
    url = remote_url(root, "origin")
    return web_url(url) if url else None


def commit_message(settings: ReleaseSettings, version: str, tag: str) -> str:
    """Return ``tpo.release.commit_message`` filled with the version and tag."""
    return settings.commit_message.replace("{version}", version).replace("{tag}", tag)


def changelog_groups(plan: Plan) -> list[changelog.Group]:
    return changelog.entries_from(plan.commits)


def prepare(root: str | os.PathLike[str], settings: ReleaseSettings, plan: Plan,
            date: str) -> Prepared:
    """Return the file changes, changelog section, commit message and tag of ``plan``.

    Nothing is written. Raises the VersionFileError or ChangelogFormatError that
    an edit would hit.
    """
    if plan.next_version is None or plan.tag is None:
        raise UsageError("nothing to release")
    root = Path(root)
    version = plan.next_version
    tag_check = run_git(root, "check-ref-format", f"refs/tags/{plan.tag}", check=False)
    if tag_check.returncode != 0:
        raise ConfigError(f"invalid tpo.release.tag_format {settings.tag_format!r}: "
                          f"{plan.tag!r} is not a valid git tag name; remove spaces, "
                          "'..', '~', '^', ':' and a trailing '/' or '.lock'")
    specs = version_files.version_file_specs(root, settings)
    for relative in [spec.path for spec in specs] + [settings.changelog]:
        if (root / relative).is_symlink():
            # The atomic write renames a new file over the path, which would
            # replace the link with a copy and leave its target unchanged.
            target = os.readlink(root / relative)
            raise RefusedError(f"{relative} is a symbolic link to {target}; set "
                               "tpo.release.version_files or tpo.release.changelog "
                               "to the file it links to")
    contents: dict[str, tuple[bytes, bytes]] = {}
    for spec in specs:
        old, current = contents.get(spec.path, (None, None))
        if old is None:
            old = current = (root / spec.path).read_bytes()
        assert current is not None
        contents[spec.path] = (old, version_files.edit_bytes(spec, current, version))
    changes = [FileChange(path, old, new) for path, (old, new) in contents.items()
               if old != new]

    path = root / settings.changelog
    old_bytes = path.read_bytes() if path.is_file() else None
    if old_bytes is None:
        text = changelog.new_changelog_text(plan.scheme)
    else:
        text = changelog.decode(old_bytes, settings.changelog)
    before = changelog.parse(text, settings.changelog)
    previous = plan.last_version
    links = changelog.Links(repository_url(root, settings), settings.tag_format)
    new_text = changelog.release(before, version, date, changelog_groups(plan), links,
                                 previous)
    after = changelog.check_release(before, new_text, version, settings.changelog)
    section = after.section(version)
    assert section is not None
    rendered = "\n".join(after.lines[section.start:section.end]).rstrip("\n") + "\n"
    changes.append(FileChange(settings.changelog, old_bytes, new_text.encode("utf-8")))
    return Prepared(changes=changes, section=rendered,
                    message=commit_message(settings, version, plan.tag), tag=plan.tag)


class ReleaseLock:
    """An exclusive lock file in ``.git`` so two bumps cannot run at once.

    The holder keeps an ``flock`` on the file, which the kernel drops when the
    process ends, so checking and taking over a lock is one atomic step. The file
    also holds the owner's process id: a file naming another live process counts
    as held even without the flock, and one naming a process that is gone is
    stale and is taken over. Needs ``fcntl`` (Linux, macOS).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        # Linked worktrees share the tags, so the lock lives in the common folder.
        common = Path(git_output(root, "rev-parse", "--git-common-dir"))
        if not common.is_absolute():
            common = Path(root) / common
        self.path = common / LOCK_NAME
        self.held = False
        self.fd: int | None = None

    def __enter__(self) -> "ReleaseLock":
        import fcntl

        for _ in range(3):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._refusal(self._owner()) from None
            if not self._still_at_path(fd):
                # The previous holder removed the file between open and flock.
                os.close(fd)
                continue
            owner = self._owner()
            if owner is not None and owner != os.getpid() and _process_alive(owner):
                os.close(fd)
                raise self._refusal(owner)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            self.held = True
            return self
        raise RefusedError(f"could not take the release lock {self.path}; retry")

    def _still_at_path(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def _refusal(self, owner: int | None) -> RefusedError:
        process = f"process {owner}" if owner is not None else "another process"
        return RefusedError(
            f"another release.bump ({process}) is running in this repository; wait "
            f"for it, or delete {self.path} if that process is gone")

    def _owner(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def __exit__(self, *exc_info: object) -> None:
        if self.held:
            # Remove the file before dropping the flock, so a waiting bump that
            # opened this file notices it is gone and starts again.
            self.path.unlink(missing_ok=True)
            assert self.fd is not None
            os.close(self.fd)
            self.fd = None
            self.held = False


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Steps:
    """The git steps a bump runs after writing the files."""

    commit: bool = True
    tag: bool = True
    sign: bool = False
    push_remote: str | None = None
    branch: str | None = None


def execute(root: str | os.PathLike[str], prepared: Prepared, steps: Steps,
            progress: Callable[[str], None] = lambda text: None) -> None:
    """Write the files, commit, tag and push; undo everything if a step fails.

    The caller holds :class:`ReleaseLock`. On failure every file gets its old
    bytes back (created files are removed), the tag is deleted and the branch
    returns to its old commit; the original error is raised again with a note
    of what was undone.
    """
    root = Path(root)
    old_head = head_sha(root)
    if steps.commit and old_head is None:
        # Without a commit to return to, a failed tag or push could not be undone.
        raise RefusedError("the repository has no commit yet; commit the project "
                           "first, or use --no-commit")
    if steps.commit:
        _refuse_ignored(root, [change.path for change in prepared.changes])
    written: list[FileChange] = []
    committed = tagged = False
    with _DeferredSignals() as signals:
        try:
            for change in prepared.changes:
                try:
                    write_bytes_atomic(root / change.path, change.new)
                except OSError as exc:
                    # The OSError names write_bytes_atomic's temporary file; report
                    # the version file or changelog instead.
                    raise ExternalError(f"writing {change.path} failed: "
                                        f"{exc.strerror}") from None
                written.append(change)
            progress(f"updated {', '.join(change.path for change in written)}")
            signals.check()
            if steps.commit:
                paths = [change.path for change in prepared.changes]
                run_git(root, "add", "--", *paths)
                commit_args = ["commit", "-q", "-m", prepared.message]
                if steps.sign:
                    commit_args.append("-S")
                run_git(root, *commit_args, "--", *paths)
                committed = True
                progress(f"committed {prepared.message!r}")
                signals.check()
            if steps.commit and steps.tag:
                tag_args = ["tag", "-s" if steps.sign else "-a", "-m",
                            prepared.message, prepared.tag]
                run_git(root, *tag_args)
                tagged = True
                progress(f"tagged {prepared.tag}")
                signals.check()
            if steps.push_remote is not None and committed:
                refs = [f"refs/heads/{steps.branch}:refs/heads/{steps.branch}"]
                if tagged:
                    refs.append(f"refs/tags/{prepared.tag}:refs/tags/{prepared.tag}")
                run_git(root, "push", "--atomic", "-q", steps.push_remote, *refs)
                progress(f"pushed {steps.branch} and {prepared.tag} to "
                         f"{steps.push_remote}")
        except BaseException as exc:
            problems = _rollback(root, old_head, written, committed, tagged, prepared)
            if isinstance(exc, GitError | ExternalError) and not problems:
                raise ExternalError(f"{exc}; the release was undone: files restored, "
                                    "no commit or tag left") from None
            if problems:
                raise ExternalError(f"{exc}; undoing the release also failed: "
                                    f"{'; '.join(problems)}") from None
            raise


class _DeferredSignals:
    """A handler that holds SIGINT, SIGTERM and SIGHUP until the current step ends.

    Dying in the middle of a bump (a cancelled CI job) would leave the files
    edited and the commit made. The signal is recorded instead, and
    :meth:`check` raises between steps so the release is undone. After the push,
    the last step, a late signal is ignored because the release is complete.
    """

    NUMBERS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "_DeferredSignals":
        # Python accepts signal handlers only in the main thread.
        if threading.current_thread() is threading.main_thread():
            for number in self.NUMBERS:
                self.previous[number] = signal.signal(number, self._record)
        return self

    def _record(self, number: int, frame: object) -> None:
        self.received = number

    def check(self) -> None:
        """Raise ExternalError if a signal arrived during the last step."""
        if self.received is not None:
            raise ExternalError(f"stopped by {signal.Signals(self.received).name}")

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


def _refuse_ignored(root: Path, paths: list[str]) -> None:
    """Refuse before writing when git would not add one of ``paths``.

    ``git add`` rejects an untracked path that .gitignore matches, and its error
    ends in an unhelpful hint line.
    """
    output = run_git(root, "check-ignore", "-z", "--stdin", check=False,
                     input="\0".join(paths) + "\0").stdout
    ignored = [path for path in output.split("\0") if path]
    if ignored:
        raise RefusedError(f"{', '.join(ignored)} is ignored by git, so the release "
                           "commit could not include it; remove it from .gitignore "
                           "or commit it once with git add -f")


def _rollback(root: Path, old_head: str | None, written: list[FileChange],
              committed: bool, tagged: bool, prepared: Prepared) -> list[str]:
    problems = []

    def attempt(action: Callable[[], object], what: str) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - report every failed undo step
            problems.append(f"{what}: {exc}")

    if tagged:
        attempt(lambda: run_git(root, "tag", "-d", prepared.tag), "delete the tag")
    if committed and old_head is not None:
        attempt(lambda: run_git(root, "reset", "-q", "--soft", old_head),
                "move the branch back")
    paths = [change.path for change in prepared.changes]
    if old_head is not None:
        attempt(lambda: run_git(root, "reset", "-q", "--", *paths), "unstage files")
    for change in reversed(written):
        target = root / change.path
        if change.old is None:
            attempt(lambda target=target: target.unlink(missing_ok=True),
                    f"remove {change.path}")
        else:
            attempt(lambda target=target, data=change.old: write_bytes_atomic(
                target, data), f"restore {change.path}")
    return problems

