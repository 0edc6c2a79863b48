"""Rendering 200 manifests with our rules against ``kubectl kustomize`` alone.

Builds a kustomize overlay of 100 Deployments and 100 Services in a temporary
folder, then times, alternating runs:

- baseline: ``kubectl kustomize OVERLAY`` with an empty kubeconfig;
- tpo: ``render_overlay`` (a generated kustomization pinning the image by digest,
  the same ``kubectl kustomize``), the deploy's own rules and the checks
  namespace's manifest checks, with strict schema validation off (the optional
  kubernetes-validate package is hidden unless ``--with-schema`` is given).

Prints the median of each and their ratio; the target is at most 2x.

    python bench/deploy_render.py --runs 15
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{n}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: svc-{n}}}
  template:
    metadata:
      labels: {{app: svc-{n}}}
    spec:
      securityContext: {{runAsNonRoot: true, runAsUser: 65534,
                         seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: app
          image: demo
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe: {{httpGet: {{path: /, port: http}}}}
          livenessProbe: {{httpGet: {{path: /, port: http}}}}
          resources:
            requests: {{cpu: 10m, memory: 16Mi}}
            limits: {{cpu: 100m, memory: 32Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{n}
spec:
  selector: {{app: svc-{n}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""


def make_overlay(folder: Path, pairs: int) -> Path:
    """Write a base of ``pairs`` Deployment+Service pairs and an overlay on it."""
    base = folder / "base"
    base.mkdir(parents=True)
    names = []
    for n in range(pairs):
        (base / f"svc-{n}.yaml").write_text(DEPLOYMENT.format(n=n))
        names.append(f"svc-{n}.yaml")
    (base / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"  - {name}\n" for name in names))
    overlay = folder / "overlays" / "staging"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(
        "resources:\n  - ../../base\nlabels:\n  - pairs: {tier: web}\n")
    return overlay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=100,
                        help="Deployment+Service pairs (default 100: 200 manifests)")
    parser.add_argument("--with-schema", action="store_true",
                        help="keep strict schema validation when kubernetes-validate "
                             "is installed (default: off, as if not installed)")
    options = parser.parse_args()
    if not options.with_schema:
        sys.modules["kubernetes_validate"] = None  # makes its import fail

    from tpo_tasks.config import load_settings
    from tpo_tasks.deploy.render import (
        deploy_rule_findings,
        manifest_check_results,
        render_overlay,
    )

    settings = load_settings({"tpo": {"deploy": {"services": {"demo": {}}}}})
    pins = {"demo": "127.0.0.1:5000/team/demo@sha256:" + "a" * 64}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        overlay = make_overlay(folder, options.pairs)
        empty = folder / "kubeconfig"
        empty.write_text("apiVersion: v1\nkind: Config\n")
        env = {**os.environ, "KUBECONFIG": str(empty)}

        def baseline() -> float:
            start = time.perf_counter()
            subprocess.run(["kubectl", "kustomize", str(overlay)], env=env,
                           check=True, capture_output=True)
            return time.perf_counter() - start

        def ours() -> float:
            start = time.perf_counter()
            rendered = render_overlay(overlay, "tally", pins)
            findings = deploy_rule_findings(rendered, pins, "tally")
            results = manifest_check_results(rendered.text, "overlay", settings)
            elapsed = time.perf_counter() - start
            assert len(rendered.documents) == 2 * options.pairs, "render lost objects"
            assert not findings, findings
            assert not [r for r in results if r.status in ("fail", "error")], results
            return elapsed

        ours()  # warm imports and caches on both sides
        baseline()
        base_times, our_times = [], []
        for _ in range(options.runs):
            base_times.append(baseline())
            our_times.append(ours())
    base = statistics.median(base_times)
    mine = statistics.median(our_times)
    print(f"manifests: {2 * options.pairs}, runs: {options.runs}")
    print(f"kubectl kustomize alone:        {base * 1000:7.1f} ms (median)")
    print(f"render + deploy rules + checks: {mine * 1000:7.1f} ms (median)")
    print(f"ratio: {mine / base:.2f}x (target <= 2.00x)")


if __name__ == "__main__":
    main()
