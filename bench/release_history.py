"""Benchmark release planning and changelog generation on long generated histories.

For each size (commits, tags) the script generates a linear repository with
``git fast-import``. Its commits have Conventional Commit messages (every tenth one
free-form), annotated tags ``v1.K.0`` are evenly spaced, and ``pyproject.toml``
holds the last tag's version and a ``[tool.commitizen]`` table. The script then
times these side by side, each under ``unshare -n`` (no network, because
git-cliff checks for updates otherwise):

- planning: ``tpo release.plan --json``, ``cz bump --get-next``,
  ``git-cliff --bumped-version``;
- a whole changelog from history: ``tpo release.changelog --from-history``,
  ``cz changelog``, ``git-cliff -o CHANGELOG.md`` (the file is removed before each run).

commitizen and git-cliff are installed into a separate virtual environment
(``--peers-venv``, created when missing), never into the project's.

Usage::

    python bench/release_history.py --peers-venv /work/bench-venv --runs 3
    python bench/release_history.py --sizes 10000:100 --runs 1
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_SIZES = "10000:100,10000:1000,50000:100,50000:1000"
IDENTITY = "Bench Author <bench@example.test>"
START = 1_700_000_000  # commit timestamps count up from here, one minute apart
MESSAGES = [
    "feat(api): add endpoint {i}",
    "fix: handle empty input in parser {i}",
    "chore: update dependencies {i}",
    "docs: explain option {i}",
    "refactor(core): split module {i}",
    "fix(io): close file handle {i}\n\nThe handle leaked when the read failed.\n",
    "perf: cache lookup {i}",
    "test: cover case {i}",
    "feat: support format {i}\n\nAdds a reader and a writer.\n\nRefs: #{i}\n",
    "Update the README {i}",
]
PYPROJECT = """\
[project]
name = "bench"
version = "{version}"

[tool.commitizen]
name = "cz_conventional_commits"
version_provider = "pep621"
tag_format = "v$version"
"""


def data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(path: Path, commits: int, tags: int) -> None:
    """Create a linear repository with ``commits`` commits and ``tags`` tags."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    step = commits // (tags + 1)
    tag_at = {step * k: f"1.{k}.0" for k in range(1, tags + 1)}
    stream = bytearray()
    for index in range(1, commits + 1):
        stamp = START + index * 60
        message = MESSAGES[index % len(MESSAGES)].format(i=index)
        stream += b"commit refs/heads/main\nmark :%d\n" % index
        stream += f"committer {IDENTITY} {stamp} +0000\n".encode()
        stream += data(message)
        if index > 1:
            stream += b"from :%d\n" % (index - 1)
        else:
            stream += b"M 100644 inline pyproject.toml\n"
            stream += data(PYPROJECT.format(version=f"1.{tags}.0"))
        stream += b"M 100644 inline src/file%d.txt\n" % (index % 200)
        stream += data(f"content {index}\n")
        if index in tag_at:
            version = tag_at[index]
            stream += f"tag v{version}\nfrom :{index}\n".encode()
            stream += f"tagger {IDENTITY} {stamp} +0000\n".encode()
            stream += data(f"Release {version}")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream),
                   check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)


def ensure_peers(venv: Path) -> None:
    """Create ``venv`` with commitizen and git-cliff when they are missing."""
    if (venv / "bin" / "cz").exists() and (venv / "bin" / "git-cliff").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "commitizen",
                    "git-cliff"], check=True)


def offline(args: list[str]) -> list[str]:
    """Return ``args`` prefixed with ``unshare -n`` when this process may use it."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "-n", *args]
    return args


def run_once(args: list[str], cwd: Path, timeout: float,
             remove: Path | None) -> tuple[float | None, str]:
    """Return the wall time of one run (None on failure) and its stdout or error."""
    if remove is not None:
        remove.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        completed = subprocess.run(offline(args), cwd=cwd, capture_output=True,
                                   text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        return None, (completed.stderr or completed.stdout).strip()[-300:]
    return elapsed, completed.stdout


def measure_group(commands: list[tuple[str, list[str], Path | None]], cwd: Path,
                  runs: int, timeout: float) -> list[tuple[float | None, str]]:
    """Return each command's median time and last output over ``runs`` rounds.

    The commands take turns in every round, so load from other processes falls
    on all of them alike.
    """
    times: list[list[float]] = [[] for _ in commands]
    outputs = [""] * len(commands)
    failed: dict[int, str] = {}
    for _ in range(runs):
        for index, (_, args, remove) in enumerate(commands):
            if index in failed:
                continue
            seconds, output = run_once(args, cwd, timeout, remove)
            if seconds is None:
                failed[index] = output
                continue
            times[index].append(seconds)
            outputs[index] = output
    return [(None, failed[index]) if index in failed
            else (statistics.median(times[index]), outputs[index])
            for index in range(len(commands))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated COMMITS:TAGS (default {DEFAULT_SIZES})")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per command; the median is reported (default 3)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds before one run counts as failed (default 900)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("TMPDIR", "/tmp")) / "tpo-bench",
                        help="where the repositories are generated")
    parser.add_argument("--peers-venv", type=Path,
                        default=Path.home() / ".cache" / "tpo-tasks" / "bench-venv",
                        help="virtual environment for commitizen and git-cliff")
    options = parser.parse_args()

    ensure_peers(options.peers_venv)
    tpo = shutil.which("tpo") or str(Path(sys.executable).parent / "tpo")
    cz = str(options.peers_venv / "bin" / "cz")
    cliff = str(options.peers_venv / "bin" / "git-cliff")
    env_note = "unshare -n" if offline(["x"])[0] == "unshare" else "network allowed"
    print(f"# tools run with {env_note}; median of {options.runs} runs; seconds")

    for size in options.sizes.split(","):
        commits, tags = (int(part) for part in size.split(":"))
        repo = options.workdir / f"history-{commits}-{tags}"
        started = time.perf_counter()
        generate(repo, commits, tags)
        print(f"\n## {commits} commits, {tags} tags "
              f"(generated in {time.perf_counter() - started:.1f} s)")
        changelog = repo / "CHANGELOG.md"
        groups = {
            "plan": [
                ("tpo release.plan --json", [tpo, "release.plan", "--json"], None),
                ("cz bump --get-next", [cz, "bump", "--get-next"], None),
                ("git-cliff --bumped-version", [cliff, "--bumped-version"], None),
            ],
            "changelog": [
                ("tpo release.changelog --from-history",
                 [tpo, "release.changelog", "--from-history"], changelog),
                ("cz changelog", [cz, "changelog"], changelog),
                ("git-cliff -o CHANGELOG.md", [cliff, "-o", "CHANGELOG.md"], changelog),
            ],
        }
        for group, commands in groups.items():
            ours = None
            measured = measure_group(commands, repo, options.runs, options.timeout)
            for (label, _, _), (seconds, output) in zip(commands, measured,
                                                        strict=True):
                if seconds is None:
                    print(f"{group:9} {label:40} failed: {output}")
                    continue
                if ours is None:
                    ours = seconds
                ratio = seconds / ours
                detail = ""
                if group == "plan":
                    text = output.strip()
                    if text.startswith("{"):
                        text = str(json.loads(text)["next_version"])
                    detail = f"  next={text.splitlines()[-1] if text else '?'}"
                print(f"{group:9} {label:40} {seconds:8.3f}  x{ratio:6.2f}{detail}",
                      flush=True)
        changelog.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
