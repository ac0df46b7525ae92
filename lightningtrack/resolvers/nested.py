"""Pages of children for many parents at once (the comments of fifty issues, say).

One ranked statement reads the rows on each parent's page: one statement however many
parents there are. The ranking is a window function over the same filtered query set a
single page would use, so filters, order and cursors mean exactly what they mean at the
top level; the statement keeps the rows ranked within each parent's page size (and one
more, to know whether there is a next page) and reads the model's columns of those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tortoise.expressions import RawSQL
from tortoise.queryset import QuerySet

from lightningtrack.models import joins
from lightningtrack.models.base import Model
from lightningtrack.resolvers.pagination import (
    Cursors,
    Page,
    PageArgs,
    SortKey,
    beyond,
    decode_cursor,
    key_fields,
    kinds,
)


async def pages_by_parent(
    queryset: QuerySet[Any],
    key: SortKey,
    parent_column: str,
    parent_ids: Sequence[int],
    args: PageArgs,
    counter: Callable[[int], Awaitable[int]],
) -> dict[int, Page[Any]]:
    args = args.validated()
    model: type[Model] = queryset.model
    table = model._meta.db_table
    ranked = queryset.filter(**{f"{parent_column}__in": list(parent_ids)})
    if args.after:
        ranked = ranked.filter(beyond(key, decode_cursor(args.after, kinds(key), "after"), True))
    if args.before:
        ranked = ranked.filter(beyond(key, decode_cursor(args.before, kinds(key), "before"), False))
    descending = key.descending != (not args.forward)
    direction = "DESC" if descending else "ASC"
    order = ", ".join(f'"{table}"."{name}" {direction}' for name in key_fields(key))
    window = RawSQL(
        f'ROW_NUMBER() OVER (PARTITION BY "{table}"."{parent_column}" ORDER BY {order})'
    )
    rows: list[Any] = []
    more: dict[int, bool] = {}
    if args.size > 0 and parent_ids:
        listing = ranked.annotate(rank_in_parent=window)
        # Tortoise has no public way to wrap a query set in a subquery with parameters;
        # these calls are the ones QuerySet.sql() makes.
        listing._choose_db_if_not_chosen()
        listing._make_query()
        inner, params = listing.query.get_parameterized_sql()
        limit = joins.parameter(model, len(params) + 1)
        columns = joins.columns(model)
        selected = ", ".join(f'ranked."{c}"' for c in columns)
        # Only the model's own column names and fixed SQL are interpolated around
        # Tortoise's parameterized SQL.
        sql = (
            f"SELECT {selected} FROM ({inner}) AS ranked"  # noqa: S608
            f' WHERE ranked."rank_in_parent" <= {limit}'
        )
        found = await joins.fetch(model, sql, [*params, args.size + 1])
        rows = [model._from_row(row, len(columns)) for row in found]
        counts: dict[int, int] = {}
        for row in rows:
            parent = getattr(row, parent_column)
            counts[parent] = counts.get(parent, 0) + 1
        more = {parent: n > args.size for parent, n in counts.items()}
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, parent_column), []).append(row)
    pages: dict[int, Page[Any]] = {}
    for parent in parent_ids:
        children = _ordered(grouped.get(parent, []), key, descending)
        has_more = more.get(parent, False)
        children = children[: args.size]
        if not args.forward:
            children.reverse()
        pages[parent] = _page(children, has_more, args, parent, key, counter)
    return pages


def _ordered(rows: list[Any], key: SortKey, descending: bool) -> list[Any]:
    fields = key_fields(key)
    return sorted(rows, key=lambda r: tuple(getattr(r, f) for f in fields), reverse=descending)


def _page(
    rows: list[Any],
    more: bool,
    args: PageArgs,
    parent: int,
    key: SortKey,
    counter: Callable[[int], Awaitable[int]],
) -> Page[Any]:
    async def count() -> int:
        return await counter(parent)

    # Whether rows exist beyond the cursor the client came from is not looked up per
    # parent (that would cost a statement each); a cursor means there were.
    if args.forward:
        has_next, has_previous = more, args.after is not None
    else:
        has_next, has_previous = args.before is not None, more
    return Page(
        rows=rows,
        cursors=Cursors(rows, key),
        has_next=has_next,
        has_previous=has_previous,
        count=count,
    )
