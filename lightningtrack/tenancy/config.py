"""Tortoise configuration: the landlord connection, and the unbound ``workspace`` default."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightningtrack.settings import DatabaseURL, Settings

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

LANDLORD = "landlord"
WORKSPACE = "workspace"

LANDLORD_APP: dict[str, Any] = {
    "models": ["lightningtrack.models.landlord", "lightningtrack.models.schedule"],
    "default_connection": LANDLORD,
    "migrations": "lightningtrack.migrations.landlord",
}
WORKSPACE_APP: dict[str, Any] = {
    "models": [
        "lightningtrack.models.workspace",
        "lightningtrack.models.integrations",
        "lightningtrack.models.notifications",
    ],
    "default_connection": WORKSPACE,
    "migrations": "lightningtrack.migrations.workspace",
}
SQLITE_PRAGMAS = {"journal_mode": "WAL", "busy_timeout": 10000, "synchronous": "NORMAL"}


async def keep_session(connection: Any) -> None:
    """What a pooled PostgreSQL connection needs on release beyond asyncpg's own rollback
    of an open transaction: nothing. asyncpg's default also sends a reset query (advisory
    unlock, CLOSE ALL, UNLISTEN, RESET ALL), a second round trip after every statement
    outside a transaction; pooled connections never hold session state (no SET, LISTEN,
    cursors or session advisory locks: the schema lock has a connection of its own)."""


def client_config(
    url: DatabaseURL, *, minsize: int = 1, maxsize: int = 10, idle_seconds: float = 300.0
) -> dict[str, Any]:
    """A Tortoise connection entry (engine and credentials) for one database."""
    if url.engine == "sqlite":
        Path(url.path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "engine": "tortoise.backends.sqlite",
            "credentials": {"file_path": url.path, **SQLITE_PRAGMAS},
        }
    return {
        "engine": "tortoise.backends.asyncpg",
        "credentials": {
            "host": url.host,
            "port": url.port,
            "user": url.user,
            "password": url.password,
            "database": url.database,
            "minsize": minsize,
            "maxsize": maxsize,
            "max_inactive_connection_lifetime": idle_seconds,
            "application_name": "lightningtrack",
            "reset": keep_session,
            **({"ssl": url.sslmode} if url.sslmode else {}),
        },
    }


def tortoise_config(settings: Settings) -> dict[str, Any]:
    unbound_credentials: dict[str, Any] = {
        "dialect": settings.database_url.engine,
        "file_path": "/nonexistent/unbound-workspace.sqlite3",
    }
    return {
        "connections": {
            LANDLORD: client_config(settings.database_url),
            WORKSPACE: {
                "engine": "lightningtrack.tenancy.unbound",
                "credentials": unbound_credentials,
            },
        },
        "apps": {LANDLORD: LANDLORD_APP, WORKSPACE: WORKSPACE_APP},
        "use_tz": True,
        "timezone": "UTC",
    }


def make_client(
    url: DatabaseURL, name: str, maxsize: int = 10, idle_seconds: float = 300.0
) -> BaseDBAsyncClient:
    """A Tortoise client for one database, not yet connected, named ``name``."""
    entry = client_config(url, minsize=0, maxsize=maxsize, idle_seconds=idle_seconds)
    module = importlib.import_module(entry["engine"])
    client_class = module.client_class
    client: BaseDBAsyncClient = client_class(connection_name=name, **entry["credentials"])
    return client
