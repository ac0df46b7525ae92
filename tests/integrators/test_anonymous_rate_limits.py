"""Requests with neither a session nor an API key spend a token bucket of their client
address (LT_ANONYMOUS_RATE_LIMIT_*), answered like the other limits; the address is the
ASGI scope's, so X-Forwarded-For counts only through a proxy the server trusts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from redis.asyncio import Redis
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.resolvers.ratelimit import RateLimiter, RedisStore, anonymous
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, Client, environment_for, unique
from tests.integrators.test_rate_limits import REDIS

VIEWER = "{ viewer { id } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def anonymous_settings(settings: Settings, **extra: str) -> Settings:
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    env.pop("LT_ANONYMOUS_RATE_LIMIT_BURST")
    return load_settings({**env, **extra})


def tight(settings: Settings) -> Settings:
    """Three anonymous requests of burst, then one a second."""
    return anonymous_settings(
        settings, LT_ANONYMOUS_RATE_LIMIT_BURST="3", LT_ANONYMOUS_RATE_LIMIT_PER_MINUTE="60"
    )


def from_address(app: Any, address: str, port: int = 40000) -> Client:
    transport = httpx.ASGITransport(app=app, client=(address, port))
    return Client(httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1"))


async def ask(client: Client, headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {"accept": GRAPHQL_RESPONSE, **(headers or {})}
    return await client.http.post("/graphql", json={"query": VIEWER}, headers=sent)


def refused(response: httpx.Response) -> bool:
    body = response.json()
    if not body.get("errors"):
        return False
    error = body["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED", body
    assert error["extensions"]["retryAfter"] >= 1
    assert int(response.headers["retry-after"]) == error["extensions"]["retryAfter"]
    assert response.status_code == 429 and "data" not in body
    return True


async def spend(client: Client, headers: dict[str, str] | None = None) -> list[bool]:
    return [refused(await ask(client, headers)) for _ in range(4)]


async def test_anonymous_requests_spend_a_bucket_of_their_address(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """Three requests of burst with the X-RateLimit-* headers, then RATE_LIMITED (429,
    retryAfter, Retry-After); another address keeps its whole bucket, and a signed-in
    browser at the spent address counts by its account."""
    app = create_app(tight(settings), tenancy, jobs)
    spender = from_address(app, "203.0.113.5")
    remaining = []
    for _ in range(3):
        response = await ask(spender)
        assert response.status_code == 200 and not refused(response), response.text
        assert response.headers["x-ratelimit-limit"] == "3"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    assert refused(await ask(spender))
    assert await spend(from_address(app, "203.0.113.6")) == [False, False, False, True]

    neighbour = from_address(app, "198.51.100.1")
    email = f"{unique('anon')}@example.com"
    await neighbour.gql(SIGN_UP, {"input": {"name": "N", "email": email, "password": "pw-123456"}})
    signed_in = from_address(app, "203.0.113.5")
    signed_in.http.cookies = neighbour.http.cookies
    response = await ask(signed_in)
    assert not refused(response) and response.json()["data"]["viewer"]["id"]
    assert response.headers["x-ratelimit-limit"] == str(settings.rate_limit_burst)
    for client in (spender, neighbour, signed_in):
        await client.http.aclose()


async def test_a_bad_api_key_counts_as_anonymous(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """A key that does not authenticate is no key: guessing keys from one address spends
    that address's bucket, and is told to slow down once it is spent."""
    app = create_app(tight(settings), tenancy, jobs)
    guesser = from_address(app, "203.0.113.20")
    bad = {"authorization": "Bearer ltk_" + "A" * 36}
    answers = [await ask(guesser, bad) for _ in range(4)]
    codes = [a.json()["errors"][0]["extensions"]["code"] for a in answers]
    assert codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert refused(answers[-1])
    await guesser.http.aclose()


async def test_the_defaults_let_a_browser_sign_up(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """With the default bucket (60 of burst, 120 a minute), a browser that loads the app
    a few times, mistypes and signs up is never refused."""
    app = create_app(anonymous_settings(settings), tenancy, jobs)
    browser = from_address(app, "203.0.113.30")
    taken = f"{unique('taken')}@example.com"
    await from_address(app, "203.0.113.31").gql(
        SIGN_UP, {"input": {"name": "T", "email": taken, "password": "pw-123456"}}
    )
    for _ in range(20):
        response = await ask(browser)
        assert not refused(response)
        assert response.headers["x-ratelimit-limit"] == "60"
    error = await browser.error(
        SIGN_UP, {"input": {"name": "B", "email": taken, "password": "pw-123456"}}
    )
    assert error["extensions"]["code"] == "CONFLICT"
    mine = f"{unique('browser')}@example.com"
    await browser.gql(SIGN_UP, {"input": {"name": "B", "email": mine, "password": "pw-123456"}})
    assert (await browser.gql(VIEWER))["viewer"]["id"]
    await browser.http.aclose()


async def test_forwarded_for_counts_only_through_a_trusted_proxy(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """A client's own X-Forwarded-For is ignored; behind uvicorn's proxy-headers handling
    (FORWARDED_ALLOW_IPS naming the proxy) each forwarded client has its bucket, and a
    connection from elsewhere is counted by its own address whatever it claims."""
    app = create_app(tight(settings), tenancy, jobs)
    liar = from_address(app, "203.0.113.40")
    claims = [{"x-forwarded-for": f"192.0.2.{n}"} for n in range(4)]
    assert [refused(await ask(liar, claim)) for claim in claims] == [False, False, False, True]

    proxied = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.1")
    proxy = from_address(proxied, "10.0.0.1")
    for client in ("192.0.2.50", "192.0.2.51"):
        assert await spend(proxy, {"x-forwarded-for": client}) == [False, False, False, True]
    stranger = from_address(proxied, "10.0.0.2")
    spoofed = {"x-forwarded-for": "192.0.2.60"}
    assert await spend(stranger, spoofed) == [False, False, False, True]
    # The stranger spent its own address's bucket, not the one it named.
    assert not refused(await ask(proxy, spoofed))
    for client in (liar, proxy, stranger):
        await client.http.aclose()


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    """A subscriber holds a /64: rotating addresses inside it must not mint new buckets."""
    assert anonymous("2001:db8:1:2::1") == anonymous("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert anonymous("2001:db8:1:2::1") != anonymous("2001:db8:1:3::1")
    assert anonymous("::ffff:203.0.113.5") == anonymous("203.0.113.5")
    assert anonymous("203.0.113.5") != anonymous("203.0.113.6")


async def test_anonymous_buckets_are_shared_through_redis(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """Two server processes with LT_REDIS_URL (two apps with their own limiters) count
    one address once."""
    shared = anonymous_settings(
        settings,
        LT_REDIS_URL=REDIS,
        LT_ANONYMOUS_RATE_LIMIT_BURST="3",
        LT_ANONYMOUS_RATE_LIMIT_PER_MINUTE="60",
    )
    namespace = f"lt-test-{uuid.uuid4().hex[:8]}"
    limiters = [RateLimiter(shared), RateLimiter(shared)]
    for limiter in limiters:
        assert isinstance(limiter.store, RedisStore)
        await limiter.store.close()
        limiter.store = RedisStore(REDIS, namespace)
    one, two = (
        from_address(create_app(shared, tenancy, jobs, limiter=limiter), "203.0.113.70")
        for limiter in limiters
    )
    outcomes = [refused(await ask(one if n % 2 else two)) for n in range(4)]
    assert outcomes == [False, False, False, True]
    assert refused(await ask(one)) and refused(await ask(two))
    redis = Redis.from_url(REDIS)
    try:
        assert await redis.keys(f"{namespace}:rate:anon:*")
        await redis.delete(*await redis.keys(f"{namespace}:*"))
    finally:
        await redis.aclose()
    for limiter in limiters:
        await limiter.close()
    await one.http.aclose()
    await two.http.aclose()
