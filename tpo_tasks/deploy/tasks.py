"""Invoke tasks of the ``deploy`` namespace: build once, promote by digest, roll back.

Only invoke and the light shared modules are imported here; the deploy modules
load inside the task bodies so ``inv --list`` stays cheap.
"""

from pathlib import Path
from typing import Any

from invoke import Collection, Context

from ..defaults import defaults
from ..task import task

ENV_HELP = "the environment, as declared under tpo.deploy.environments"
DRY_RUN_HELP = ("render, check and print the plan with its kubectl commands; "
                "change nothing (default: off)")


def _root() -> Path:
    return Path.cwd()


def _settings(c: Context) -> Any:
    from ..task import settings
    from .images import check_names

    loaded = settings(c)
    check_names(loaded.deploy)
    return loaded


def _environment(c: Context, name: str | None) -> tuple[Any, Any]:
    from ..errors import UsageError

    if not name:
        raise UsageError("no environment given; pass it as ENV or --env")
    settings = _settings(c)
    return settings, settings.deploy.environment(name)


def _kubectl(settings: Any, env: Any) -> Any:
    from .kubectl import Kubectl

    kubectl = Kubectl(env, settings.deploy)
    kubectl.check_context()
    return kubectl


def _build_plan(c: Context, name: str, *, allow_different_commit: bool,
                dry_run: bool, check_tree: bool = True) -> tuple[Any, Any]:
    """Decide images and render the manifests of a deploy to ``name``.

    ``check_tree`` false (render and diff) skips a promotion's dirty-tree and
    commit checks, since nothing is deployed.
    """
    from . import pipeline
    from .docker import Docker
    from .history import read_history
    from .images import project_version, source_state

    settings, env = _environment(c, name)
    kubectl = _kubectl(settings, env)
    root = _root()
    pipeline.check_overlay(root, env)
    state = source_state(root)
    docker = Docker()
    promoted = None
    copies: list[tuple[str, str]] = []
    to_build: list[str] = []
    if env.promote_from:
        source_env = settings.deploy.environment(env.promote_from)
        source_kubectl = _kubectl(settings, source_env)
        source_history = read_history(source_kubectl)
        images, promoted, copies = pipeline.promoted_images(
            settings, env, source_history, source_env.name,
            state if check_tree else None,
            allow_different_commit=allow_different_commit)
        version, git_sha = promoted.version, promoted.git_sha
    else:
        version = project_version(root, settings)
        git_sha = state.sha
        registry = pipeline.registry_for(settings, env)
        services = list(settings.deploy.services.values())
        images, to_build = pipeline.build_images(
            root, settings, services, registry, state, version, docker,
            reuse=True, dry_run=dry_run)
    plan = pipeline.Plan(env=env, kubectl=kubectl, version=version, git_sha=git_sha,
                         images=images, pins=pipeline.pins_for(settings, images),
                         to_build=to_build, copies=copies, promoted_from=promoted)
    plan.rendered = pipeline.render_checked(root, settings, env, plan.pins)
    plan.docker = docker
    return settings, plan


def _deploy(c: Context, name: str, *, yes: bool, dry_run: bool, rollback: bool,
            force_conflicts: bool, allow_different_commit: bool) -> None:
    from ..errors import TaskFailed
    from ..output import info, result
    from . import pipeline

    settings, plan = _build_plan(c, name, allow_different_commit=allow_different_commit,
                                 dry_run=dry_run)
    if dry_run:
        for line in pipeline.describe_plan(plan, force_conflicts):
            result(line)
        result("dry run: nothing was built, pushed or applied")
        return
    if plan.env.confirm:
        pipeline.confirm(plan, yes)
    for line in pipeline.describe_plan(plan, force_conflicts)[:5]:
        info(line)
    pipeline.copy_images(plan, plan.docker)
    outcome = pipeline.execute(plan, settings, rollback=rollback,
                               force_conflicts=force_conflicts)
    pipeline.report(plan.env, outcome, settings)
    if outcome.reason is not None:
        raise TaskFailed(f"deploy to {plan.env.name} failed: {outcome.reason}")


DEPLOY_HELP = {
    "env": ENV_HELP,
    "yes": "skip the confirmation of an environment with confirm: true "
           "(default: ask; refuse without a terminal)",
    "dry_run": DRY_RUN_HELP,
    "rollback": "roll back to the previous successful revision when the rollout "
                "fails (default: on; --no-rollback turns it off)",
    "force_conflicts": "take over fields owned by another field manager in the "
                       "server-side apply (default: off)",
    "allow_different_commit": "promote even when HEAD differs from the commit the "
                              "source environment runs (default: off)",
}
_NO_ENV_HELP = {k: v for k, v in DEPLOY_HELP.items() if k != "env"}


@task(help=DEPLOY_HELP, positional=["env"])
def to(c: Context, env: str | None = None, yes: bool = False, dry_run: bool = False,
       rollback: bool = True, force_conflicts: bool = False,
       allow_different_commit: bool = False) -> None:
    """Deploy the current commit to an environment."""
    _deploy(c, env, yes=yes, dry_run=dry_run, rollback=rollback,
            force_conflicts=force_conflicts,
            allow_different_commit=allow_different_commit)


def _named_deploy(name: str) -> Any:
    def deploy(c: Context, yes: bool = False, dry_run: bool = False,
               rollback: bool = True, force_conflicts: bool = False,
               allow_different_commit: bool = False) -> None:
        _deploy(c, name, yes=yes, dry_run=dry_run, rollback=rollback,
                force_conflicts=force_conflicts,
                allow_different_commit=allow_different_commit)

    deploy.__name__ = name
    deploy.__qualname__ = name
    deploy.__doc__ = f"Deploy to {name} (the same as deploy.to {name})."
    return task(name=name, help=_NO_ENV_HELP)(deploy)


dev = _named_deploy("dev")
staging = _named_deploy("staging")
production = _named_deploy("production")


@task(help={
    "service": "build only this service (default: every service)",
    "push": "push the images and record their digests (default: on; --no-push "
            "builds only)",
    "dry_run": "print the tags that would be built; build nothing (default: off)",
})
def build(c: Context, service: str = "", push: bool = True,
          dry_run: bool = False) -> None:
    """Build the service images, tag them <version>-<sha> and push them."""
    from ..errors import UsageError
    from ..output import info, result
    from . import pipeline
    from .docker import Docker
    from .images import (
        image_tag,
        oci_labels,
        project_version,
        repository,
        source_state,
    )

    settings = _settings(c)
    services = list(settings.deploy.services.values())
    if service:
        if service not in settings.deploy.services:
            declared = ", ".join(sorted(settings.deploy.services)) or "none"
            raise UsageError(f"service {service!r} is not declared (declared: "
                             f"{declared}); add tpo.deploy.services.{service}")
        services = [settings.deploy.services[service]]
    if not services:
        raise UsageError("no services declared; add tpo.deploy.services to "
                         "invoke.yaml")
    root = _root()
    state = source_state(root)
    version = project_version(root, settings)
    tag = image_tag(version, state.sha, state.dirty)
    if dry_run:
        registry = settings.deploy.registry
        for item in services:
            result(f"{item.name}: would build {repository(registry, item.image)}:{tag}")
        return
    if not push:
        docker = Docker()
        labels = oci_labels(version, state.sha, state.remote_url)
        for item in services:
            target = f"{repository(settings.deploy.registry, item.image)}:{tag}"
            info(f"building {item.name} as {target}")
            docker.build(context=(root / item.build_context).resolve(),
                         dockerfile=(root / item.dockerfile).resolve(), tag=target,
                         labels=labels, build_args=item.build_args,
                         on_output=lambda line: info(f"  {line}"))
            result(f"{item.name}: {target}")
        return
    if not settings.deploy.registry:
        raise UsageError("tpo.deploy.registry is not set; set it to push images, or "
                         "pass --no-push")
    images, _ = pipeline.build_images(
        root, settings, services, settings.deploy.registry, state, version, Docker(),
        reuse=False, dry_run=False)
    for name, reference in sorted(images.items()):
        result(f"{name}: {reference}")


def _render_plan(c: Context, env: str) -> Any:
    """Render what a deploy would apply, using images already in the registry."""
    from ..errors import ExternalError

    settings, plan = _build_plan(c, env, allow_different_commit=True, dry_run=True,
                                 check_tree=False)
    if plan.to_build:
        raise ExternalError(
            f"no image for {', '.join(plan.to_build)} at this commit in the "
            "registry; run inv deploy.build first"
        )
    return plan


@task(positional=["env"], help={"env": ENV_HELP,
            "output": "write the manifests to this folder as manifests.yaml "
                      "(default: print them on stdout)"})
def render(c: Context, env: str | None = None, output: str = "") -> None:
    """Print or write the exact manifests a deploy would apply."""
    from ..errors import UsageError
    from ..fileio import write_text_atomic
    from ..output import result

    if output and Path(output).exists() and not Path(output).is_dir():
        raise UsageError(f"--output {output} is a file; pass a folder to write "
                         "manifests.yaml into")
    plan = _render_plan(c, env)
    if output:
        target = Path(output) / "manifests.yaml"
        write_text_atomic(target, plan.rendered.text)
        result(str(target))
        return
    result(plan.rendered.text.rstrip("\n"))


@task(positional=["env"], help={"env": ENV_HELP})
def diff(c: Context, env: str | None = None) -> None:
    """Show what a deploy would change (kubectl diff --server-side)."""
    from invoke import Exit

    from ..output import result
    from .kubectl import FIELD_MANAGER

    plan = _render_plan(c, env)
    outcome = plan.kubectl.run("diff", "--server-side",
                               f"--field-manager={FIELD_MANAGER}", "-f", "-",
                               input=plan.rendered.text, check=False)
    if outcome.returncode > 1:
        raise plan.kubectl.error_for(outcome)
    if outcome.stdout:
        result(outcome.stdout.rstrip("\n"))
    if outcome.returncode == 1:
        raise Exit(code=1)


@task(positional=["env"], help={"env": ENV_HELP,
            "json": "print the revisions as a JSON array (schema "
                    "deploy-history.schema.json) (default: a table)"})
def history(c: Context, env: str | None = None, json: bool = False) -> None:
    """List an environment's deploy revisions, newest first."""
    from ..output import print_json, result, table
    from . import pipeline
    from .history import read_history, revisions_json

    settings, environment = _environment(c, env)
    stored = read_history(_kubectl(settings, environment))
    if json:
        print_json(revisions_json(stored.revisions))
        return
    if not stored.revisions:
        result(f"no deploys recorded for {environment.name}")
        return
    result(table(pipeline.history_rows(stored), headers=(
        "REV", "TIME", "VERSION", "COMMIT", "RESULT", "ROLLBACK_OF", "ACTOR",
        "IMAGES")))


@task(positional=["env"], help={"env": ENV_HELP,
            "to": "the revision to restore (default: the successful revision "
                  "before the current one)",
            "yes": DEPLOY_HELP["yes"],
            "dry_run": DRY_RUN_HELP,
            "force_conflicts": DEPLOY_HELP["force_conflicts"]})
def rollback(c: Context, env: str | None = None, to: int = 0, yes: bool = False,
             dry_run: bool = False, force_conflicts: bool = False) -> None:
    """Re-apply the manifests and images of an earlier successful revision."""
    from ..errors import TaskFailed, UsageError
    from ..output import result
    from . import pipeline
    from .history import read_history

    settings, environment = _environment(c, env)
    kubectl = _kubectl(settings, environment)
    stored = read_history(kubectl)
    current = stored.last_successful()
    if to:
        target = stored.get(to)
        if target is None:
            raise UsageError(f"revision {to} not found in the history of "
                             f"{environment.name}; see inv deploy.history "
                             f"{environment.name}")
        if target.result == "failed":
            raise UsageError(f"revision {to} of {environment.name} failed; pick a "
                             "revision that succeeded")
    else:
        if current is None:
            raise UsageError(f"{environment.name} has no successful revision to roll "
                             "back from")
        newest = stored.newest()
        if newest is not None and newest.result == "failed":
            # A failed revision is still applied (--no-rollback, or an automatic
            # rollback that failed), so the newest success is the state to restore.
            target = current
        else:
            target = stored.last_successful(before=current.revision)
        if target is None:
            raise UsageError(f"{environment.name} has no successful revision before "
                             f"revision {current.revision}; nothing to roll back to")
    plan = pipeline.Plan(env=environment, kubectl=kubectl, version=target.version,
                         git_sha=target.git_sha, images=dict(target.images),
                         pins={})
    if dry_run:
        result(f"would roll back {environment.name} to revision {target.revision} "
               f"(version {target.version}, {target.git_sha[:7]})")
        for line in pipeline.describe_plan(plan, force_conflicts):
            result(line)
        return
    if environment.confirm:
        pipeline.confirm(plan, yes)
    outcome = pipeline.execute_rollback(kubectl, settings, environment, target,
                                        force_conflicts)
    pipeline.report(environment, outcome, settings)
    if outcome.reason is not None:
        raise TaskFailed(f"rollback of {environment.name} failed: {outcome.reason}")


@task(positional=["env"], help={"env": ENV_HELP,
            "from_env_file": "the dotenv file (KEY=VALUE lines) holding the values",
            "name": "the Secret's name (default: the file name without .env)",
            "dry_run": "print the Secret's name and key names; apply nothing "
                       "(default: off)"})
def secrets(c: Context, env: str | None = None, from_env_file: str = "", name: str = "",
            dry_run: bool = False) -> None:
    """Create or update a Secret from a dotenv file, printing key names only."""
    from ..errors import UsageError
    from ..output import result
    from .kubectl import apply_args
    from .secrets import read_env_file, secret_json, secret_name_for

    if not from_env_file:
        raise UsageError("--from-env-file is required; pass the dotenv file to load")
    settings, environment = _environment(c, env)
    path = Path(from_env_file)
    values = read_env_file(path)
    secret_name = name or secret_name_for(path)
    manifest = secret_json(secret_name, environment.namespace, values)
    kubectl = _kubectl(settings, environment)
    keys = ", ".join(sorted(values))
    if dry_run:
        result(f"would apply Secret {secret_name} in {environment.name} "
               f"(namespace {environment.namespace}) with keys: {keys}")
        result(f"  {' '.join(kubectl.argv(*apply_args()))} < Secret")
        return
    kubectl.run(*apply_args(), input=manifest)
    result(f"Secret {secret_name} applied in {environment.name} "
           f"(namespace {environment.namespace}) with keys: {keys}")


@task(positional=["env"], help={"env": ENV_HELP,
            "json": "print a JSON object (schema deploy-status.schema.json) "
                    "(default: a table)"})
def status(c: Context, env: str | None = None, json: bool = False) -> None:
    """Show each workload's rollout state, running images and ready pods."""
    from ..output import print_json, result, table
    from .status import workload_status

    settings, environment = _environment(c, env)
    rows = workload_status(_kubectl(settings, environment))
    if json:
        print_json({"environment": environment.name,
                    "namespace": environment.namespace, "workloads": rows})
        return
    if not rows:
        result(f"no workloads in namespace {environment.namespace}")
        return
    result(table(([r["kind"], r["name"], f"{r['ready']}/{r['desired']}",
                   r["state"], ", ".join(r["running"] or r["images"])] for r in rows),
                 headers=("KIND", "NAME", "READY", "STATE", "RUNNING")))


@task(positional=["env"], help={
    "env": ENV_HELP,
    "dry_run": "print who holds the lock; delete nothing (default: off)"})
def unlock(c: Context, env: str | None = None, dry_run: bool = False) -> None:
    """Clear a stale deploy lock, printing who held it and since when."""
    from ..output import result
    from .lock import LEASE, holder_of
    from .lock import unlock as clear_lock

    settings, environment = _environment(c, env)
    kubectl = _kubectl(settings, environment)
    if dry_run:
        lease = kubectl.get_json("lease", LEASE)
        if lease is None:
            result(f"{environment.name} is not locked")
        else:
            result(f"would remove the lock of {environment.name} held by "
                   f"{holder_of(lease).describe()}")
        return
    holder = clear_lock(kubectl)
    if holder is None:
        result(f"{environment.name} is not locked")
        return
    result(f"removed the lock of {environment.name} held by {holder.describe()}")


ns = Collection("deploy")
for _task in (build, to, dev, staging, production, render, diff, history, rollback,
              secrets, status, unlock):
    ns.add_task(_task)
ns.configure({"tpo": defaults()})
