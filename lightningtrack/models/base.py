"""The base of every model: rows read from the database become models at less cost.

Tortoise builds a model from a row by setting four bookkeeping attributes through the
model's own ``__setattr__`` (which checks relations on every call) and by converting each
timestamp through a path that reads the process environment per value. Lists turn tens of
rows into models per request, so this base reads each model's columns once into a plan
(the same three kinds Tortoise sorts them into) and fills the instance's attributes
directly; timestamps and enumerations convert as Tortoise converts them, by shorter
paths. The result is the same instance Tortoise would build: same attributes, same
values, same types; a partial row (``.only()``) still takes Tortoise's own path.

Tortoise sorts the columns again whenever it is initialised, by what the database's driver
returns natively, and one process may initialise it for SQLite, then for PostgreSQL. The
drivers' native types nest (SQLite's are a subset of PostgreSQL's), so a different sorting
always has a different number of native columns: the plan is made again when that number
changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from itertools import islice
from typing import Any, Self

from tortoise import models, timezone
from tortoise.backends.asyncpg.executor import AsyncpgExecutor
from tortoise.backends.base.executor import CHUNK_SIZE
from tortoise.fields import DatetimeField
from tortoise.fields.data import CharEnumFieldInstance

Convert = Callable[[Any], Any]


class _Plan:
    __slots__ = ("converted", "custom_pk", "native", "native_count", "size")

    def __init__(self, model: type[models.Model]) -> None:
        meta = model._meta
        self.native_count = len(meta.db_native_fields)
        self.custom_pk = meta.db_pk_column not in meta.generated_db_fields
        # Columns the driver hands over as they are kept.
        self.native: tuple[tuple[str, str], ...] = tuple(
            (key, attribute) for key, attribute, _ in meta.db_native_fields
        )
        converted: list[tuple[str, str, Convert]] = []
        for key, attribute, field in meta.db_default_fields:
            converted.append((key, attribute, _or_none(field.field_type)))
        for key, attribute, field in meta.db_complex_fields:
            convert: Convert = field.to_python_value
            if type(field) is DatetimeField and timezone.get_use_tz():
                convert = _aware(convert, timezone.get_default_timezone())
            elif type(field) is CharEnumFieldInstance:
                convert = _member(convert, field.enum_type)
            converted.append((key, attribute, convert))
        self.converted = tuple(converted)
        self.size = len(self.native) + len(self.converted)


def _or_none(convert: Convert) -> Convert:
    def or_none(value: Any) -> Any:
        return None if value is None else convert(value)

    return or_none


def _aware(slow: Convert, zone: Any) -> Convert:
    """DatetimeField.to_python_value for a process with use_tz: an aware UTC value (what
    asyncpg returns) moved to the default zone; anything else (text from SQLite, naive
    values) through Tortoise's own conversion."""

    def aware(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is UTC:
            return value.astimezone(zone)
        return slow(value)

    return aware


def _member(slow: Convert, enum_type: type[Enum]) -> Convert:
    """CharEnumField.to_python_value (``enum_type(value)``) as a lookup of the member by
    its value; a value that is no member's raises through Tortoise's own conversion."""
    members = dict(enum_type._value2member_map_)

    def member(value: Any) -> Any:
        found = members.get(value, _ABSENT) if type(value) is str else _ABSENT
        return slow(value) if found is _ABSENT else found

    return member


_ABSENT: Any = object()


class Model(models.Model):
    class Meta:
        abstract = True

    @classmethod
    def _init_from_db(cls, **kwargs: Any) -> Self:
        built = cls._built(cls._plan(), kwargs)
        if built is None:  # a partial row: Tortoise knows what to leave out
            partial: Self = super()._init_from_db(**kwargs)
            return partial
        return built

    @classmethod
    def _from_row(cls, row: Mapping[str, Any], count: int) -> Self:
        """The model of a driver's row whose first ``count`` columns are the model's, as
        Tortoise's executor reads them (annotations follow), without copying the row
        into keyword arguments first."""
        plan = cls._plan()
        if count == plan.size:
            built = cls._built(plan, row)
            if built is not None:
                return built
        return cls._init_from_db(**dict(islice(row.items(), count)))

    @classmethod
    def _plan(cls) -> _Plan:
        plan: _Plan | None = cls.__dict__.get("_row_plan")
        if plan is None or plan.native_count != len(cls._meta.db_native_fields):
            plan = _Plan(cls)
            cls._row_plan = plan  # type: ignore[attr-defined]
        return plan

    @classmethod
    def _built(cls, plan: _Plan, row: Mapping[str, Any]) -> Self | None:
        """The model with every column of ``row``; None if one is missing."""
        self = cls.__new__(cls)
        attributes = self.__dict__
        attributes["_partial"] = False
        attributes["_saved_in_db"] = True
        attributes["_custom_generated_pk"] = plan.custom_pk
        attributes["_await_when_save"] = {}
        try:
            for key, attribute in plan.native:
                attributes[attribute] = row[key]
            for key, attribute, convert in plan.converted:
                attributes[attribute] = convert(row[key])
        except KeyError:
            return None
        return self


class RowExecutor(AsyncpgExecutor):
    """Tortoise's executor for asyncpg, but a select of one model (no select_related)
    builds each model from the driver's record itself (``Model._from_row``): Tortoise's
    copies every record into a list of items, then a dict, then keyword arguments."""

    async def execute_select(
        self, sql: str, values: list[Any] | None = None, custom_fields: list[Any] | None = None
    ) -> list[Any]:
        related = self.select_related_idx
        if not issubclass(self.model, Model) or (related and len(related) != 1):
            rows: list[Any] = await super().execute_select(sql, values, custom_fields)
            return rows
        _, records = await self.db.execute_query(sql, values)
        instances = []
        build = self.model._from_row
        # The model's columns come first (Tortoise's count of them), annotations after.
        count = related[0][1] if related else None
        for index, record in enumerate(records):
            if index and index % CHUNK_SIZE == 0:
                await asyncio.sleep(0)  # as Tortoise yields on long results
            instance = build(record, len(record) if count is None else count)
            if custom_fields:
                for name in custom_fields:
                    object.__setattr__(instance, name, record[name])
            instances.append(instance)
        return list(await self._execute_prefetch_queries(instances))
