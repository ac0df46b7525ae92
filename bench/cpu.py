"""CPU time per request, in one process: ``python3 -m bench.cpu [--rounds N] [--profile b]``.

wrk's figures move with everything else the machine does; the CPU time that this process
spends on one request (the ASGI app, the executor, the database driver; PostgreSQL's own
work is not counted) moves much less. The scenarios of the benchmark run through httpx's
ASGI transport against the large workspace seeded as the benchmark seeds it (in its own
databases, ``lt_cpu*``), in interleaved rounds; the best round of each is printed.
``--profile`` prints a cProfile of one scenario instead; ``--only`` runs one scenario alone
(to sample it with an outside profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.__main__ import CREATE, DASHBOARD, ISSUE, ROOT, environment
from bench.databases import SERVER, drop_databases
from bench.seed import seed
from lightningtrack.app import create_app, settle_heap
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.schema.execution import FieldByFieldExecution
from lightningtrack.settings import load_settings
from lightningtrack.tenancy.runtime import Tenancy

LANDLORD = "lt_cpu"


def _bodies(issue_key: str, project_id: str) -> dict[str, dict[str, Any]]:
    return {
        "a": {"query": "{ __typename }"},
        "b": {"query": DASHBOARD},
        "c": {"query": ISSUE, "variables": {"key": issue_key}},
        "d": {
            "query": CREATE,
            "variables": {"input": {"projectId": project_id, "title": "CPU issue"}},
        },
    }


async def main(
    rounds: int,
    requests: int,
    profile: str | None,
    keep: bool,
    compare: bool,
    only: str | None = None,
) -> None:
    data_dir = ROOT / "bench" / ".var-cpu"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = environment(data_dir)
    env["LT_DATABASE_URL"] = f"{SERVER}/{LANDLORD}?sslmode=disable"
    settings = load_settings(env)
    await drop_databases(LANDLORD, create=True)
    tenancy = Tenancy(settings)
    await tenancy.start(janitor=False)
    runner = InProcessRunner(settings, tenancy)
    try:
        seeded = await seed(settings, tenancy, small=0)
        app = create_app(settings, tenancy, runner)
        bodies = _bodies(seeded.issue_key, seeded.project_id)
        if only is not None:
            bodies = {only: bodies[only]}
        headers = {"Authorization": f"Bearer {seeded.large_key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bench.invalid") as c:

            async def one(body: dict[str, Any]) -> None:
                response = await c.post("/graphql", json=body, headers=headers)
                payload = response.json()
                if payload.get("errors"):
                    raise RuntimeError(f"request failed: {payload['errors']}")

            for body in bodies.values():  # warm the caches and the pool
                for _ in range(20):
                    await one(body)
            settle_heap()  # as a server process does once started
            if profile is not None:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(requests):
                    await one(bodies[profile])
                profiler.disable()
                profiler.dump_stats("/tmp/bench-cpu.prof")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
                return
            best: dict[tuple[str, bool], float] = {}
            clock: Callable[[], float] = time.process_time
            variants = (True, False) if compare else (True,)
            for _ in range(rounds):
                for name, body in bodies.items():
                    for direct in variants:
                        FieldByFieldExecution.read_plain_fields_directly = direct
                        started = clock()
                        for _ in range(requests):
                            await one(body)
                        spent = (clock() - started) / requests * 1000
                        best[name, direct] = min(best.get((name, direct), spent), spent)
            FieldByFieldExecution.read_plain_fields_directly = True
            await runner.drain()
        for name in bodies:
            line = f"({name}) {best[name, True]:.2f} ms CPU per request"
            if compare:
                slow = best[name, False]
                line += f"; every field through execute_field: {slow:.2f} ms"
                line += f" ({best[name, True] / slow:.2f}x)"
            print(line)
    finally:
        await runner.close()
        await tenancy.stop()
        if not keep:
            await drop_databases(LANDLORD)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench.cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", choices=["a", "b", "c", "d"])
    parser.add_argument(
        "--only", choices=["a", "b", "c", "d"], help="run this scenario alone (for a sampler)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="alternate rounds with plain fields read directly and through execute_field",
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    asyncio.run(main(args.rounds, args.requests, args.profile, args.keep, args.compare, args.only))
    sys.exit(0)
