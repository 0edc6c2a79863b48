"""The steps of a deploy: pick images, render and check, apply, wait, record.

``tasks.py`` gathers the settings and flags and calls these functions in order;
each step raises a TpoError with the exit code of its failure.
"""

import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ExternalError, RefusedError, TaskFailed, UsageError
from ..output import github_output, github_step_summary, info, result, warn
from . import notify
from .docker import Docker, manifest_digest
from .history import History, Revision, read_history, write_history
from .images import (
    SourceState,
    image_tag,
    oci_labels,
    pinned,
    record_builds,
    repository,
    split_pinned,
)
from .kubectl import Kubectl, apply_args
from .lock import DeployLock, actor
from .render import (
    Rendered,
    blocking,
    deploy_rule_findings,
    manifest_check_results,
    render_overlay,
)
from .rollout import diagnose, status_args, wait_for_rollouts

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
REJECTED_BY_DRY_RUN = "server-side dry run"  # the cluster was left unchanged


@dataclass
class Plan:
    """Everything a deploy will do, decided before it touches a cluster."""

    env: Any  # config.Environment
    kubectl: Kubectl
    version: str
    git_sha: str
    images: dict[str, str]  # service -> registry/image@sha256:...
    pins: dict[str, str]  # bare image name in the manifests -> pinned reference
    rendered: Rendered | None = None
    to_build: list[str] = field(default_factory=list)
    copies: list[tuple[str, str]] = field(default_factory=list)
    promoted_from: Revision | None = None
    docker: Docker | None = None  # the client that built or will copy the images


# -- images ----------------------------------------------------------------------


def registry_for(settings: Any, env: Any) -> str:
    """Return the registry an environment deploys from; raise when none is set."""
    chosen = env.registry or settings.deploy.registry
    if not chosen:
        raise UsageError(f"no registry for environment {env.name!r}; set "
                         "tpo.deploy.registry (or the environment's registry)")
    return chosen


def build_service(root: Path, service: Any, registry: str, tag: str,
                  labels: Mapping[str, str], docker: Docker) -> str:
    """Build and push one service image; return its pinned reference."""
    target = f"{repository(registry, service.image)}:{tag}"
    context = (root / service.build_context).resolve()
    dockerfile = (root / service.dockerfile).resolve()
    if not dockerfile.is_file():
        raise UsageError(f"Dockerfile {dockerfile} of service {service.name!r} not "
                         f"found; fix tpo.deploy.services.{service.name}.dockerfile")
    info(f"building {service.name} as {target}")
    docker.build(context=context, dockerfile=dockerfile, tag=target, labels=labels,
                 build_args=service.build_args,
                 on_output=lambda line: info(f"  {line}"))
    info(f"pushing {target}")
    digest = docker.push(target)
    return pinned(registry, service.image, digest)


def build_images(root: Path, settings: Any, services: list[Any], registry: str,
                 state: SourceState, version: str, docker: Docker, *,
                 reuse: bool, dry_run: bool) -> tuple[dict[str, str], list[str]]:
    """Return (service -> pinned reference, services built or to build).

    With ``reuse``, a clean tree's image already in the registry under this
    commit's tag is used as it is. In a dry run nothing is built or pushed, and
    an image still to build gets a placeholder digest.
    """
    tag = image_tag(version, state.sha, state.dirty)
    labels = oci_labels(version, state.sha, state.remote_url)
    images: dict[str, str] = {}
    built: list[str] = []
    records = {}
    for service in services:
        repo = repository(registry, service.image)
        digest = manifest_digest(repo, tag) if reuse and not state.dirty else None
        if digest is not None:
            info(f"{service.name}: {repo}:{tag} already in the registry, not rebuilt")
            images[service.name] = f"{repo}@{digest}"
            continue
        built.append(service.name)
        if dry_run:
            images[service.name] = f"{repo}@{PLACEHOLDER_DIGEST}"
            continue
        reference = build_service(root, service, registry, tag, labels, docker)
        images[service.name] = reference
        records[service.name] = {
            "image": repo, "tag": tag, "digest": split_pinned(reference)[1],
            "reference": reference, "git_sha": state.sha, "version": version,
            "dirty": state.dirty, "time": _now(),
        }
    if records:
        record_builds(root, records)
    if not dry_run:
        github_output({"version": version, "tag": tag, **{
            f"image_{name}": ref for name, ref in images.items()}})
    return images, built


def promoted_images(settings: Any, env: Any, source: History, source_name: str,
                    state: SourceState | None, *, allow_different_commit: bool
                    ) -> tuple[dict[str, str], Revision, list[tuple[str, str]]]:
    """Return the images to promote from ``source``'s last deploy, and the copies
    (source, target reference) that ``copy_images`` makes before applying.

    Refuses when that deploy is missing, failed, rolled back or a rollback, when
    the tree is dirty, or when the commit differs (unless allowed). Images are
    to be copied by digest when this environment uses another registry. Without
    ``state`` (rendering or diffing only) the tree and commit are not checked.
    """
    newest = source.newest()
    if newest is None:
        raise RefusedError(f"{source_name} has no deploy history; deploy there first "
                           f"(inv deploy.to {source_name})")
    if newest.result != "succeeded":
        raise RefusedError(f"{source_name}'s last deploy (revision {newest.revision}) "
                           f"is {newest.result}; fix {source_name} before promoting")
    if newest.rollback_of is not None:
        raise RefusedError(
            f"{source_name}'s newest revision {newest.revision} is a rollback to "
            f"revision {newest.rollback_of}; deploy a fixed version to {source_name} "
            "before promoting"
        )
    if state is not None and state.dirty:
        raise RefusedError("the working tree has uncommitted changes; commit or "
                           f"stash them before deploying to {env.name}")
    if state is not None and state.sha != newest.git_sha and (
            not allow_different_commit):
        raise RefusedError(
            f"HEAD is {state.sha[:7]} but {source_name} runs {newest.git_sha[:7]}; "
            "check out that commit or pass --allow-different-commit"
        )
    registry = env.registry or settings.deploy.registry
    images = dict(newest.images)
    copies = []
    for service_name, reference in sorted(newest.images.items()):
        source_repo, digest = split_pinned(reference)
        service = settings.deploy.services.get(service_name)
        image = service.image if service else source_repo.rsplit("/", 1)[-1]
        target_repo = repository(registry, image) if registry else source_repo
        if target_repo == source_repo:
            if manifest_digest(source_repo, digest) != digest:
                raise ExternalError(
                    f"image {reference} of {source_name} revision {newest.revision} "
                    f"not found in its registry; deploy {source_name} again to push it"
                )
            continue
        copies.append((reference, f"{target_repo}@{digest}"))
        images[service_name] = f"{target_repo}@{digest}"
    return images, newest, copies


def copy_images(plan: Plan, docker: Docker | None) -> None:
    """Copy the plan's promoted images into this environment's registry by digest."""
    if plan.promoted_from is None or not plan.copies:
        return
    docker = docker or Docker()
    tag = image_tag(plan.promoted_from.version, plan.promoted_from.git_sha, False)
    for source, target in plan.copies:
        repository_name, _ = split_pinned(target)
        info(f"copying {source} to {repository_name}")
        docker.copy(source, repository_name, tag)


def pins_for(settings: Any, images: Mapping[str, str]) -> dict[str, str]:
    """Map each service's bare image name (as in the manifests) to its pin."""
    pins = {}
    for service_name, reference in images.items():
        service = settings.deploy.services.get(service_name)
        name = service.image if service else split_pinned(reference)[0].rsplit(
            "/", 1)[-1]
        pins[name] = reference
    return pins


# -- render and check ------------------------------------------------------------


def check_overlay(root: Path, env: Any) -> Path:
    """Return ``env``'s overlay folder; raise UsageError when it does not exist.

    Deploys call this before building or copying images, so a wrong path costs
    no build.
    """
    overlay = root / env.overlay
    if not overlay.is_dir():
        raise UsageError(f"overlay {env.overlay} not found in {root}; create it or "
                         f"set tpo.deploy.environments.{env.name}.overlay")
    return overlay


def render_checked(root: Path, settings: Any, env: Any,
                   pins: Mapping[str, str]) -> Rendered:
    """Render the overlay with ``pins``, then run our rules and the manifest checks."""
    overlay = check_overlay(root, env)
    key = f"tpo.deploy.environments.{env.name}.overlay"
    rendered = render_overlay(overlay, env.namespace, pins, key=key)
    problems = deploy_rule_findings(rendered, pins, env.namespace)
    results = manifest_check_results(rendered.text, f"{env.overlay} (rendered)",
                                     settings)
    stopping = blocking(results)
    for problem in problems:
        info(f"fail  deploy.pinned-images  {problem}")
    for item in stopping:
        where = f" ({item.file}:{item.line})" if getattr(item, "line", None) else ""
        hint = f"; {item.hint}" if getattr(item, "hint", None) else ""
        info(f"{item.status}  {item.id}  {item.message}{where}{hint}")
    if problems or stopping:
        raise TaskFailed(f"the rendered manifests of {env.name} fail "
                         f"{len(problems) + len(stopping)} check(s); nothing was "
                         "applied; fix them (inv deploy.render shows the output)")
    return rendered


# -- the plan --------------------------------------------------------------------


def kubectl_commands(plan: Plan, force_conflicts: bool) -> list[str]:
    """Return the kubectl commands a deploy runs, for the plan and --dry-run."""
    base = plan.kubectl.argv()
    prefix = " ".join(base)
    apply = " ".join(apply_args(force_conflicts))
    commands = [
        f"{prefix} create -f - (Lease tpo-deploy-lock)",
        f"{prefix} get configmap tpo-deploy-history -o json",
        f"{prefix} {apply} --dry-run=server < manifests",
        f"{prefix} {apply} < manifests",
    ]
    for kind, name in plan.rendered.workloads() if plan.rendered else []:
        seconds = plan.env.rollout_timeout
        commands.append(f"{prefix} {' '.join(status_args(kind, name, seconds))}")
    commands += [
        f"{prefix} {' '.join(apply_args())} < ConfigMap tpo-deploy-history",
        f"{prefix} delete lease tpo-deploy-lock",
    ]
    return commands


def describe_plan(plan: Plan, force_conflicts: bool = False) -> list[str]:
    """Return the plan as lines: target, version, images, copies, commands."""
    resolved = plan.kubectl.check_context()
    lines = [
        f"environment: {plan.env.name}",
        f"context:     {resolved.name}",
        f"server:      {resolved.server}",
        f"namespace:   {plan.env.namespace}",
        f"version:     {plan.version} ({plan.git_sha[:7]})",
    ]
    if plan.promoted_from is not None:
        lines.append(f"promoting:   {plan.env.promote_from} revision "
                     f"{plan.promoted_from.revision}")
    lines.append("images:")
    for name, reference in sorted(plan.images.items()):
        note = "  (to be built)" if name in plan.to_build else ""
        lines.append(f"  {name}: {reference}{note}")
    for source, target in plan.copies:
        lines.append(f"copy: {source} -> {target}")
    if plan.rendered is not None:
        lines.append(f"manifests:   {len(plan.rendered.documents)} objects, sha256 "
                     f"{plan.rendered.sha256[:12]}")
    lines.append("kubectl commands:")
    lines += [f"  {command}" for command in kubectl_commands(plan, force_conflicts)]
    return lines


def confirm(plan: Plan, yes: bool, *, stdin: Any = None) -> None:
    """Ask before deploying; refuse (exit 4) without a terminal and without --yes."""
    if yes:
        return
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        raise RefusedError(f"deploying to {plan.env.name} needs confirmation; pass "
                           "--yes (no terminal to ask on)")
    for line in describe_plan(plan)[:5 + len(plan.images) + 2]:
        info(line)
    sys.stderr.write(f"Deploy to {plan.env.name}? [y/N] ")
    sys.stderr.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise RefusedError(f"deploy to {plan.env.name} not confirmed; nothing changed")


# -- apply, wait, record --------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_manifests(kubectl: Kubectl, text: str, force_conflicts: bool) -> str | None:
    """Apply server-side after a server dry run; return an error line or None."""
    for extra in (["--dry-run=server"], []):
        args = [*apply_args(force_conflicts), *extra]
        outcome = kubectl.run(*args, input=text, check=False, timeout=600)
        if not outcome.ok:
            lines = (outcome.stderr or outcome.stdout).strip().splitlines()
            stage = REJECTED_BY_DRY_RUN if extra else "apply"
            return f"{stage} failed: {lines[-1] if lines else outcome.returncode}"
        if not extra:
            for line in outcome.stdout.strip().splitlines():
                info(f"  {line}")
    return None


def check_health(urls: tuple[str, ...], attempts: int = 5,
                 pause: float = 2.0) -> str | None:
    """GET each health URL until it answers 2xx; return the failure or None."""
    import time

    for url in urls:
        last = ""
        for attempt in range(attempts):
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    if 200 <= response.status < 300:
                        last = ""
                        break
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            if attempt + 1 < attempts:
                time.sleep(pause)
        if last:
            return f"health check {url} failed: {last}"
    return None


def postdeploy_failure(env: Any, settings: Any) -> str | None:
    """Run the checks namespace's post-deploy checks; return the failures or None.

    Findings other than pass and skip are printed; only ``fail`` and ``error``
    count as a failed deploy (a warning such as a restarted container does not).
    Check ids in ``tpo.checks.skip`` are skipped here too.
    """
    try:
        from ..checks.postdeploy import postdeploy_rules
        from ..checks.results import run_rules
    except ImportError:
        return check_health(env.health)
    results = run_rules(postdeploy_rules(settings, env), skip=settings.checks.skip)
    for item in results:
        if item.status not in ("pass", "skip"):
            info(f"{item.status}  {item.id}  {item.message}")
    failed = [item for item in results if item.status in ("fail", "error")]
    if not failed:
        return None
    return "post-deploy checks failed: " + "; ".join(
        f"{item.id}: {item.message}" for item in failed)


def _wait_and_check(kubectl: Kubectl, workloads: list[tuple[str, str]], env: Any,
                    settings: Any) -> str | None:
    failures = wait_for_rollouts(kubectl, workloads, env.rollout_timeout)
    if failures:
        for failure in failures:
            for line in diagnose(kubectl, failure):
                info(line)
        return "; ".join(f.describe() for f in failures)
    return postdeploy_failure(env, settings)


@dataclass
class Outcome:
    """The outcome of a deploy or rollback."""

    revision: Revision
    reason: str | None = None
    rolled_back_to: Revision | None = None


def _rollback_apply(kubectl: Kubectl, history: History, target: Revision,
                    replaced: int | None, env: Any, settings: Any,
                    force_conflicts: bool) -> Outcome:
    manifest = history.manifests.get(target.revision)
    if manifest is None:
        raise UsageError(f"revision {target.revision} of {env.name} has no stored "
                         "manifests (older than the history keeps); pick another "
                         "with --to")
    number = history.next_revision()
    info(f"rolling back {env.name} to revision {target.revision}")
    reason = apply_manifests(kubectl, manifest, force_conflicts)
    if reason is None:
        workloads = Rendered(manifest, _documents(manifest)).workloads()
        reason = _wait_and_check(kubectl, workloads, env, settings)
    revision = Revision(
        revision=number, time=_now(), version=target.version,
        git_sha=target.git_sha, images=dict(target.images), actor=actor(),
        result="succeeded" if reason is None else "failed",
        rollback_of=target.revision, manifest_sha256=target.manifest_sha256,
        reason=reason,
    )
    history.add(revision, manifest)
    if reason is None and replaced is not None:
        replaced_revision = history.get(replaced)
        if replaced_revision is not None and replaced_revision.result == "succeeded":
            history.mark(replaced, "rolled_back")
    return Outcome(revision, reason)


def _documents(text: str) -> tuple[dict[str, Any], ...]:
    from .render import parse_documents

    return parse_documents(text)


def execute(plan: Plan, settings: Any, *, rollback: bool,
            force_conflicts: bool) -> Outcome:
    """Apply the plan under the lock, wait, roll back on failure, record it all."""
    kubectl = plan.kubectl
    env = plan.env
    assert plan.rendered is not None
    with DeployLock(kubectl, settings.deploy.lock_ttl):
        history = read_history(kubectl)
        number = history.next_revision()
        info(f"applying revision {number} to {env.name} "
             f"({kubectl.context_name}, namespace {env.namespace})")
        reason = apply_manifests(kubectl, plan.rendered.text, force_conflicts)
        if reason is None:
            reason = _wait_and_check(kubectl, plan.rendered.workloads(), env, settings)
        revision = Revision(
            revision=number, time=_now(), version=plan.version,
            git_sha=plan.git_sha, images=dict(plan.images), actor=actor(),
            result="succeeded" if reason is None else "failed", rollback_of=None,
            manifest_sha256=plan.rendered.sha256, reason=reason,
        )
        history.add(revision, plan.rendered.text)
        outcome = Outcome(revision, reason)
        unchanged = reason is not None and reason.startswith(REJECTED_BY_DRY_RUN)
        if reason is not None and not unchanged:
            previous = history.last_successful(before=number)
            if rollback and previous is not None:
                back = _rollback_apply(kubectl, history, previous, None, env,
                                       settings, force_conflicts)
                outcome.rolled_back_to = previous
                if back.reason is not None:
                    warn(f"automatic rollback failed: {back.reason}")
                    outcome.rolled_back_to = None
            elif rollback:
                warn(f"no earlier successful revision of {env.name} to roll back to")
        write_history(kubectl, history, settings.deploy.history_limit)
    return outcome


def execute_rollback(kubectl: Kubectl, settings: Any, env: Any, target: Revision,
                     force_conflicts: bool) -> Outcome:
    """Re-apply ``target`` under the lock and record it as a rollback.

    The history is read again under the lock, so a deploy that finished after
    ``target`` was chosen is the one marked rolled back.
    """
    with DeployLock(kubectl, settings.deploy.lock_ttl):
        fresh = read_history(kubectl)
        current = fresh.last_successful()
        # Re-applying the newest success replaces only a failed revision, which
        # stays failed, so no revision is marked rolled back.
        replaced = (current.revision if current and current.revision != target.revision
                    else None)
        outcome = _rollback_apply(kubectl, fresh, target, replaced, env, settings,
                                  force_conflicts)
        write_history(kubectl, fresh, settings.deploy.history_limit)
    return outcome


# -- report ---------------------------------------------------------------------


def report(env: Any, outcome: Outcome, settings: Any,
           sender: Callable[..., bool] = notify.send) -> None:
    """Print the summary, write the Actions summary and send the notification."""
    revision = outcome.revision
    kind = "rollback" if revision.rollback_of is not None else "deploy"
    if outcome.reason is None:
        result(f"{kind} of {env.name} succeeded: revision {revision.revision}, "
               f"version {revision.version} ({revision.git_sha[:7]})")
    else:
        result(f"{kind} of {env.name} failed: revision {revision.revision}: "
               f"{outcome.reason}")
        if outcome.rolled_back_to is not None:
            result(f"rolled back to revision {outcome.rolled_back_to.revision} "
                   f"(version {outcome.rolled_back_to.version})")
    for name, reference in sorted(revision.images.items()):
        result(f"  {name}: {reference}")
    status = "succeeded" if outcome.reason is None else "failed"
    github_step_summary("\n".join([
        f"### {kind} of {env.name} {status}",
        f"revision {revision.revision}, version {revision.version}, "
        f"commit `{revision.git_sha[:7]}`",
        *(f"- {name}: `{ref}`" for name, ref in sorted(revision.images.items())),
        *([f"\nreason: {outcome.reason}"] if outcome.reason else []),
    ]))
    sender(settings.deploy.notify_url, notify.payload(
        environment=env.name, version=revision.version, images=revision.images,
        result=status, reason=outcome.reason, revision=revision.revision,
        git_sha=revision.git_sha, actor=revision.actor,
        rollback_of=revision.rollback_of,
        rolled_back_to=(outcome.rolled_back_to.revision
                        if outcome.rolled_back_to else None),
    ))


def history_rows(history: History) -> list[list[str]]:
    """Return table rows for ``deploy.history``."""
    rows = []
    for r in history.revisions:
        rows.append([
            str(r.revision), r.time, r.version, r.git_sha[:7], r.result,
            "" if r.rollback_of is None else str(r.rollback_of), r.actor,
            ", ".join(f"{k}@{v.rsplit('@', 1)[-1][7:19]}"
                      for k, v in sorted(r.images.items())),
        ])
    return rows
