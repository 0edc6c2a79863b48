"""Failed rollouts, automatic rollback, notifications, the history cap, the lock
and secrets: one scenario against fake clusters, checked step by step."""

import base64
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jsonschema
import pytest
from support.deploy import Scenario, Step, scenario

from tpo_tasks.deploy.lock import lease_object
from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_kube import Fault

pytestmark = pytest.mark.docker

SECRET_VALUES = {"DATABASE_URL": "postgres://app:pw-Xq81zz@db/app",
                 "API_TOKEN": "tok-3f9a77c1e0d2"}


class Receiver(HTTPServer):
    """A loopback webhook receiver storing each JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def create_lease(run: Scenario, owner: str, started: datetime, ttl: int) -> None:
    lease = lease_object("demo", owner, "build-host", started, ttl, f"{owner}@x/1")
    subprocess.run(
        ["kubectl", "--kubeconfig", str(run.project.clusters.kubeconfig),
         "--context", "staging", "--namespace", "demo", "create", "-f", "-"],
        input=json.dumps(lease), text=True, check=True, capture_output=True)


def files_containing(folder: Path, text: str, since: float) -> list[Path]:
    """Files under ``folder`` changed since ``since`` that contain ``text``."""
    found = []
    for directory, _, names in os.walk(folder, onerror=lambda error: None):
        for name in names:
            path = Path(directory, name)
            try:
                if path.stat().st_mtime >= since and text.encode() in path.read_bytes():
                    found.append(path)
            except OSError:
                continue  # removed meanwhile by another process, or unreadable
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory,
        module_services: object) -> Iterator[Scenario]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    tmp = tmp_path_factory.mktemp("failure")
    try:
        with scenario(tmp, module_services) as s:
            staging = s.project.clusters.servers["staging"]
            url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
            s.project.write_config(notify_url=url)
            s.run("staging", "deploy.staging")

            staging.add_fault(Fault(mode="never-ready", times=1))
            s.project.write_config(notify_url=url, environments={"staging": {
                "overlay": "kube/overlays/variant", "rollout_timeout": 2}})
            s.run("auto", "deploy.staging")
            s.template = staging.get(  # type: ignore[attr-defined]
                "apps/v1", "Deployment", "demo", namespace="demo")["spec"]["template"]
            s.run("auto_history", "deploy.history", "staging", "--json")

            staging.add_fault(Fault(mode="progress-deadline", times=1, after=0.2))
            s.project.write_config(notify_url=url, environments={"staging": {
                "overlay": "kube/overlays/variant-3", "rollout_timeout": 3}})
            s.run("no_rollback", "deploy.staging", "--no-rollback")
            s.run("no_rollback_history", "deploy.history", "staging", "--json")

            staging.clear_faults()
            s.project.write_config(notify_url=url, history_limit=3)
            create_lease(s, "alice", datetime.now(UTC), 900)
            s.run("locked", "deploy.staging")
            s.run("unlock_dry_run", "deploy.unlock", "staging", "--dry-run")
            s.run("unlock", "deploy.unlock", "staging")
            s.run("unlocked_again", "deploy.unlock", "staging")
            create_lease(s, "bob", datetime.now(UTC) - timedelta(hours=2), 60)
            s.run("takeover", "deploy.staging")
            s.run("capped_history", "deploy.history", "staging", "--json")
            s.lease_after = staging.get(  # type: ignore[attr-defined]
                "coordination.k8s.io/v1", "Lease", "tpo-deploy-lock", namespace="demo")

            env_file = s.project.root.parent / "app.env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in SECRET_VALUES.items()))
            s.run("secrets_dry", "deploy.secrets", "staging", "--from-env-file",
                  str(env_file), "--dry-run")
            started = datetime.now().timestamp() - 1
            s.run("secrets", "deploy.secrets", "staging", "--from-env-file",
                  str(env_file), "--name", "app-env")
            found = [
                *files_containing(Path(tempfile.gettempdir()),
                                  SECRET_VALUES["API_TOKEN"], started),
                *files_containing(s.project.root,
                                  SECRET_VALUES["API_TOKEN"], started)]
            s.leftovers = [p for p in found if p != env_file]  # type: ignore
            s.secret = staging.get(  # type: ignore[attr-defined]
                "v1", "Secret", "app-env", namespace="demo")
            s.notifications = list(receiver.bodies)  # type: ignore[attr-defined]
            yield s
    finally:
        receiver.shutdown()
        receiver.server_close()


def step(run: Scenario, name: str) -> Step:
    return run.steps[name]


def revisions(run: Scenario, name: str) -> list[dict]:
    return json.loads(step(run, name).stdout)


def test_first_deploy_succeeds(run: Scenario) -> None:
    assert step(run, "staging").returncode == 0, step(run, "staging").stderr


def test_failed_rollout_exits_one(run: Scenario) -> None:
    assert step(run, "auto").returncode == 1


def test_failure_prints_pod_events(run: Scenario) -> None:
    assert "BackOff" in step(run, "auto").stderr


def test_failure_prints_last_log_lines(run: Scenario) -> None:
    assert "missing required setting DATABASE_URL" in step(run, "auto").stderr


def test_failure_rolls_back_automatically(run: Scenario) -> None:
    newest, failed, first = revisions(run, "auto_history")[:3]
    assert (newest["result"], newest["rollback_of"]) == ("succeeded", first["revision"])
    assert failed["result"] == "failed"


def test_failed_revision_records_reason(run: Scenario) -> None:
    failed = revisions(run, "auto_history")[1]
    assert "deployment/demo" in failed["reason"]


def test_rollback_restores_previous_template(run: Scenario) -> None:
    annotations = run.template["metadata"].get("annotations") or {}  # type: ignore
    assert "demo/variant" not in annotations


def test_no_rollback_flag_keeps_failed_revision_newest(run: Scenario) -> None:
    assert step(run, "no_rollback").returncode == 1
    assert revisions(run, "no_rollback_history")[0]["result"] == "failed"


def test_progress_deadline_is_reported(run: Scenario) -> None:
    assert "ProgressDeadlineExceeded" in step(run, "no_rollback").stderr


def test_history_is_capped_by_limit(run: Scenario) -> None:
    assert len(revisions(run, "capped_history")) == 3


def test_capped_history_keeps_newest(run: Scenario) -> None:
    numbers = [r["revision"] for r in revisions(run, "capped_history")]
    assert numbers[0] == max(r["revision"] for r in revisions(
        run, "no_rollback_history")) + 1


def test_held_lock_refuses_deploy(run: Scenario) -> None:
    locked = step(run, "locked")
    assert locked.returncode == 4, locked.stderr
    assert "alice" in locked.stderr
    changed = [(r.method, r.path, r.status) for r in locked.mutating("staging")
               if r.status < 400]
    assert changed == []


def test_unlock_names_holder(run: Scenario) -> None:
    assert "alice on build-host since" in step(run, "unlock").stdout


def test_unlock_dry_run_names_holder_and_keeps_lock(run: Scenario) -> None:
    dry = step(run, "unlock_dry_run")
    assert "would remove the lock of staging held by alice" in dry.stdout
    assert [r for r in dry.mutating("staging") if r.status < 400] == []


def test_unlock_without_lock_says_so(run: Scenario) -> None:
    assert "not locked" in step(run, "unlocked_again").stdout


def test_expired_lock_taken_over_with_warning(run: Scenario) -> None:
    assert step(run, "takeover").returncode == 0, step(run, "takeover").stderr
    assert "taking over the expired deploy lock of bob" in step(
        run, "takeover").stderr


def test_lock_released_after_deploy(run: Scenario) -> None:
    assert run.lease_after is None  # type: ignore[attr-defined]


def test_notification_reports_failure_and_rollback(run: Scenario) -> None:
    failed = [b for b in run.notifications if b["result"] == "failed"]  # type: ignore
    assert failed[0]["rolled_back_to"] == 1
    assert "deployment/demo" in failed[0]["reason"]


def test_notifications_match_schema(run: Scenario) -> None:
    schema = load_schema("deploy-notify.schema.json")
    for body in run.notifications:  # type: ignore[attr-defined]
        jsonschema.validate(body, schema)


def test_notification_sent_for_success(run: Scenario) -> None:
    first = run.notifications[0]  # type: ignore[attr-defined]
    assert (first["environment"], first["result"]) == ("staging", "succeeded")


def test_secret_applied_with_values(run: Scenario) -> None:
    data = run.secret["data"]  # type: ignore[attr-defined]
    assert base64.b64decode(data["API_TOKEN"]).decode() == SECRET_VALUES["API_TOKEN"]


def test_secret_output_lists_key_names(run: Scenario) -> None:
    assert "API_TOKEN, DATABASE_URL" in step(run, "secrets").stdout


@pytest.mark.parametrize("name", ["secrets", "secrets_dry"])
def test_secret_values_never_printed(run: Scenario, name: str) -> None:
    for value in SECRET_VALUES.values():
        assert value not in step(run, name).stdout + step(run, name).stderr


def test_secret_values_never_in_argv(run: Scenario) -> None:
    argv = json.dumps(step(run, "secrets").argv)
    assert step(run, "secrets").argv
    assert all(value not in argv for value in SECRET_VALUES.values())
    encoded = base64.b64encode(SECRET_VALUES["API_TOKEN"].encode()).decode()
    assert encoded not in argv


def test_secret_leaves_no_file(run: Scenario) -> None:
    assert run.leftovers == []  # type: ignore[attr-defined]


def test_secret_dry_run_applies_nothing(run: Scenario) -> None:
    assert step(run, "secrets_dry").mutating("staging") == []


def test_secret_values_never_in_history(run: Scenario) -> None:
    text = json.dumps(revisions(run, "capped_history"))
    assert all(value not in text for value in SECRET_VALUES.values())
