"""What the metrics cost a request: ``python3 -m bench.metrics_overhead [--requests N]``.

An in-process loop (httpx's ASGI transport, embedded SQLite in a temporary folder) runs
the same requests with the metrics as they are and with their recording replaced by
no-ops, alternating rounds so that both see the same machine, and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from lightningtrack import metrics
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.settings import load_settings
from lightningtrack.tenancy.runtime import Tenancy

QUERY = {"query": "query Probe { __typename }"}


async def _round(client: httpx.AsyncClient, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        response = await client.post("/graphql", json=QUERY)
        assert response.status_code == 200
    return (time.perf_counter() - started) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            {
                "LT_DATA_DIR": folder,
                "LT_SECRET_KEY": "overhead-" + "x" * 40,
                "LT_RATE_LIMIT_PER_MINUTE": "100000000",
                "LT_RATE_LIMIT_BURST": "100000000",
            }
        )
        tenancy = Tenancy(settings)
        await tenancy.start(janitor=False)
        runner = InProcessRunner(settings, tenancy)
        app: Any = create_app(settings, tenancy, runner)
        real_observe, real_counter = metrics.observe_request, metrics.ResponseCounter.__call__

        async def passthrough(self: Any, scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

        def noop(*args: object) -> None:
            return None

        timings: dict[str, list[float]] = {"with metrics": [], "without": []}
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                await _round(client, 200)  # warm the caches
                for _ in range(rounds):
                    metrics.observe_request = real_observe
                    metrics.ResponseCounter.__call__ = real_counter  # type: ignore[method-assign]
                    timings["with metrics"].append(await _round(client, requests))
                    metrics.observe_request = noop  # type: ignore[assignment]
                    metrics.ResponseCounter.__call__ = passthrough  # type: ignore[method-assign]
                    timings["without"].append(await _round(client, requests))
        finally:
            metrics.observe_request = real_observe
            metrics.ResponseCounter.__call__ = real_counter  # type: ignore[method-assign]
            await runner.close()
            await tenancy.stop()
        with_metrics = statistics.median(timings["with metrics"])
        without = statistics.median(timings["without"])
        print(f"{requests} requests x {rounds} rounds, median per request:")
        print(f"  with metrics: {with_metrics:.0f} us; without: {without:.0f} us")
        print(f"  ratio: {with_metrics / without:.3f}x ({Path(folder).name})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench.metrics_overhead")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
