"""HTTP health checks with bounded retries and exponential backoff (urllib)."""

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


def _opener() -> urllib.request.OpenerDirector:
    # No proxy handler: health URLs are requested directly, ignoring *_proxy variables.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, timeout: float) -> tuple[int | None, str]:
    """Request ``url`` once; return (status or None, a short description)."""
    request = urllib.request.Request(url, headers={"User-Agent": "tpo-tasks checks"})
    try:
        with _opener().open(request, timeout=timeout) as response:
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return None, str(exc.reason)
    except (TimeoutError, OSError) as exc:
        return None, str(exc) or type(exc).__name__


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
    for attempt in range(1, policy.attempts + 1):
        status, description = probe(url, policy.timeout)
        if status is not None and 200 <= status < 300:
            suffix = f" after {attempt} attempts" if attempt > 1 else ""
            return HTTP.passed(f"{url}: {description}{suffix}")
        if status is not None and status < 500 and status != 429:
            return HTTP.result(f"{url}: {description}", file=None)
        if attempt < policy.attempts:
            sleep(delay)
            delay = min(delay * 2, policy.max_delay)
    return HTTP.result(f"{url}: {description} after {policy.attempts} attempts")


def check_urls(
    urls: Iterable[str], policy: RetryPolicy = RetryPolicy()
) -> list[CheckResult]:
    return [check_url(url, policy) for url in urls]
