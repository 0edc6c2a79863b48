"""Promotion cost: production never builds, uploads no layer, and does not grow
with image size; a staging deploy of an image already pushed does not rebuild.

Needs the Docker daemon and registry of ``scripts/services-start`` (read from
``.services/env`` or ``DOCKER_HOST`` and ``TPO_TEST_REGISTRY``). For each image
size (default 1 MB and 200 MB of random data added to the demo image) it makes a
demo repository, starts three fake clusters, and runs the real ``tpo``:

1. ``deploy.staging`` (builds and pushes), then ``deploy.staging`` again;
2. ``deploy.production --yes`` sharing staging's registry;
3. ``deploy.production --yes`` into a separate registry (a copy by digest).

Every registry request passes through a counting proxy, so the script reports
builds (from the task output), blob uploads and wall time per step.

    python bench/deploy_promote.py [--sizes 1,200] [--runs 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def services() -> dict[str, str]:
    if os.environ.get("DOCKER_HOST") and os.environ.get("TPO_TEST_REGISTRY"):
        return {"DOCKER_HOST": os.environ["DOCKER_HOST"],
                "TPO_TEST_REGISTRY": os.environ["TPO_TEST_REGISTRY"]}
    env_file = ROOT / ".services" / "env"
    if not env_file.is_file():
        sys.exit("services not running: run scripts/services-start first")
    values = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            values[name] = value.strip("'\"")
    return values


def tpo(root: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tpo_tasks", *args], cwd=root,
                          env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"tpo {' '.join(args)} failed ({done.returncode}): "
                 f"{done.stderr.strip()[-2000:]}")
    return elapsed, done.stderr


def make_project(folder: Path, size_mb: int, registry: str, kube: object) -> Path:
    import yaml
    from support.deploy import default_config, make_demo_repository

    root = make_demo_repository(folder / "demo")
    with open(root / "payload", "wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(1 << 20))
    dockerfile = (root / "Dockerfile").read_text().replace(
        "COPY www/ /www/", "COPY www/ /www/\nCOPY payload /payload")
    (root / "Dockerfile").write_text(dockerfile)
    from conftest import git

    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"feat: {size_mb} MB payload")
    config = default_config(registry, kube)
    config["environments"]["staging"]["rollout_timeout"] = 60
    config["environments"]["production"]["rollout_timeout"] = 60
    (root / "invoke.yaml").write_text(yaml.safe_dump({"tpo": {"deploy": config}}))
    return root


def set_prod_registry(root: Path, registry: str | None) -> None:
    import yaml

    data = yaml.safe_load((root / "invoke.yaml").read_text())
    production = data["tpo"]["deploy"]["environments"]["production"]
    if registry:
        production["registry"] = registry
    else:
        production.pop("registry", None)
    (root / "invoke.yaml").write_text(yaml.safe_dump(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,200", help="image payloads in MB")
    parser.add_argument("--runs", type=int, default=3,
                        help="production runs per size (median reported)")
    options = parser.parse_args()

    from conftest import GIT_IDENTITY
    from support.deploy import Clusters, RegistryProxy

    from tpo_tasks.testing.fake_kube import FakeKube, write_kubeconfig

    found = services()
    proxy = RegistryProxy(found["TPO_TEST_REGISTRY"])
    prod_proxy = RegistryProxy(found["TPO_TEST_REGISTRY"])
    for server in (proxy, prod_proxy):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("INVOKE_", "TPO_")) and name != "KUBECONFIG"}
    env.update(GIT_IDENTITY, DOCKER_HOST=found["DOCKER_HOST"], DOCKER_BUILDKIT="0")
    rows = []
    for size in [int(s) for s in options.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            servers = {n: FakeKube(context=n, rollout_delay=0.05).start()
                       for n in ("dev", "staging", "prod")}
            try:
                kubeconfig = write_kubeconfig(folder / "kubeconfig", dict(servers),
                                              current="prod")
                kube = Clusters(kubeconfig, servers)
                registry = f"{proxy.address}/bench-{uuid.uuid4().hex[:8]}"
                root = make_project(folder, size, registry, kube)

                build_time, output = tpo(root, env, "deploy.staging")
                rows.append((size, "staging (build + push)", build_time,
                             output.count("building demo"), len(proxy.blob_uploads())))
                proxy.log.clear()
                again, output = tpo(root, env, "deploy.staging")
                rows.append((size, "staging again (image in registry)", again,
                             output.count("building demo"), len(proxy.blob_uploads())))

                times, builds, uploads = [], 0, 0
                for _ in range(options.runs):
                    proxy.log.clear()
                    elapsed, output = tpo(root, env, "deploy.production", "--yes")
                    times.append(elapsed)
                    builds += output.count("building demo")
                    uploads += len(proxy.blob_uploads())
                rows.append((size, "production, shared registry",
                             statistics.median(times), builds, uploads))

                suffix = uuid.uuid4().hex[:8]
                prod_registry = f"{prod_proxy.address}/bench-prod-{suffix}"
                set_prod_registry(root, prod_registry)
                prod_proxy.log.clear()
                copy_time, output = tpo(root, env, "deploy.production", "--yes")
                digests = prod_proxy.blob_uploads()
                rows.append((size, "production, own registry (copy)", copy_time,
                             output.count("building demo"), len(digests)))
                duplicates = len(digests) - len(set(digests))
                prod_proxy.log.clear()
                again_time, _ = tpo(root, env, "deploy.production", "--yes")
                rows.append((size, "production, own registry again", again_time, 0,
                             len(prod_proxy.blob_uploads())))
                rows.append((size, "  layers uploaded twice in the copy", 0.0, 0,
                             duplicates))
            finally:
                for server in servers.values():
                    server.stop()
                shutil.rmtree(folder, ignore_errors=True)
    proxy.shutdown()
    prod_proxy.shutdown()
    print(f"{'image':>7}  {'step':<36} {'wall s':>7} {'builds':>6} {'uploads':>7}")
    for size, name, elapsed, builds, uploads in rows:
        print(f"{size:>5}MB  {name:<36} {elapsed:7.2f} {builds:>6} {uploads:>7}")


if __name__ == "__main__":
    main()
