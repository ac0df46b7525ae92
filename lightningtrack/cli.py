"""The ``lightningtrack`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from lightningtrack import logs
from lightningtrack.settings import Settings, SettingsError, load_settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "lightningtrack.app:serve_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="auto",
        http="auto",
        log_level="info",
        log_config=None,
        proxy_headers=True,
    )
    return 0


async def _migrate(settings: Settings) -> int:
    from lightningtrack.tenancy import migration
    from lightningtrack.tenancy.runtime import Tenancy

    tenancy = Tenancy(settings)
    await tenancy.start(migrate=False, janitor=False)
    try:
        print(f"landlord: {await migration.migrate_landlord(settings)}", flush=True)
        await migration.ensure_templates(settings)
        print("templates: ok", flush=True)
        report = await migration.migrate_workspaces(
            settings, tenancy.pools, progress=lambda line: print(line, flush=True)
        )
    finally:
        await tenancy.stop()
    print(f"workspaces: {len(report.migrated)} migrated, {len(report.failed)} failed")
    for slug, reason in sorted(report.failed.items()):
        print(f"  failed: {slug}: {reason}", file=sys.stderr)
    return 0 if report.ok else 1


async def _retention(settings: Settings, as_of: str | None, dry_run: bool) -> int:
    from datetime import datetime

    from lightningtrack import clock
    from lightningtrack.jobs.runner import InProcessRunner
    from lightningtrack.resolvers import retention
    from lightningtrack.resolvers.billing import gateway as billing_gateway
    from lightningtrack.resolvers.effects import collecting
    from lightningtrack.tenancy.runtime import Tenancy

    if as_of is not None:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            print(
                f"lightningtrack: --as-of must be an ISO-8601 date and time, not {as_of!r}.",
                file=sys.stderr,
            )
            return 2
        if moment.tzinfo is None:
            print(
                "lightningtrack: --as-of needs a UTC offset, e.g. 2026-01-31T00:00:00Z.",
                file=sys.stderr,
            )
            return 2
        clock.freeze(moment)
    tenancy = Tenancy(settings)
    await tenancy.start(janitor=False)
    runner = InProcessRunner(settings, tenancy)
    try:
        with collecting() as deferred:
            actions = await retention.run(settings, tenancy, clock.now(), dry_run=dry_run)
        if not dry_run:
            await runner.submit(deferred)
            await runner.drain(within=300)
    finally:
        await runner.close()
        await billing_gateway.close()
        await tenancy.stop()
    verb = "would do" if dry_run else "did"
    print(f"retention as of {clock.now().isoformat()}: {verb} {len(actions)} actions")
    for action in actions:
        print(f"  {action.describe()}")
    return 0


def _worker(settings: Settings, threads: int) -> int:
    if settings.broker_url is None:
        print(
            "lightningtrack: LT_BROKER_URL is not set: jobs run inside `lightningtrack serve`.",
            file=sys.stderr,
        )
        return 2
    from lightningtrack.jobs.broker import run_worker

    return run_worker(settings, threads)


def _export_schema() -> int:
    from lightningtrack.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightningtrack", description="LightningTrack API server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server (uvicorn)")
    serve.add_argument("--host", help="address to listen on (default LT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default LT_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    commands.add_parser(
        "migrate", help="bring the landlord and every workspace to the newest schema"
    )
    commands.add_parser("export-schema", help="print the GraphQL SDL that schema.graphql holds")
    worker = commands.add_parser("worker", help="run Dramatiq workers for LT_BROKER_URL")
    worker.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    retention = commands.add_parser("retention", help="the retention sweep")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_commands.add_parser("run", help="run the sweep once")
    run.add_argument("--as-of", help="run as if the clock read this ISO-8601 time")
    run.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "export-schema":
        return _export_schema()
    logs.configure(logging.INFO)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"lightningtrack: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "worker":
        return _worker(settings, args.threads)
    if args.command == "retention":
        return asyncio.run(_retention(settings, args.as_of, args.dry_run))
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
