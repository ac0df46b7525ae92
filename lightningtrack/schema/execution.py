"""The graphql-core executor the schema runs operations with.

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
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class FieldByFieldExecution(Executor[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.operation_extensions = kwargs.pop("operation_extensions", None)
        super().__init__(*args, **kwargs)

    # A plain function of attributes that every Executor has.
    build_resolve_info = StrawberryGraphQLCoreExecutionContext.build_resolve_info
