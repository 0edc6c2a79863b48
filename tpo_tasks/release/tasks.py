"""Invoke tasks of the ``release`` namespace.

Each task gathers state, lets the plain functions of this subpackage decide, acts
and reports. Heavy imports stay inside the task bodies to keep ``inv --list`` fast.
"""

from typing import Any

from invoke import Collection, Context

from ..defaults import defaults
from ..errors import UsageError
from ..output import github_output, info, print_json, result, warn
from ..task import settings, task

PART_HELP = "bump the {0} version (default: inferred from the commits)"


def _part(major: bool, minor: bool, patch: bool) -> str | None:
    chosen = [name for name, on in (("major", major), ("minor", minor),
                                    ("patch", patch)) if on]
    if len(chosen) > 1:
        raise UsageError(f"pass only one of --major, --minor, --patch (got "
                         f"{', '.join('--' + name for name in chosen)})")
    return chosen[0] if chosen else None


def _push_remote(root: Any, branch: str | None) -> str:
    from ..errors import RefusedError
    from ..git import remote_url, run_git

    if branch is None:
        raise RefusedError("HEAD is detached; check out the release branch before "
                           "--push")
    configured = run_git(root, "config", "--get", f"branch.{branch}.remote",
                         check=False).stdout.strip()
    remote = configured or "origin"
    if remote_url(root, remote) is None:
        raise UsageError(f"remote {remote!r} not found; add it (git remote add "
                         f"{remote} URL) or drop --push")
    return remote


def _bump_json(plan: Any, released: bool, files: list[str], dry_run: bool
               ) -> dict[str, Any]:
    return {
        "released": released,
        "dry_run": dry_run,
        "old_version": plan.current_version,
        "new_version": plan.next_version,
        "tag": plan.tag,
        "rule": plan.rule,
        "files": files,
    }


@task(help={
    "major": PART_HELP.format("major"),
    "minor": PART_HELP.format("minor"),
    "patch": PART_HELP.format("patch"),
    "pre": "make a pre-release of kind alpha, beta or rc (default: a final release)",
    "finalize": "turn the current pre-release into its final release (default: off)",
    "dry_run": "print the plan, each file's diff, the changelog section, the commit "
               "message and the tag, and change nothing (default: off)",
    "no_commit": "only update the files: no commit and no tag (default: commit)",
    "no_tag": "commit but do not create the tag (default: tag)",
    "sign": "GPG-sign the commit and the tag (default: off)",
    "push": "push the release commit and its tag with git push --atomic "
            "(default: off)",
    "json": "print {released, old_version, new_version, tag, rule, files} as JSON",
})
def bump(c: Context, major: bool = False, minor: bool = False, patch: bool = False,
         pre: str | None = None, finalize: bool = False, dry_run: bool = False,
         no_commit: bool = False, no_tag: bool = False, sign: bool = False,
         push: bool = False, json: bool = False) -> None:
    """Bump the version, update the changelog, commit and tag."""
    from contextlib import nullcontext

    from ..errors import RefusedError
    from ..git import repo_root
    from . import bump as bumping
    from . import plan as planning

    part = _part(major, minor, patch)
    if push and no_commit:
        raise UsageError("--push needs a commit; drop --no-commit or --push")
    root = repo_root()
    release_settings = settings(c).release

    lock = nullcontext() if dry_run else bumping.ReleaseLock(root)
    with lock:
        _, plan = planning.plan(root, release_settings, part=part, pre=pre,
                                finalize=finalize)
        if plan.version_problems:
            raise RefusedError("; ".join(plan.version_problems))
        if plan.next_version is None:
            if json:
                print_json(_bump_json(plan, False, [], dry_run))
            else:
                result(f"nothing to release at {plan.current_version}: {plan.rule}")
            return
        if plan.refusals:
            raise RefusedError("; ".join(plan.refusals))

        prepared = bumping.prepare(root, release_settings, plan,
                                   bumping.release_date())
        files = [change.path for change in prepared.changes]
        if not json:
            result(f"release {plan.current_version} -> {plan.next_version} "
                   f"(tag {prepared.tag})")
            result(f"rule: {plan.rule}")
        if plan.branch != release_settings.branch:
            warn(f"releasing from {plan.branch or 'a detached HEAD'}, not "
                 f"{release_settings.branch} (tpo.release.branch)")

        if dry_run:
            if json:
                print_json(_bump_json(plan, False, files, True))
                return
            for change in prepared.changes:
                result(change.diff().rstrip("\n"))
            result("changelog section:")
            result(prepared.section.rstrip("\n"))
            result(f"commit message: {prepared.message}")
            result(f"tag: {prepared.tag}" + ("" if not no_tag and not no_commit
                                             else " (not created)"))
            return

        steps = bumping.Steps(
            commit=not no_commit, tag=not no_tag and not no_commit, sign=sign,
            push_remote=_push_remote(root, plan.branch) if push else None,
            branch=plan.branch,
        )
        bumping.execute(root, prepared, steps, progress=info)

    outputs = {"version": plan.next_version}
    if not no_tag and not no_commit:
        outputs["tag"] = prepared.tag
    github_output(outputs)
    if json:
        print_json(_bump_json(plan, True, files, False))
    else:
        result(f"released {plan.next_version}")


@task(help={
    "dry_run": "print the changelog diff and change nothing (default: off)",
    "from_history": "build a whole changelog from every release tag, for projects "
                    "adopting the tool (default: add to Unreleased only)",
})
def changelog(c: Context, dry_run: bool = False, from_history: bool = False) -> None:
    """Add entries for new commits to the changelog's Unreleased section."""
    from pathlib import Path

    from ..errors import RefusedError
    from ..fileio import write_bytes_atomic
    from ..git import repo_root
    from . import bump as bumping
    from . import changelog as changelogs
    from . import commits as commit_log
    from . import plan as planning
    from . import version_files

    root = repo_root()
    release_settings = settings(c).release
    path = Path(root) / release_settings.changelog
    old_bytes = path.read_bytes() if path.is_file() else None
    scheme = version_files.default_scheme(root, release_settings)

    if from_history:
        # Tags outside HEAD's history never match a commit of the log, so the
        # costly reachability test of every tag is not needed.
        tags = planning.release_tags(root, release_settings, scheme, merged=False)
        highest = {tag.sha: tag for tag in tags}  # of two tags on a commit, the higher
        ranges = commit_log.history(
            root, [(tag.sha, tag.name) for tag in tags if highest[tag.sha] is tag])
        by_name = {tag.name: tag for tag in tags}
        releases = [(by_name[item.tag].version.text, by_name[item.tag].date,
                     changelogs.entries_from(item.commits))
                    for item in ranges if item.tag is not None]
        unreleased = next((changelogs.entries_from(item.commits) for item in ranges
                           if item.tag is None), [])
        existing = None
        if old_bytes is not None:
            old_text = changelogs.decode(old_bytes, release_settings.changelog)
            existing = changelogs.parse(old_text, release_settings.changelog)
            section = existing.unreleased
            if section is not None:
                # Keep hand-written Unreleased entries; the rebuild adds to them.
                unreleased, _ = changelogs.merge_groups(
                    existing.groups(section)[1], unreleased)
        links = changelogs.Links(bumping.repository_url(root, release_settings),
                                 release_settings.tag_format)
        new_text = changelogs.render_history(scheme, releases, unreleased, links)
        if existing is not None and not dry_run:
            if existing.released:
                raise RefusedError(
                    f"{release_settings.changelog} already has released sections; "
                    "move it away to rebuild it from history, or use --dry-run")
        summary = (f"wrote {release_settings.changelog} with {len(releases)} "
                   "releases from history")
    else:
        state = planning.gather(root, release_settings)
        if old_bytes is None:
            text = changelogs.new_changelog_text(scheme)
        else:
            text = changelogs.decode(old_bytes, release_settings.changelog)
        log = changelogs.parse(text, release_settings.changelog)
        new_text, added = changelogs.add_unreleased(
            log, changelogs.entries_from(state.commits))
        changelogs.check_released_kept(log, new_text, release_settings.changelog)
        since = state.last_tag.name if state.last_tag else "the first commit"
        summary = (f"added {added} entries since {since} to "
                   f"{release_settings.changelog}" if added else
                   f"{release_settings.changelog} already lists every change since "
                   f"{since}")

    change = bumping.FileChange(release_settings.changelog, old_bytes,
                                new_text.encode("utf-8"))
    if dry_run:
        diff = change.diff()
        result(diff.rstrip("\n") if diff else "no changes")
        return
    if change.old != change.new:
        write_bytes_atomic(path, change.new)
    result(summary)


@task(help={"json": "print the plan as JSON (fields in templates/"
                    "release-plan.schema.json)"})
def plan(c: Context, json: bool = False) -> None:
    """Show the changes since the last tag and the next version."""
    from ..git import repo_root
    from . import plan as planning

    root = repo_root()
    _, release_plan = planning.plan(root, settings(c).release)
    if json:
        print_json(release_plan.to_json())
        return
    for line in planning.describe(release_plan):
        result(line)


@task(help={"version": "the version whose section to print (default: the latest "
                       "release)"})
def notes(c: Context, version: str | None = None) -> None:
    """Print a version's changelog section for a GitHub release body."""
    from pathlib import Path

    from ..errors import UsageError as MissingChangelog
    from ..git import repo_root
    from . import changelog as changelogs

    release_settings = settings(c).release
    path = Path(repo_root()) / release_settings.changelog
    if not path.is_file():
        raise MissingChangelog(f"{release_settings.changelog} not found; run "
                               "inv release.changelog or inv release.bump first")
    text = changelogs.decode(path.read_bytes(), release_settings.changelog)
    log = changelogs.parse(text, release_settings.changelog)
    _, body = changelogs.notes(log, version)
    result(body.rstrip("\n"))


@task(help={
    "version": "the version to publish (default: the latest changelog section)",
    "draft": "create the release as a draft, or turn an existing one into a draft "
             "(default: published)",
    "repo": "the GitHub repository OWNER/REPO (default: GITHUB_REPOSITORY, then "
            "tpo.release.repo, then the origin remote)",
})
def publish(c: Context, version: str | None = None, draft: bool = False,
            repo: str | None = None) -> None:
    """Create or update the GitHub release of a version with its changelog notes."""
    from pathlib import Path

    from .. import github
    from ..git import repo_root, tag_exists
    from . import changelog as changelogs
    from . import publish as publishing
    from . import versions

    all_settings = settings(c)
    release_settings = all_settings.release
    root = repo_root()
    path = Path(root) / release_settings.changelog
    if not path.is_file():
        raise UsageError(f"{release_settings.changelog} not found; run "
                         "inv release.bump first")
    text = changelogs.decode(path.read_bytes(), release_settings.changelog)
    log = changelogs.parse(text, release_settings.changelog)
    version, body = changelogs.notes(log, version)
    tag = release_settings.tag_format.replace("{version}", version)
    if not tag_exists(root, tag):
        warn(f"tag {tag} is not in this clone; GitHub needs it pushed before the "
             "release is published")
    name, source = publishing.resolve_repo(root, repo, release_settings)
    info(f"publishing {tag} to {name} (repository from {source})")
    parsed = versions.parse(version, "semver")
    prerelease = parsed.is_prerelease if parsed is not None else False
    with github.connect(name, api_url=all_settings.github.api_url) as client:
        outcome = publishing.publish(client, tag, tag, body.rstrip("\n") + "\n",
                                     draft=draft, prerelease=prerelease)
    state = "draft" if outcome.release.get("draft") else "published"
    result(f"{outcome.action} {state} release {tag}: "
           f"{outcome.release.get('html_url', '')}")


ns = Collection("release")
ns.add_task(bump)
ns.add_task(changelog)
ns.add_task(plan)
ns.add_task(notes)
ns.add_task(publish)
ns.configure({"tpo": defaults()})
