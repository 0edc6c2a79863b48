"""Invoke tasks of the ``issues`` namespace: list upstream issues and sync them."""

import os
import re
import sys
from pathlib import Path
from typing import Any

from invoke import Collection, Context

from ..defaults import defaults
from ..errors import ExternalError, TaskFailed, UsageError
from ..output import info, print_json, result, table, warn
from ..task import settings, task

REPO_HELP = ("OWNER/REPO to read issues from (default: PARENT_REPO, tpo.github.repo, "
             "then the upstream or origin remote)")
LABEL_HELP = ("only issues with this label; repeat for several (default: "
              "tpo.issues.labels)")
FROM_FILE_HELP = ("read a JSON array of GitHub issue objects from this file instead "
                  "of the network (default: use the GitHub API)")


class _Workspace:
    """The folder the docs go to, and the git repository when there is one."""

    def __init__(self) -> None:
        from ..git import repo_root

        self.git_root: Path | None = None
        self.reason = ""
        try:
            self.git_root = repo_root(Path.cwd())
        except ExternalError as exc:
            self.reason = exc.message
        self.root = self.git_root or Path.cwd()

    def path(self, configured: str) -> Path:
        return self.root / os.path.expanduser(configured)

    def remote(self, name: str) -> str | None:
        from ..git import remote_url

        return remote_url(self.git_root, name) if self.git_root else None

    def branches(self) -> list[str]:
        from ..git import git_output

        if self.git_root is None:
            return []
        text = git_output(self.git_root, "for-each-ref", "--format=%(refname)",
                          "refs/heads/")
        return [line.removeprefix("refs/heads/") for line in text.splitlines() if line]


def _labels(label: list[str] | None, configured: tuple[str, ...]) -> list[str]:
    chosen = [name.strip() for name in (label or []) if name.strip()]
    return chosen or list(configured)


def _number(value: str | None) -> int | None:
    if value is None:
        return None
    text = str(value).strip().removeprefix("#")
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise UsageError(f"invalid --number {value!r}; expected a positive issue "
                         "number such as 49")
    return int(text)


def _repo(c: Context, repo: str | None, workspace: _Workspace,
          items: list[dict[str, Any]] | None = None) -> str:
    from .sync import resolve_repo

    name, _ = resolve_repo(repo, settings(c).github.repo, workspace.remote,
                           fallback=_repo_from_items(items or []))
    return name


def _repo_from_items(items: list[dict[str, Any]]) -> str | None:
    for item in items:
        url = item.get("repository_url")
        if isinstance(url, str) and "/repos/" in url:
            candidate = url.split("/repos/", 1)[1].strip("/")
            if candidate.count("/") == 1:
                return candidate
    return None


def _connect(c: Context, repo: str) -> Any:
    from .. import github

    return github.connect(repo, api_url=settings(c).github.api_url)


def _open_issues(c: Context, repo: str, labels: list[str],
                 from_file: str | None) -> list[dict[str, Any]]:
    from .sync import fetch_open, has_labels, is_pull_request, load_issue_file

    if from_file:
        items = [item for item in load_issue_file(from_file)
                 if item.get("state", "open") == "open"]
    else:
        with _connect(c, repo) as client:
            items = fetch_open(client, labels, info)
    return [item for item in items
            if not is_pull_request(item) and has_labels(item, labels)]


@task(
    help={
        "repo": REPO_HELP,
        "label": LABEL_HELP,
        "json": "print a JSON array of {number, title, labels, url, ...} (default: "
                "a table)",
        "from-file": FROM_FILE_HELP,
    },
    iterable=["label"],
)
def list_(c: Context, repo: str | None = None, label: list[str] | None = None,
          json: bool = False, from_file: str | None = None) -> None:
    """List the open issues of the upstream repository, pull requests excluded."""
    from .picker import describe

    workspace = _Workspace()
    labels = _labels(label, settings(c).issues.labels)
    items = load_file_or_none(from_file)
    name = _repo(c, repo, workspace, items)
    issues = _open_issues(c, name, labels, from_file)
    if json:
        from .metadata import label_names

        print_json([{
            "number": int(item["number"]),
            "title": item.get("title") or "",
            "labels": label_names(item.get("labels")),
            "url": item.get("html_url") or item.get("url"),
            "state": item.get("state", "open"),
            "assignees": [person.get("login") for person in item.get("assignees") or []
                          if isinstance(person, dict) and person.get("login")],
            "comments": int(item.get("comments") or 0),
            "created_at": item.get("created_at"),
            "updated_at": item.get("updated_at"),
        } for item in issues])
        return
    if not issues:
        info(f"no open issues in {name}" + (f" with labels {', '.join(labels)}"
                                            if labels else ""))
        return
    result(table([describe(item)] for item in issues))
    info(f"{len(issues)} open issue(s) in {name}")


def load_file_or_none(from_file: str | None) -> list[dict[str, Any]] | None:
    """Return the issues of ``--from-file``, or None without the flag."""
    from .sync import load_issue_file

    return load_issue_file(from_file) if from_file else None


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _pick(issues: list[dict[str, Any]], repo: str) -> dict[str, Any] | None:
    from .picker import choose

    if not issues:
        info(f"no open issues in {repo}")
        return None
    info(f"Open issues in {repo}:")
    return choose(issues, ask=_ask, show=info)


def _checkout_branch(workspace: _Workspace, number: int, title: str,
                     prefix: str) -> str | None:
    from .slug import branch_name, branches_by_issue

    if workspace.git_root is None:
        warn(f"{workspace.reason or 'not inside a git repository'}; "
             "writing the issue docs without a branch")
        return None
    existing = branches_by_issue(workspace.branches(), prefix).get(number)
    if existing:
        _checkout(workspace.git_root, existing, "--")
        info(f"checked out existing branch {existing}")
        return existing
    name = branch_name(number, title, prefix=prefix)
    _checkout(workspace.git_root, "-b", name)
    info(f"created and checked out branch {name}")
    return name


def _checkout(root: Path, *args: str) -> None:
    """Run ``git checkout``; on failure, raise git's reason with the way out."""
    from ..git import GitError, run_git

    try:
        run_git(root, "checkout", "--quiet", *args)
    except GitError as exc:
        lines = [line.strip() for line in exc.stderr.splitlines()]
        reason = " ".join(line for line in lines if line and line != "Aborting")
        branch = next(arg for arg in args if not arg.startswith("-"))
        raise ExternalError(f"git checkout failed for branch {branch}: "
                            f"{reason[:300] or exc.message}; or pass --no-branch "
                            "to write the docs without a branch") from None


@task(
    help={
        "repo": REPO_HELP,
        "number": "the issue number to sync (default: choose from a list)",
        "all": "write the docs of every open issue, incrementally, without "
               "branches (default: one issue)",
        "no-branch": "write the docs without creating or checking out a branch "
                     "(default: create or check out issue-<N>-<slug>)",
        "label": LABEL_HELP,
        "from-file": FROM_FILE_HELP,
    },
    iterable=["label"],
)
def sync(c: Context, repo: str | None = None, number: str | None = None,
         all: bool = False, no_branch: bool = False, label: list[str] | None = None,
         from_file: str | None = None) -> None:
    """Write an issue's docs and check out its branch (or sync every open issue)."""
    config = settings(c)
    chosen = _number(number)
    if chosen is not None and all:
        raise UsageError("--number and --all cannot be combined; pass one of them")
    if chosen is None and not all and not sys.stdin.isatty():
        raise UsageError("no issue chosen and stdin is not a terminal for the "
                         "picker; pass --number N (or --all)")
    workspace = _Workspace()
    labels = _labels(label, config.issues.labels)
    items = load_file_or_none(from_file)
    repo_name = _repo(c, repo, workspace, items)
    if all:
        _sync_all(c, workspace, repo_name, labels, items)
        return
    issue = _single_issue(c, repo_name, chosen, labels, items, from_file)
    if issue is None:
        info("no issue chosen")
        return
    _sync_one(c, workspace, repo_name, issue, no_branch)


def _single_issue(c: Context, repo: str, number: int | None, labels: list[str],
                  items: list[dict[str, Any]] | None,
                  from_file: str | None) -> dict[str, Any] | None:
    from .sync import fetch_issue, is_pull_request

    if number is None:
        return _pick(_open_issues(c, repo, labels, from_file), repo)
    if items is None:
        with _connect(c, repo) as client:
            return fetch_issue(client, number)
    for item in items:
        if int(item["number"]) == number:
            if is_pull_request(item):
                raise UsageError(f"#{number} in {from_file} is a pull request, not "
                                 "an issue; choose an issue number")
            return item
    raise UsageError(f"issue #{number} is not in {from_file}; check --number")


def _writer(c: Context, workspace: _Workspace, repo: str) -> Any:
    from .sync import DocWriter

    config = settings(c).issues
    return DocWriter(directory=workspace.path(config.dir), repo=repo,
                     known_components=config.components,
                     override_dir=workspace.path(config.templates_dir))


def _sync_one(c: Context, workspace: _Workspace, repo: str, issue: dict[str, Any],
              no_branch: bool) -> None:
    from .slug import branches_by_issue
    from .sync import WriteReport

    number = int(issue["number"])
    prefix = settings(c).issues.branch_prefix
    if no_branch:
        branch = branches_by_issue(workspace.branches(), prefix).get(number)
    else:
        branch = _checkout_branch(workspace, number, issue.get("title") or "", prefix)
    writer = _writer(c, workspace, repo)
    report = WriteReport()
    writer.write(issue, branch, report)
    _finish(report)
    folder = writer.directory / str(number)
    result(str(folder / "ISSUE.md"))
    result(str(folder / "metadata.json"))
    if branch:
        result(f"branch {branch}")


def _sync_all(c: Context, workspace: _Workspace, repo: str, labels: list[str],
              items: list[dict[str, Any]] | None) -> None:
    from . import state as sync_state
    from .slug import branches_by_issue
    from .sync import fetch_changes, fetch_closed, has_labels, is_pull_request

    writer = _writer(c, workspace, repo)
    state_path = writer.directory / sync_state.STATE_FILE
    data = sync_state.load(state_path)
    key = sync_state.state_key(repo, labels)
    fetched = None
    previous = sync_state.entry(data, key)
    closed: list[dict[str, Any]] = []
    if items is None:
        if previous.since and not _has_any_docs(writer.directory):
            previous = sync_state.RepoState()  # docs were removed: start over
        with _connect(c, repo) as client:
            fetched = fetch_changes(client, previous, labels, info)
            if fetched.full:
                closed = fetch_closed(client, writer.directory, fetched.items, info)
        items = fetched.items
        if fetched.not_modified:
            info(f"{repo}: no issue changed since the last sync")
    issues = [item for item in items
              if not is_pull_request(item) and has_labels(item, labels)]
    if fetched is None or fetched.full:
        issues = [item for item in issues if item.get("state", "open") == "open"
                  or writer.has_docs(int(item["number"]))]
    issues += [item for item in closed if not is_pull_request(item)]
    branches = branches_by_issue(workspace.branches(), settings(c).issues.branch_prefix)
    report = writer.write_all(issues, branches, only_existing_closed=True,
                              progress=info)
    if fetched is not None and not sync_state.same_cursor(previous, fetched.state):
        sync_state.save(state_path, data, key, fetched.state)
    result(f"{repo}: {len(report.written)} issue(s) updated, "
           f"{len(report.unchanged)} unchanged, {report.files_written} file(s) "
           f"written in {writer.directory}")
    _finish(report)


def _has_any_docs(directory: Path) -> bool:
    try:
        return any(entry.name.isdigit() and entry.is_dir()
                   for entry in os.scandir(directory))
    except FileNotFoundError:
        return False


def _finish(report: Any) -> None:
    for message in report.warnings:
        warn(message)
    if report.failures:
        for message in report.failures[:-1]:
            warn(message)
        raise TaskFailed(report.failures[-1])


ns = Collection("issues")
ns.add_task(list_, name="list")
ns.add_task(sync)
ns.configure({"tpo": defaults()})
