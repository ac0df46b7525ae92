"""The ``lightningtrack`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from lightningtrack.settings import Settings, SettingsError, load_settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "lightningtrack.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="auto",
        http="auto",
        log_level="info",
        proxy_headers=True,
    )
    return 0


async def _migrate(settings: Settings) -> int:
    from lightningtrack.tenancy import migration
    from lightningtrack.tenancy.runtime import Tenancy

    tenancy = Tenancy(settings)
    await tenancy.start(migrate=False, janitor=False)
    try:
        print(f"landlord: {await migration.migrate_landlord()}", flush=True)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "export-schema":
        return _export_schema()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"lightningtrack: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
