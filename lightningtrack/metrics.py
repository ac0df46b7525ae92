"""Prometheus metrics: what the server, its pools and its jobs are doing.

Each process counts in its own memory; ``lightningtrack serve --workers N`` switches
prometheus-client to its multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set before any
worker starts), so that a scrape of any worker, or of the separate metrics listener in the
supervising process, sums every worker. Gauges of live state (open pools, connections)
count live processes only.

Nothing here runs per field: a request is counted once, after its operation, and the
labels are bounded (operation names are capped per process, outcomes are error codes).
"""

from __future__ import annotations

import hmac
import os
import re
import shutil
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 200
_OPERATION = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")

REQUESTS = Counter(
    "lightningtrack_graphql_requests",
    "GraphQL operations, by operation name and outcome (ok or the first error's code).",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "lightningtrack_graphql_request_duration_seconds",
    "Time from the start of a GraphQL operation to its result, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_RESPONSES = Counter(
    "lightningtrack_http_responses",
    "HTTP responses, by route and status code (refusals before GraphQL included).",
    ["route", "status"],
)
JOBS = Counter(
    "lightningtrack_jobs",
    "Jobs run, by task and outcome (ok, failed, dropped).",
    ["task", "outcome"],
)
JOB_SECONDS = Histogram(
    "lightningtrack_job_duration_seconds",
    "Time a job ran, by task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0),
)
POOLS_OPEN = Gauge(
    "lightningtrack_workspace_pools_open",
    "Workspace connection pools open, summed over live processes.",
    multiprocess_mode="livesum",
)
POOL_CONNECTIONS = Gauge(
    "lightningtrack_workspace_pool_connections",
    "Database connections held by open workspace pools, summed over live processes.",
    multiprocess_mode="livesum",
)
POOL_CONNECTION_CAP = Gauge(
    "lightningtrack_workspace_pool_connection_cap",
    "LT_POOL_MAX_CONNECTIONS of each live process, summed: the installation's cap.",
    multiprocess_mode="livesum",
)
POOL_EVENTS = Counter(
    "lightningtrack_workspace_pool_events",
    "Pool registry events: opened, evicted (to make room), idle_closed, waited (all busy).",
    ["event"],
)
COMPILED_SELECTIONS = Counter(
    "lightningtrack_compiled_selections",
    "Selection sets and planned root fields answered by a compiled builder (built) or handed"
    " back to field-by-field execution or the resolver (fell_back).",
    ["outcome"],
)
RETENTION_ACTIONS = Counter(
    "lightningtrack_retention_actions",
    "Retention sweep actions carried out, by kind and outcome.",
    ["kind", "outcome"],
)
ACCOUNT_ERASURE_VISITS = Counter(
    "lightningtrack_account_erasure_visits",
    "Workspaces visited to anonymise an erased account's rows, by outcome (ok, failed).",
    ["outcome"],
)
ACCOUNT_ERASURES_WAITING = Gauge(
    "lightningtrack_account_erasures_waiting",
    "Accounts due for erasure that wait on a workspace that could not be reached, by how "
    "their 30-day deadline stands: ahead, near (within 3 days) or passed.",
    ["deadline"],
    multiprocess_mode="mostrecent",
)
BACKUPS = Counter(
    "lightningtrack_backups",
    "Database backups written, by kind (workspace, landlord) and outcome.",
    ["kind", "outcome"],
)
BACKUPS_PRUNED = Counter(
    "lightningtrack_backups_pruned",
    "Backup files deleted because they were older than the retention period.",
)
BACKUP_LAST_SUCCESS = Gauge(
    "lightningtrack_backup_last_success_timestamp_seconds",
    "Unix time at which the last complete backup run finished.",
    multiprocess_mode="mostrecent",
)

_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return "anonymous"
    if name in _operations:
        return name
    if not _OPERATION.match(name) or len(_operations) >= MAX_OPERATION_NAMES:
        return "other"
    _operations.add(name)
    return name


def observe_request(operation: str | None, outcome: str, seconds: float) -> None:
    label = operation_label(operation)
    REQUESTS.labels(label, outcome).inc()
    REQUEST_SECONDS.labels(label).observe(seconds)


def observe_job(task: str, outcome: str, seconds: float) -> None:
    JOBS.labels(task, outcome).inc()
    JOB_SECONDS.labels(task).observe(seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR) or None


def prepare_multiprocess(folder: Path) -> None:
    """Called by ``serve`` before any worker process exists: an empty folder for the
    workers' metric files (a previous run's files would count twice)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROCESS_DIR] = str(folder)


def forget_dead_processes() -> None:
    """Drop the live gauges of worker processes that died without saying so."""
    folder = multiprocess_dir()
    if folder is None:
        return
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), folder)  # type: ignore[no-untyped-call]


def process_exit() -> None:
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's files in multiprocess mode, else this one."""
    if multiprocess_dir() is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    return collected


def exposition() -> bytes:
    return generate_latest(registry())


def start_listener(address: str) -> None:
    """The separate metrics listener of ``LT_METRICS_ADDRESS`` (host:port), no token."""
    host, _, port = address.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry())


def endpoint(token: str | None, enabled: bool) -> Any:
    """``GET /metrics`` on the API port: bearer-token protected when a token is set."""

    async def metrics(request: Request) -> Response:
        if not enabled:
            return PlainTextResponse("Not Found", 404)
        if token is not None:
            scheme, _, offered = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                offered.strip().encode(), token.encode()
            ):
                return PlainTextResponse(
                    "A metrics token is required.",
                    401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return Response(
            exposition(),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    return metrics


def _route(path: str) -> str:
    if path == "/graphql":
        return "graphql"
    if path.startswith("/graphiql/"):
        return "graphiql"
    if path.startswith("/exports/"):
        return "exports"
    if path in ("/healthz", "/readyz", "/metrics"):
        return path[1:]
    return "other"


class ResponseCounter:
    """Counts every HTTP response by route and status, including the transport guard's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _route(scope["path"])

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                HTTP_RESPONSES.labels(route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counted)
