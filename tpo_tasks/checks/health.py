"""HTTP health checks with bounded retries and exponential backoff (urllib)."""

import base64
import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .results import CheckResult, register

HTTP = register(
    "health.http",
    "a health URL that does not answer 2xx within the retries",
    "check the service's logs and the URL; the message gives the last status or error",
)


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` requests, waiting ``delay`` seconds doubled each time."""

    attempts: int = 5
    delay: float = 1.0
    max_delay: float = 10.0
    timeout: float = 5.0


def display_url(url: str) -> str:
    """Return ``url`` with its password and secret-named query values masked."""
    from .secrets import is_secret_key

    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:***@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(name) for name, _ in pairs):
            query = urlencode(
                [(name, "***" if is_secret_key(name) else v) for name, v in pairs],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _deadline_connection(base: type, seconds: float, expired: threading.Event) -> type:
    """Return a subclass of ``base`` whose socket is shut down after ``seconds``.

    The socket timeout bounds each read only, so a server that trickles one header
    line per second would otherwise hold an attempt open for ever. ``expired`` is
    set when the deadline cut the connection.
    """

    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            timer = threading.Timer(seconds, _shut_down, (self.sock, expired))
            timer.daemon = True
            timer.start()

    return Connection


def _shut_down(sock: socket.socket, expired: threading.Event) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return  # already closed: the attempt finished in time
    expired.set()


def _opener(seconds: float, expired: threading.Event) -> urllib.request.OpenerDirector:
    plain = _deadline_connection(http.client.HTTPConnection, seconds, expired)
    secure = _deadline_connection(http.client.HTTPSConnection, seconds, expired)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(plain, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(secure, req, context=self._context)

    # No proxy handler: health URLs are requested directly, ignoring *_proxy variables.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), HTTPHandler, HTTPSHandler
    )


def _request(url: str) -> urllib.request.Request:
    """Return the request for ``url``, its userinfo sent as Basic authentication."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return urllib.request.Request(url, headers={"User-Agent": "tpo-tasks checks"})
    netloc = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    request = urllib.request.Request(bare, headers={"User-Agent": "tpo-tasks checks"})
    pair = f"{parts.username or ''}:{parts.password or ''}".encode()
    # Unredirected: urllib copies ordinary headers to a redirect's target, which
    # may be another host that must not receive the credentials.
    request.add_unredirected_header(
        "Authorization", "Basic " + base64.b64encode(pair).decode("ascii")
    )
    return request


def probe(url: str, timeout: float) -> tuple[int | None, str]:
    """Request ``url`` once; return (status or None, a short description).

    ``timeout`` bounds connecting, and then separately reading the status line and
    headers, so an attempt lasts at most about twice ``timeout``.
    """
    expired = threading.Event()
    try:
        request = _request(url)
        with _opener(timeout, expired).open(request, timeout=timeout) as response:
            if expired.is_set():
                return None, f"timed out after {timeout:g} s without a full response"
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return None, str(exc.reason)
    except http.client.HTTPException as exc:
        # The text of BadStatusLine and LineTooLong is the server's bytes, so only
        # the kind of error is shown.
        return None, f"invalid HTTP response ({type(exc).__name__})"
    except (TimeoutError, OSError) as exc:
        return None, str(exc) or type(exc).__name__
    except ValueError as exc:
        return None, f"invalid URL ({type(exc).__name__})"


def check_url(
    url: str,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Request ``url`` until it returns 2xx or the attempts run out.

    Connection errors, timeouts, 429 and 5xx responses are retried; any other status
    fails at once, since retrying will not change it.
    """
    delay = policy.delay
    description = "no attempt"
    shown = display_url(url)
    for attempt in range(1, policy.attempts + 1):
        status, description = probe(url, policy.timeout)
        if status is not None and 200 <= status < 300:
            suffix = f" after {attempt} attempts" if attempt > 1 else ""
            return HTTP.passed(f"{shown}: {description}{suffix}")
        if status is not None and status < 500 and status != 429:
            return HTTP.result(f"{shown}: {description}", file=None)
        if attempt < policy.attempts:
            sleep(delay)
            delay = min(delay * 2, policy.max_delay)
    return HTTP.result(f"{shown}: {description} after {policy.attempts} attempts")


def check_urls(
    urls: Iterable[str], policy: RetryPolicy = RetryPolicy()
) -> list[CheckResult]:
    return [check_url(url, policy) for url in urls]
