"""Deploy notifications: a JSON POST received by a loopback server."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jsonschema
import pytest

from tpo_tasks.deploy import notify
from tpo_tasks.templates import load_schema


class Receiver(HTTPServer):
    """A loopback webhook receiver that stores each POST body."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.headers_seen: list[dict] = []
        self.status = status

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.headers_seen.append(dict(self.headers))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def sample(result: str = "failed") -> dict:
    return notify.payload(
        environment="staging", version="1.2.3",
        images={"web": "127.0.0.1:5000/t/web@sha256:" + "a" * 64}, result=result,
        reason="deployment/web: timed out" if result == "failed" else None,
        revision=4, git_sha="b" * 40, actor="ci", rolled_back_to=3)


def test_send_posts_json(receiver: Receiver) -> None:
    assert notify.send(receiver.url, sample()) is True
    assert receiver.bodies[0]["reason"] == "deployment/web: timed out"


def test_send_sets_json_content_type(receiver: Receiver) -> None:
    notify.send(receiver.url, sample())
    assert receiver.headers_seen[0]["Content-Type"] == "application/json"


def test_payload_matches_schema() -> None:
    jsonschema.validate(sample(), load_schema("deploy-notify.schema.json"))


def test_rejected_notification_is_a_warning(receiver: Receiver,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    receiver.status = 500
    assert notify.send(receiver.url, sample()) is False
    assert "HTTP 500" in capsys.readouterr().err


def test_no_url_sends_nothing(receiver: Receiver) -> None:
    assert notify.send(None, sample()) is False
    assert receiver.bodies == []
