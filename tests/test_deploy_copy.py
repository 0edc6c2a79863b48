"""Production with its own registry: images copied by digest, never rebuilt."""

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from support.deploy import RegistryProxy, Scenario, scenario

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory,
        module_services: object) -> Iterator[Scenario]:
    proxy = RegistryProxy(module_services.registry)  # type: ignore[attr-defined]
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        with scenario(tmp_path_factory.mktemp("copy"), module_services) as s:
            s.run("staging", "deploy.staging")
            prod_registry = f"{proxy.address}/prod-{uuid.uuid4().hex[:8]}"
            s.project.write_config(environments={"production": {
                "registry": prod_registry}})
            s.prod_registry = prod_registry  # type: ignore[attr-defined]
            s.run("staging_history", "deploy.history", "staging", "--json")
            s.run("prod_dry_run", "deploy.production", "--dry-run")
            s.dry_run_log = list(proxy.log)  # type: ignore[attr-defined]
            s.run("prod_unconfirmed", "deploy.production", input="")
            s.unconfirmed_log = list(proxy.log)  # type: ignore[attr-defined]
            s.run("prod", "deploy.production", "--yes")
            s.first_log = list(proxy.log)  # type: ignore[attr-defined]
            proxy.log.clear()
            s.run("prod_again", "deploy.production", "--yes")
            s.second_log = list(proxy.log)  # type: ignore[attr-defined]
            s.run("prod_history", "deploy.history", "production", "--json")
            s.uploads = proxy  # type: ignore[attr-defined]
            yield s
    finally:
        proxy.shutdown()
        proxy.server_close()


def images(run: Scenario, name: str) -> dict[str, str]:
    return json.loads(run.steps[name].stdout)[0]["images"]


def uploads(log: list[tuple[str, str]]) -> list[str]:
    return [p.split("digest=", 1)[1].split("&", 1)[0] for m, p in log
            if m == "PUT" and "/blobs/uploads/" in p and "digest=" in p]


def test_promotion_succeeds(run: Scenario) -> None:
    assert run.steps["prod"].returncode == 0, run.steps["prod"].stderr


def test_copy_keeps_digest(run: Scenario) -> None:
    staged = images(run, "staging_history")["demo"].split("@")[1]
    promoted = images(run, "prod_history")["demo"]
    assert promoted == f"{run.prod_registry}/demo@{staged}"  # type: ignore


def test_each_layer_uploaded_at_most_once(run: Scenario) -> None:
    digests = uploads(run.first_log)  # type: ignore[attr-defined]
    assert digests
    assert len(digests) == len(set(digests))


def test_second_promotion_copies_nothing(run: Scenario) -> None:
    assert uploads(run.second_log) == []  # type: ignore[attr-defined]
    assert not [p for m, p in run.second_log  # type: ignore[attr-defined]
                if m == "PUT" and "/manifests/" in p]


def test_copy_never_builds(run: Scenario) -> None:
    assert "building" not in run.steps["prod"].stderr


def test_dry_run_copies_nothing(run: Scenario) -> None:
    assert run.dry_run_log == []  # type: ignore[attr-defined]
    assert "copy: " in run.steps["prod_dry_run"].stdout


def test_refused_promotion_copies_nothing(run: Scenario) -> None:
    assert run.steps["prod_unconfirmed"].returncode == 4
    assert run.unconfirmed_log == []  # type: ignore[attr-defined]
