"""1,000 workspaces on one PostgreSQL server: ``python3 -m bench.scale`` (or
``python3 dev.py bench --scale``).

1. provisions ``--workspaces`` workspaces (template copies, ``--concurrency`` at once),
   each with a WRITE API key, all owned by one account;
2. runs ``lightningtrack migrate`` across all of them (``LT_MIGRATE_CONCURRENCY``);
3. starts ``lightningtrack serve --workers 2`` with ``LT_POOL_MAX_CONNECTIONS=--pool-cap``
   and drives one small query with wrk, first at one workspace, then round-robin over
   all of them, and reads the pool registry's churn from ``/metrics``;
4. samples the PostgreSQL backends connected to this run's databases every 50 ms in every
   phase, and writes the figures into the scale section of ``bench/RESULTS.md``.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and wrk; drops its databases
(``lt_scale*``) at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.databases import SERVER, drop_databases
from bench.load import LoadResult, run_wrk
from lightningtrack.models.landlord import Account, Membership
from lightningtrack.resolvers import api_keys, passwords
from lightningtrack.resolvers.workspaces import create_workspace
from lightningtrack.settings import load_settings
from lightningtrack.tenancy.runtime import Tenancy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
MARKER = "<!-- scale: written by bench/scale.py -->"
LANDLORD_DB = "lt_scale"
PORT = 18011
TOKEN = "scale-metrics-token-" + "t" * 16
LANDLORD_POOL = 10  # the landlord client's maxsize (tenancy/config.py)
QUERY = '{"query": "query Scale { workspace { slug } projects(first: 5) { totalCount } }"}'


def kept_section() -> str:
    """The scale section of RESULTS.md, for the main benchmark to keep when it rewrites
    the file."""
    if not RESULTS.exists():
        return ""
    text = RESULTS.read_text()
    return "\n" + text[text.index(MARKER) :] if MARKER in text else ""


def environment(data_dir: Path, cap: int, migrate_concurrency: int) -> dict[str, str]:
    return {
        **os.environ,
        "LT_DATABASE_URL": f"{SERVER}/{LANDLORD_DB}?sslmode=disable",
        "LT_DATA_DIR": str(data_dir),
        "LT_ENV": "production",
        "LT_PUBLIC_URL": "https://scale.invalid",
        "LT_SECRET_KEY": "scale-secret-key-" + "x" * 32,
        "LT_METRICS_TOKEN": TOKEN,
        "LT_RATE_LIMIT_PER_MINUTE": "100000000",
        "LT_RATE_LIMIT_BURST": "100000000",
        "LT_POOL_MAX_CONNECTIONS": str(cap),
        "LT_MIGRATE_CONCURRENCY": str(migrate_concurrency),
        "LT_SWEEP_INTERVAL": "3600",
    }


class Backends:
    """The peak number of PostgreSQL backends connected to this run's databases."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._sample()), daemon=True)

    async def _sample(self) -> None:
        conn = await asyncpg.connect(f"{SERVER}/postgres")
        try:
            while not self._stop.is_set():
                count = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE starts_with(datname, $1)",
                    LANDLORD_DB,
                )
                self.peak = max(self.peak, int(count))
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    def __enter__(self) -> Backends:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Provisioned:
    keys: list[str]
    seconds: float
    median_ms: float
    peak: int


async def provision(env: dict[str, str], count: int, concurrency: int) -> Provisioned:
    settings = load_settings(env)
    tenancy = Tenancy(settings)
    await tenancy.start(janitor=False)
    try:
        owner = await Account.create(
            name="Scale",
            email="scale@bench.example",
            email_key="scale@bench.example",
            password_hash=await passwords.hash_password("scale password"),
        )
        limit = asyncio.Semaphore(concurrency)
        keys: list[str] = [""] * count
        times: list[float] = []

        async def one(n: int) -> None:
            async with limit:
                started = time.perf_counter()
                workspace = await create_workspace(settings, owner, f"Scale {n}", f"s-{n}", None)
                times.append((time.perf_counter() - started) * 1000)
                membership = await Membership.get(
                    workspace=workspace, account=owner
                ).select_related("workspace")
                _, keys[n] = await api_keys.create(membership, "scale", ["WRITE"])
                if (n + 1) % 100 == 0:
                    print(f"  provisioned {n + 1}", flush=True)

        started = time.perf_counter()
        with Backends() as watch:
            await asyncio.gather(*(one(n) for n in range(count)))
        return Provisioned(
            keys, time.perf_counter() - started, statistics.median(times), watch.peak
        )
    finally:
        await tenancy.stop()


def migrate(env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    with Backends() as watch:
        done = subprocess.run(
            [str(ROOT / ".venv/bin/lightningtrack"), "migrate"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{done.stderr[-3000:]}")
    summary = done.stdout.strip().splitlines()[-1]
    return time.perf_counter() - started, watch.peak, summary


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int) -> Iterator[None]:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/lightningtrack"),
            "serve",
            "--workers",
            str(workers),
            "--port",
            str(PORT),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{PORT}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError("the server did not start")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def pool_events() -> dict[str, float]:
    text = httpx.get(
        f"http://127.0.0.1:{PORT}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).text
    found = {}
    for event, value in re.findall(
        r'^lightningtrack_workspace_pool_events_total\{event="(\w+)"\} ([\d.e+]+)$', text, re.M
    ):
        found[event] = float(value)
    cap = re.search(r"^lightningtrack_workspace_pool_connection_cap ([\d.e+]+)$", text, re.M)
    found["cap"] = float(cap.group(1)) if cap else 0.0
    return found


def _difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after if k != "cap"} | {
        "cap": after.get("cap", 0.0)
    }


def load(keys: list[str], seconds: int, connections: int) -> tuple[LoadResult, int]:
    with Backends() as watch:
        result = run_wrk(
            f"http://127.0.0.1:{PORT}/graphql",
            QUERY,
            keys=keys,
            seconds=seconds,
            connections=connections,
        )
    return result, watch.peak


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.scale")
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="workspaces provisioned at once")
    parser.add_argument("--migrate-concurrency", type=int, default=8)
    parser.add_argument("--pool-cap", type=int, default=40, help="LT_POOL_MAX_CONNECTIONS")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench.scale: wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    data_dir = ROOT / "bench" / ".var-scale"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = environment(data_dir, args.pool_cap, args.migrate_concurrency)
    asyncio.run(drop_databases(LANDLORD_DB, create=True))
    try:
        print(f"provisioning {args.workspaces} workspaces", flush=True)
        provisioned = asyncio.run(provision(env, args.workspaces, args.concurrency))
        print("lightningtrack migrate across all of them", flush=True)
        migrate_seconds, migrate_peak, migrate_summary = migrate(env)
        with serving(env, args.workers):
            print("load: one workspace", flush=True)
            one = load(provisioned.keys[:1], args.seconds, args.connections)
            before = pool_events()
            print(f"load: round-robin over {args.workspaces} workspaces", flush=True)
            spread = load(provisioned.keys, args.seconds, args.connections)
            churn = _difference(before, pool_events())
        # The same cap shared by more, smaller pools: more workspaces at once per process.
        small_pools = {**env, "LT_POOL_SIZE_PER_WORKSPACE": "1"}
        with serving(small_pools, args.workers):
            before = pool_events()
            print("load: round-robin again, one connection per workspace pool", flush=True)
            single = load(provisioned.keys, args.seconds, args.connections)
            single_churn = _difference(before, pool_events())
        write(
            args,
            provisioned,
            (migrate_seconds, migrate_peak, migrate_summary),
            one,
            (spread, churn),
            (single, single_churn),
        )
    finally:
        if not args.keep:
            asyncio.run(drop_databases(LANDLORD_DB))
            shutil.rmtree(data_dir, ignore_errors=True)
    print(RESULTS.read_text()[RESULTS.read_text().index(MARKER) :])
    return 0


Loaded = tuple[LoadResult, int]


def _row(label: str, result: Loaded, base: LoadResult | None) -> str:
    r, peak = result
    ratio = f" ({r.rps / base.rps:.2f}x one workspace)" if base else ""
    p99 = f" ({r.p99_ms / base.p99_ms:.2f}x)" if base else ""
    return (
        f"| {label} | {r.rps:.0f} req/s{ratio}, p50 {r.p50_ms:.1f} / p99 {r.p99_ms:.1f} ms"
        f"{p99}, {r.errors} errors | {peak} |"
    )


def _churn(label: str, result: Loaded, churn: dict[str, float]) -> str:
    requests = result[0].requests or 1
    return (
        f"- Pool churn, {label}: {churn.get('opened', 0):.0f} pools opened and"
        f" {churn.get('evicted', 0):.0f} evicted for {requests:,} requests"
        f" ({churn.get('opened', 0) / requests:.2f} per request);"
        f" {churn.get('waited', 0):.0f} leases waited because leased pools held the whole cap."
    )


def write(
    args: argparse.Namespace,
    provisioned: Provisioned,
    migrated: tuple[float, int, str],
    one: Loaded,
    spread: tuple[Loaded, dict[str, float]],
    single: tuple[Loaded, dict[str, float]],
) -> None:
    workspace_cap = args.workers * args.pool_cap
    server_cap = args.workers * (args.pool_cap + LANDLORD_POOL)
    peak = max(spread[0][1], single[0][1], one[1])
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        MARKER,
        f"## Scale: {args.workspaces:,} workspaces on one PostgreSQL server",
        "",
        f"Run {stamp} with `python3 -m bench.scale --workspaces {args.workspaces}"
        f" --pool-cap {args.pool_cap} --workers {args.workers} --seconds {args.seconds}"
        f" --connections {args.connections}`: one query (`workspace {{ slug }}"
        " projects(first: 5) { totalCount }` with an API key) through `serve --workers"
        f" {args.workers}`. Peak backends are PostgreSQL sessions connected to this run's"
        " databases (landlord and workspaces), sampled every 50 ms. The machine is shared:"
        " compare the ratios.",
        "",
        "| phase | figure | peak backends |",
        "| --- | --- | --- |",
        f"| provisioning, {args.concurrency} at once | {provisioned.seconds:.0f} s in all,"
        f" median {provisioned.median_ms:.0f} ms per workspace | {provisioned.peak} |",
        f"| `lightningtrack migrate`, {args.migrate_concurrency} at once |"
        f" {migrated[0]:.0f} s ({migrated[2]}) | {migrated[1]} |",
        _row("load, one workspace", one, None),
        _row(f"load, round-robin over {args.workspaces:,}", spread[0], one[0]),
        _row("the same, one connection per workspace pool", single[0], one[0]),
        "",
        f"- Cap: {args.workers} server processes x LT_POOL_MAX_CONNECTIONS {args.pool_cap} ="
        f" {workspace_cap} workspace connections (`lightningtrack_workspace_pool_connection_cap`"
        f" read {spread[1].get('cap', 0):.0f}), plus {LANDLORD_POOL} landlord connections per"
        f" process: {server_cap} at most. Highest peak of the load phases: {peak}"
        f" ({peak / server_cap:.2f}x the cap).",
        _churn(
            f"LT_POOL_SIZE_PER_WORKSPACE=4 (at most {args.pool_cap // 4} pools leased per process)",
            spread[0],
            spread[1],
        ),
        _churn(
            f"LT_POOL_SIZE_PER_WORKSPACE=1 (at most {args.pool_cap} pools leased per process)",
            single[0],
            single[1],
        ),
        "",
    ]
    head = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if MARKER in head:
        head = head[: head.index(MARKER)]
    RESULTS.write_text(head.rstrip("\n") + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
