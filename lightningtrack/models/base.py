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

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Self

from tortoise import models, timezone
from tortoise.fields import DatetimeField
from tortoise.fields.data import CharEnumFieldInstance

Convert = Callable[[Any], Any]


class _Plan:
    __slots__ = ("converted", "custom_pk", "native", "native_count")

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
        plan: _Plan | None = cls.__dict__.get("_row_plan")
        if plan is None or plan.native_count != len(cls._meta.db_native_fields):
            plan = _Plan(cls)
            cls._row_plan = plan  # type: ignore[attr-defined]
        self = cls.__new__(cls)
        attributes = self.__dict__
        attributes["_partial"] = False
        attributes["_saved_in_db"] = True
        attributes["_custom_generated_pk"] = plan.custom_pk
        attributes["_await_when_save"] = {}
        try:
            for key, attribute in plan.native:
                attributes[attribute] = kwargs[key]
            for key, attribute, convert in plan.converted:
                attributes[attribute] = convert(kwargs[key])
        except KeyError:  # a partial row: Tortoise knows what to leave out
            built: Self = super()._init_from_db(**kwargs)
            return built
        return self
