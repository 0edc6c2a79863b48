"""A loopback fake Kubernetes API server that the real ``kubectl`` talks to.

It serves plain HTTP on 127.0.0.1 (kubectl accepts ``server: http://127.0.0.1:PORT``
with no TLS fields), reports version 1.32 so the ``/usr/bin/kubectl`` dispatcher
runs kubectl 1.32, and keeps its objects in memory. Tests drive it with the real
kubectl: ``apply --server-side``, ``diff --server-side``, ``get``, ``rollout
status``, ``logs``, ``create``, ``replace``, ``delete``.

Start it from Python (a thread in the test process)::

    from tpo_tasks.testing.fake_kube import FakeKube, Fault, write_kubeconfig

    with FakeKube(context="staging") as kube:      # started; stopped on exit
        kube.url                                   # http://127.0.0.1:PORT
        write_kubeconfig(path, {"staging": kube}, current="staging")
        kube.add_fault(Fault(mode="never-ready", name="web"))
        kube.add_fault(Fault(mode="progress-deadline", name="*", times=1))
        kube.clear_faults()
        kube.requests                              # list of RecordedRequest
        kube.requests_matching(method="PATCH", path_prefix="/apis/apps/v1")
        kube.get("apps/v1", "Deployment", "web", namespace="tally")  # dict or None
        kube.objects("v1", "ConfigMap", namespace="tally")           # list of dicts
        kube.put(obj)                    # store an object as a controller would
        kube.set_pod_log("tally", "web-abc", "web", ["line 1", "line 2"])

``FakeKube`` options: ``port`` (0: a free one), ``version`` (default 1.32.5; the
dispatcher picks the kubectl of that minor version), ``rollout_delay``, ``faults``,
``digest_resolver`` (image reference -> ``repository@sha256:...`` or None) and
``aggregated_discovery`` (default True).

Three clusters at once (what the ``fake_clusters`` pytest fixture uses)::

    with start_clusters(["dev", "staging", "prod"], kubeconfig, current="prod") as c:
        c.servers["staging"].url

Start it from a shell. It prints ``CONTEXT URL`` per cluster, writes the kubeconfig
(but never replaces a file it did not write) and serves until interrupted::

    python -m tpo_tasks.testing.fake_kube --port 0 --write-kubeconfig kubeconfig \\
        --context staging [--context prod ...] [--current-context prod] \\
        [--fault web=never-ready] [--rollout-delay 0.2]

Rollouts: after a Deployment, StatefulSet or DaemonSet is created or its spec
changes, the fake creates a ReplicaSet and Pods and, ``rollout_delay`` seconds per
step later (default 0.2), marks them running and the workload available, so
``kubectl rollout status`` succeeds. Pods report ``status.containerStatuses[].imageID``
as ``repository@sha256:...``: the digest of a digest-pinned image, otherwise the
result of ``digest_resolver(image)`` or a digest made from the reference text.

Faults (see :class:`Fault`): a matching rollout never becomes ready (pods in
``CrashLoopBackOff``, ``BackOff`` warning events, error lines in
``/api/v1/namespaces/N/pods/P/log``); mode ``progress-deadline`` also sets the
Deployment's ``Progressing`` condition to ``False``/``ProgressDeadlineExceeded``
after ``after`` seconds. Set them with ``add_fault``, the ``--fault`` flag
(``NAME=MODE`` or ``mode=M,name=N,kind=K,namespace=NS,image=SUBSTRING,times=N,after=S``)
or over HTTP: ``POST /_fake/faults`` with a JSON object of the same fields,
``GET /_fake/faults``, ``DELETE /_fake/faults``.

Injected errors (see :class:`InjectedError`): ``kube.inject(InjectedError(status=500,
method="PATCH", path_prefix="/api/v1/namespaces/tally/configmaps", times=1))`` makes
the next matching request fail with that status and a ``Status`` body; status 0
drops the connection, None with ``delay`` serves a slow response. Over HTTP:
``POST /_fake/errors`` (JSON object of the same fields), ``GET``/``DELETE
/_fake/errors``.

Request log: every request (control endpoints under ``/_fake/`` excepted) is
recorded as a :class:`RecordedRequest` with method, path, query, lower-case
headers, body size, body and response status. Over HTTP, ``GET /_fake/requests``
returns them as JSON without bodies and ``DELETE /_fake/requests`` clears them;
``GET /_fake/objects`` dumps every stored object.

API served: ``/version``, ``/healthz``, ``/readyz``, aggregated discovery (``/api``
and ``/apis`` as ``apidiscovery.k8s.io/v2`` when the Accept header asks for it) and
per-group discovery (``/api/v1``, ``/apis/<group>/<version>``), ``/openapi/v2``
(an empty protobuf body, which kubectl accepts), ``/openapi/v3`` and its documents
(listing ``fieldValidation`` on PATCH, so kubectl validates on the server), and
for every type in :data:`tpo_tasks.testing.kube_resources.RESOURCES`: GET, LIST
(``labelSelector``, ``fieldSelector`` on any dotted path), WATCH (``watch=true``,
newline-delimited JSON events, ``resourceVersion``, ``timeoutSeconds``), POST,
PUT (``resourceVersion`` checked when sent), PATCH (apply, merge, strategic and
JSON patch; ``fieldManager``, ``force``, ``dryRun=All``), DELETE (with owner
garbage collection) and DELETE on a collection, plus ``status`` subresources and
``pods/log``. ``kubectl get`` receives server-side tables. Writes are checked for
unknown fields as ``fieldValidation`` asks (see :mod:`tpo_tasks.testing.kube_schema`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tpo_tasks.testing import kube_merge, kube_resources, kube_schema
from tpo_tasks.testing.kube_resources import BY_KIND, Resource, find_resource
from tpo_tasks.testing.kube_rollout import Fault, RolloutController
from tpo_tasks.testing.kube_store import ApiError, Store, WatchEvent, matches

__all__ = [
    "FakeClusters",
    "FakeKube",
    "Fault",
    "InjectedError",
    "RecordedRequest",
    "start_clusters",
    "write_kubeconfig",
]

logger = logging.getLogger("tpo_tasks.testing.fake_kube")

DEFAULT_VERSION = "1.32.5"
KUBECONFIG_MARKER = "# Written by tpo_tasks.testing.fake_kube"
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's request size limit
PATCH_TYPES = {
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# Go's mime parser (used by kubectl to read every response) rejects the "@" of the
# Accept value kubectl sends for this document, so the reply spells it with a dot.
OPENAPI_V2_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body_size: int
    body: bytes = field(repr=False)
    status: int
    time: float

    def param(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def to_json(self) -> dict[str, Any]:
        """Return the request as JSON, without its body."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body_size": self.body_size,
            "status": self.status,
            "time": self.time,
        }


REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class InjectedError:
    """Make the next matching requests fail, respond late, or drop the connection.

    ``status`` is the HTTP status of the ``Status`` error returned, 0 to close the
    connection without a response, or None to serve the normal response after
    ``delay`` seconds. ``method`` (None: any) and ``path_prefix`` select requests;
    ``times`` is how many requests it affects (None: until cleared).
    """

    status: int | None = 500
    method: str | None = None
    path_prefix: str = ""
    times: int | None = 1
    delay: float = 0.0
    message: str = "injected error"

    def matches(self, method: str, path: str) -> bool:
        """Return whether this error applies to a request."""
        if self.method is not None and self.method.upper() != method:
            return False
        return path.startswith(self.path_prefix)

    def to_json(self) -> dict[str, Any]:
        """Return the injection as a JSON object."""
        return asdict(self)


class FakeKube:
    """One fake cluster: an HTTP server on a thread, its store and controllers."""

    def __init__(
        self,
        *,
        context: str = "fake",
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = DEFAULT_VERSION,
        rollout_delay: float = 0.2,
        faults: Sequence[Fault] = (),
        digest_resolver: Callable[[str], str | None] | None = None,
        aggregated_discovery: bool = True,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"invalid host {host!r}; the fake serves only loopback")
        self.context = context
        self.version = version
        self.aggregated_discovery = aggregated_discovery
        self.store = Store()
        self.controller = RolloutController(
            self.store, delay=rollout_delay, digest_resolver=digest_resolver
        )
        for fault in faults:
            self.controller.add_fault(fault)
        self.requests: list[RecordedRequest] = []
        self.errors: list[InjectedError] = []
        self._requests_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        bound_host, bound_port = self._server.server_address[:2]
        url_host = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        self.url = f"http://{url_host}:{bound_port}"
        self.port = bound_port
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------
    def start(self) -> FakeKube:
        """Serve on a background thread; return self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"fake-kube-{self.context}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open watches and stop the controllers."""
        self._stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self.controller.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        """Make rollouts matching ``fault`` fail (see :class:`Fault`)."""
        self.controller.add_fault(fault)

    def clear_faults(self) -> None:
        """Remove every fault; later rollouts succeed."""
        self.controller.clear_faults()

    @property
    def faults(self) -> list[Fault]:
        """The active faults."""
        return list(self.controller.faults)

    # -- injected errors --------------------------------------------------------
    def inject(self, error: InjectedError) -> InjectedError:
        """Apply ``error`` to the next matching requests; return it."""
        with self._requests_lock:
            self.errors.append(error)
        return error

    def clear_errors(self) -> None:
        """Remove every injected error."""
        with self._requests_lock:
            self.errors.clear()

    def take_error(self, method: str, path: str) -> InjectedError | None:
        """Return and count down the first injected error matching a request."""
        with self._requests_lock:
            for error in self.errors:
                if error.matches(method, path):
                    if error.times is not None:
                        error.times -= 1
                        if error.times <= 0:
                            self.errors.remove(error)
                    return error
        return None

    # -- request log ------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        """Append a request to the log."""
        with self._requests_lock:
            self.requests.append(request)

    def requests_matching(
        self, *, method: str | None = None, path_prefix: str = ""
    ) -> list[RecordedRequest]:
        """Return the recorded requests with this method and path prefix."""
        with self._requests_lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and r.path.startswith(path_prefix)
            ]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._requests_lock:
            self.requests.clear()

    # -- objects ----------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> Resource:
        """Return the resource type of ``apiVersion`` and ``kind``."""
        resource = BY_KIND.get((api_version, kind))
        if resource is None:
            raise KeyError(f"the fake does not serve {kind} in {api_version}")
        return resource

    def get(
        self, api_version: str, kind: str, name: str, namespace: str = "default"
    ) -> dict[str, Any] | None:
        """Return a copy of one stored object, or None."""
        return self.store.find(self.resource(api_version, kind), namespace, name)

    def objects(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Return copies of the stored objects of one kind (all namespaces: None)."""
        return self.store.list(self.resource(api_version, kind), namespace)[0]

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object directly, as a controller would (status kept)."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = obj["metadata"].get("namespace", "default")
        return self.store.put(resource, namespace, obj)

    def set_pod_log(self, namespace: str, pod: str, container: str, lines: list[str]):
        """Set what the log endpoint returns for one container."""
        self.controller.logs[(namespace, pod, container)] = list(lines)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeKube

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    # -- plumbing ---------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    @property
    def fake(self) -> FakeKube:
        return self.server.fake

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        self.url_path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.status_sent = 0
        self.recorded = False
        self.warnings: list[str] = []
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.body = b""
            self._send_error(
                ApiError(413, "RequestEntityTooLarge", "the request is too large")
            )
            self.close_connection = True
            return
        self.body = self.rfile.read(length) if length else b""
        try:
            if not self.url_path.startswith("/_fake/") and self._inject_error():
                return
            self._route()
        except ApiError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # the fake must respond, whatever went wrong
            logger.exception("fake API server failed on %s %s", self.command, self.path)
            self._send_error(ApiError(500, "InternalError", f"internal error: {error}"))
        finally:
            self._record()

    def _inject_error(self) -> bool:
        """Serve an injected error; return True when the request is answered."""
        error = self.fake.take_error(self.command, self.url_path)
        if error is None:
            return False
        time.sleep(error.delay)
        if error.status is None:
            return False
        if error.status == 0:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        reason = REASONS.get(error.status, "InternalError")
        self._send_error(ApiError(error.status, reason, error.message))
        return True

    def _record(self) -> None:
        if self.recorded or self.url_path.startswith("/_fake/"):
            return
        self.recorded = True
        self.fake.record(
            RecordedRequest(
                method=self.command,
                path=self.url_path,
                query={k: list(v) for k, v in self.query.items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body_size=len(self.body),
                body=self.body,
                status=self.status_sent,
                time=time.time(),
            )
        )

    def _client_gone(self) -> bool:
        """Return whether the client closed the connection (a readable EOF)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.status_sent = code
        # Record before responding: a test may read the log as soon as kubectl exits.
        self._record()
        self.send_response(code)
        for warning in self.warnings:
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{escaped}"')
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, code: int, document: Any) -> None:
        self._send(code, json.dumps(document).encode(), "application/json")

    def _send_error(self, error: ApiError) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send_json(error.code, error.status())

    def _json_body(self) -> Any:
        if not self.body:
            raise ApiError(400, "BadRequest", "the request body is empty")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/vnd.kubernetes.protobuf":
            from tpo_tasks.testing import kube_protobuf

            try:
                return kube_protobuf.decode(self.body)
            except kube_protobuf.UnsupportedKind as error:
                raise ApiError(415, "UnsupportedMediaType", str(error)) from None
            except ValueError as error:
                raise ApiError(
                    400, "BadRequest", f"invalid request body: {error}"
                ) from None
        try:
            if content_type.endswith("yaml"):
                import yaml

                return yaml.safe_load(self.body)
            return json.loads(self.body)
        except ValueError as error:
            raise ApiError(
                400, "BadRequest", f"invalid request body: {error}"
            ) from None
        except Exception as error:  # yaml.YAMLError does not subclass ValueError
            raise ApiError(
                400, "BadRequest", f"invalid request body: {error}"
            ) from None

    def _object_body(self, resource: Resource, write: str) -> Any:
        """Return the request body, checked as ``fieldValidation`` asks.

        Without the parameter the API server warns (its default since Kubernetes
        1.27); kubectl sends ``Strict`` unless run with ``--validate``.
        """
        body = self._json_body()
        mode = self._param("fieldValidation") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise ApiError(
                400,
                "BadRequest",
                f'invalid fieldValidation "{mode}"; use Strict, Warn or Ignore',
            )
        if mode == "Ignore" or write == "json" or not isinstance(body, dict):
            return body
        unknown = [
            path
            for path in kube_schema.unknown_fields({"kind": resource.kind, **body})
            if not path.rsplit(".", 1)[-1].startswith("$")
        ]
        if not unknown:
            return body
        if mode == "Warn":
            self.warnings.extend(f'unknown field "{path}"' for path in unknown)
            kube_schema.drop_fields(body, unknown)
            return body
        if write == "apply":
            metadata = body.get("metadata") or {}
            target = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
            raise ApiError(
                400,
                "BadRequest",
                f"failed to create typed patch object ({target}; "
                f"{resource.api_version}, Kind={resource.kind}): "
                + ", ".join(
                    f".{path}: field not declared in schema" for path in unknown
                ),
            )
        raise ApiError(
            400,
            "BadRequest",
            f'{resource.kind} in version "{resource.version}" cannot be handled as a '
            f"{resource.kind}: strict decoding error: "
            + ", ".join(f'unknown field "{path}"' for path in unknown),
        )

    def _manager(self, default: str) -> str:
        manager = self._param("fieldManager")
        if manager:
            return manager
        agent = self.headers.get("User-Agent") or ""
        return agent.split("/", 1)[0] or default

    # -- routing ----------------------------------------------------------------
    def _route(self) -> None:
        path = self.url_path.rstrip("/") or "/"
        segments = [s for s in path.split("/") if s]
        if path.startswith("/_fake"):
            self._control(segments[1:])
        elif path == "/version":
            self._send_json(200, kube_resources.version_info(self.fake.version))
        elif path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
        elif path in ("/api", "/apis") and self._wants_aggregated_discovery():
            document = kube_resources.aggregated_discovery(core=path == "/api")
            body = json.dumps(document).encode()
            self._send(200, body, kube_resources.AGGREGATED_DISCOVERY_TYPE)
        elif path == "/api":
            host = self.headers.get("Host") or ""
            self._send_json(200, kube_resources.api_versions(host))
        elif path == "/apis":
            self._send_json(200, kube_resources.api_group_list())
        elif path == "/openapi/v2":
            self._send(200, b"", OPENAPI_V2_TYPE)
        elif path == "/openapi/v3":
            self._send_json(200, kube_resources.openapi_v3_root())
        elif path.startswith("/openapi/v3/"):
            self._openapi_v3(segments[2:])
        elif segments[:2] == ["api", "v1"]:
            self._resource_request("", "v1", segments[2:])
        elif segments[:1] == ["apis"] and len(segments) >= 3:
            self._resource_request(segments[1], segments[2], segments[3:])
        else:
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )

    def _openapi_v3(self, segments: list[str]) -> None:
        if segments[:1] == ["api"] and len(segments) == 2:
            document = kube_resources.openapi_v3_document("", segments[1])
        elif segments[:1] == ["apis"] and len(segments) == 3:
            document = kube_resources.openapi_v3_document(segments[1], segments[2])
        else:
            document = None
        if document is None:
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        self._send_json(200, document)

    def _resource_request(self, group: str, version: str, segments: list[str]) -> None:
        if not segments:
            if self.command != "GET":
                raise ApiError(405, "MethodNotAllowed", "the method is not allowed")
            document = kube_resources.api_resource_list(group, version)
            if document is None:
                raise ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
            self._send_json(200, document)
            return
        namespace = ""
        rest = segments
        if segments[0] == "namespaces" and len(segments) >= 3:
            namespace = segments[1]
            rest = segments[2:]
        resource = find_resource(group, version, rest[0])
        if resource is None:
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if resource.namespaced != bool(namespace) and not (
            not namespace and len(rest) == 1 and self.command == "GET"
        ):
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and subresource not in ("status", "log", "scale"):
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if not name:
            self._collection(resource, namespace or None)
        elif subresource == "log":
            self._pod_log(resource, namespace, name)
        else:
            self._item(resource, namespace, name, subresource)

    # -- collections ------------------------------------------------------------
    def _selectors(self) -> tuple[list, list]:
        try:
            labels = kube_merge.parse_label_selector(self._param("labelSelector"))
            fields = kube_merge.parse_field_selector(self._param("fieldSelector"))
        except ValueError as error:
            raise ApiError(
                400, "BadRequest", f"unable to parse requirement: {error}"
            ) from None
        return labels, fields

    def _collection(self, resource: Resource, namespace: str | None) -> None:
        store = self.fake.store
        if self.command == "GET":
            if self._param("watch") in ("true", "1"):
                self._watch(resource, namespace)
                return
            labels, fields = self._selectors()
            items, resource_version = store.list(resource, namespace, labels, fields)
            if self._wants_table():
                document = kube_resources.table(items, resource, datetime.now(UTC))
                document["metadata"] = {"resourceVersion": str(resource_version)}
                self._send_json(200, document)
                return
            self._send_json(
                200,
                {
                    "kind": f"{resource.kind}List",
                    "apiVersion": resource.api_version,
                    "metadata": {"resourceVersion": str(resource_version)},
                    "items": items,
                },
            )
        elif self.command == "POST" and resource.create_only:
            self._review(resource)
        elif self.command == "POST":
            if namespace is None and resource.namespaced:
                raise ApiError(405, "MethodNotAllowed", "the method is not allowed")
            created = store.create(
                resource,
                namespace or "",
                self._object_body(resource, "create"),
                self._manager("unknown"),
                dry_run=self._dry_run(),
            )
            self._send_json(201, created)
        elif self.command == "DELETE":
            labels, fields = self._selectors()
            items, resource_version = store.list(resource, namespace, labels, fields)
            for item in items:
                store.delete(
                    resource,
                    item["metadata"].get("namespace", ""),
                    item["metadata"]["name"],
                    dry_run=self._dry_run(),
                )
            self._send_json(
                200,
                {
                    "kind": f"{resource.kind}List",
                    "apiVersion": resource.api_version,
                    "metadata": {"resourceVersion": str(resource_version)},
                    "items": items,
                },
            )
        else:
            raise ApiError(405, "MethodNotAllowed", "the method is not allowed")

    def _review(self, resource: Resource) -> None:
        """Allow every access review, because the fake has no authorization."""
        # kubectl may send the review as protobuf; its content does not matter here.
        self._send_json(
            201,
            {
                "kind": resource.kind,
                "apiVersion": resource.api_version,
                "metadata": {"creationTimestamp": None},
                "spec": {},
                "status": {"allowed": True, "reason": "the fake API server allows all"},
            },
        )

    def _wants_aggregated_discovery(self) -> bool:
        accept = (self.headers.get("Accept") or "").replace(" ", "")
        return (
            self.fake.aggregated_discovery
            and "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" in accept
        )

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    def _dry_run(self) -> bool:
        values = self.query.get("dryRun") or []
        for value in values:
            if value != "All":
                raise ApiError(
                    400, "BadRequest", f'invalid dryRun value "{value}"; use "All"'
                )
        return bool(values)

    # -- single objects ---------------------------------------------------------
    def _item(
        self, resource: Resource, namespace: str, name: str, subresource: str
    ) -> None:
        store = self.fake.store
        if subresource == "scale":
            self._scale(resource, namespace, name)
            return
        if self.command == "GET":
            obj = store.get(resource, namespace, name)
            if self._wants_table():
                self._send_json(
                    200, kube_resources.table([obj], resource, datetime.now(UTC))
                )
            else:
                self._send_json(200, obj)
        elif self.command == "PUT":
            updated = store.replace(
                resource,
                namespace,
                name,
                self._object_body(resource, "update"),
                self._manager("unknown"),
                dry_run=self._dry_run(),
                subresource=subresource,
            )
            self._send_json(200, updated)
        elif self.command == "PATCH":
            content_type = (
                (self.headers.get("Content-Type") or "").split(";")[0].strip()
            )
            patch_type = PATCH_TYPES.get(content_type)
            if patch_type is None:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - "
                    f"accepted media types include: {', '.join(PATCH_TYPES)}",
                )
            existed = store.find(resource, namespace, name) is not None
            force = self._param("force") in ("true", "1")
            if force and patch_type != "apply":
                raise ApiError(
                    422,
                    "Invalid",
                    "force: Forbidden: may not be specified for non-apply patch",
                )
            patched = store.patch(
                resource,
                namespace,
                name,
                patch_type,
                self._object_body(resource, patch_type),
                self._manager("unknown"),
                force=force,
                dry_run=self._dry_run(),
                subresource=subresource,
            )
            self._send_json(200 if existed else 201, patched)
        elif self.command == "DELETE":
            options = json.loads(self.body) if self.body else {}
            propagation = (
                options.get("propagationPolicy")
                or self._param("propagationPolicy")
                or "Background"
            )
            deleted = store.delete(
                resource,
                namespace,
                name,
                dry_run=self._dry_run(),
                propagation=propagation,
                preconditions=options.get("preconditions"),
            )
            self._send_json(200, deleted)
        else:
            raise ApiError(405, "MethodNotAllowed", "the method is not allowed")

    def _scale(self, resource: Resource, namespace: str, name: str) -> None:
        store = self.fake.store
        if resource.kind not in ("Deployment", "StatefulSet", "ReplicaSet"):
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        obj = store.get(resource, namespace, name)
        if self.command in ("PUT", "PATCH"):
            body = self._json_body()
            if self.command == "PATCH":
                current = _scale_of(obj)
                body = kube_merge.json_merge_patch(current, body)
            replicas = int((body.get("spec") or {}).get("replicas", 0))
            obj = store.patch(
                resource,
                namespace,
                name,
                "merge",
                {"spec": {"replicas": replicas}},
                self._manager("unknown"),
                dry_run=self._dry_run(),
            )
        elif self.command != "GET":
            raise ApiError(405, "MethodNotAllowed", "the method is not allowed")
        self._send_json(200, _scale_of(obj))

    def _pod_log(self, resource: Resource, namespace: str, name: str) -> None:
        if resource.kind != "Pod" or self.command != "GET":
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        pod = self.fake.store.get(resource, namespace, name)
        containers = [
            c.get("name") for c in (pod.get("spec") or {}).get("containers", [])
        ]
        container = self._param("container")
        if not container:
            if len(containers) != 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {name}, "
                    "choose one of: "
                    f"[{' '.join(containers)}]",
                )
            container = containers[0]
        if container not in containers:
            raise ApiError(
                400, "BadRequest", f"container {container} is not valid for pod {name}"
            )
        lines = self.fake.controller.pod_log(namespace, name, container)
        tail = self._param("tailLines")
        if tail.isdigit():
            lines = lines[-int(tail) :] if int(tail) else []
        text = "".join(line + "\n" for line in lines)
        self._send(200, text.encode(), "text/plain")

    # -- watch ------------------------------------------------------------------
    def _watch(self, resource: Resource, namespace: str | None) -> None:
        store = self.fake.store
        labels, fields = self._selectors()
        timeout = self._param("timeoutSeconds")
        deadline = time.monotonic() + (float(timeout) if timeout else 1800.0)
        start = self._param("resourceVersion")
        send_initial = self._param("sendInitialEvents") == "true"
        with store.changed:
            if start in ("", "0") or send_initial:
                initial, current = store.list(resource, namespace, labels, fields)
            else:
                initial, current = [], int(start) if start.isdigit() else 0
                store.events_since(current)  # 410 Gone when too old

        self.status_sent = 200
        self._record()  # a watch may stream for minutes; log it when it starts
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        as_table = self._wants_table()
        for obj in initial:
            self._write_event("ADDED", obj, resource, as_table)
        if send_initial:
            self._write_event(
                "BOOKMARK",
                {
                    "kind": resource.kind,
                    "apiVersion": resource.api_version,
                    "metadata": {
                        "resourceVersion": str(current),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                },
                resource,
                False,
            )

        last = current
        while not self.fake._stopping.is_set() and time.monotonic() < deadline:
            with store.changed:
                events = store.events_since(last)
                if not events:
                    store.changed.wait(timeout=0.5)
                    events = store.events_since(last)
            if not events and self._client_gone():
                break
            for event in events:
                last = event.resource_version
                if self._event_matches(event, resource, namespace, labels, fields):
                    self._write_event(event.type, event.obj, resource, as_table)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        self.close_connection = True

    @staticmethod
    def _event_matches(
        event: WatchEvent,
        resource: Resource,
        namespace: str | None,
        labels: list,
        fields: list,
    ) -> bool:
        if event.resource.key != resource.key:
            return False
        if namespace is not None and event.namespace != namespace:
            return False
        return matches(event.obj, labels, fields)

    def _write_event(
        self, event_type: str, obj: dict, resource: Resource, as_table: bool
    ) -> None:
        if as_table and event_type != "BOOKMARK":
            obj = kube_resources.table([obj], resource, datetime.now(UTC))
        line = json.dumps({"type": event_type, "object": obj}).encode() + b"\n"
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

    # -- control endpoints ------------------------------------------------------
    def _control(self, segments: list[str]) -> None:
        target = segments[0] if segments else ""
        if target == "requests" and self.command == "GET":
            with self.fake._requests_lock:
                recorded = [r.to_json() for r in self.fake.requests]
            self._send_json(200, recorded)
        elif target == "requests" and self.command == "DELETE":
            self.fake.clear_requests()
            self._send_json(200, [])
        elif target == "faults" and self.command == "GET":
            self._send_json(200, [f.to_json() for f in self.fake.faults])
        elif target == "faults" and self.command == "POST":
            try:
                fault = Fault.from_json(self._json_body())
            except (TypeError, ValueError) as error:
                raise ApiError(400, "BadRequest", f"invalid fault: {error}") from None
            self.fake.add_fault(fault)
            self._send_json(201, fault.to_json())
        elif target == "faults" and self.command == "DELETE":
            self.fake.clear_faults()
            self._send_json(200, [])
        elif target == "errors" and self.command == "GET":
            with self.fake._requests_lock:
                errors = [e.to_json() for e in self.fake.errors]
            self._send_json(200, errors)
        elif target == "errors" and self.command == "POST":
            try:
                error = InjectedError(**self._json_body())
            except TypeError as problem:
                raise ApiError(400, "BadRequest", f"invalid error: {problem}") from None
            self._send_json(201, self.fake.inject(error).to_json())
        elif target == "errors" and self.command == "DELETE":
            self.fake.clear_errors()
            self._send_json(200, [])
        elif target == "objects" and self.command == "GET":
            with self.fake.store.changed:
                objects = [r.obj for r in self.fake.store.records.values()]
                self._send_json(200, objects)
        else:
            raise ApiError(404, "NotFound", f"unknown control endpoint {self.url_path}")


def _scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"].get("namespace", ""),
            "resourceVersion": obj["metadata"].get("resourceVersion", ""),
        },
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


# -------------------------------------------------------------------------------------
# Kubeconfig and several clusters
# -------------------------------------------------------------------------------------
def kubeconfig_document(
    servers: dict[str, str], *, current: str | None = None, namespace: str = "default"
) -> dict[str, Any]:
    """Return a kubeconfig with one context (cluster and user) per ``name -> URL``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {"name": name, "cluster": {"server": url}} for name, url in servers.items()
        ],
        "users": [{"name": name, "user": {}} for name in servers],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": name, "namespace": namespace},
            }
            for name in servers
        ],
        "current-context": current if current is not None else next(iter(servers), ""),
    }


def write_kubeconfig(
    path: str | Path,
    clusters: dict[str, FakeKube | str],
    *,
    current: str | None = None,
    namespace: str = "default",
) -> Path:
    """Write a kubeconfig for fakes (or URLs) by context name; return its path.

    Raises FileExistsError rather than replace a file this module did not write,
    so a user's own kubeconfig is never overwritten.
    """
    import yaml

    from tpo_tasks.fileio import write_text_atomic

    target = Path(path)
    if target.exists():
        first_line = target.read_text(errors="replace").split("\n", 1)[0]
        if first_line.strip() != KUBECONFIG_MARKER:
            raise FileExistsError(
                f"{target} exists and was not written by the fake; pass a new path"
            )
    servers = {
        name: fake.url if isinstance(fake, FakeKube) else fake
        for name, fake in clusters.items()
    }
    document = kubeconfig_document(servers, current=current, namespace=namespace)
    text = KUBECONFIG_MARKER + "\n" + yaml.safe_dump(document, sort_keys=False)
    write_text_atomic(target, text)
    return target


@dataclass
class FakeClusters:
    """Several fakes, one per context, and the kubeconfig that names them."""

    kubeconfig: Path
    servers: dict[str, FakeKube]
    current: str

    @property
    def urls(self) -> dict[str, str]:
        """Each context's server URL."""
        return {name: fake.url for name, fake in self.servers.items()}

    def requests(self, context: str) -> list[RecordedRequest]:
        """Return the requests the given context's server received."""
        return list(self.servers[context].requests)

    def stop(self) -> None:
        """Stop every fake."""
        for fake in self.servers.values():
            fake.stop()


@contextlib.contextmanager
def start_clusters(
    contexts: Sequence[str],
    kubeconfig: str | Path,
    *,
    current: str | None = None,
    namespace: str = "default",
    **options: Any,
) -> Iterator[FakeClusters]:
    """Start one fake per context, write the kubeconfig, stop them all on exit.

    ``options`` go to every :class:`FakeKube` (``rollout_delay``, ``faults``...).
    """
    servers: dict[str, FakeKube] = {}
    try:
        for name in contexts:
            servers[name] = FakeKube(context=name, **options).start()
        chosen = current if current is not None else contexts[-1]
        path = write_kubeconfig(
            kubeconfig, dict(servers), current=chosen, namespace=namespace
        )
        clusters = FakeClusters(path, servers, chosen)
        yield clusters
    finally:
        for fake in servers.values():
            fake.stop()


# -------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run fake clusters until interrupted; print ``CONTEXT URL`` per cluster."""
    parser = argparse.ArgumentParser(
        prog="python -m tpo_tasks.testing.fake_kube",
        description="Serve a loopback fake Kubernetes API server for kubectl.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback address to bind (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the first context; later ones take free ports "
        "(default: 0, a free port)",
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        help="context name; repeat for one fake per context (default: fake)",
    )
    parser.add_argument(
        "--current-context",
        default=None,
        help="current-context of the kubeconfig (default: the last --context)",
    )
    parser.add_argument(
        "--namespace",
        default="default",
        help="namespace of every context (default: default)",
    )
    parser.add_argument(
        "--write-kubeconfig",
        type=Path,
        default=None,
        help="write a kubeconfig for the fakes to this path; an "
        "existing file is replaced only if the fake wrote it",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        help="make rollouts fail: NAME=MODE (MODE never-ready or "
        "progress-deadline) or mode=M,name=N,kind=K,namespace=NS,"
        "image=S,times=N,after=SECONDS; repeatable",
    )
    parser.add_argument(
        "--rollout-delay",
        type=float,
        default=0.2,
        help="seconds per simulated rollout step (default: 0.2)",
    )
    parser.add_argument(
        "--version",
        default=DEFAULT_VERSION,
        help=f"Kubernetes version to report (default: {DEFAULT_VERSION})",
    )
    args = parser.parse_args(argv)

    try:
        faults = [Fault.parse(text) for text in args.fault]
    except ValueError as error:
        parser.error(str(error))
    contexts = args.context or ["fake"]
    if args.current_context and args.current_context not in contexts:
        parser.error(f"--current-context {args.current_context!r} is not a --context")
    if args.host not in LOOPBACK_HOSTS:
        parser.error(f"invalid --host {args.host!r}; use 127.0.0.1 or ::1")

    logging.basicConfig(
        level=logging.INFO, format="fake_kube: %(message)s", stream=sys.stderr
    )
    servers: dict[str, FakeKube] = {}
    try:
        for index, name in enumerate(contexts):
            port = args.port if index == 0 else 0
            servers[name] = FakeKube(
                context=name,
                host=args.host,
                port=port,
                version=args.version,
                rollout_delay=args.rollout_delay,
                faults=faults,
            ).start()
        if args.write_kubeconfig is not None:
            current = args.current_context or contexts[-1]
            write_kubeconfig(
                args.write_kubeconfig,
                dict(servers),
                current=current,
                namespace=args.namespace,
            )
    except (OSError, FileExistsError) as error:
        for fake in servers.values():
            fake.stop()
        print(f"fake_kube: error: {error}", file=sys.stderr)
        return 3

    # Handlers go in before the URLs are printed: a caller may stop the server as
    # soon as it has read them.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for name, fake in servers.items():
        print(f"{name} {fake.url}", flush=True)
    while not stop.wait(0.5):
        pass
    for fake in servers.values():
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
