"""Prometheus metrics move with what happens: a query, a job, a pool, a retention action;
/metrics is protected as configured; ``serve --workers 2`` reports the sum of its workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, Session
from lightningtrack.resolvers import retention
from lightningtrack.resolvers.effects import collecting
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import BACKEND, Client, environment_for, signed_up, unique

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-" + "z" * 20


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: Client) -> str:
    response = await client.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_query_increments_its_counter_and_latency_histogram(owner: Client) -> None:
    before = await scrape(owner)
    for _ in range(3):
        await owner.gql("query MetricsProjects { projects { totalCount } }")
    # A document that fails validation never executes: the request's operationName counts.
    await owner.http.post(
        "/graphql",
        json={"query": "query MetricsMissing { noSuchField }", "operationName": "MetricsMissing"},
    )
    after = await scrape(owner)
    name = "lightningtrack_graphql_requests_total"
    ok = {"operation": "MetricsProjects", "outcome": "ok"}
    assert value(after, name, **ok) - value(before, name, **ok) == 3
    failed = {"operation": "MetricsMissing", "outcome": "BAD_USER_INPUT"}
    assert value(after, name, **failed) - value(before, name, **failed) == 1
    histogram = "lightningtrack_graphql_request_duration_seconds_count"
    assert (
        value(after, histogram, operation="MetricsProjects")
        - value(before, histogram, operation="MetricsProjects")
        == 3
    )
    # Every response is counted by route and status, the scrapes included.
    assert value(after, "lightningtrack_http_responses_total", route="graphql", status="200") > 0


async def test_operation_names_are_bounded_labels(owner: Client) -> None:
    """Operation names come from clients: odd or too many of them fold into one label."""
    from lightningtrack import metrics

    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("x" * 65) == "other"
    assert metrics.operation_label("has space") == "other"
    saved = set(metrics._operations)
    try:
        metrics._operations.update(f"Filler{n}" for n in range(metrics.MAX_OPERATION_NAMES))
        assert metrics.operation_label("BrandNewName") == "other"
        assert metrics.operation_label("Filler1") == "Filler1"
    finally:
        metrics._operations.clear()
        metrics._operations.update(saved)


async def test_jobs_pools_and_retention_are_counted(
    make_client: Any, jobs: InProcessRunner, settings: Settings, tenancy: Tenancy
) -> None:
    observer: Client = make_client()
    before = await scrape(observer)
    client = await signed_up(make_client, "Metric")  # its registration mail is a job
    await client.gql(
        "mutation($input: WorkspaceCreateInput!) { workspaceCreate(input: $input) { "
        "workspace { slug } } }",
        {"input": {"name": "Metered", "slug": unique("metered")}},
    )
    await jobs.drain()
    account = await Account.get(email=(await client.gql("{ viewer { email } }"))["viewer"]["email"])
    await Session.create(
        token_hash=unique("expired").ljust(64, "0")[:64],
        account=account,
        last_seen_at=clock.now() - timedelta(days=40),
        expires_at=clock.now() - timedelta(days=10),
    )
    with collecting():
        await retention.run(settings, tenancy, clock.now())
    slug = (await client.gql("{ workspaces { slug } }"))["workspaces"][0]["slug"]
    await client.gql("{ projects { totalCount } }", workspace=slug)
    after = await scrape(observer)

    jobs_total = "lightningtrack_jobs_total"
    sent = {"task": "send_email", "outcome": "ok"}
    assert value(after, jobs_total, **sent) > value(before, jobs_total, **sent)
    assert value(after, "lightningtrack_job_duration_seconds_count", task="send_email") > 0
    action = {"kind": "delete expired sessions", "outcome": "ok"}
    assert value(after, "lightningtrack_retention_actions_total", **action) > value(
        before, "lightningtrack_retention_actions_total", **action
    )
    assert value(after, "lightningtrack_workspace_pools_open") >= 1
    assert value(after, "lightningtrack_workspace_pool_connections") >= 1
    opened = "lightningtrack_workspace_pool_events_total"
    assert value(after, opened, event="opened") > 0
    assert value(after, "lightningtrack_workspace_pool_connection_cap") > 0


async def test_metrics_need_the_token_when_one_is_set_and_are_off_in_production_without(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    production = {
        **env,
        "LT_ENV": "production",
        "LT_PUBLIC_URL": "https://api.example",
        "LT_SECRET_KEY": "production-secret-" + "y" * 40,
    }
    for extra, expected in (
        ({}, {None: 404}),
        ({"LT_METRICS_TOKEN": TOKEN}, {None: 401, "Bearer wrong": 401, f"Bearer {TOKEN}": 200}),
    ):
        app = create_app(load_settings({**production, **extra}), tenancy, jobs)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as c:
            for authorization, status in expected.items():
                headers = {"Authorization": authorization} if authorization else {}
                response = await c.get("/metrics", headers=headers)
                assert response.status_code == status, (extra, authorization, response.text)
                if status == 200:
                    assert "lightningtrack_graphql_requests_total" in response.text
                    assert response.headers["cache-control"] == "no-store"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "lightningtrack", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_until_up(url: str, within: float = 90) -> None:
    async with httpx.AsyncClient() as http:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                if (await http.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{url} did not come up")
            await asyncio.sleep(0.3)


async def test_serve_with_two_workers_reports_the_sum_of_both(
    settings: Settings, tenancy: Tenancy, tmp_path: Path
) -> None:
    """Requests land on either worker; any scrape, of the API port or of the separate
    listener, must count all of them, and the pool cap is the sum of both processes'."""
    port, listener = _free_port(), _free_port()
    env = {
        **os.environ,
        **environment_for(settings.data_dir, settings.database_url.database or ""),
        "LT_METRICS_ADDRESS": f"127.0.0.1:{listener}",
        "LT_SWEEP_INTERVAL": "3600",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    base = f"http://127.0.0.1:{port}"
    requests = 24
    with serving(env, port):
        await _wait_until_up(f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(requests):
                # A new connection each time, so that both workers take some.
                response = await http.post(
                    "/graphql",
                    json={"query": "query TwoWorkers { __typename }"},
                    headers={"Connection": "close"},
                )
                assert response.status_code == 200, response.text
            # Both workers count once both have started (the first may serve alone a while).
            cap = "lightningtrack_workspace_pool_connection_cap"
            deadline = asyncio.get_running_loop().time() + 90
            while value((await http.get("/metrics")).text, cap) < 2 * settings.pool_max_connections:
                assert asyncio.get_running_loop().time() < deadline, "the second worker never came"
                await asyncio.sleep(0.5)
            scraped = [(await http.get("/metrics")).text for _ in range(4)]
            separate = (await http.get(f"http://127.0.0.1:{listener}/metrics")).text
    name = "lightningtrack_graphql_requests_total"
    for text in [*scraped, separate]:
        assert value(text, name, operation="TwoWorkers", outcome="ok") == requests
        assert value(text, cap) == 2 * settings.pool_max_connections, BACKEND


async def test_the_worker_serves_its_job_metrics_on_the_metrics_address(
    settings: Settings, tenancy: Tenancy
) -> None:
    """A worker process has no API port: its sweep (run at start) shows on its listener."""
    from tests.retention.test_worker import flush, worker_process

    port = _free_port()
    await flush()
    try:
        async with (
            worker_process(settings, LT_METRICS_ADDRESS=f"127.0.0.1:{port}") as worker,
            httpx.AsyncClient() as http,
        ):
            deadline = asyncio.get_running_loop().time() + 60
            swept = 0.0
            while swept < 1:
                assert asyncio.get_running_loop().time() < deadline, worker.log[-20:]
                await asyncio.sleep(0.3)
                with contextlib.suppress(httpx.HTTPError):
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                    swept = value(text, "lightningtrack_jobs_total", task="sweep", outcome="ok")
    finally:
        await flush()


async def test_compiled_selections_are_counted_built_and_fallen_back(owner: Client) -> None:
    """A page of issues is built by a compiled builder; a value the builder does not take
    (a comment count no list prefetched, on an issue read alone) falls back, and is
    counted."""
    data = await owner.gql(
        'mutation { projectCreate(input: {key: "MET", name: "M"}) { project { id } } }'
    )
    project = data["projectCreate"]["project"]["id"]
    created = await owner.gql(
        "mutation($i: IssueCreateInput!) { issueCreate(input: $i) { issue { key } } }",
        {"i": {"projectId": project, "title": "Counted"}},
    )
    key = created["issueCreate"]["issue"]["key"]
    name = "lightningtrack_compiled_selections_total"
    before = await scrape(owner)
    await owner.gql("{ issues(first: 5) { nodes { key title project { key } } } }")
    await owner.gql(
        "query($k: String!) { issue(key: $k) { key comments { totalCount } } }", {"k": key}
    )
    after = await scrape(owner)
    assert value(after, name, outcome="built") - value(before, name, outcome="built") >= 1
    fell_back = value(after, name, outcome="fell_back") - value(before, name, outcome="fell_back")
    assert fell_back >= 1
