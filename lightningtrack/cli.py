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

    from lightningtrack import metrics

    if args.workers > 1 and metrics.multiprocess_dir() is None:
        # Before any worker exists: every worker then counts into the shared folder.
        metrics.prepare_multiprocess(settings.data_dir / "metrics")
    if settings.metrics_address:
        metrics.start_listener(settings.metrics_address)

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
    from lightningtrack import metrics
    from lightningtrack.jobs.broker import run_worker

    if settings.metrics_address:
        metrics.start_listener(settings.metrics_address)
    return run_worker(settings, threads)


async def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from lightningtrack.backups import backup, restore, store
    from lightningtrack.backups.archive import BackupError
    from lightningtrack.tenancy.runtime import Tenancy

    tenancy = Tenancy(settings)
    await tenancy.start(migrate=False, janitor=False)
    try:
        if args.backup_command == "run":
            report = await backup.run(settings, slugs=args.workspace or ())
            if report.busy:
                print("lightningtrack: another backup run is in progress.", file=sys.stderr)
                return 1
            for path in report.written:
                print(f"wrote {path}")
            for line in report.skipped:
                print(f"skipped {line}")
            for path in report.pruned:
                print(f"pruned {path}")
            for name, reason in sorted(report.failed.items()):
                print(f"  failed: {name}: {reason}", file=sys.stderr)
            print(f"backups: {len(report.written)} written, {len(report.failed)} failed")
            return 0 if report.ok else 1
        if args.backup_command == "list":
            for found in store.all_files(settings):
                manifest = found.manifest()
                subject = manifest.get("workspaceId") or manifest.get("kind", "?")
                print(
                    f"{found.taken_at.isoformat()}  {subject}  {manifest.get('bytes', '?')} "
                    f"bytes  expires {found.expires_at.date()}  {found.path}"
                )
            return 0
        file = Path(args.file)
        if args.workspace == "landlord":
            done = await restore.restore_landlord(settings, file)
            print(f"restored the landlord into {done.database}; point LT_DATABASE_URL at it")
            return 0
        done = await restore.restore_workspace(
            settings, tenancy.pools, args.workspace, file, switch=not args.no_switch
        )
        if done.previous is None:
            print(f"restored into {done.database} ({done.schema_version}); workspace unchanged")
        else:
            print(
                f"restored into {done.database} ({done.schema_version}); the workspace now "
                f"uses it, and its previous database {done.previous} is kept"
            )
        return 0
    except BackupError as error:
        print(f"lightningtrack: {error}", file=sys.stderr)
        return 1
    finally:
        await tenancy.stop()


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
    backups = commands.add_parser("backup", help="encrypted backups (LT_BACKUP_KEY)")
    backup_commands = backups.add_subparsers(dest="backup_command", required=True)
    backup_run = backup_commands.add_parser(
        "run", help="back up the landlord and every workspace now, then prune"
    )
    backup_run.add_argument(
        "--workspace", action="append", metavar="SLUG", help="only this workspace (repeatable)"
    )
    backup_commands.add_parser("list", help="list the backups kept")
    backup_restore = backup_commands.add_parser(
        "restore", help="restore a backup into a new database"
    )
    backup_restore.add_argument("workspace", help="workspace slug or id, or 'landlord'")
    backup_restore.add_argument("file", help="the .ltbk file")
    backup_restore.add_argument(
        "--no-switch", action="store_true", help="restore, but leave the workspace as it is"
    )
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
    if args.command == "backup":
        return asyncio.run(_backup(settings, args))
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
