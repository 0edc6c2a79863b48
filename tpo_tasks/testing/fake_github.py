"""A loopback fake of the GitHub REST API for tests, benchmarks and offline demos.

It speaks enough of the real protocol for the real ghapi client (and curl) to talk
to it: JSON bodies, ``Link`` pagination, weak ETags with 304 answers, rate-limit
headers, the ``since``/``state``/``labels`` filters of the issue list, and the
release endpoints. It binds 127.0.0.1 on an ephemeral port.

In Python::

    from tpo_tasks.testing.fake_github import FakeGitHub, make_issue

    with FakeGitHub() as fake:                      # started; stopped on exit
        fake.add_issues("octo/demo", [make_issue(1, "Fix login"), ...])
        os.environ["GITHUB_API_URL"] = fake.url     # http://127.0.0.1:PORT
        fake.token = "s3cret"                       # optional: enforce this token
        fake.links = "next"                         # only rel="next", no "last"
        fake.inject(503, path="/repos/octo/demo/issues", times=2)
        fake.inject(500, query={"page": "2"})      # only the second page fails
        fake.inject_rate_limit()                    # 403, remaining 0, reset
        fake.inject_secondary_limit(retry_after=0)  # 403 with retry-after
        fake.inject(None, delay=2.0)                # a slow but normal answer
        fake.update_issue("octo/demo", 1, state="closed")  # bumps updated_at
        fake.requests                               # list of Recorded

Endpoints:

- ``GET /repos/{o}/{r}/issues`` with ``state`` (open, closed, all; default open),
  ``since`` (ISO 8601, ``updated_at >= since``), ``labels`` (comma-separated, all
  must match), ``sort`` (created, updated), ``direction``, ``per_page`` (max 100,
  default 30) and ``page``. Pull requests are mixed in, as on GitHub.
- ``GET /repos/{o}/{r}/issues/{n}``, ``GET /repos/{o}/{r}``.
- ``GET /repos/{o}/{r}/releases``, ``GET /repos/{o}/{r}/releases/tags/{tag}``,
  ``POST /repos/{o}/{r}/releases`` (422 when the tag has a release),
  ``PATCH /repos/{o}/{r}/releases/{id}``.

``GET /_fake/requests`` returns the request log as JSON (method, path, query,
status, authorized, if_none_match) and ``DELETE /_fake/requests`` clears it, for
a fake running in another process. An unknown repository answers 404;
``fake.disable_issues(repo)`` makes its issue endpoints answer 410. Each
:class:`Recorded` request stores the method, path, query (single values),
lower-case headers, whether an Authorization header was present, the status
sent and the request body.

From a shell (prints the base URL on the first line, serves until interrupted)::

    python -m tpo_tasks.testing.fake_github --repo octo/demo --issues 250
    python -m tpo_tasks.testing.fake_github --repo octo/demo --from-file issues.json
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
WEB = "https://github.com"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_user(login: str = "octocat", user_id: int = 1) -> dict[str, Any]:
    """Return a GitHub user object."""
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "html_url": f"{WEB}/{login}",
        "type": "User",
        "site_admin": False,
    }


def make_label(name: str, label_id: int = 0) -> dict[str, Any]:
    """Return a GitHub label object."""
    return {
        "id": label_id,
        "node_id": f"LA_{label_id}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def make_issue(
    number: int,
    title: str | None = None,
    *,
    repo: str = "octo/demo",
    body: str | None = "",
    labels: Iterable[str] = (),
    state: str = "open",
    user: str | None = "octocat",
    assignees: Iterable[str] = (),
    milestone: dict[str, Any] | None = None,
    comments: int = 0,
    created_at: str | None = None,
    updated_at: str | None = None,
    closed_at: str | None = None,
) -> dict[str, Any]:
    """Return an issue object shaped like the REST API's, with stable dates."""
    created = created_at or _stamp(BASE_TIME + timedelta(minutes=number))
    api = f"https://api.github.com/repos/{repo}"
    return {
        "url": f"{api}/issues/{number}",
        "repository_url": api,
        "html_url": f"{WEB}/{repo}/issues/{number}",
        "id": 1_000_000 + number,
        "node_id": f"I_{number}",
        "number": number,
        "title": title if title is not None else f"Issue number {number}",
        "user": make_user(user, 7) if user else None,
        "labels": [make_label(name, index + 1) for index, name in enumerate(labels)],
        "state": state,
        "locked": False,
        "assignee": make_user(next(iter(assignees)), 9) if assignees else None,
        "assignees": [
            make_user(login, 9 + index) for index, login in enumerate(assignees)
        ],
        "milestone": milestone,
        "comments": comments,
        "created_at": created,
        "updated_at": updated_at or created,
        "closed_at": closed_at if closed_at or state != "closed" else created,
        "author_association": "CONTRIBUTOR",
        "active_lock_reason": None,
        "body": body,
        "reactions": {
            "url": f"{api}/issues/{number}/reactions",
            "total_count": 0,
            "+1": 0,
            "-1": 0,
            "laugh": 0,
            "hooray": 0,
            "confused": 0,
            "heart": 0,
            "rocket": 0,
            "eyes": 0,
        },
        "timeline_url": f"{api}/issues/{number}/timeline",
        "performed_via_github_app": None,
        "state_reason": "completed" if state == "closed" else None,
    }


def make_pull_request(
    number: int, title: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Return a pull request as the issue list shows it (with ``pull_request``)."""
    item = make_issue(
        number, title if title is not None else f"Pull {number}", **kwargs
    )
    repo = kwargs.get("repo", "octo/demo")
    item["pull_request"] = {
        "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
        "html_url": f"{WEB}/{repo}/pull/{number}",
        "diff_url": f"{WEB}/{repo}/pull/{number}.diff",
        "patch_url": f"{WEB}/{repo}/pull/{number}.patch",
        "merged_at": None,
    }
    return item


@dataclass
class Recorded:
    """One request the fake received and the status it sent back."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    authorized: bool
    status: int = 0
    body: bytes = b""


@dataclass
class Injection:
    """A response to send instead of the normal one, ``times`` times."""

    status: int | None
    path: str | None = None
    method: str | None = None
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    query: dict[str, str] | None = None

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        if self.method is not None and self.method != method:
            return False
        if (
            self.path is not None
            and path != self.path
            and not path.startswith(self.path + "/")
        ):
            return False
        return all(query.get(key) == value for key, value in (self.query or {}).items())


class _Repo:
    def __init__(self) -> None:
        self.issues: dict[int, dict[str, Any]] = {}
        self.releases: dict[int, dict[str, Any]] = {}
        self.issues_enabled = True


class FakeGitHub:
    """The fake API server; see the module docstring for its interface."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token: str | None = None
        self.links = "full"  # "full": next, last, first, prev; "next": only next
        self.requests: list[Recorded] = []
        self.repos: dict[str, _Repo] = {}
        self._injections: list[Injection] = []
        self._lock = threading.RLock()
        self._clock = BASE_TIME + timedelta(days=365)
        self._next_release_id = 1
        self._used = 0  # requests that count against the rate limit (not 304s)
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitHub:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-github",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data ----------------------------------------------------------------

    def repo(self, name: str) -> _Repo:
        """Return the repository ``owner/name``, creating it when missing."""
        with self._lock:
            return self.repos.setdefault(name, _Repo())

    def add_issues(self, repo: str, items: Iterable[dict[str, Any]]) -> None:
        """Store issue (and pull request) objects in ``repo``."""
        store = self.repo(repo)
        with self._lock:
            for item in items:
                store.issues[int(item["number"])] = copy.deepcopy(item)

    def update_issue(self, repo: str, number: int, **changes: Any) -> dict[str, Any]:
        """Change fields of an issue and move its ``updated_at`` past every other."""
        with self._lock:
            issue = self.repos[repo].issues[number]
            issue.update(changes)
            self._clock += timedelta(minutes=1)
            issue["updated_at"] = _stamp(self._clock)
            if changes.get("state") == "closed" and not issue.get("closed_at"):
                issue["closed_at"] = issue["updated_at"]
            if changes.get("state") == "open":
                issue["closed_at"] = None
            return copy.deepcopy(issue)

    def disable_issues(self, repo: str) -> None:
        """Make the issue endpoints of ``repo`` respond 410 Gone."""
        self.repo(repo).issues_enabled = False

    # -- errors --------------------------------------------------------------

    def inject(
        self,
        status: int | None,
        *,
        path: str | None = None,
        method: str | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        query: dict[str, str] | None = None,
    ) -> Injection:
        """Respond to the next ``times`` matching requests with ``status``.

        ``path`` matches the path exactly or as a prefix ending at ``/``; None
        matches every request. ``query`` entries must all be in the request's
        query (``{"page": "2"}``). ``status=None`` serves the normal answer after
        ``delay`` seconds (a slow response).
        """
        injection = Injection(
            status,
            path,
            method,
            times,
            dict(headers or {}),
            body,
            delay,
            dict(query) if query else None,
        )
        with self._lock:
            self._injections.append(injection)
        return injection

    def inject_rate_limit(
        self,
        *,
        path: str | None = None,
        reset: int | None = None,
        times: int = 1,
        query: dict[str, str] | None = None,
    ) -> Injection:
        """Respond with 403 with ``x-ratelimit-remaining: 0`` and the reset time."""
        reset = reset if reset is not None else int(time.time()) + 3600
        return self.inject(
            403,
            path=path,
            times=times,
            query=query,
            headers={
                "x-ratelimit-limit": "60",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            },
            body={
                "message": "API rate limit exceeded for 127.0.0.1.",
                "documentation_url": "https://docs.github.com/rest",
            },
        )

    def inject_secondary_limit(
        self,
        *,
        retry_after: int = 1,
        status: int = 403,
        path: str | None = None,
        times: int = 1,
    ) -> Injection:
        """Respond with a secondary limit: ``status`` (403 or 429), ``retry-after``."""
        return self.inject(
            status,
            path=path,
            times=times,
            headers={"retry-after": str(retry_after)},
            body={"message": "You have exceeded a secondary rate limit."},
        )

    def _take_injection(
        self, method: str, path: str, query: dict[str, str]
    ) -> Injection | None:
        with self._lock:
            for injection in self._injections:
                if injection.times > 0 and injection.matches(method, path, query):
                    injection.times -= 1
                    return injection
        return None

    def requests_to(self, path: str, method: str = "GET") -> list[Recorded]:
        """Return the recorded requests for exactly ``path``."""
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method]

    # -- request handling ----------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "FakeGitHub/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        return Handler

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        if path == "/_fake/requests":
            self._send_log(handler, method)
            return
        record = Recorded(
            method, path, query, headers, "authorization" in headers, body=body
        )
        with self._lock:
            self.requests.append(record)
        status, payload, extra = self._answer(method, path, query, headers, body)
        record.status = status
        self._send(handler, record, payload, extra)

    def _send_log(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Return the request log (GET) or clear it (DELETE); it is not logged."""
        with self._lock:
            if method == "DELETE":
                self.requests.clear()
            log = [
                {
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "status": r.status,
                    "authorized": r.authorized,
                    "if_none_match": r.headers.get("if-none-match"),
                }
                for r in self.requests
            ]
        data = json.dumps(log).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        record: Recorded,
        payload: Any,
        extra: dict[str, str],
    ) -> None:
        status = record.status
        data = b"" if payload is None else json.dumps(payload).encode()
        out = {
            "content-type": "application/json; charset=utf-8",
            "x-github-media-type": "github.v3",
            **self._limit_headers(),
        }
        if status == 200 and handler.command == "GET":
            etag = 'W/"' + hashlib.sha1(data).hexdigest() + '"'
            out["etag"] = etag
            if _etag_matches(record.headers.get("if-none-match", ""), etag):
                status, data = 304, b""
                record.status = 304
        if status != 304:
            with self._lock:
                self._used += 1
        out.update(extra)
        handler.send_response(status)
        for name, value in out.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        if data and handler.command != "HEAD":
            handler.wfile.write(data)

    def _limit_headers(self) -> dict[str, str]:
        used = self._used
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(max(1, 5000 - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        injection = self._take_injection(method, path, query)
        if injection is not None:
            if injection.delay:
                time.sleep(injection.delay)
            if injection.status is not None:
                payload = (
                    injection.body
                    if injection.body is not None
                    else {"message": f"injected {injection.status}"}
                )
                return injection.status, payload, dict(injection.headers)
        if self.token is not None:
            given = headers.get("authorization", "")
            if given not in (f"token {self.token}", f"Bearer {self.token}"):
                return 401, {"message": "Bad credentials"}, {}
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if not match:
            return 404, {"message": "Not Found"}, {}
        name, rest = f"{match[1]}/{match[2]}", match[3] or ""
        with self._lock:
            store = self.repos.get(name)
            if store is None:
                return 404, {"message": "Not Found"}, {}
            return self._route(store, name, method, rest, query, body)

    def _route(
        self,
        store: _Repo,
        name: str,
        method: str,
        rest: str,
        query: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and rest == "":
            return (
                200,
                {
                    "full_name": name,
                    "has_issues": store.issues_enabled,
                    "html_url": f"{WEB}/{name}",
                },
                {},
            )
        if rest.startswith("/issues"):
            if not store.issues_enabled:
                return 410, {"message": "Issues are disabled for this repo"}, {}
            if method == "GET" and rest == "/issues":
                return self._issue_list(store, name, query)
            one = re.fullmatch(r"/issues/(\d+)", rest)
            if method == "GET" and one:
                issue = store.issues.get(int(one[1]))
                if issue is None:
                    return 404, {"message": "Not Found"}, {}
                return 200, issue, {}
        if rest.startswith("/releases"):
            return self._releases(store, name, method, rest, query, body)
        return 404, {"message": "Not Found"}, {}

    def _issue_list(
        self, store: _Repo, name: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            return 422, {"message": "Validation Failed"}, {}
        items = [i for i in store.issues.values() if state in ("all", i["state"])]
        if "since" in query:
            try:
                since = _parse_stamp(query["since"])
            except ValueError:
                return 422, {"message": "Validation Failed: since"}, {}
            items = [i for i in items if _parse_stamp(i["updated_at"]) >= since]
        if query.get("labels"):
            wanted = {label.strip() for label in query["labels"].split(",")}
            items = [
                i
                for i in items
                if wanted
                <= {
                    label["name"] if isinstance(label, dict) else label
                    for label in i.get("labels") or []
                }
            ]
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        descending = query.get("direction", "desc") != "asc"
        items.sort(key=lambda i: (i[key], i["number"]), reverse=descending)
        return self._page(items, f"/repos/{name}/issues", query)

    def _page(
        self, items: Sequence[Any], path: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            per_page = min(100, max(1, int(query.get("per_page", 30))))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            return 422, {"message": "Validation Failed: per_page or page"}, {}
        last = max(1, -(-len(items) // per_page))
        chosen = items[(page - 1) * per_page : page * per_page]

        def link(number: int, rel: str) -> str:
            params = {**query, "per_page": str(per_page), "page": str(number)}
            return f'<{self.url}{quote(path)}?{urlencode(params)}>; rel="{rel}"'

        links = []
        if page < last:
            links.append(link(page + 1, "next"))
            if self.links == "full":
                links.append(link(last, "last"))
        if page > 1 and self.links == "full":
            links.append(link(1, "first"))
            links.append(link(page - 1, "prev"))
        return 200, chosen, {"link": ", ".join(links)} if links else {}

    def _releases(
        self,
        store: _Repo,
        name: str,
        method: str,
        rest: str,
        query: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and rest == "/releases":
            items = sorted(store.releases.values(), key=lambda r: -r["id"])
            return self._page(items, f"/repos/{name}/releases", query)
        by_tag = re.fullmatch(r"/releases/tags/(.+)", rest)
        if method == "GET" and by_tag:
            for release in store.releases.values():
                if release["tag_name"] == by_tag[1]:
                    return 200, release, {}
            return 404, {"message": "Not Found"}, {}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        if method == "POST" and rest == "/releases":
            tag = data.get("tag_name")
            if not tag:
                return (
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [{"field": "tag_name", "code": "missing"}],
                    },
                    {},
                )
            if any(r["tag_name"] == tag for r in store.releases.values()):
                return (
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {
                                "resource": "Release",
                                "code": "already_exists",
                                "field": "tag_name",
                            }
                        ],
                    },
                    {},
                )
            release_id = self._next_release_id
            self._next_release_id += 1
            release = self._release(name, release_id, data)
            store.releases[release_id] = release
            return (
                201,
                release,
                {"location": f"{self.url}/repos/{name}/releases/{release_id}"},
            )
        by_id = re.fullmatch(r"/releases/(\d+)", rest)
        if by_id and int(by_id[1]) in store.releases:
            release = store.releases[int(by_id[1])]
            if method == "GET":
                return 200, release, {}
            if method == "PATCH":
                release.update(self._release(name, release["id"], {**release, **data}))
                return 200, release, {}
            if method == "DELETE":
                del store.releases[release["id"]]
                return 204, None, {}
        return 404, {"message": "Not Found"}, {}

    def _release(
        self, name: str, release_id: int, data: dict[str, Any]
    ) -> dict[str, Any]:
        tag = data["tag_name"]
        return {
            "id": release_id,
            "url": f"{self.url}/repos/{name}/releases/{release_id}",
            "html_url": f"{WEB}/{name}/releases/tag/{tag}",
            "upload_url": f"{self.url}/repos/{name}/releases/{release_id}/assets",
            "tag_name": tag,
            "target_commitish": data.get("target_commitish") or "main",
            "name": data.get("name") or tag,
            "body": data.get("body") or "",
            "draft": bool(data.get("draft", False)),
            "prerelease": bool(data.get("prerelease", False)),
            "make_latest": data.get("make_latest", "true"),
            "created_at": data.get("created_at") or _stamp(self._clock),
            "published_at": None if data.get("draft") else _stamp(self._clock),
            "author": make_user("release-bot", 41),
            "assets": [],
        }


def _etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a fake repository until SIGINT or SIGTERM; print the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m tpo_tasks.testing.fake_github",
        description="Serve a fake GitHub REST API.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free)")
    parser.add_argument("--repo", default="octo/demo", help="OWNER/REPO to serve")
    parser.add_argument(
        "--issues",
        type=int,
        default=0,
        help="number of generated open issues (default 0)",
    )
    parser.add_argument(
        "--pulls",
        type=int,
        default=0,
        help="number of generated pull requests mixed in (default 0)",
    )
    parser.add_argument("--from-file", help="JSON array of issue objects to serve")
    parser.add_argument("--token", help="require this token in Authorization")
    parser.add_argument(
        "--links",
        choices=("full", "next"),
        default="full",
        help="Link relations to send (default full)",
    )
    args = parser.parse_args(argv)

    fake = FakeGitHub(port=args.port)
    fake.token = args.token
    fake.links = args.links
    items: list[dict[str, Any]] = []
    if args.from_file:
        with open(args.from_file, encoding="utf-8") as handle:
            items.extend(json.load(handle))
    items.extend(
        make_issue(n, repo=args.repo, body=f"Body of issue {n}.")
        for n in range(1, args.issues + 1)
    )
    items.extend(
        make_pull_request(args.issues + n, repo=args.repo)
        for n in range(1, args.pulls + 1)
    )
    fake.add_issues(args.repo, items)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    fake.start()
    print(fake.url, flush=True)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
