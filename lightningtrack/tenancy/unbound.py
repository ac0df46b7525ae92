"""Tortoise engine for the ``workspace`` connection's default: a client that never connects.

Until a task binds a real workspace client, the ``workspace`` alias resolves to one of
these. It speaks the right SQL dialect (so query building works) but raises
``WorkspaceNotBound`` the moment anything tries to reach a database, so an unbound query
fails loudly and never falls back to some other database.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.sqlite.client import SqliteClient

from lightningtrack.errors import WorkspaceNotBound

_MESSAGE = "no workspace database is bound to this task"


class UnboundPostgresClient(AsyncpgDBClient):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("dialect", None)
        kwargs.pop("file_path", None)
        super().__init__(**kwargs)

    async def create_connection(self, with_db: bool) -> None:
        raise WorkspaceNotBound(_MESSAGE)

    async def db_create(self) -> None:
        raise WorkspaceNotBound(_MESSAGE)

    async def db_delete(self) -> None:
        raise WorkspaceNotBound(_MESSAGE)


class UnboundSqliteClient(SqliteClient):
    """Raises before taking the client's lock: Tortoise's SQLite connection wrapper takes it
    and then connects, and never releases it when connecting fails, so raising from
    ``create_connection`` alone would make every later unbound query hang, not fail."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("dialect", None)
        super().__init__(**kwargs)

    def acquire_connection(self) -> Any:
        raise WorkspaceNotBound(_MESSAGE)

    def _in_transaction(self) -> Any:
        raise WorkspaceNotBound(_MESSAGE)

    async def create_connection(self, with_db: bool) -> None:
        raise WorkspaceNotBound(_MESSAGE)

    async def db_delete(self) -> None:
        raise WorkspaceNotBound(_MESSAGE)


def get_client_class(db_info: dict[str, Any]) -> type[AsyncpgDBClient] | type[SqliteClient]:
    dialect = db_info.get("credentials", {}).get("dialect", "sqlite")
    return UnboundPostgresClient if dialect == "postgres" else UnboundSqliteClient
