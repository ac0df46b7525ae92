"""The benchmarks' PostgreSQL server, and dropping a run's databases by their prefix."""

from __future__ import annotations

import asyncpg

SERVER = "postgres://postgres@127.0.0.1:5432"


async def drop_databases(prefix: str, *, create: bool = False, server: str = SERVER) -> None:
    """Drop every database whose name starts with ``prefix`` (a landlord and its
    workspaces); with ``create``, create the landlord ``prefix`` again, empty."""
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        for row in await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        ):
            await conn.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{prefix}"')
    finally:
        await conn.close()
