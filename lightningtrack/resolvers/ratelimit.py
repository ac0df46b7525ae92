"""Rate limits: token buckets per API key, per signed-in account and, for requests with
neither, per client address; and sign-in throttling.

Counters live in this process, or in Redis when ``LT_REDIS_URL`` is set, so that several
server processes share them. Redis runs each bucket update as one Lua script: atomic,
one round trip.

The client address is the ASGI scope's, which the server (uvicorn) sets from the
connection, or from ``X-Forwarded-For`` only when the connection comes from a proxy it
was told to trust (``FORWARDED_ALLOW_IPS``); a header a client sends itself changes
nothing here. An IPv6 client is counted by its /64, the block one subscriber holds.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from lightningtrack.errors import RateLimited
from lightningtrack.settings import Settings

FAILURE_WINDOW = 15 * 60.0
# Failures allowed in the window before sign-in slows down: per account, and per address
# (higher, since many people can share one address behind a NAT).
FREE_FAILURES = {"email": 10, "ip": 50}
MAX_LOCKOUT = 300.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int = 0


class Store(Protocol):
    async def take(self, key: str, capacity: int, per_second: float) -> tuple[bool, float, float]:
        """Take one token: (allowed, tokens left, seconds until one more token)."""

    async def failures(self, key: str, add: bool) -> tuple[int, float]:
        """Failures in the window (after adding one if ``add``) and the age of the last."""

    async def forget(self, key: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: dict[str, list[float]] = {}

    async def take(self, key: str, capacity: int, per_second: float) -> tuple[bool, float, float]:
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(capacity), now))
        tokens = min(float(capacity), tokens + (now - updated) * per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > 100_000:  # forget the oldest half rather than grow forever
            for stale in list(self._buckets)[:50_000]:
                del self._buckets[stale]
        return allowed, tokens, (1.0 - tokens) / per_second if tokens < 1 else 0.0

    async def failures(self, key: str, add: bool) -> tuple[int, float]:
        now = time.monotonic()
        recent = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW]
        if add:
            recent.append(now)
        self._failures[key] = recent
        return len(recent), (now - recent[-1]) if recent else math.inf

    async def forget(self, key: str) -> None:
        self._failures.pop(key, None)


_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or capacity
local updated = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - updated) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'updated', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(tokens)}
"""


class RedisStore:
    def __init__(self, url: str, namespace: str = "lt") -> None:
        self.redis: Redis = Redis.from_url(url)
        self._take = self.redis.register_script(_TAKE)
        self.namespace = namespace

    async def take(self, key: str, capacity: int, per_second: float) -> tuple[bool, float, float]:
        allowed, left = await self._take(
            keys=[f"{self.namespace}:rate:{key}"], args=[capacity, per_second, time.time()]
        )
        tokens = float(left)
        return bool(allowed), tokens, (1.0 - tokens) / per_second if tokens < 1 else 0.0

    async def failures(self, key: str, add: bool) -> tuple[int, float]:
        name = f"{self.namespace}:fail:{key}"
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, 0, now - FAILURE_WINDOW)
            if add:
                pipe.zadd(name, {f"{now}": now})
                pipe.expire(name, int(FAILURE_WINDOW))
            pipe.zrange(name, -1, -1, withscores=True)
            pipe.zcard(name)
            results = await pipe.execute()
        last = results[-2]
        age = now - float(last[0][1]) if last else math.inf
        return int(results[-1]), age

    async def forget(self, key: str) -> None:
        await self.redis.delete(f"{self.namespace}:fail:{key}")

    async def close(self) -> None:
        await self.redis.aclose()


ANONYMOUS = "anon:"


def anonymous(address: str) -> str:
    """The principal of a request without session or API key: its client address (an
    IPv6 one by its /64, an IPv4-mapped one as the IPv4 address)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ANONYMOUS + address[:64]  # no address from the server (a test client, a socket)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return ANONYMOUS + str(parsed.ipv4_mapped)
        return ANONYMOUS + str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return ANONYMOUS + str(parsed)


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.capacity = settings.rate_limit_burst
        self.per_second = settings.rate_limit_per_minute / 60.0
        self.anonymous_capacity = settings.anonymous_rate_limit_burst
        self.anonymous_per_second = settings.anonymous_rate_limit_per_minute / 60.0
        self.store: Store = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()

    async def check(self, principal: str) -> Decision:
        """One request of ``principal``: an API key or account id, or ``anonymous(address)``
        (its own, smaller bucket)."""
        capacity, rate = self.capacity, self.per_second
        if principal.startswith(ANONYMOUS):
            capacity, rate = self.anonymous_capacity, self.anonymous_per_second
        allowed, left, wait = await self.store.take(principal, capacity, rate)
        full = (capacity - left) / rate
        return Decision(
            allowed=allowed,
            limit=capacity,
            remaining=max(0, math.floor(left)),
            reset_seconds=math.ceil(full),
            retry_after=0 if allowed else max(1, math.ceil(wait)),
        )

    async def before_sign_in(self, email_key: str, ip: str) -> None:
        """Refuse while too many recent failures for this account or from this address.

        After ten failures in fifteen minutes each further failure doubles the wait, up to
        five minutes: enough to stop guessing, too short to lock the person out for long.
        """
        for kind, value in (("email", email_key), ("ip", ip)):
            count, since_last = await self.store.failures(f"{kind}:{value}", add=False)
            free = FREE_FAILURES[kind]
            if count >= free:
                wait = min(MAX_LOCKOUT, 2.0 ** (count - free + 1))
                if since_last < wait:
                    raise RateLimited(
                        math.ceil(wait - since_last),
                        "Too many failed sign-ins: wait before trying again.",
                    )

    async def sign_in_failed(self, email_key: str, ip: str) -> None:
        for key in (f"email:{email_key}", f"ip:{ip}"):
            await self.store.failures(key, add=True)

    async def sign_in_succeeded(self, email_key: str) -> None:
        await self.store.forget(f"email:{email_key}")

    async def close(self) -> None:
        if isinstance(self.store, RedisStore):
            await self.store.close()
