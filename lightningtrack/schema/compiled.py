"""Compiled selection sets: a whole subtree of plain fields answered by one built function.

Field by field, graphql-core (and the executor's direct path, see ``execution``) walks a
selection set once per row: a plan lookup, a step per field, a path per object, a type
check per value. Most of what a page of rows answers needs none of that once it is known
what the selection asks: which attributes to read, how to serialize each leaf, which
object types the values must be. A selection set whose fields are all plain (Strawberry
fields without a resolver, ``__typename``, or a value a list prefetched, see
``prefetched_field``), of leaf, list and object types, is compiled here once into nested
builder functions that turn the row objects straight into the response dictionary.

A builder takes only what it can answer exactly as graphql-core would: any value it does
not expect (null where null is not allowed, a value of another type, one a scalar cannot
serialize, an exception) raises ``Unfit`` and the executor answers that object field by
field instead, which yields the result and the error it always would. Building touches
nothing but the objects, so starting again loses nothing. Values that wait (a ``Later``
of a field typed ``Any``) are gathered after the build, as graphql-core gathers a
selection set's awaitables, then completed by the same builders (a coroutine, which
could not be awaited a second time, makes the object unfit instead).

Builders are cached by the selection's field nodes (those of the parsed document, which
the parser cache keeps), the object type (itself, not its name) and the operation's
Boolean variables (which ``@include``/``@skip`` may read), in a bounded cache; an entry
holds what its key names, so no other object can take their ids while it lives.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import OrderedDict
from collections.abc import Callable, Sequence
from operator import attrgetter
from types import CoroutineType
from typing import Any, Generic, NamedTuple, TypeVar

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from strawberry.schema.schema_converter import GraphQLCoreConverter

# A field's value, a list of the values still to wait for, and a build's result.
Complete = Callable[[Any, "Pending"], Any]
Pending = list[tuple[dict[str, Any], str, Any, Complete]]
Build = Callable[[Any, Pending], dict[str, Any]]
# A field of a build: its response name, how to read it, how to complete it, the type of
# values answered as they are, and whether None read is null.
Step = tuple[str, Callable[[Any], Any], Complete, type | None, bool]
# Reads a selection's subfields as graphql-core collects them (fragments, @include/@skip).
Collect = Callable[[GraphQLObjectType, FieldDetailsList], GroupedFieldSet]

_PLAIN = (str, int, float, bool)
# The values GraphQL's Int serializes as they are (32-bit, as graphql-core checks).
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
MAX_PLANS = 2000
# What leaf_value (and the executor's direct read) answers for a value that
# graphql-core's own execution must take.
MISSING: Any = object()

# Metadata key of a field with arguments whose value lists may prefetch (see
# prefetched_field).
PREFETCHED = "lightningtrack.prefetched"


def prefetched_field(key: str) -> dict[str, str]:
    """``strawberry.field(metadata=...)`` for a field whose value, when every argument
    is omitted, the object may hold already in ``pre[key]`` (a list reads it for all its
    rows at once): the executor then takes it from there instead of calling the
    resolver, which must answer exactly that value in that case."""
    return {PREFETCHED: key}


def read_prefetched(source: Any, key: str) -> Any:
    pre = getattr(source, "pre", None)
    return pre.get(key) if pre else None


class Reading(NamedTuple):
    """How a field's value may be had without running its resolver."""

    attribute: str  # the source's attribute, or the key in its ``pre``
    read: Callable[[Any, str], Any] | None  # None: builtins.getattr
    prefetched: bool  # from ``pre``: None there means "not prefetched", not null


def reading(field: GraphQLField, node: FieldNode) -> Reading | None:
    """A plain field (a Strawberry field without a resolver or extensions) is its
    source's attribute; a prefetched one, asked with no arguments, what a list put in
    ``pre``. None: only its resolver answers it."""
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None:
        return None
    if field.args:
        key = definition.metadata.get(PREFETCHED)
        extended = definition.extensions or definition.permission_classes
        if key is None or node.arguments or extended:
            return None
        return Reading(key, read_prefetched, True)
    if node.arguments or not getattr(field.resolve, "_is_default", False):
        return None
    if not getattr(definition, "is_basic_field", False):
        return None
    read = definition.default_resolver
    return Reading(definition.python_name, None if read is builtins.getattr else read, False)


def leaf_value(leaf: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    """The value serialized as graphql-core would, or MISSING where graphql-core would
    not take it as it is (awaitable, an exception, not coercible, coerced to null)."""
    if type(value) not in _PLAIN and (isinstance(value, Exception) or hasattr(value, "__await__")):
        return MISSING
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:
        return MISSING
    if coerced is None or coerced is Undefined:
        return MISSING
    return coerced


class Unfit(Exception):
    """A value the builder does not answer: the object goes field by field instead."""


_WAITS: dict[type, bool] = {}


def _waits(value: Any) -> bool:
    """Whether the value is one to wait for (awaitable more than once, as a Later is)."""
    kind = type(value)
    found = _WAITS.get(kind)
    if found is None:
        found = _WAITS[kind] = kind not in _PLAIN and hasattr(kind, "__await__")
    if found and kind is CoroutineType:
        raise Unfit  # awaited here, it could not be awaited again field by field
    return found


T = TypeVar("T")


class NodeCache(Generic[T]):
    """What was made for some objects of a parsed document (a type, its field nodes) and an
    operation's Boolean variables, by the objects' ids; bounded (the least recently used
    goes). An entry holds the objects its key names, so no other object can take their
    ids while it lives."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], T]] = OrderedDict()

    def get(
        self, nodes: tuple[Any, ...], flags: tuple[tuple[str, bool], ...], make: Callable[[], T]
    ) -> T:
        key = (flags, *map(id, nodes))
        found = self._entries.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], nodes, strict=True)):
            self._entries.move_to_end(key)
            return found[1]
        made = make()
        self._entries[key] = (nodes, made)
        if len(self._entries) > MAX_PLANS:
            self._entries.popitem(last=False)
        return made


class Compiler:
    """Plans of one schema: builders for (object type, selection) pairs, or None."""

    def __init__(self) -> None:
        self._plans: NodeCache[Build | None] = NodeCache()
        # Plans made, objects built by one, and builds given up for field by field.
        self.compiled = 0
        self.built = 0
        self.unfit = 0

    def builder(
        self,
        object_type: GraphQLObjectType,
        grouped: GroupedFieldSet,
        flags: tuple[tuple[str, bool], ...],
        collect: Collect,
    ) -> Build | None:
        # The type itself, not its name: tests (and tools) run other schemas in-process.
        nodes = (object_type, *(details.node for fields in grouped.values() for details in fields))

        def make() -> Build | None:
            build = self._object(object_type, grouped, collect)
            self.compiled += 1
            return build

        return self._plans.get(nodes, flags, make)

    def _object(
        self, object_type: GraphQLObjectType, grouped: GroupedFieldSet, collect: Collect
    ) -> Build | None:
        steps: list[Step] = []
        for name, fields in grouped.items():
            step = self._field(object_type, name, fields, collect)
            if step is None:
                return None
            steps.append(step)
        is_type_of = object_type.is_type_of

        def build(source: Any, pending: Pending) -> dict[str, Any]:
            if isinstance(source, Exception):
                raise Unfit  # graphql-core reports it as the field's error
            # Strawberry's check reads no resolve info.
            if is_type_of is not None and is_type_of(source, None) is not True:  # type: ignore[arg-type]
                raise Unfit
            result: dict[str, Any] = {}
            for name, read, complete, as_is, may_be_null in steps:
                value = read(source)
                kind = type(value)
                # The values most fields hold, answered without a call: text for a
                # String or ID, a bool for a Boolean, null where null is allowed.
                if kind is as_is or (value is None and may_be_null):
                    result[name] = value
                elif kind not in _PLAIN and _waits(value):
                    result[name] = None
                    pending.append((result, name, value, complete))
                else:
                    result[name] = complete(value, pending)
            return result

        return build

    def _field(
        self,
        object_type: GraphQLObjectType,
        name: str,
        fields: FieldDetailsList,
        collect: Collect,
    ) -> Step | None:
        node = fields[0].node
        field_name = node.name.value
        if field_name == "__typename":
            type_name = object_type.name
            return name, lambda _source: type_name, _as_is, str, False
        field = object_type.fields.get(field_name)
        found = reading(field, node) if field is not None else None
        if field is None or found is None:
            return None
        read: Callable[[Any], Any]
        if found.prefetched:
            key = found.attribute
            read = lambda source: read_prefetched(source, key)  # noqa: E731
        elif found.read is None:
            read = attrgetter(found.attribute)
        else:
            return None  # a default resolver of its own: field by field
        complete = self._complete(field.type, fields, collect, not found.prefetched)
        if complete is None:
            return None
        nullable = not isinstance(field.type, GraphQLNonNull)
        leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        # None read from ``pre`` means "not prefetched", so it never stands for null.
        return name, read, complete, as_is_type(leaf), nullable and not found.prefetched

    def _complete(
        self,
        type_: GraphQLOutputType,
        fields: FieldDetailsList,
        collect: Collect,
        nullable_here: bool = True,
    ) -> Complete | None:
        nullable = not isinstance(type_, GraphQLNonNull)
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        inner_complete = self._complete_non_null(inner, fields, collect)
        if inner_complete is None:
            return None
        if nullable and nullable_here:

            def complete_nullable(value: Any, pending: Pending) -> Any:
                return None if value is None else inner_complete(value, pending)

            return complete_nullable

        def complete_required(value: Any, pending: Pending) -> Any:
            if value is None:
                raise Unfit
            return inner_complete(value, pending)

        return complete_required

    def _complete_non_null(
        self, inner: GraphQLOutputType, fields: FieldDetailsList, collect: Collect
    ) -> Complete | None:
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            return _leaf(inner)
        if isinstance(inner, GraphQLList):
            item = self._complete(inner.of_type, fields, collect)
            if item is None:
                return None

            def complete_list(value: Any, pending: Pending) -> Any:
                # Lists, and sequences made on reading (a page's edges); never text, which
                # graphql-core refuses as a list.
                if not isinstance(value, list | tuple) and (
                    not isinstance(value, Sequence) or isinstance(value, str | bytes | bytearray)
                ):
                    raise Unfit
                return [item(entry, pending) for entry in value]

            return complete_list
        if isinstance(inner, GraphQLObjectType):
            build = self._object(inner, collect(inner, fields), collect)
            if build is None:
                return None
            return build
        return None  # interfaces and unions: field by field


def _as_is(value: Any, _pending: Pending) -> Any:
    return value


def as_is_type(leaf: GraphQLOutputType) -> type | None:
    """The Python type whose values graphql-core serializes as they are for this leaf:
    text for String and ID, bool for Boolean; None for any other type."""
    if isinstance(leaf, GraphQLScalarType) and leaf.name in ("String", "ID"):
        return str
    if isinstance(leaf, GraphQLScalarType) and leaf.name == "Boolean":
        return bool
    return None


def complete_leaf(leaf: GraphQLScalarType | GraphQLEnumType) -> Callable[..., Any]:
    """The leaf's value serialized as graphql-core would; Unfit where it would not take it
    as it is (see leaf_value)."""
    fast = as_is_type(leaf)
    small_int = isinstance(leaf, GraphQLScalarType) and leaf.name == "Int"

    # Also a Complete: a leaf leaves nothing pending.
    def complete(value: Any, _pending: Pending | None = None) -> Any:
        kind = type(value)
        if kind is fast or (small_int and kind is int and _INT_MIN <= value <= _INT_MAX):
            return value
        coerced = leaf_value(leaf, value)
        if coerced is MISSING:
            raise Unfit
        return coerced

    return complete


_leaf: Callable[[GraphQLScalarType | GraphQLEnumType], Complete] = complete_leaf


async def settle(pending: Pending) -> None:
    """Wait for the values a build left pending, all at once, and complete them (which
    may leave more pending, waited for in the next round)."""
    while pending:
        current = list(pending)
        pending.clear()
        values = await asyncio.gather(*(value for _, _, value, _ in current))
        for (container, name, _, complete), value in zip(current, values, strict=True):
            if _waits(value):
                raise Unfit
            container[name] = complete(value, pending)
