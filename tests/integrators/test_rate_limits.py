"""Rate limits, sign-in throttling, and the request metadata kept for 30 days."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import RequestLog
from lightningtrack.resolvers import retention
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.ratelimit import RateLimiter
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, Client, environment_for, unique

SIGN_IN = "mutation($input: SignInInput!) { signIn(input: $input) { account { id } } }"
REDIS = "redis://127.0.0.1:6379/11"


def limited_settings(settings: Settings, **extra: str) -> Settings:
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    return load_settings(
        {**env, "LT_RATE_LIMIT_BURST": "5", "LT_RATE_LIMIT_PER_MINUTE": "60", **extra}
    )


def client_of(app: Any) -> Client:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    return Client(http)


@pytest.fixture
async def redis_db() -> AsyncIterator[Redis]:
    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    yield redis
    await redis.flushdb()
    await redis.aclose()


async def signed_up_on(client: Client) -> str:
    email = f"{unique('rate')}@example.com"
    await client.gql(
        SIGN_UP, {"input": {"name": "Rate", "email": email, "password": "correct horse"}}
    )
    return email


async def test_a_spent_bucket_answers_rate_limited_with_retry_after(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """Five requests of burst, then RATE_LIMITED with retryAfter and the X-RateLimit-*
    headers; the refusal happens before anything runs."""
    app = create_app(limited_settings(settings), tenancy, jobs)
    client = client_of(app)
    await signed_up_on(client)
    seen = []
    for _ in range(5):
        response = await client.http.post("/graphql", json={"query": "{ viewer { id } }"})
        assert "errors" not in response.json()
        seen.append(int(response.headers["x-ratelimit-remaining"]))
        assert response.headers["x-ratelimit-limit"] == "5"
    assert seen == sorted(seen, reverse=True) and seen[-1] == 0
    refused = await client.http.post("/graphql", json={"query": "{ viewer { id } }"})
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1
    assert int(refused.headers["retry-after"]) == error["extensions"]["retryAfter"]
    assert refused.json()["data"] is None
    await client.http.aclose()


async def test_buckets_are_per_principal(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """One account spending its bucket leaves another's whole."""
    app = create_app(limited_settings(settings), tenancy, jobs)
    first, second = client_of(app), client_of(app)
    await signed_up_on(first)
    await signed_up_on(second)
    for _ in range(6):
        await first.post("{ viewer { id } }")
    assert (await first.error("{ viewer { id } }"))["extensions"]["code"] == "RATE_LIMITED"
    assert (await second.gql("{ viewer { id } }"))["viewer"]["id"]
    await first.http.aclose()
    await second.http.aclose()


async def test_counters_in_redis_are_shared_between_processes(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner, redis_db: Redis
) -> None:
    """Two server processes with LT_REDIS_URL share one bucket per account (two apps with
    separate limiters stand for them)."""
    shared = limited_settings(settings, LT_REDIS_URL=REDIS)
    one = create_app(shared, tenancy, jobs, limiter=RateLimiter(shared))
    two = create_app(shared, tenancy, jobs, limiter=RateLimiter(shared))
    on_one = client_of(one)
    await signed_up_on(on_one)
    on_two = client_of(two)
    on_two.http.cookies = on_one.http.cookies
    for n in range(5):
        await (on_one if n % 2 else on_two).gql("{ viewer { id } }")
    assert (await on_one.error("{ viewer { id } }"))["extensions"]["code"] == "RATE_LIMITED"
    assert (await on_two.error("{ viewer { id } }"))["extensions"]["code"] == "RATE_LIMITED"
    assert await redis_db.keys("lt:rate:*")
    for app in (one, two):
        await app.state.limiter.close()
    await on_one.http.aclose()
    await on_two.http.aclose()


async def test_sign_in_slows_after_ten_failures_and_recovers(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """Ten wrong passwords are answered as such; the eleventh attempt waits, even with the
    right password, and only briefly; a success clears the count."""
    app = create_app(limited_settings(settings, LT_RATE_LIMIT_BURST="1000"), tenancy, jobs)
    owner = client_of(app)
    email = await signed_up_on(owner)
    stranger = client_of(app)
    for _ in range(10):
        error = await stranger.error(SIGN_IN, {"input": {"email": email, "password": "wrong!!!"}})
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    slowed = await owner.error(SIGN_IN, {"input": {"email": email, "password": "correct horse"}})
    assert slowed["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= slowed["extensions"]["retryAfter"] <= 300  # a stranger cannot lock it long
    # Another address is not slowed by this one's failures.
    other = await signed_up_on(client_of(app))
    await owner.gql(SIGN_IN, {"input": {"email": other, "password": "correct horse"}})
    await owner.http.aclose()
    await stranger.http.aclose()


async def test_request_metadata_is_recorded_and_kept_30_days(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner, owner: Client, app: Any
) -> None:
    """Each API request leaves one row of metadata (no query text, no variables); the sweep
    deletes rows older than 30 days."""
    marker = f"Probe{uuid.uuid4().hex[:8]}"
    response = await owner.http.post(
        "/graphql",
        json={"query": f"query {marker} {{ workspace {{ slug }} }}", "operationName": marker},
        headers={"X-Workspace": owner.workspace or ""},
    )
    request_id = response.headers["x-request-id"]
    await app.state.request_log.flush()
    [row] = await RequestLog.filter(request_id=request_id)
    assert row.operation == marker
    assert row.outcome == "ok"
    assert row.workspace_id is not None and row.account_id is not None
    assert row.client_ip and row.duration_ms >= 0
    assert not hasattr(row, "query")

    await owner.post("{ nope }")
    await app.state.request_log.flush()
    assert await RequestLog.filter(outcome="BAD_USER_INPUT", account_id=row.account_id).exists()

    clock.freeze(row.at + timedelta(days=30, minutes=1))
    with collecting() as deferred:
        await retention.run(settings, tenancy)
    await jobs.submit(deferred)
    assert not await RequestLog.filter(request_id=request_id).exists()
