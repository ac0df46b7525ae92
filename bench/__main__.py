"""The benchmark: ``python3 dev.py bench [--seconds N] [--small N]``.

Seeds PostgreSQL, starts the server as in production (uvicorn, 2 workers) and the raw
Starlette + asyncpg baseline beside it, drives each scenario with wrk from a separate
process, and writes bench/RESULTS.md with every figure and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.databases import SERVER, drop_databases
from bench.load import LoadResult, run_wrk
from bench.seed import Seeded, seed
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.settings import load_settings
from lightningtrack.tenancy import databases, migration, provisioning
from lightningtrack.tenancy.config import WORKSPACE, make_client
from lightningtrack.tenancy.runtime import Tenancy

ROOT = Path(__file__).resolve().parent.parent
LANDLORD_DB = "lt_bench"
OURS, RAW, OURS_FIELD_BY_FIELD = 18001, 18002, 18003
POOL_CAP = 40

DASHBOARD = (
    "query Dashboard { issues(first: 50, filter: {status: [TODO, IN_PROGRESS]}) { nodes { key "
    "title project { key name } assignee { name } labels timeSpentSeconds comments { totalCount } "
    "} } }"
)
ISSUE = (
    "query Issue($key: String!) { issue(key: $key) { key title description status "
    "project { key } comments(first: 20) { nodes { body createdAt author { name } } } } }"
)
CREATE = (
    "mutation Create($input: IssueCreateInput!) { issueCreate(input: $input) { issue { id key } } }"
)


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        # The server is on loopback and offers no TLS: as such an installation would.
        "LT_DATABASE_URL": f"{SERVER}/{LANDLORD_DB}?sslmode=disable",
        "LT_DATA_DIR": str(data_dir),
        "LT_ENV": "production",
        "LT_PUBLIC_URL": "https://bench.invalid",
        "LT_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "LT_RATE_LIMIT_PER_MINUTE": "100000000",
        "LT_RATE_LIMIT_BURST": "100000000",
        "LT_POOL_MAX_CONNECTIONS": str(POOL_CAP),
        "LT_SWEEP_INTERVAL": "3600",
    }


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith(("Created connection", "Closed connection")):
            self.count += 1


async def statements_per_request(app: Any, key: str, body: dict[str, Any]) -> int:
    """SQL statements one request sends (landlord and workspace), counted at the client."""
    counter = StatementCounter()
    logger = logging.getLogger("tortoise.db_client")
    logger.addHandler(counter)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bench.invalid") as c:
            response = await c.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            payload = response.json()
            if payload.get("errors"):
                raise RuntimeError(f"benchmark request failed: {payload['errors']}")
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
    return counter.count


async def provisioning_times(settings: Any, rounds: int = 5) -> tuple[float, float]:
    """Scenario (g): median ms to create a workspace database from the template, and
    from empty with migrations."""
    from_template, from_empty = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        name = await provisioning.create_workspace_database(settings, uuid.uuid4(), "US")
        from_template.append((time.perf_counter() - started) * 1000)
        await databases.drop_database(databases.database_url(settings, "US", name))
        url = databases.database_url(settings, "US", f"{LANDLORD_DB}_ws_empty")
        started = time.perf_counter()
        await databases.create_database(url)
        client = make_client(url, WORKSPACE, maxsize=1)
        try:
            await migration.migrate_workspace_client(client)
        finally:
            await client.close()
        from_empty.append((time.perf_counter() - started) * 1000)
        await databases.drop_database(url)
    return statistics.median(from_template), statistics.median(from_empty)


@dataclass
class Prepared:
    seeded: Seeded
    statements: dict[str, tuple[int, int] | int]
    provisioning: tuple[float, float]


async def prepare(env: dict[str, str], small: int) -> Prepared:
    settings = load_settings(env)
    await drop_databases(LANDLORD_DB, create=True)
    tenancy = Tenancy(settings)
    await tenancy.start(janitor=False)
    runner = InProcessRunner(settings, tenancy)
    try:
        print(f"seeding: 1 large workspace and {small} small ones", flush=True)
        seeded = await seed(settings, tenancy, small)
        app = create_app(settings, tenancy, runner)
        # A key's first use records lastUsedAt and a pool opens: warm up before counting.
        await statements_per_request(app, seeded.large_key, {"query": "{ __typename }"})
        dashboard_1 = await statements_per_request(
            app, seeded.large_key, {"query": DASHBOARD.replace("first: 50", "first: 1")}
        )
        dashboard_100 = await statements_per_request(
            app, seeded.large_key, {"query": DASHBOARD.replace("first: 50", "first: 100")}
        )
        statements: dict[str, tuple[int, int] | int] = {
            "a": await statements_per_request(app, seeded.large_key, {"query": "{ __typename }"}),
            "b": await statements_per_request(app, seeded.large_key, {"query": DASHBOARD}),
            "b1-100": (dashboard_1, dashboard_100),
            "c": await statements_per_request(
                app, seeded.large_key, {"query": ISSUE, "variables": {"key": seeded.issue_key}}
            ),
            "d": await statements_per_request(app, seeded.large_key, create_body(seeded)),
        }
        await runner.drain()
        print("measuring workspace creation (g)", flush=True)
        times = await provisioning_times(settings)
    finally:
        await runner.close()
        await tenancy.stop()
    return Prepared(seeded, statements, times)


def create_body(seeded: Seeded) -> dict[str, Any]:
    return {
        "query": CREATE,
        "variables": {"input": {"projectId": seeded.project_id, "title": "Bench issue"}},
    }


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                    break
                if httpx.post(f"http://127.0.0.1:{port}/typename", timeout=1).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError(f"{args[0]} did not start on port {port}")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class ConnectionWatch:
    """Peak PostgreSQL backends of our server connected to the benchmark's databases,
    sampled."""

    def __init__(self) -> None:
        self.peak = 0
        self.peak_workspace = 0  # backends of workspace databases alone (not the landlord's)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def sample() -> None:
            conn = await asyncpg.connect(f"{SERVER}/postgres")
            try:
                while not self._stop.is_set():
                    # Ours name themselves (application_name); the baseline's do not.
                    row = await conn.fetchrow(
                        "SELECT count(*) AS every, count(*) FILTER (WHERE datname <> $1)"
                        " AS workspace FROM pg_stat_activity WHERE starts_with(datname, $1)"
                        " AND application_name = 'lightningtrack'",
                        LANDLORD_DB,
                    )
                    self.peak = max(self.peak, int(row["every"]))
                    self.peak_workspace = max(self.peak_workspace, int(row["workspace"]))
                    await asyncio.sleep(0.05)
            finally:
                await conn.close()

        asyncio.run(sample())

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(
    url: str, body: dict[str, Any], seconds: int, **kwargs: Any
) -> tuple[LoadResult, int, int]:
    """wrk's figures, and the peak backends meanwhile: all of the run's, and workspaces'."""
    with ConnectionWatch() as watch:
        result = run_wrk(url, json.dumps(body), seconds=seconds, **kwargs)
    return result, watch.peak, watch.peak_workspace


Measured = tuple[LoadResult, int, int]


def combined(rounds: list[Measured]) -> Measured:
    """One figure per side from several rounds: the median of each, the peaks' maximum,
    every round's errors."""
    results = [r[0] for r in rounds]
    median = LoadResult(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
    )
    return median, max(r[1] for r in rounds), max(r[2] for r in rounds)


def alternating(rounds: int, first: Any, second: Any) -> tuple[list[Any], list[Any]]:
    """Runs ``first`` and ``second`` (thunks) ``rounds`` times, swapping which goes first
    each round, so that the machine's drift falls on both alike."""
    a: list[Any] = []
    b: list[Any] = []
    for number in range(rounds):
        if number % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


def against_baseline(rounds: int, ours: Any, raw: Any) -> dict[str, Any]:
    """Ours and the baseline in turn (``alternating``): each side's figures (``combined``)
    and the median of the rounds' ratios of requests per second."""
    mine, theirs = alternating(rounds, ours, raw)
    return {
        "ours": combined(mine),
        "raw": combined(theirs),
        "ratio": statistics.median(o[0].rps / r[0].rps for o, r in zip(mine, theirs, strict=True)),
    }


LOADED = (
    " (other work shared the machine: every figure, ours and the baseline's, is lower than"
    " on an idle machine, and ours, with more to do per request, usually more so)"
)


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--seconds", type=int, default=5, help="load per scenario and round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per scenario, ours and the baseline's"
    )
    parser.add_argument("--small", type=int, default=200, help="small workspaces")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    data_dir = ROOT / "bench" / ".var"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = environment(data_dir)
    args.load_before = os.getloadavg()[0]
    prepared = asyncio.run(prepare(env, args.small))
    seeded = prepared.seeded

    print("scenario (f): export of the large workspace", flush=True)
    export = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.export_job", seeded.large_slug],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,  # the figures; its errors go to our stderr
            text=True,
            check=True,
        ).stdout
    )

    raw_env = {
        **env,
        "BENCH_WORKSPACE_DSN": f"{SERVER}/{LANDLORD_DB}_ws_"
        + asyncio.run(_large_db_suffix(seeded.large_slug)),
        "BENCH_LANDLORD_DSN": f"{SERVER}/{LANDLORD_DB}",
    }
    ours_cmd = [
        str(ROOT / ".venv/bin/lightningtrack"),
        "serve",
        "--workers",
        "2",
        "--port",
        str(OURS),
    ]
    # The same server with compiled execution off: every selection field by field.
    field_by_field_cmd = [*ours_cmd[:-1], str(OURS_FIELD_BY_FIELD)]
    field_by_field_env = {**env, "LT_COMPILED_EXECUTION": "false"}
    raw_cmd = [
        str(ROOT / ".venv/bin/uvicorn"),
        "bench.baseline:app",
        "--workers",
        "2",
        "--port",
        str(RAW),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    key = {"Authorization": f"Bearer {seeded.large_key}"}
    issue_vars = {"variables": {"key": seeded.issue_key}}
    project_pk = seeded.project_pk
    scenarios: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
        (
            "a",
            "{ __typename }",
            {"query": "{ __typename }"},
            "/typename",
            {"query": "{ __typename }"},
        ),
        ("b", "dashboard: 50 issues", {"query": DASHBOARD}, "/dashboard", {"query": "x"}),
        (
            "c",
            "issue by key, 20 comments",
            {"query": ISSUE, **issue_vars},
            "/issue",
            {"query": "x", **issue_vars},
        ),
        (
            "d",
            "issueCreate",
            create_body(seeded),
            "/create",
            {
                "query": "x",
                "variables": {"input": {"projectPk": project_pk, "title": "Bench issue"}},
            },
        ),
    ]
    results: dict[str, dict[str, Any]] = {}
    opts: dict[str, Any] = {"seconds": args.seconds, "connections": args.connections}
    # Both servers run throughout (an idle one takes no CPU) and each scenario drives ours
    # and then the baseline right after, so that a change in the machine's load between
    # the two halves of a ratio is as small as it can be.
    ours_url = f"http://127.0.0.1:{OURS}/graphql"
    with process(ours_cmd, env, OURS), process(raw_cmd, raw_env, RAW):
        for name, _, body, path, raw_body in scenarios:
            print(f"scenario ({name}): the API and the raw baseline, alternating", flush=True)
            results[name] = against_baseline(
                args.rounds,
                lambda body=body: measure(ours_url, body, headers=key, **opts),
                lambda path=path, raw_body=raw_body: measure(
                    f"http://127.0.0.1:{RAW}{path}", raw_body, **opts
                ),
            )
        print("scenario (b) with compiled execution off, and the baseline", flush=True)
        # Running only meanwhile: its connections count in no other scenario's peaks.
        with process(field_by_field_cmd, field_by_field_env, OURS_FIELD_BY_FIELD):
            results["b-off"] = against_baseline(
                args.rounds,
                lambda: measure(
                    f"http://127.0.0.1:{OURS_FIELD_BY_FIELD}/graphql",
                    {"query": DASHBOARD},
                    headers=key,
                    **opts,
                ),
                lambda: measure(f"http://127.0.0.1:{RAW}/dashboard", {"query": "x"}, **opts),
            )
        print("scenario (e): the dashboard round-robin over the small workspaces", flush=True)
        spread, single = alternating(
            args.rounds,
            lambda: measure(ours_url, {"query": DASHBOARD}, keys=seeded.small_keys, **opts),
            lambda: measure(ours_url, {"query": DASHBOARD}, headers=key, **opts),
        )
        results["e"] = {
            "ours": combined(spread),
            "p99_ratio": statistics.median(
                e[0].p99_ms / b[0].p99_ms for e, b in zip(spread, single, strict=True)
            ),
        }
    args.load_after = os.getloadavg()[0]
    write_results(args, prepared, export, scenarios, results)
    if not args.keep:
        asyncio.run(drop_databases(LANDLORD_DB))
        shutil.rmtree(data_dir, ignore_errors=True)
    print((ROOT / "bench" / "RESULTS.md").read_text())
    return 0


async def _large_db_suffix(slug: str) -> str:
    conn = await asyncpg.connect(f"{SERVER}/{LANDLORD_DB}")
    try:
        db_name = await conn.fetchval("SELECT db_name FROM workspace WHERE slug = $1", slug)
    finally:
        await conn.close()
    return str(db_name).removeprefix(f"{LANDLORD_DB}_ws_")


def write_results(
    args: argparse.Namespace,
    prepared: Prepared,
    export: dict[str, float],
    scenarios: list[tuple[str, str, Any, str, Any]],
    results: dict[str, dict[str, Any]],
) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cores = os.cpu_count() or 1
    lines = [
        "# Benchmark results",
        "",
        f"Run {stamp} with `python3 dev.py bench --seconds {args.seconds} --rounds"
        f" {args.rounds} --small {args.small}` on this machine: {os.cpu_count()} cores; wrk"
        f" with 1 thread and {args.connections} connections, from a separate process; both"
        " servers run uvicorn with 2 workers on the same PostgreSQL, and each scenario drives"
        f" ours and the baseline in turn, {args.rounds} rounds of {args.seconds} s each, the"
        " first of the two swapped every round. Figures are the medians of the rounds; a"
        " ratio is the median of the rounds' ratios. Times vary with the machine's load; the"
        " ratios, measured in one run, are the figures to compare. Load average (1 minute)"
        " when the run started:"
        f" {args.load_before:.2f}{LOADED if args.load_before > cores / 2 else ''}; when it"
        f" ended: {args.load_after:.2f} (the run's own servers, PostgreSQL and wrk included).",
        "",
        "| scenario | ours req/s | raw req/s | ratio | ours p50 / p99 ms | raw p50 / p99 ms |"
        " statements per request | peak backends (ours) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, title, *_ in scenarios:
        ours, ours_peak, _ = results[name]["ours"]
        raw, *_ = results[name]["raw"]
        statements = prepared.statements[name]
        lines.append(
            f"| ({name}) {title} | {ours.rps:.0f} | {raw.rps:.0f} | {results[name]['ratio']:.2f}x |"
            f" {ours.p50_ms:.1f} / {ours.p99_ms:.1f} | {raw.p50_ms:.1f} / {raw.p99_ms:.1f} |"
            f" {statements} | {ours_peak} |"
        )
    slow, *_ = results["b-off"]["ours"]  # its peak would hold the other server's pools too
    slow_raw, *_ = results["b-off"]["raw"]
    lines.append(
        f"| (b) the same, `LT_COMPILED_EXECUTION=false` | {slow.rps:.0f} | {slow_raw.rps:.0f} |"
        f" {results['b-off']['ratio']:.2f}x | {slow.p50_ms:.1f} / {slow.p99_ms:.1f} |"
        f" {slow_raw.p50_ms:.1f} / {slow_raw.p99_ms:.1f} | | |"
    )
    e, e_peak, e_workspace_peak = results["e"]["ours"]
    b, *_ = results["b"]["ours"]
    lines.append(
        f"| (e) dashboard over {args.small} workspaces | {e.rps:.0f} | | | {e.p50_ms:.1f} /"
        f" {e.p99_ms:.1f} | | | {e_peak} |"
    )
    one, hundred = prepared.statements["b1-100"]  # type: ignore[misc]
    template_ms, empty_ms = prepared.provisioning
    errors = sum(r[0].errors for v in results.values() for r in v.values() if isinstance(r, tuple))
    b_ratio = results["b"]["ratio"]
    e_ratio = results["e"]["p99_ratio"]
    workspace_cap = 2 * POOL_CAP  # LT_POOL_MAX_CONNECTIONS per server process, 2 processes
    lines += [
        "",
        "## Targets",
        "",
        f"- (b) at least 0.2x the baseline: {b_ratio:.3f}x ({met(b_ratio >= 0.2)}); with"
        f" compiled execution, above 0.5x ({met(b_ratio > 0.5)}); field by field, in the same"
        f" run: {results['b-off']['ratio']:.3f}x.",
        f"- Statements per request for the dashboard with `first: 1` and `first: 100`: {one}"
        f" and {hundred} ({met(one == hundred)}).",
        f"- (e) p99 within twice (b)'s p99 (each round's (e) against a run of (b) in the same"
        f" round): {e.p99_ms:.1f} ms against {b.p99_ms:.1f} ms, median ratio {e_ratio:.2f}x"
        f" ({met(e_ratio <= 2)}); peak backend"
        f" connections to workspace databases {e_workspace_peak} against the cap of"
        f" {workspace_cap} ({POOL_CAP} per server process, 2 processes;"
        f" {met(e_workspace_peak <= workspace_cap)}), {e_peak} with the landlord's.",
        f"- (f) export of the large workspace (2,000 issues, 10,000 comments, 5,000 time"
        f" entries): {export['seconds']:.2f} s, peak memory growth"
        f" {export['peak_rss_growth_mb']:.1f} MB (target under 100 MB,"
        f" {met(export['peak_rss_growth_mb'] < 100)}), archive {export['archive_mb']:.2f} MB.",
        f"- (g) creating a workspace database: {template_ms:.0f} ms from the template against"
        f" {empty_ms:.0f} ms migrating an empty database (median of 5; target under 300 ms,"
        f" {met(template_ms < 300)}).",
        f"- Failed requests during the load (non-2xx or socket errors): {errors}.",
        "",
    ]
    from bench.scale import kept_section  # the scale run's own section stays

    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines) + kept_section())


if __name__ == "__main__":
    sys.exit(main())
