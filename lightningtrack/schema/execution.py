"""How the schema runs operations: graphql-core's executor, with plain fields read directly.

Strawberry's default execution context extends graphql-core's ``IncrementalExecutor``,
which plans and tracks ``@defer``/``@stream`` delivery groups for every selection set.
This schema offers neither directive (Strawberry's incremental execution is off, so
validation refuses them), so operations run on graphql-core's plain ``Executor``: the
same field-by-field execution, resolvers and results, without that bookkeeping per
field. Strawberry's resolve info (it carries the operation's ``extensions``) is kept.

Most fields of a page of rows are *plain*: Strawberry fields without a resolver, whose
value is the attribute of the same name (an issue's title, a project's key, a list of
label names, the project object itself). For those graphql-core still builds a resolve
info, calls Strawberry's resolver wrapper and walks ``complete_value`` once per row and
field. Here each selection set is planned once per operation (graphql-core hands the
same grouped field set for every row of a list): a plain field with a leaf, a list of
leaves, an object or a list of objects as its type is read and completed directly. The
direct path only ever takes the case where nothing can go wrong: a value that is
missing, null where null is not allowed, awaitable, an exception, or not coercible is
handed back to graphql-core's own ``execute_field``, which produces exactly the result
and the error it always would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import (
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
from graphql.execution.executor import Executor, to_nodes
from graphql.pyutils import Path
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from lightningtrack import metrics
from lightningtrack.schema.compiled import (
    MISSING,
    Build,
    Compiler,
    Pending,
    leaf_value,
    reading,
    settle,
)
from lightningtrack.schema.planned import PLANNERS, Plan, Planner

# What a step of a plan does with its field.
_EXECUTE = 0  # graphql-core's execute_field
_LEAF = 1  # a scalar or an enum
_LEAF_LIST = 2  # a list of scalars or enums
_OBJECT = 3  # an object type's value
_OBJECT_LIST = 4  # a list of an object type's values
_PLANNED = 5  # a root field with a planner (see planned.py)


class _Step(NamedTuple):
    kind: int
    name: str  # the response name
    fields: FieldDetailsList
    field: GraphQLField | None
    attribute: str
    read: Callable[[Any, str], Any] | None  # None: builtins.getattr
    type: Any  # the leaf or object type
    nullable: bool  # the field's value may be null
    item_type: Any  # for lists: the item's type as declared (NonNull or not)


log = logging.getLogger("lightningtrack.execution")

# The compiled selection sets of this process's schema.
COMPILER = Compiler()
_BUILT = metrics.COMPILED_SELECTIONS.labels("built")
_FELL_BACK = metrics.COMPILED_SELECTIONS.labels("fell_back")


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    if isinstance(type_, GraphQLNonNull):
        return type_.of_type, False
    return type_, True


class FieldByFieldExecution(Executor[Any]):
    # False: every field through graphql-core's execute_field (bench.cpu compares both).
    read_plain_fields_directly = True
    # False: no compiled selection sets (LT_COMPILED_EXECUTION=false), see compiled.py.
    compile_selection_sets = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.operation_extensions = kwargs.pop("operation_extensions", None)
        super().__init__(*args, **kwargs)
        # Resolver middleware (Strawberry's extensions with a resolve hook) must see every
        # field: with any, every field goes through execute_field.
        manager = self.middleware_manager
        self._direct = self.read_plain_fields_directly and (
            manager is None or manager._middleware_resolvers is None
        )
        self._plans: dict[int, tuple[GroupedFieldSet, list[_Step]]] = {}
        self._compile = self._direct and self.compile_selection_sets
        self._builders: dict[int, tuple[GroupedFieldSet, Build | None]] = {}
        self._flags: tuple[tuple[str, bool], ...] | None = None

    # A plain function of attributes that every Executor has.
    build_resolve_info = StrawberryGraphQLCoreExecutionContext.build_resolve_info

    def _plan(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[_Step]:
        # Like graphql-core's subfield memo: keyed by identity, the set kept alive with it.
        found = self._plans.get(id(grouped))
        if found is not None and found[0] is grouped:
            return found[1]
        steps = [self._step(parent_type, name, fields) for name, fields in grouped.items()]
        self._plans[id(grouped)] = (grouped, steps)
        return steps

    def _step(self, parent_type: GraphQLObjectType, name: str, fields: FieldDetailsList) -> _Step:
        slow = _Step(_EXECUTE, name, fields, None, "", None, None, True, None)
        node = fields[0].node
        field = self.schema.get_field(parent_type, node.name.value)
        if (
            self._compile
            and field is not None
            and parent_type is self.schema.query_type
            and (parent_type.name, node.name.value) in PLANNERS
        ):
            return _Step(_PLANNED, name, fields, field, "", None, None, False, None)
        found = reading(field, node) if field is not None else None
        if field is None or found is None:
            return slow
        attribute, read = found.attribute, found.read
        inner, nullable = _unwrap(field.type)
        if found.prefetched:
            # Not nullable here: None means "not prefetched", for execute_field to take.
            if not isinstance(inner, GraphQLObjectType):
                return slow
            return _Step(_OBJECT, name, fields, field, attribute, read, inner, False, None)

        def step(kind: int, type_: Any, item_type: Any = None) -> _Step:
            return _Step(kind, name, fields, field, attribute, read, type_, nullable, item_type)

        if isinstance(inner, GraphQLList):
            item, _ = _unwrap(inner.of_type)
            if isinstance(item, GraphQLScalarType | GraphQLEnumType):
                return step(_LEAF_LIST, item, inner.of_type)
            if isinstance(item, GraphQLObjectType):
                return step(_OBJECT_LIST, item, inner.of_type)
            return slow
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            return step(_LEAF, inner)
        if isinstance(inner, GraphQLObjectType):
            return step(_OBJECT, inner)
        return slow

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if not self._direct:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        if self._compile:
            build = self._builder(parent_type, grouped_field_set)
            if build is not None:
                pending: Pending = []
                try:
                    built = build(source_value, pending)
                except Exception:  # Unfit, or any surprise: field by field
                    self._fell_back(grouped_field_set)
                else:
                    COMPILER.built += 1
                    _BUILT.inc()
                    if not pending:
                        return built
                    return self._settle(
                        built, pending, parent_type, source_value, path, grouped_field_set
                    )
        return self._execute_fields_directly(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def _builder(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> Build | None:
        found = self._builders.get(id(grouped))
        if found is not None and found[0] is grouped:
            return found[1]
        try:
            build = COMPILER.builder(parent_type, grouped, self._boolean_flags(), self._collect)
        except Exception:
            # Collecting a nested selection failed (a directive's variable given as null):
            # graphql-core reports that where it collects it, if it ever does.
            build = None
        self._builders[id(grouped)] = (grouped, build)
        return build

    def _boolean_flags(self) -> tuple[tuple[str, bool], ...]:
        """The operation's Boolean variables (which ``@include``/``@skip`` may read)."""
        if self._flags is None:
            coerced = self.variable_values.coerced if self.variable_values else {}
            self._flags = tuple(sorted((k, v) for k, v in coerced.items() if isinstance(v, bool)))
        return self._flags

    def _planned(
        self,
        step: _Step,
        source: Any,
        path: Path | None,
        parent_type: GraphQLObjectType,
        position_context: Any,
    ) -> Any:
        """A root field with a planner: answered by its plan, or where the document has
        none, or the plan gives up, by execute_field."""
        assert step.field is not None
        planner, answer = PLANNERS[parent_type.name, step.fields[0].node.name.value]
        try:
            plan = planner.plan(
                parent_type, step.field, step.fields, self._boolean_flags(), self._collect
            )
        except Exception:
            # As for a builder (see _builder): graphql-core reports it where it collects.
            plan = None
        if plan is None:
            return self._resolve(step, source, path, parent_type, position_context)
        return self._answer_planned(
            planner, answer, plan, step, source, path, parent_type, position_context
        )

    def _resolve(
        self,
        step: _Step,
        source: Any,
        path: Path | None,
        parent_type: GraphQLObjectType,
        position_context: Any,
    ) -> Any:
        """The planned root field through execute_field: its resolver, as without a plan."""
        return self.execute_field(
            parent_type,
            source,
            step.fields,
            Path(path, step.name, parent_type.name),
            position_context,
        )

    async def _answer_planned(
        self,
        planner: Planner,
        answer: Any,
        plan: Plan,
        step: _Step,
        source: Any,
        path: Path | None,
        parent_type: GraphQLObjectType,
        position_context: Any,
    ) -> Any:
        try:
            value = await answer(
                plan, self.context_value, step.field, step.fields, self.variable_values
            )
        except Exception:
            # Nothing was written: the resolver answers, errors included, as it always does.
            log.debug("the plan of %s gave up", step.name, exc_info=True)
            planner.gave_up += 1
            COMPILER.unfit += 1
            _FELL_BACK.inc()
            result = self._resolve(step, source, path, parent_type, position_context)
            return await result if self.is_awaitable(result) else result
        planner.answered += 1
        COMPILER.built += 1
        _BUILT.inc()
        return value

    def _fell_back(self, grouped: GroupedFieldSet) -> None:
        """Count a build given up, and try that selection no more in this operation: its
        other rows (a list's) would most likely not fit either."""
        COMPILER.unfit += 1
        _FELL_BACK.inc()
        self._builders[id(grouped)] = (grouped, None)

    def _collect(self, object_type: GraphQLObjectType, fields: FieldDetailsList) -> GroupedFieldSet:
        return self.collect_subfields(object_type, fields)[0]

    async def _settle(
        self,
        built: dict[str, Any],
        pending: Pending,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
    ) -> dict[str, Any]:
        try:
            await settle(pending)
        except Exception:
            self._fell_back(grouped_field_set)
            # Field by field again: what was awaited is awaited again (a Later loads
            # through its dataloader's cache), and any error is reported as it would be.
            again = self._execute_fields_directly(
                parent_type, source_value, path, grouped_field_set, None
            )
            done: dict[str, Any] = await again if self.is_awaitable(again) else again
            return done
        return built

    def _execute_fields_directly(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        pending: list[str] = []
        try:
            for step in self._plan(parent_type, grouped_field_set):
                name = step.name
                kind = step.kind
                if kind == _PLANNED:
                    result = self._planned(step, source_value, path, parent_type, position_context)
                    if result is Undefined:
                        continue
                    results[name] = result
                    if is_awaitable(result):
                        pending.append(name)
                    continue
                if kind != _EXECUTE:
                    result = self._read(step, source_value, path, parent_type)
                    if result is not MISSING:
                        results[name] = result
                        # A leaf read directly is a plain value; an object's may wait.
                        if kind >= _OBJECT and is_awaitable(result):
                            pending.append(name)
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    step.fields,
                    Path(path, name, parent_type.name),
                    position_context,
                )
                if result is Undefined:
                    continue
                results[name] = result
                if is_awaitable(result):
                    pending.append(name)
        except Exception:
            if pending:
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results

        async def gather() -> dict[str, Any]:
            if len(pending) == 1:
                results[pending[0]] = await results[pending[0]]
            else:
                done = await gather_with_cancel(*(results[name] for name in pending))
                results.update(zip(pending, done, strict=True))
            return results

        return gather()

    def _read(
        self, step: _Step, source: Any, path: Path | None, parent_type: GraphQLObjectType
    ) -> Any:
        """The field's completed value, or MISSING for execute_field to take it (before
        anything was done that execute_field would do again)."""
        try:
            if step.read is None:
                value = getattr(source, step.attribute, MISSING)
            else:
                value = step.read(source, step.attribute)
        except Exception:
            return MISSING
        if value is None:
            return None if step.nullable else MISSING
        if value is MISSING:
            return MISSING
        kind = step.kind
        if kind == _LEAF:
            return self._leaf(step.type, value)
        if kind == _LEAF_LIST:
            return self._leaves(step, value)
        field_path = Path(path, step.name, parent_type.name)
        checked = self._objects_checked(step, value, field_path, parent_type)
        if not checked:
            return MISSING
        # From here on the field is executed here, its errors handled as execute_field
        # handles them: null for the field where it may be null, else up to the parent.
        try:
            if kind == _OBJECT:
                completed = self.collect_and_execute_subfields(
                    step.type, step.fields, field_path, value, None
                )
            else:
                completed = self._complete_objects(step, value, field_path)
        except Exception as error:
            self.handle_field_error(error, step.field.type, step.fields, field_path)  # type: ignore[union-attr]
            return None
        if self.is_awaitable(completed):
            return self._await_field(step, completed, field_path)
        return completed

    async def _await_field(self, step: _Step, completed: Any, path: Path) -> Any:
        try:
            return await completed
        except Exception as error:
            self.handle_field_error(error, step.field.type, step.fields, path)  # type: ignore[union-attr]
            return None

    def _leaves(self, step: _Step, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return MISSING
        leaf = step.type
        items_nullable = not isinstance(step.item_type, GraphQLNonNull)
        completed: list[Any] = []
        for item in value:
            if item is None:
                if not items_nullable:
                    return MISSING
                completed.append(None)
                continue
            done = self._leaf(leaf, item)
            if done is MISSING:
                return MISSING
            completed.append(done)
        return completed

    def _objects_checked(
        self, step: _Step, value: Any, path: Path, parent_type: GraphQLObjectType
    ) -> bool:
        """Whether every value is one that complete_object_value would take as it is
        (not awaitable, not an exception, of the type; nulls only where allowed)."""
        values: list[Any] | tuple[Any, ...]
        if step.kind == _OBJECT:
            values = (value,)
        elif isinstance(value, list | tuple):
            values = value
            if any(item is None for item in values):
                if isinstance(step.item_type, GraphQLNonNull):
                    return False
                values = [item for item in values if item is not None]
        else:
            return False
        is_awaitable = self.is_awaitable
        is_type_of = step.type.is_type_of
        info = None
        for item in values:
            if is_awaitable(item) or isinstance(item, Exception):
                return False
            if is_type_of is not None:
                if info is None:
                    assert step.field is not None
                    info = self.build_resolve_info(  # type: ignore[misc]
                        step.field, to_nodes(step.fields), parent_type, path
                    )
                if is_type_of(item, info) is not True:
                    return False
        return True

    def _complete_objects(self, step: _Step, values: Any, path: Path) -> Any:
        """complete_iterable_value for checked objects, each item's errors handled as
        complete_list_item_value handles them."""
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        pending: list[int] = []
        object_type, fields, item_type = step.type, step.fields, step.item_type
        for index, item in enumerate(values):
            if item is None:
                completed.append(None)
                continue
            item_path = path.add_key(index, None)
            try:
                done = self.collect_and_execute_subfields(
                    object_type, fields, item_path, item, None
                )
            except Exception as error:
                self.handle_field_error(error, item_type, fields, item_path)
                completed.append(None)
                continue
            if is_awaitable(done):
                done = self._await_item(done, item_type, fields, item_path)
                pending.append(index)
            completed.append(done)
        if not pending:
            return completed

        async def gather() -> list[Any]:
            if len(pending) == 1:
                completed[pending[0]] = await completed[pending[0]]
            else:
                done = await gather_with_cancel(*(completed[index] for index in pending))
                for index, value in zip(pending, done, strict=True):
                    completed[index] = value
            return completed

        return gather()

    async def _await_item(
        self, done: Any, item_type: Any, fields: FieldDetailsList, path: Path
    ) -> Any:
        try:
            return await done
        except Exception as error:
            self.handle_field_error(error, item_type, fields, path)
            return None

    _leaf = staticmethod(leaf_value)


class FieldByFieldOnly(FieldByFieldExecution):
    """The executor with no compiled selection sets (LT_COMPILED_EXECUTION=false)."""

    compile_selection_sets = False


class RememberingNameConverter(NameConverter):
    """Strawberry camel-cases each argument's name every time a field is resolved (to
    find it among the values graphql-core passes); the answer never changes."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = super().apply_naming_config(name)
        return found
