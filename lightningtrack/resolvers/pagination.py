"""Relay pagination with keyset cursors.

A cursor holds the sort key of a row (its sort field and its id), never an offset, so
rows inserted or deleted between two page fetches neither repeat nor skip other rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar, overload

import orjson
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from lightningtrack.errors import BadUserInput

T = TypeVar("T")
# "int" is a 64-bit column (ids); "int32" and "int16" are narrower integer sort columns.
Kind = Literal["int", "int32", "int16", "datetime"]
_INT_BITS = {"int": 64, "int32": 32, "int16": 16}
DEFAULT_PAGE = 50
MAX_PAGE = 100


@dataclass(frozen=True)
class SortKey:
    """One sort field (with the id as the tie-breaker) and its direction."""

    field: str
    kind: Kind
    descending: bool = False


ID_ORDER = SortKey("id", "int")


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated(self, max_page: int = MAX_PAGE) -> PageArgs:
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= max_page:
                raise BadUserInput(f"{name} must be between 0 and {max_page}.", field=name)
        if self.first is not None and self.last is not None:
            raise BadUserInput("Use first or last, not both.", field="last")
        if self.first is None and self.last is None:
            return PageArgs(DEFAULT_PAGE, self.after, None, self.before)
        return self

    @property
    def forward(self) -> bool:
        return self.last is None

    @property
    def size(self) -> int:
        return self.first if self.first is not None else self.last or 0


class Cursors(Sequence[str]):
    """The cursors of a page's rows, each encoded only when read: a selection of nodes
    alone reads none, one of pageInfo reads two."""

    __slots__ = ("_key", "_rows")

    def __init__(self, rows: Sequence[Any], key: SortKey) -> None:
        self._rows = rows
        self._key = key

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [cursor_for(row, self._key) for row in self._rows[index]]
        return cursor_for(self._rows[index], self._key)

    def of(self, rows: Sequence[Any]) -> Cursors:
        """The cursors of other rows in the same order (a subset of these)."""
        return Cursors(rows, self._key)


NO_CURSORS = Cursors((), ID_ORDER)


@dataclass
class Page(Generic[T]):
    rows: list[T]
    cursors: Cursors
    has_next: bool | Callable[[], Awaitable[bool]]
    has_previous: bool | Callable[[], Awaitable[bool]]
    # Known, or looked up only if asked for.
    count: int | Callable[[], Awaitable[int]]


def _encode_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(values: Sequence[Any]) -> str:
    # orjson writes ints and ASCII strings byte for byte as json.dumps with compact
    # separators does, so cursors keep their form; it is much cheaper once per row.
    raw = orjson.dumps([_encode_value(v) for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[Kind], field: str) -> list[Any]:
    invalid = BadUserInput("This cursor is not valid here.", field=field)
    if len(cursor) > 500:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise invalid
    decoded: list[Any] = []
    for value, kind in zip(values, kinds, strict=True):
        if kind in _INT_BITS:
            # Out of the column's range, a value would fail in the database, not here.
            limit = 2 ** (_INT_BITS[kind] - 1)
            if not isinstance(value, int) or isinstance(value, bool) or not -limit <= value < limit:
                raise invalid
            decoded.append(value)
        else:
            try:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise invalid
                # In UTC, as stored (SQLite compares text); out of range fails here.
                decoded.append(moment.astimezone(UTC))
            except (TypeError, ValueError, OverflowError):
                raise invalid from None
    return decoded


def kinds(key: SortKey) -> list[Kind]:
    return ["int"] if key.field == "id" else [key.kind, "int"]


def key_fields(key: SortKey) -> list[str]:
    return ["id"] if key.field == "id" else [key.field, "id"]


def cursor_for(row: Any, key: SortKey) -> str:
    if key.field == "id":
        return encode_cursor([row.id])
    return encode_cursor([getattr(row, key.field), row.id])


def beyond(key: SortKey, values: list[Any], after: bool) -> Q:
    """Rows strictly after (or before) the cursor in the order of ``key``."""
    greater = after != key.descending
    op = "gt" if greater else "lt"
    if key.field == "id":
        return Q(**{f"id__{op}": values[0]})
    value, row_id = values
    return Q(**{f"{key.field}__{op}": value}) | Q(**{key.field: value, f"id__{op}": row_id})


def _ordering(key: SortKey, reverse: bool) -> list[str]:
    descending = key.descending != reverse
    sign = "-" if descending else ""
    return [sign + f for f in key_fields(key)]


def order_sql(key: SortKey, reverse: bool, alias: str) -> str:
    """The ORDER BY list of ``_ordering`` on a table alias."""
    return ", ".join(
        f'{alias}."{name.lstrip("-")}" {"DESC" if name.startswith("-") else "ASC"}'
        for name in _ordering(key, reverse)
    )


Fetch = Callable[[Callable[[], QuerySet[Any]], str], Awaitable[list[Any]]]


async def paginate(
    queryset: QuerySet[Any], key: SortKey, args: PageArgs, fetch: Fetch | None = None
) -> Page[Any]:
    """One page of ``queryset`` in the order of ``key``: one statement for the rows;
    the total count and the far side's existence are fetched only if asked for.
    ``fetch``, given a function that makes the ordered and limited query and its ORDER BY
    on the alias ``i``, reads its rows instead of awaiting it (to read more with them in
    the statement, or to send a statement kept from the same query made before)."""
    args = args.validated()
    base = queryset
    after_values = decode_cursor(args.after, kinds(key), "after") if args.after else None
    before_values = decode_cursor(args.before, kinds(key), "before") if args.before else None
    size = args.size

    def query() -> QuerySet[Any]:
        bounded = queryset
        if after_values is not None:
            bounded = bounded.filter(beyond(key, after_values, after=True))
        if before_values is not None:
            bounded = bounded.filter(beyond(key, before_values, after=False))
        return bounded.order_by(*_ordering(key, not args.forward)).limit(size + 1)

    if size == 0:
        rows: list[Any] = []
        more = False
    else:
        if fetch is None:
            fetched = await query()
        else:
            fetched = await fetch(query, order_sql(key, not args.forward, "i"))
        more = len(fetched) > size
        rows = list(fetched[:size])
        if not args.forward:
            rows.reverse()

    async def count() -> int:
        total: int = await base.count()
        return total

    # Rows on the far side of the cursor the client came from (the cursor row itself
    # counts, though it may since have been deleted), looked up only when asked for.
    has_next: bool | Callable[[], Awaitable[bool]]
    has_previous: bool | Callable[[], Awaitable[bool]]
    if args.forward:
        has_next = more
        has_previous = _outside(base, key, after_values, after=True) if after_values else False
    else:
        has_previous = more
        has_next = _outside(base, key, before_values, after=False) if before_values else False
    return Page(
        rows=rows,
        cursors=Cursors(rows, key),
        has_next=has_next,
        has_previous=has_previous,
        count=count,
    )


def _outside(
    base: QuerySet[Any], key: SortKey, values: list[Any], *, after: bool
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await base.filter(~beyond(key, values, after=after)).exists())

    return check
