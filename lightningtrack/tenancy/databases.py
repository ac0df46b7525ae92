"""Where workspace databases live, and creating and dropping them.

PostgreSQL: each workspace is a database on its region's server, named after the
landlord database so that several installations (and test runs) can share a server.
SQLite: each workspace is a file in the workspace folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from lightningtrack.settings import DatabaseURL, Settings

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Workspace

_SAFE_NAME = re.compile(r"^[a-z0-9_]{1,63}$")


def name_prefix(settings: Settings) -> str:
    """The prefix of every database name this installation owns on a server."""
    if settings.database_url.engine == "sqlite":
        return "lt"
    base = settings.database_url.database or settings.database_url.user or "lightningtrack"
    cleaned = re.sub(r"[^a-z0-9_]", "_", base.lower())[:24]
    return cleaned or "lt"


def new_database_name(settings: Settings, workspace_id: uuid.UUID) -> str:
    return f"{name_prefix(settings)}_ws_{workspace_id.hex}"


def template_name(settings: Settings) -> str:
    return f"{name_prefix(settings)}_template"


def server_url(settings: Settings, region: str) -> DatabaseURL:
    if settings.workspace_database_url.engine == "sqlite":
        return settings.workspace_database_url
    return settings.region_url(region)


def database_url(settings: Settings, region: str, db_name: str) -> DatabaseURL:
    server = server_url(settings, region)
    if server.engine == "sqlite":
        return DatabaseURL(engine="sqlite", path=str(Path(server.path) / f"{db_name}.sqlite3"))
    return server.with_database(db_name)


def workspace_url(settings: Settings, workspace: Workspace) -> DatabaseURL:
    return database_url(settings, str(workspace.region), workspace.db_name)


def template_url(settings: Settings, region: str) -> DatabaseURL:
    return database_url(settings, region, template_name(settings))


def _quote(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    return f'"{name}"'


@asynccontextmanager
async def admin_connection(server: DatabaseURL) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the server's maintenance database, for CREATE/DROP DATABASE."""
    connection = await asyncpg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database="postgres",
        ssl=server.sslmode,
    )
    try:
        yield connection
    finally:
        await connection.close()


def _sqlite_create(url: DatabaseURL, template: DatabaseURL | None) -> None:
    target = Path(url.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    if template is None:
        target.touch()
        return
    # Copy aside, then rename: a crash never leaves a half-copied workspace file.
    partial = target.with_suffix(".partial")
    shutil.copyfile(template.path, partial)
    os.replace(partial, target)


def _sqlite_drop(url: DatabaseURL) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(url.path + suffix).unlink()
    with contextlib.suppress(FileNotFoundError):
        Path(url.path).with_suffix(".partial").unlink()


def _sqlite_list(folder: Path, prefix: str) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.stem for p in folder.glob(f"{prefix}*.sqlite3"))


async def database_exists(url: DatabaseURL) -> bool:
    if url.engine == "sqlite":
        return await asyncio.to_thread(Path(url.path).exists)
    async with admin_connection(url) as conn:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database)
        return bool(found)


async def create_database(url: DatabaseURL, template: DatabaseURL | None = None) -> None:
    """Create an empty database, or a copy of ``template``."""
    if url.engine == "sqlite":
        await asyncio.to_thread(_sqlite_create, url, template)
        return
    async with admin_connection(url) as conn:
        name = _quote(str(url.database))
        if template is None:
            await conn.execute(f"CREATE DATABASE {name}")
        else:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {_quote(str(template.database))}")


async def drop_database(url: DatabaseURL) -> None:
    """Drop a database (or delete its file), ending its sessions; missing is fine."""
    if url.engine == "sqlite":
        await asyncio.to_thread(_sqlite_drop, url)
        return
    async with admin_connection(url) as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(str(url.database))} WITH (FORCE)")


async def list_databases(server: DatabaseURL, prefix: str) -> list[str]:
    """Names of the databases on a server (or files in a folder) starting with ``prefix``."""
    if server.engine == "sqlite":
        return await asyncio.to_thread(_sqlite_list, Path(server.path), prefix)
    async with admin_connection(server) as conn:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
            prefix,
        )
        return [row["datname"] for row in rows]


@asynccontextmanager
async def schema_lock(
    settings: Settings, server: DatabaseURL, *, shared: bool
) -> AsyncIterator[None]:
    """Order schema changes (exclusive) against copying the template (shared), across
    processes: ``serve --workers N`` starts N processes that migrate at once.

    PostgreSQL refuses ``CREATE DATABASE ... TEMPLATE`` while the template has other
    sessions, and two processes must not migrate one database at once; an advisory lock
    on the server orders them. SQLite installations lock a file in the data folder.
    """
    if server.engine == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = await asyncio.to_thread(open, settings.data_dir / ".schema.lock", "a+b")
        try:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            await asyncio.to_thread(fcntl.flock, handle.fileno(), mode)
            yield  # the lock goes with the file's closing, on every path
        finally:
            handle.close()
        return
    lock_name = f"lightningtrack:{name_prefix(settings)}:schema"
    verb = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
    async with admin_connection(server) as conn:
        await conn.execute(f"SELECT {verb}(hashtext($1))", lock_name)
        # The lock is released when the connection closes, on every path.
        yield
