"""The GitHub REST client shared by the namespaces, built on ghapi 2.x.

Usage::

    from tpo_tasks import github

    client = github.connect("owner/repo")  # API base and token resolved as below
    repo = client.request("/repos/{owner}/{repo}")
    created = client.request("/repos/{owner}/{repo}/releases", "POST",
                             data={"tag_name": "v1.2.0", "name": "v1.2.0"})
    client.request(f"/repos/{{owner}}/{{repo}}/releases/{created['id']}", "PATCH",
                   data={"body": "notes"})
    for page in client.paginate("/repos/{owner}/{repo}/issues",
                                query={"state": "open"}):
        for issue in page.data: ...

``{owner}`` and ``{repo}`` in a path are filled from the connected repository.
``request`` returns the decoded JSON body (``dict``/``list``); ``send`` returns a
:class:`Response` with the status, body, headers and ETag, and returns
``not_modified=True`` for a 304 response to a conditional request (``etag=``).

The API base is ``GITHUB_API_URL``, then the ``api_url`` argument (normally
``tpo.github.api_url``), then ``https://api.github.com``. The token is the ``token``
argument or ``GITHUB_TOKEN``; it is optional, travels only in the Authorization
header and is registered with :func:`tpo_tasks.output.register_secret`.

Failures raise :class:`GitHubError` subclasses, all :class:`ExternalError` (exit 3)
with one-line messages that never contain the token or the API host's full URL:
401 :class:`BadCredentials`; 403 with ``x-ratelimit-remaining: 0``
:class:`RateLimited` (with the reset time); 403 otherwise :class:`Forbidden`;
404 :class:`NotFound`; 410 :class:`Gone`. A secondary rate limit (403 or 429 with
``retry-after``) waits and retries; 5xx responses, timeouts and connection errors
retry with exponential backoff for idempotent methods. Both are bounded by
``retries``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, ExternalError
from .output import register_secret

log = logging.getLogger("tpo_tasks")

DEFAULT_API_URL = "https://api.github.com"
MAX_RETRY_AFTER = 60.0  # seconds; a longer secondary-limit wait becomes an error
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";]+)"?')


class GitHubError(ExternalError):
    """A GitHub API request failed; ``status`` is the HTTP status or None."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadCredentials(GitHubError):
    """401: the token was rejected."""


class RateLimited(GitHubError):
    """The primary rate limit is used up; ``reset`` is when it refills (UTC)."""

    def __init__(self, message: str, *, status: int | None, reset: datetime | None
                 ) -> None:
        super().__init__(message, status=status)
        self.reset = reset


class Forbidden(GitHubError):
    """403 for another reason than the rate limit."""


class NotFound(GitHubError):
    """404: the resource does not exist or the token cannot see it."""


class Gone(GitHubError):
    """410: the resource was removed or the feature (such as issues) is disabled."""


@dataclass
class Response:
    """One response from the API: status, decoded body and lower-case headers.

    ghapi does not expose the status of a successful response, so ``status`` is 200
    for every 2xx response and 304 for "not modified".
    """

    status: int
    data: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def next_url(self) -> str | None:
        return parse_link_header(self.headers.get("link", "")).get("next")


def parse_link_header(value: str) -> dict[str, str]:
    """Return the ``rel -> URL`` pairs of an RFC 8288 ``Link`` header."""
    return {rel: url for url, rel in _LINK.findall(value or "")}


def resolve_api_url(configured: str | None = None) -> str:
    """Return the API base: ``GITHUB_API_URL``, then ``configured``, then github.com."""
    for source, value in (("GITHUB_API_URL", os.environ.get("GITHUB_API_URL")),
                          ("tpo.github.api_url", configured)):
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"invalid {source}: {value!r}; expected an http:// or https:// URL "
                "such as https://api.github.com"
            )
        if parts.username or parts.password:
            raise ConfigError(f"invalid {source}: credentials in the URL; "
                              "put the token in GITHUB_TOKEN instead")
        return value.rstrip("/")
    return DEFAULT_API_URL


def split_repo(repo: str) -> tuple[str, str]:
    """Return ``(owner, name)`` of ``OWNER/REPO`` or raise a ConfigError."""
    if not isinstance(repo, str) or not _REPO.fullmatch(repo):
        raise ConfigError(f"invalid repository {repo!r}; expected OWNER/REPO")
    owner, name = repo.split("/")
    # "." and ".." would turn /repos/{owner}/{repo}/... into another endpoint,
    # such as /issues (every issue assigned to the token's user).
    if {owner, name} & {".", ".."}:
        raise ConfigError(f"invalid repository {repo!r}; expected OWNER/REPO "
                          "without . or .. parts")
    return owner, name


def _reset_time(headers: Mapping[str, str]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(headers.get("x-ratelimit-reset", "")), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _api_message(body: bytes) -> str:
    """Return GitHub's ``message`` field from an error body, shortened, or ''."""
    try:
        message = json.loads(body or b"{}").get("message", "")
    except (ValueError, AttributeError):
        return ""
    text = " ".join(str(message).split())
    return text[:120]


class Client:
    """A connection to one repository through a synchronous ``GhApi``.

    Build it with :func:`connect`. ``retries`` bounds the retries of one request;
    ``backoff`` is the first wait in seconds (doubled at each retry).
    """

    def __init__(self, repo: str, *, api_url: str, token: str | None,
                 timeout: float = 30.0, retries: int = 3, backoff: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import httpx2
        from ghapi.core import GhApi

        self.owner, self.name = split_repo(repo)
        self.repo = repo
        self.api_url = api_url
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.request_count = 0
        self._httpx = httpx2
        self._host = urlsplit(api_url)[:2]
        # Always pass gh_host: ghapi reads GH_HOST once at import, and gh CLI users
        # set it to a bare host name.
        self.api = GhApi(self.owner, self.name, token=token, gh_host=api_url,
                         authenticate=bool(token), timeout=timeout, sync=True)
        # ghapi opens a new httpx client (and TLS context) per request; one
        # persistent client keeps the connection alive across pages.
        transport = self.api.transport
        transport.client = httpx2.Client(timeout=timeout, follow_redirects=True)
        transport.retries = 0  # retries happen here, with our backoff and limits

    def close(self) -> None:
        """Close the persistent HTTP connection."""
        self.api.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def path(self, template: str) -> str:
        """Fill ``{owner}`` and ``{repo}`` in ``template``."""
        return template.replace("{owner}", self.owner).replace("{repo}", self.name)

    def request(self, path: str, method: str = "GET", *,
                query: Mapping[str, Any] | None = None, data: Any = None,
                headers: Mapping[str, str] | None = None) -> Any:
        """Send one request and return its decoded JSON body."""
        return self.send(path, method, query=query, data=data, headers=headers).data

    def send(self, path: str, method: str = "GET", *,
             query: Mapping[str, Any] | None = None, data: Any = None,
             headers: Mapping[str, str] | None = None,
             etag: str | None = None) -> Response:
        """Send one request, with retries, and return its :class:`Response`.

        With ``etag``, the request is conditional; a 304 response returns a
        Response whose ``not_modified`` is true and whose ``data`` is None.
        """
        method = method.upper()
        target = self._target(path)
        extra = dict(headers or {})
        if etag:
            extra["If-None-Match"] = etag
        label = f"{method} {urlsplit(target).path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                self.request_count += 1
                body = self.api(target, method, headers=extra or None,
                                query=dict(query) if query else None, data=data)
                return Response(200, _plain(body), _lower(self.api.recv_hdrs))
            except json.JSONDecodeError:
                raise GitHubError(
                    f"{label} returned a body that is not valid JSON; check "
                    "GITHUB_API_URL points at the GitHub REST API") from None
            except self._httpx.HTTPStatusError as exc:
                response = exc.response
                status = response.status_code
                found = _lower(response.headers)
                conditional = any(name.lower() == "if-none-match" for name in extra)
                if status == 304 and conditional:
                    return Response(304, None, found)
                if status == 304:
                    raise GitHubError(
                        f"{label} returned 304 Not Modified to a request that was "
                        "not conditional; check GITHUB_API_URL and any proxy "
                        "in between", status=status) from None
                wait = self._retry_wait(method, status, found, attempt)
                if wait is None:
                    raise self._error(label, status, found, response.content) from None
                log.debug("%s returned %s; retrying in %.1f s", label, status, wait)
            except self._httpx.TimeoutException:
                wait = self._transport_wait(method, attempt)
                if wait is None:
                    raise GitHubError(
                        f"{label} timed out after {attempt} attempt(s); check the "
                        "network or GITHUB_API_URL and retry") from None
                log.debug("%s timed out; retrying in %.1f s", label, wait)
            except self._httpx.TransportError as exc:
                wait = self._transport_wait(method, attempt)
                if wait is None:
                    reason = type(exc).__name__
                    raise GitHubError(
                        f"{label} failed: cannot reach the GitHub API at "
                        f"{self.api_url} ({reason}); check the network or "
                        "GITHUB_API_URL") from None
                log.debug("%s failed (%s); retrying", label, type(exc).__name__)
            self.sleep(wait)

    def paginate(self, path: str, *, query: Mapping[str, Any] | None = None,
                 per_page: int = 100, etag: str | None = None) -> Iterator[Response]:
        """Yield each page of a list endpoint, following the ``Link: next`` URL.

        The first request carries ``per_page`` and ``query``; later pages use the
        ``next`` URL exactly as the server gave it, so no request is made for a
        trailing empty page and no ``last`` link is needed. With ``etag``, a 304
        for the first page yields one not-modified Response and stops.
        """
        first = {**(query or {}), "per_page": per_page}
        response = self.send(path, query=first, etag=etag)
        yield response
        seen: set[str] = set()
        while not response.not_modified and response.next_url:
            url = self._same_origin(response.next_url)
            if url in seen:
                raise GitHubError(f"GET {urlsplit(url).path}: the API sent the same "
                                  "next-page link twice; stopping to avoid a loop")
            seen.add(url)
            response = self.send(url)
            yield response

    # -- helpers ---------------------------------------------------------------

    def _target(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return self._same_origin(path)
        if not path.startswith("/"):
            path = "/" + path
        return self.path(path)

    def _same_origin(self, url: str) -> str:
        """Reject a URL outside the API base, so the token never goes elsewhere."""
        if urlsplit(url)[:2] != self._host:
            raise GitHubError(
                f"the API returned a link to another host ({urlsplit(url).netloc}); "
                "refusing to send the token there")
        return url

    def _retry_wait(self, method: str, status: int, headers: Mapping[str, str],
                    attempt: int) -> float | None:
        if attempt > self.retries:
            return None
        if status in (403, 429):
            primary = headers.get("x-ratelimit-remaining") == "0"
            if primary and "retry-after" not in headers:
                return None  # waiting for the primary reset is the user's call
            after = _retry_after(headers)
            if after is None:
                return None if status == 403 else self.backoff * 2 ** (attempt - 1)
            return after if after <= MAX_RETRY_AFTER else None
        if status >= 500 and method in IDEMPOTENT_METHODS:
            return self.backoff * 2 ** (attempt - 1)
        return None

    def _transport_wait(self, method: str, attempt: int) -> float | None:
        if attempt > self.retries or method not in IDEMPOTENT_METHODS:
            return None
        return self.backoff * 2 ** (attempt - 1)

    def _error(self, label: str, status: int, headers: Mapping[str, str],
               body: bytes) -> GitHubError:
        detail = _api_message(body)
        suffix = f" ({detail})" if detail else ""
        if status == 401:
            return BadCredentials(
                f"{label}: bad credentials (401); GITHUB_TOKEN was rejected, set a "
                "valid token or unset it", status=status)
        exhausted = headers.get("x-ratelimit-remaining") == "0"
        if status == 429 or (status == 403 and (exhausted or "retry-after" in headers)):
            reset = _reset_time(headers)
            when = reset.strftime("%Y-%m-%d %H:%M:%S UTC") if reset else "later"
            if "retry-after" in headers:
                reason = "secondary rate limit still exceeded after retries"
            else:
                reason = "API rate limit exceeded"
            return RateLimited(
                f"{label}: {reason}; it resets at {when}; set GITHUB_TOKEN for a "
                "higher limit, or retry then", status=status, reset=reset)
        if status == 403:
            return Forbidden(f"{label}: access forbidden (403){suffix}; check that "
                             "GITHUB_TOKEN may read this repository", status=status)
        if status == 404:
            return NotFound(f"{label}: not found (404) in {self.repo}, or no access; "
                            "check the repository name and GITHUB_TOKEN", status=status)
        if status == 410:
            return Gone(f"{label}: gone (410){suffix}; the feature may be disabled "
                        f"for {self.repo}", status=status)
        if status >= 500:
            return GitHubError(f"{label}: GitHub server error {status} after "
                               f"{self.retries} retries; retry later", status=status)
        return GitHubError(f"{label}: HTTP {status}{suffix}", status=status)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (headers or {}).items()}


def _plain(value: Any) -> Any:
    """Return ghapi's AttrDict/L result as plain dicts and lists, for json."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ == "L":
        return [_plain(item) for item in value]
    return value


def connect(repo: str, *, api_url: str | None = None, token: str | None = None,
            timeout: float = 30.0, retries: int = 3, backoff: float = 1.0) -> Client:
    """Return a :class:`Client` for ``repo`` (``OWNER/REPO``).

    ``api_url`` is the configured base (``tpo.github.api_url``); ``GITHUB_API_URL``
    takes precedence over it. ``token`` defaults to ``GITHUB_TOKEN``.
    """
    split_repo(repo)
    token = token or os.environ.get("GITHUB_TOKEN") or None
    register_secret(token)
    return Client(repo, api_url=resolve_api_url(api_url), token=token,
                  timeout=timeout, retries=retries, backoff=backoff)
