"""Fixtures that start loopback fake Kubernetes API servers for the real kubectl.

``fake_kube`` is one fake (context ``fake``); ``fake_clusters`` is three fakes,
contexts ``dev``, ``staging`` and ``prod``, each on its own port, with
**current-context prod**, so a test can prove which server each kubectl call
reached (``fake_clusters.requests("prod") == []``). Both write a kubeconfig in the
test's tmp dir, export ``KUBECONFIG`` and ``KUBECACHEDIR`` (kubectl's discovery
cache, kept out of the home folder) for the test, and stop the servers afterwards.

``kubectl(*args, input=...)`` runs the real kubectl with that environment and
returns the completed process. Tests are skipped when kubectl is missing, or fail
when ``TPO_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.services import services_required

from tpo_tasks.testing.fake_kube import (
    FakeClusters,
    FakeKube,
    start_clusters,
    write_kubeconfig,
)

# Seconds per simulated rollout step: short for speed, long enough that kubectl
# observes a rollout in progress before it completes.
TEST_ROLLOUT_DELAY = 0.1
CONTEXTS = ("dev", "staging", "prod")


def _require_kubectl() -> None:
    if shutil.which("kubectl") is None:
        reason = "kubectl not installed; install kubectl 1.27 or newer"
        if services_required():
            pytest.fail(f"{reason} (TPO_REQUIRE_SERVICES=1 makes this a failure)")
        pytest.skip(reason)


def _export(monkeypatch: pytest.MonkeyPatch, kubeconfig: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kube-cache"))


@pytest.fixture
def fake_kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    """One fake cluster (context ``fake``) with its kubeconfig exported."""
    _require_kubectl()
    with FakeKube(context="fake", rollout_delay=TEST_ROLLOUT_DELAY) as fake:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"fake": fake})
        _export(monkeypatch, kubeconfig, tmp_path)
        yield fake


@pytest.fixture
def fake_clusters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeClusters]:
    """Fakes for contexts dev, staging and prod; current-context is prod."""
    _require_kubectl()
    with start_clusters(
        CONTEXTS,
        tmp_path / "kubeconfig",
        current="prod",
        rollout_delay=TEST_ROLLOUT_DELAY,
    ) as clusters:
        _export(monkeypatch, clusters.kubeconfig, tmp_path)
        yield clusters


def kubectl(
    *args: str, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl with the test's KUBECONFIG; never raises on exit codes."""
    return subprocess.run(
        ["kubectl", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
