"""Fetch issues (network or file) and write their documents incrementally."""

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ExternalError, UsageError
from ..fileio import write_text_atomic
from . import document, markers, metadata
from .state import RepoState

ISSUES_PATH = "/repos/{owner}/{repo}/issues"
PER_PAGE = 100
Progress = Callable[[str], None]


def now_utc() -> str:
    """Return the current time as ISO 8601 UTC with a ``Z``, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_pull_request(item: Mapping[str, Any]) -> bool:
    """Return whether an issue-list item is a pull request."""
    return item.get("pull_request") is not None


def has_labels(item: Mapping[str, Any], wanted: Sequence[str]) -> bool:
    """Return whether ``item`` carries every label in ``wanted`` (case-insensitive)."""
    names = {name.lower() for name in metadata.label_names(item.get("labels"))}
    return all(label.lower() in names for label in wanted)


# -- where issues come from -------------------------------------------------------


def repo_from_remote(url: str | None) -> str | None:
    """Return ``owner/repo`` of a git remote URL, or None."""
    from ..git import parse_remote

    parsed = parse_remote(url) if url else None
    return parsed[1] if parsed else None


def resolve_repo(flag: str | None, configured: str | None,
                 remote: Callable[[str], str | None],
                 fallback: str | None = None) -> tuple[str, str]:
    """Return the repository and where it came from.

    The order is ``--repo``, ``PARENT_REPO``, ``tpo.github.repo``, the
    ``upstream`` and ``origin`` git remotes (``remote(name)`` returns a URL), then
    ``fallback`` (the repository named inside a ``--from-file`` file).
    """
    from ..github import split_repo

    candidates = [("--repo", flag), ("PARENT_REPO", os.environ.get("PARENT_REPO")),
                  ("tpo.github.repo", configured)]
    for source, value in candidates:
        if value:
            try:
                split_repo(value)
            except ConfigError:
                raise ConfigError(f"invalid {source} {value!r}; expected OWNER/REPO "
                                  "such as octo/demo") from None
            return value, source
    for name in ("upstream", "origin"):
        repo = repo_from_remote(remote(name))
        if repo:
            return repo, f"git remote {name}"
    if fallback:
        return fallback, "the issues file"
    raise ConfigError("no repository to read issues from; pass --repo OWNER/REPO, "
                      "set PARENT_REPO or tpo.github.repo, or add an upstream remote")


def load_issue_file(path: str) -> list[dict[str, Any]]:
    """Return the issue objects saved in ``path`` (a JSON array from the REST API)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--from-file {path}: file not found") from None
    except IsADirectoryError:
        raise UsageError(f"--from-file {path}: is a directory; pass a JSON file"
                         ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExternalError(f"--from-file {path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--from-file {path}: invalid JSON ({exc}); save the "
                         "array returned by GET /repos/OWNER/REPO/issues") from None
    if isinstance(data, dict) and "number" in data:
        data = [data]
    if not isinstance(data, list):
        raise UsageError(f"--from-file {path}: expected a JSON array of issue "
                         "objects")
    for index, item in enumerate(data):
        problem = issue_problem(item)
        if problem:
            raise UsageError(f"--from-file {path}: item {index} {problem}; "
                             "expected GitHub issue objects")
    return unique_issues(data)


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def page_items(data: Any, where: str) -> list[dict[str, Any]]:
    """Return the issue objects of one API page; raise ExternalError on others."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise ExternalError(f"{where} returned {type(data).__name__}, not a list of "
                            "issues; check GITHUB_API_URL")
    for index, item in enumerate(data):
        problem = issue_problem(item)
        if problem:
            raise ExternalError(f"{where}: item {index} {problem}; check "
                                "GITHUB_API_URL")
    return data


def issue_problem(item: Any) -> str | None:
    """Return what makes ``item`` unusable as a GitHub issue object, or None."""
    if not isinstance(item, dict) or not _is_number(item.get("number")):
        return "has no integer 'number'"
    for key in _TEXT_FIELDS:
        if not isinstance(item.get(key) or "", str):
            return f"has a non-text {key!r}"
    for key in ("labels", "assignees"):
        if not isinstance(item.get(key) or [], list):
            return f"has {key!r} that is not an array"
    comments = item.get("comments") or 0
    if isinstance(comments, bool) or not isinstance(comments, int) or comments < 0:
        return "has 'comments' that is not a count"
    milestone = item.get("milestone") or {}
    if not isinstance(milestone, dict) or not isinstance(
            milestone.get("title") or "", str):
        return "has a 'milestone' that is not an object with a text title"
    return None


# Fields copied into metadata.json and the --json list, where they must be text.
_TEXT_FIELDS = ("title", "body", "state", "html_url", "url", "created_at",
                "updated_at", "closed_at")


def unique_issues(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``items`` with one entry per number, the last copy in the first place.

    An issue updated while the pages are read can move to a later page and so
    appear twice.
    """
    by_number: dict[int, dict[str, Any]] = {}
    for item in items:
        by_number[item["number"]] = item
    return list(by_number.values())


def fetch_open(client: Any, labels: Sequence[str], progress: Progress
               ) -> list[dict[str, Any]]:
    """Return every open issue (pull requests included) through all pages."""
    query = {"state": "open"}
    if labels:
        query["labels"] = ",".join(labels)
    items: list[dict[str, Any]] = []
    for number, page in enumerate(client.paginate(ISSUES_PATH, query=query,
                                                  per_page=PER_PAGE), start=1):
        items.extend(page_items(page.data, f"page {number} of the issue list"))
        if page.next_url or number > 1:
            progress(f"fetched page {number} ({len(items)} items)")
    return unique_issues(items)


def fetch_issue(client: Any, number: int) -> dict[str, Any]:
    """Return issue ``number``; raise a UsageError for a pull request."""
    from ..github import NotFound

    try:
        item = client.request(f"{ISSUES_PATH}/{number}")
    except NotFound:
        raise UsageError(f"issue #{number} not found in {client.repo} (or no "
                         "access); check --number and the repository") from None
    item = page_items([item], f"issue #{number}")[0]
    if is_pull_request(item):
        raise UsageError(f"#{number} in {client.repo} is a pull request, not an "
                         "issue; choose an issue number")
    return item


@dataclass
class Fetched:
    """The outcome of an incremental fetch."""

    items: list[dict[str, Any]]
    full: bool  # True: every open issue; False: only those changed since ``since``
    not_modified: bool
    state: RepoState
    requests: int = 0


def fetch_changes(client: Any, previous: RepoState, labels: Sequence[str],
                  progress: Progress) -> Fetched:
    """Fetch what changed since ``previous``; every open issue on a first sync.

    A re-sync asks for ``state=all`` issues updated since the newest
    ``updated_at`` seen before, so issues closed upstream come back as closed, and
    sends the stored ETag when the query is the same as last time, so an
    unchanged repository costs one 304 response.
    """
    full = previous.since is None
    query: dict[str, str] = {"state": "open"} if full else {
        "state": "all", "since": previous.since}
    if labels:
        query["labels"] = ",".join(labels)
    etag = previous.etag if previous.etag_query == query else None
    items: list[dict[str, Any]] = []
    first_etag = None
    requests = 0
    not_modified = False
    for number, page in enumerate(client.paginate(ISSUES_PATH, query=query,
                                                  per_page=PER_PAGE, etag=etag),
                                  start=1):
        requests += 1
        if page.not_modified:
            not_modified = True
            break
        if number == 1:
            first_etag = page.etag
        items.extend(page_items(page.data, f"page {number} of the issue list"))
        if page.next_url or number > 1:
            progress(f"fetched page {number} ({len(items)} items)")
    if not_modified:
        state = RepoState(since=previous.since, etag=previous.etag,
                          etag_query=previous.etag_query, synced_at=now_utc())
        return Fetched([], full, True, state, requests)
    items = unique_issues(items)
    newest = max((item["updated_at"] for item in items if item.get("updated_at")),
                 default=previous.since)
    # The stored ETag only helps when the next sync sends the same query, which
    # happens when ``since`` stays the same (nothing newer arrived).
    keep_etag = not full and newest == previous.since and requests == 1
    state = RepoState(since=newest, etag=first_etag if keep_etag else None,
                      etag_query=query if keep_etag else None, synced_at=now_utc())
    if full and newest is None:
        # No open issue at all: remember the ETag of this full query instead.
        state = RepoState(since=None, etag=first_etag, etag_query=query,
                          synced_at=now_utc())
    return Fetched(items, full, False, state, requests)


def open_docs(directory: Path, repo: str) -> dict[int, str]:
    """Return ``{number: updated_at}`` of the docs from ``repo`` not marked closed."""
    found: dict[int, str] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or not entry.is_dir():
            continue
        record = _read_json(Path(entry.path) / "metadata.json")
        if (record is not None and record.get("status") != "closed"
                and record.get("last_synced_from") == repo
                and isinstance(record.get("updated_at"), str)):
            found[int(entry.name)] = record["updated_at"]
    return found


def fetch_closed(client: Any, directory: Path, open_items: Sequence[Mapping[str, Any]],
                 progress: Progress) -> list[dict[str, Any]]:
    """Return the issues with docs still marked open that are now closed upstream.

    A full sync reads only open issues, so the docs in ``directory`` not marked
    closed whose issue is missing from ``open_items`` are looked up with one
    ``state=closed`` query, narrowed by the oldest ``updated_at`` among them.
    """
    seen = {int(item["number"]) for item in open_items}
    numbers = {number: updated
               for number, updated in open_docs(directory, client.repo).items()
               if number not in seen}
    if not numbers:
        return []
    query = {"state": "closed", "since": min(numbers.values())}
    closed: list[dict[str, Any]] = []
    for page in client.paginate(ISSUES_PATH, query=query, per_page=PER_PAGE):
        closed.extend(item for item in page_items(page.data, "closed issue list")
                      if item["number"] in numbers)
    closed = unique_issues(closed)
    if closed:
        progress(f"{len(closed)} issue(s) with docs were closed upstream")
    return closed


# -- writing documents ----------------------------------------------------------


@dataclass
class WriteReport:
    """Outcome of a batch write: issue numbers per result, warnings and failures."""

    written: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    files_written: int = 0


@dataclass
class DocWriter:
    """Writer of ``<dir>/<N>/ISSUE.md`` and ``metadata.json``, only when they change."""

    directory: Path
    repo: str
    known_components: Sequence[str] = ()
    override_dir: Path | None = None
    synced_at: str = field(default_factory=now_utc)
    fsync: bool = True

    def plan(self, issue: Mapping[str, Any], branch: str | None,
             report: WriteReport) -> list[tuple[Path, str]]:
        """Return the files of one issue whose content changes, with their text."""
        number = int(issue["number"])
        folder = self.directory / str(number)
        record = metadata.build_metadata(
            issue, repo=self.repo, branch=branch, synced_at=self.synced_at,
            known_components=self.known_components)
        rendered = document.render(record, author=document.author_of(issue),
                                   repo=self.repo, override_dir=self.override_dir)
        doc_path = folder / "ISSUE.md"
        meta_path = folder / "metadata.json"
        links = [path for path in (folder, doc_path, meta_path) if path.is_symlink()]
        if links:
            # Following a file link would copy a file from outside the docs folder
            # into it, and the rename would replace the link. A folder link would
            # send the writes outside the repository.
            report.failures.append(f"#{number}: {links[0]} is a symbolic link, "
                                   "left unchanged; replace it with a regular file "
                                   "and sync again")
            return []
        try:
            existing_doc = _read(doc_path)
        except UnicodeDecodeError as exc:
            report.failures.append(f"#{number}: {doc_path} is not valid UTF-8 "
                                   f"(byte {exc.start}), left unchanged; save it "
                                   "as UTF-8 and sync again")
            return []
        try:
            text, appended = document.update(existing_doc, rendered)
        except markers.MarkerError as exc:
            report.failures.append(f"#{number}: {doc_path} left unchanged, its "
                                   f"generated-region markers are broken ({exc}); "
                                   "fix or remove the markers and sync again")
            text, appended = existing_doc, []
        if appended:
            report.warnings.append(f"#{number}: re-added missing regions "
                                   f"{', '.join(appended)} at the end of {doc_path}")
        old_meta = _read_json(meta_path)
        if old_meta is not None and metadata.same_except_sync_time(old_meta, record):
            record = old_meta
        changes = []
        if text is not None and text != existing_doc:
            changes.append((doc_path, text))
        if old_meta != record:
            changes.append((meta_path, metadata.encode(record)))
        (report.written if changes else report.unchanged).append(number)
        report.files_written += len(changes)
        return changes

    def write(self, issue: Mapping[str, Any], branch: str | None,
              report: WriteReport) -> None:
        """Write one issue's files, only those whose content changes."""
        for path, text in self.plan(issue, branch, report):
            write_text_atomic(path, text, fsync=self.fsync)

    def has_docs(self, number: int) -> bool:
        """Return whether issue ``number`` already has a metadata file."""
        return (self.directory / str(number) / "metadata.json").is_file()

    def write_all(self, issues: Iterable[Mapping[str, Any]],
                  branches: Mapping[int, str], *, only_existing_closed: bool,
                  progress: Progress) -> WriteReport:
        """Write every issue; closed ones only update docs that already exist.

        Every file is planned (rendered and compared) before the first write, and
        the writes then run on WRITE_THREADS threads: each is atomic with its own
        fsync, and concurrent fsyncs let the file system commit them together.
        """
        report = WriteReport()
        changes: list[tuple[Path, str]] = []
        for issue in issues:
            number = int(issue["number"])
            if (only_existing_closed and issue.get("state") == "closed"
                    and not self.has_docs(number)):
                report.skipped.append(number)
                continue
            changes.extend(self.plan(issue, branches.get(number), report))
        write_files(changes, fsync=self.fsync, progress=progress)
        return report


WRITE_THREADS = 8


def write_files(changes: Sequence[tuple[Path, str]], *, fsync: bool,
                progress: Progress) -> None:
    """Write each ``(path, text)`` atomically, several at a time.

    The first failure cancels the writes not yet started and is re-raised.
    """
    from concurrent.futures import ThreadPoolExecutor

    if len(changes) < 2 * WRITE_THREADS:
        for path, text in changes:
            write_text_atomic(path, text, fsync=fsync)
        return
    step = max(1000, len(changes) // 10)
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        futures = [pool.submit(write_text_atomic, path, text, fsync=fsync)
                   for path, text in changes]
        try:
            for index, future in enumerate(futures, start=1):
                future.result()
                if index % step == 0:
                    progress(f"wrote {index}/{len(changes)} files")
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = _read(path)
    except UnicodeDecodeError:
        return None
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
