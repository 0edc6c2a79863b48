"""A small read-only HTTP status endpoint: ``/healthz`` and ``/version`` as JSON.

The package's container image runs it so that Kubernetes probes and post-deploy
health checks have a real target::

    python -m tpo_tasks.status_server --host 0.0.0.0 --port 8080

The revision comes from ``TPO_REVISION`` (set at image build time), else from
``git rev-parse HEAD`` in the current folder, else ``unknown``.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import __version__


def detect_revision() -> str:
    """Return the git revision this code was built from, or ``unknown``."""
    revision = os.environ.get("TPO_REVISION", "").strip()
    if revision:
        return revision
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return completed.stdout.strip() if completed.returncode == 0 else "unknown"


class StatusHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD on ``/healthz`` and ``/version``; rejects other methods."""

    server_version = "tpo-status"
    sys_version = ""
    revision = "unknown"

    def _body(self) -> tuple[HTTPStatus, dict[str, str]]:
        path = self.path.split("?", 1)[0]
        info = {"version": __version__, "revision": self.revision}
        if path == "/healthz":
            return HTTPStatus.OK, {"status": "ok", **info}
        if path == "/version":
            return HTTPStatus.OK, info
        return HTTPStatus.NOT_FOUND, {
            "error": "not found",
            "paths": "/healthz, /version",
        }

    def _respond(self, include_body: bool) -> None:
        status, body = self._body()
        payload = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if include_body:
            self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._respond(include_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(include_body=False)

    def _reject(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_PATCH = do_DELETE = _reject

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(host: str, port: int) -> ThreadingHTTPServer:
    """Create the status server bound to ``host:port`` (port 0 picks a free one)."""
    handler = type(
        "BoundStatusHandler", (StatusHandler,), {"revision": detect_revision()}
    )
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    """Run the status server until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m tpo_tasks.status_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="TCP port to listen on, 0 for any free one (default: 8080)",
    )
    args = parser.parse_args(argv)
    server = serve(args.host, args.port)
    host, port = server.server_address[:2]
    print(f"serving /healthz and /version on http://{host}:{port}", flush=True)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
