"""Benchmark the issues namespace against 5,000 open issues served by the fake API.

Three comparisons, each run side by side in the same invocation:

1. Fetch: the issue list through ``tpo_tasks.github`` (ghapi) against 50
   sequential ``curl`` processes fetching the same 50 pages. Targets: exactly 50
   list requests, wall time at most 1.3x curl's.
2. First ``tpo issues.sync --all`` (a fresh process: fetch, render, 10,000 files)
   against a plain Python loop that writes the same 10,000 files with
   ``write_text_atomic`` (the same fsync-per-file policy). Target: at most 2x.
   The sync writes on eight threads, so the same writes on eight threads are
   timed too, to show the sync's own overhead.
3. An unchanged re-sync: at most 50 requests, each conditional or narrowed by
   ``since``, no file written, under a third of the first sync's time.

The fake runs in its own process so that it does not share the GIL with the
measured client.

    python bench/issues_sync.py [--issues 5000] [--runs 3]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = "octo/bench"
ROOT = Path(__file__).resolve().parent.parent


def start_fake(issues: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tpo_tasks.testing.fake_github", "--repo", REPO,
         "--issues", str(issues), "--links", "next"],
        stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise SystemExit(f"fake GitHub did not start: {url!r}")
    return process, url


def request_log(url: str, method: str = "GET") -> list[dict]:
    request = urllib.request.Request(f"{url}/_fake/requests", method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def time_curl(url: str, pages: int) -> float:
    started = time.perf_counter()
    for page in range(1, pages + 1):
        subprocess.run(
            ["curl", "-sS", "--fail", "-o", os.devnull, "-H",
             "Accept: application/vnd.github.v3+json",
             f"{url}/repos/{REPO}/issues?state=open&per_page=100&page={page}"],
            check=True)
    return time.perf_counter() - started


def time_fetch(url: str) -> tuple[float, float, int, int]:
    """Return (connect seconds, fetch seconds, requests, items) in this process."""
    from tpo_tasks import github
    from tpo_tasks.issues.state import RepoState
    from tpo_tasks.issues.sync import fetch_changes

    os.environ["GITHUB_API_URL"] = url
    started = time.perf_counter()
    client = github.connect(REPO)
    connected = time.perf_counter()
    fetched = fetch_changes(client, RepoState(), [], lambda message: None)
    finished = time.perf_counter()
    client.close()
    return (connected - started, finished - connected, client.request_count,
            len(fetched.items))


def tpo_sync(folder: Path, url: str) -> float:
    env = {**os.environ, "GITHUB_API_URL": url}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tpo_tasks", "issues.sync", "--repo", REPO,
                    "--all"], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def new_repo(base: Path, name: str) -> Path:
    folder = base / name
    folder.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True)
    return folder


def docs_of(folder: Path) -> dict[Path, str]:
    docs = folder / ".github" / "issues"
    return {path.relative_to(docs): path.read_text(encoding="utf-8")
            for path in docs.rglob("*") if path.is_file()
            and path.name != ".sync-state.json"}


def time_plain_writes(target: Path, files: dict[Path, str]) -> float:
    from tpo_tasks.fileio import write_text_atomic

    started = time.perf_counter()
    for relative, text in files.items():
        write_text_atomic(target / relative, text, fsync=True)
    return time.perf_counter() - started


def time_threaded_writes(target: Path, files: dict[Path, str]) -> float:
    """Write the files the way ``issues.sync --all`` does, on several threads."""
    from tpo_tasks.issues.sync import write_files

    started = time.perf_counter()
    write_files([(target / relative, text) for relative, text in files.items()],
                fsync=True, progress=lambda message: None)
    return time.perf_counter() - started


def stamps(folder: Path, *, state: bool = False) -> dict[str, tuple[int, int]]:
    """Return (mtime, inode) of the docs, and of the sync state when ``state``."""
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in (folder / ".github" / "issues").rglob("*")
            if p.is_file() and (state or p.name != ".sync-state.json")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl not found on PATH; install curl")
    pages = -(-args.issues // 100)
    fake, url = start_fake(args.issues)
    base = Path(tempfile.mkdtemp(prefix="tpo-bench-issues-"))
    try:
        curl_times, fetch_times, connect_times = [], [], []
        for _ in range(args.runs):
            request_log(url, "DELETE")
            curl_times.append(time_curl(url, pages))
            request_log(url, "DELETE")
            connect, fetch, requests, items = time_fetch(url)
            served = [r for r in request_log(url) if r["path"].endswith("/issues")]
            connect_times.append(connect)
            fetch_times.append(fetch)
            assert requests == pages == len(served), (requests, pages, len(served))
            assert items == args.issues, items
        curl_s, fetch_s = statistics.median(curl_times), statistics.median(fetch_times)
        connect_s = statistics.median(connect_times)
        print(f"fetch {args.issues} issues: {pages} requests")
        print(f"  50 curl processes   {curl_s:7.3f} s (median of {args.runs})")
        print(f"  tpo_tasks.github    {fetch_s:7.3f} s  ratio {fetch_s / curl_s:.2f}x "
              "(target <= 1.3x)")
        print(f"  + connect (import ghapi, build GhApi) {connect_s:.3f} s; with it "
              f"{(fetch_s + connect_s) / curl_s:.2f}x")

        first_times, plain_times, threaded_times, resync_times = [], [], [], []
        resync_requests: list[dict] = []
        for run in range(args.runs):
            repo = new_repo(base, f"sync-{run}")
            request_log(url, "DELETE")
            first_times.append(tpo_sync(repo, url))
            files = docs_of(repo)
            assert len(files) == 2 * args.issues, len(files)
            plain_times.append(time_plain_writes(base / f"plain-{run}", files))
            threaded_times.append(time_threaded_writes(base / f"threads-{run}", files))
            before = stamps(repo)
            request_log(url, "DELETE")
            resync_times.append(tpo_sync(repo, url))
            resync_requests = request_log(url)
            assert stamps(repo) == before, "the unchanged re-sync wrote files"
        first_s = statistics.median(first_times)
        plain_s = statistics.median(plain_times)
        resync_s = statistics.median(resync_times)
        threaded_s = statistics.median(threaded_times)
        narrowed = all("since" in r["query"] or r["if_none_match"]
                       for r in resync_requests)
        print(f"first issues.sync --all ({2 * args.issues} files, fsync per file)")
        print(f"  plain write loop    {plain_s:7.3f} s (median of {args.runs})")
        print(f"  tpo issues.sync     {first_s:7.3f} s  ratio {first_s / plain_s:.2f}x "
              "(target <= 2x)")
        from tpo_tasks.issues.sync import WRITE_THREADS

        print(f"  the same writes on {WRITE_THREADS} threads {threaded_s:7.3f} s; "
              f"tpo against it {first_s / threaded_s:.2f}x")
        print("unchanged re-sync")
        print(f"  tpo issues.sync     {resync_s:7.3f} s  {resync_s / first_s:.3f} of "
              "the first sync (target < 0.333)")
        print(f"  requests {len(resync_requests)} (target <= 50), each conditional "
              f"or since-narrowed: {narrowed}; files written: 0")
        # One more re-sync: the stored ETag now matches, so the response is a 304,
        # and not even the sync state changes.
        before = stamps(repo, state=True)
        request_log(url, "DELETE")
        tpo_sync(repo, url)
        statuses = [r["status"] for r in request_log(url)]
        untouched = stamps(repo, state=True) == before
        print(f"  a further re-sync: statuses {statuses}; no file written, the "
              f"state file included: {untouched}")
    finally:
        fake.terminate()
        fake.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
