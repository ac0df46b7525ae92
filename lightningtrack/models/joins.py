"""Hand-written joins read back into models: one statement where the ORM would send one
per table, on hot paths (authenticating a request) where every round trip counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar, cast

from tortoise.models import Model

M = TypeVar("M", bound=Model)


@cache
def columns(model: type[Model]) -> tuple[str, ...]:
    # Read once Tortoise is initialised: only then are the foreign-key columns known.
    return tuple(sorted(model._meta.db_fields))


def select_list(model: type[Model], alias: str) -> str:
    """``alias."col" AS "alias__col"`` for every column of ``model``."""
    return ", ".join(f'{alias}."{c}" AS "{alias}__{c}"' for c in columns(model))


def hydrate(model: type[M], row: Mapping[str, Any], alias: str) -> M:
    """The ``model`` instance whose columns ``select_list(model, alias)`` selected."""
    instance: M = model._init_from_db(**{c: row[f"{alias}__{c}"] for c in columns(model)})
    return instance


def parameter(model: type[Model], position: int) -> str:
    """The placeholder of the ``position``-th (from 1) parameter on the model's database."""
    return f"${position}" if model._meta.db.capabilities.dialect == "postgres" else "?"


async def fetch(model: type[Model], sql: str, values: list[Any]) -> Sequence[Mapping[str, Any]]:
    """Rows of ``sql`` on the database ``model`` lives in, read by column name: asyncpg's
    own records on PostgreSQL (copying each into a dict costs more than reading it), dicts
    elsewhere (SQLite's rows are not mappings)."""
    db = model._meta.db
    if db.capabilities.dialect == "postgres":
        _, records = await db.execute_query(sql, values)
        return cast("Sequence[Mapping[str, Any]]", records)
    rows: list[dict[str, Any]] = await db.execute_query_dict(sql, values)
    return rows


# Key types whose canonical text needs no quoting inside an array literal.
_CANONICAL: dict[str, Callable[[Any], object]] = {
    "INT": int,
    "BIGINT": int,
    "SMALLINT": int,
    "UUID": lambda value: uuid.UUID(str(value)),
}


def among(model: type[Model], column: str, values: list[Any]) -> tuple[str, list[Any]]:
    """``column`` (of ``model``'s primary key's type) is one of ``values``: on PostgreSQL
    one parameter (one statement text, prepared once, whatever the number of values),
    elsewhere a list of placeholders with the values as the database stores them (SQLite
    keeps UUIDs as text).

    The PostgreSQL parameter is the array's text, cast by the server: an array parameter
    would make asyncpg introspect the array type (a catalog query of its own) on every
    new connection, the first statement of which it then delays."""
    if model._meta.db.capabilities.dialect == "postgres":
        sql_type = model._meta.pk.get_for_dialect("postgres", "SQL_TYPE")
        canonical = _CANONICAL.get(sql_type)
        if canonical is None:
            raise TypeError(f"among() takes integer or UUID keys, not {sql_type}")
        # Each value in its canonical form, so nothing but keys reaches the literal.
        literal = "{" + ",".join(str(canonical(value)) for value in values) + "}"
        return f"{column} = ANY($1::text::{sql_type.lower()}[])", [literal]
    pk = model._meta.pk
    stored = [pk.to_db_value(value, model) for value in values]
    return f"{column} IN ({', '.join('?' for _ in values)})", stored
