"""checks.health: HTTP health URLs with bounded retries, against loopback servers."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest
from conftest import run_tpo

from tpo_tasks.checks.health import RetryPolicy, check_url
from tpo_tasks.templates import load_schema


class HealthServer:
    """Answers /flaky with 503 ``failures`` times then 200; /ok 200; /missing 404."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits.append(self.path)
                if self.path == "/ok":
                    code = 200
                elif self.path == "/missing":
                    code = 404
                elif outer.failures > 0:
                    outer.failures -= 1
                    code = 503
                else:
                    code = 200
                body = b'{"status": "ok"}'
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    server = HealthServer(failures=2)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


FAST = RetryPolicy(attempts=4, delay=0.01, max_delay=0.02, timeout=2)


def test_ok_url_passes_first_time(health_server: HealthServer) -> None:
    result = check_url(health_server.base + "/ok", FAST)
    assert result.status == "pass"
    assert health_server.hits == ["/ok"]


def test_flaky_url_passes_after_retries(health_server: HealthServer) -> None:
    waits: list[float] = []
    result = check_url(health_server.base + "/flaky", FAST, sleep=waits.append)
    assert result.status == "pass"
    assert "after 3 attempts" in result.message
    assert waits == [0.01, 0.02]


def test_retries_are_bounded(health_server: HealthServer) -> None:
    health_server.failures = 100
    result = check_url(health_server.base + "/flaky", FAST, sleep=lambda _: None)
    assert result.status == "fail"
    assert len(health_server.hits) == 4


def test_client_error_fails_without_retry(health_server: HealthServer) -> None:
    result = check_url(health_server.base + "/missing", FAST)
    assert result.status == "fail"
    assert "HTTP 404" in result.message
    assert len(health_server.hits) == 1


def test_refused_connection_fails() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check_url(f"http://127.0.0.1:{port}/", FAST, sleep=lambda _: None)
    assert result.status == "fail"


def test_health_task_json(health_server: HealthServer, tmp_path) -> None:
    completed = run_tpo(
        "checks.health",
        "--url",
        health_server.base + "/ok",
        "--url",
        health_server.base + "/missing",
        "--attempts",
        "2",
        "--json",
        cwd=tmp_path,
    )
    data = json.loads(completed.stdout)
    jsonschema.validate(data, load_schema("checks-report.schema.json"))
    assert [r["status"] for r in data["results"]] == ["pass", "fail"]
    assert completed.returncode == 1


def test_health_task_rejects_bad_url(tmp_path) -> None:
    completed = run_tpo("checks.health", "--url", "ftp://x", cwd=tmp_path)
    assert completed.returncode == 2
    assert "ftp://x" in completed.stderr
