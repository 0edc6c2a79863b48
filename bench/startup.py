"""Compare ``inv --list`` start-up with tpo-tasks against a one-task tasks.py.

Runs both side by side, alternating, and prints the median wall time of each and
their ratio. Target: the tpo-tasks run takes at most 1.25x the baseline.

    python bench/startup.py [--runs 30]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_TASKS = '''from invoke import task


@task
def hello(c):
    """Say hello."""
    print("hello")
'''
TPO_TASKS = "from tpo_tasks import namespace  # noqa: F401\n"


def time_list(folder: Path) -> float:
    inv = Path(sys.executable).with_name("inv")
    started = time.perf_counter()
    subprocess.run(
        [str(inv), "--list"],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=30, help="runs of each (default 30)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        baseline = Path(workdir, "baseline")
        consumer = Path(workdir, "consumer")
        for folder, text in ((baseline, BASELINE_TASKS), (consumer, TPO_TASKS)):
            folder.mkdir()
            (folder / "tasks.py").write_text(text)
            time_list(folder)  # warm the page cache and write bytecode
        base_times, tpo_times = [], []
        for _ in range(args.runs):
            base_times.append(time_list(baseline))
            tpo_times.append(time_list(consumer))
    base = statistics.median(base_times)
    tpo = statistics.median(tpo_times)
    print(f"inv --list, one-task tasks.py: median {base * 1000:.1f} ms")
    print(f"inv --list, tpo_tasks namespace: median {tpo * 1000:.1f} ms")
    print(f"ratio: {tpo / base:.2f}x (target <= 1.25x)")


if __name__ == "__main__":
    main()
