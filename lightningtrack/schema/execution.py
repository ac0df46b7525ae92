"""How the schema runs operations: graphql-core's executor, and names looked up once.

Strawberry's default execution context extends graphql-core's ``IncrementalExecutor``,
which plans and tracks ``@defer``/``@stream`` delivery groups for every selection set.
This schema offers neither directive (Strawberry's incremental execution is off, so
validation refuses them), so operations run on graphql-core's plain ``Executor``: the
same field-by-field execution, resolvers and results, without that bookkeeping per
field. Strawberry's resolve info (it carries the operation's ``extensions``) is kept.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class FieldByFieldExecution(Executor[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.operation_extensions = kwargs.pop("operation_extensions", None)
        super().__init__(*args, **kwargs)

    # A plain function of attributes that every Executor has.
    build_resolve_info = StrawberryGraphQLCoreExecutionContext.build_resolve_info


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
