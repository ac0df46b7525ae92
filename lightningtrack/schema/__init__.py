"""The GraphQL schema: the only package that imports strawberry."""

from __future__ import annotations

from functools import cache

import strawberry
from graphql import GraphQLError, GraphQLNamedType, get_named_type
from strawberry.extensions import (
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from lightningtrack.schema.errors import ErrorCodes
from lightningtrack.schema.execution import (
    FieldByFieldExecution,
    FieldByFieldOnly,
    RememberingNameConverter,
)
from lightningtrack.schema.limits import Limits, policy_extension
from lightningtrack.schema.mutation import Mutation
from lightningtrack.schema.query import Query


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes has logged what was unexpected; expected errors are not log-worthy.
        return None


def _connection_fields(schema: strawberry.Schema) -> frozenset[str]:
    """Names of the fields that return a connection (their page size multiplies cost)."""
    names = set()
    for graphql_type in schema._schema.type_map.values():
        for name, field in getattr(graphql_type, "fields", {}).items():
            named: GraphQLNamedType = get_named_type(field.type)
            if named.name.endswith("Connection"):
                names.add(name)
    return frozenset(names)


DEFAULT_LIMITS = Limits()


@cache
def build_schema(
    limits: Limits = DEFAULT_LIMITS, introspection: bool = True, compiled: bool = True
) -> Schema:
    """The schema for these settings, built once per process (validation rules and caches
    built per request would defeat the validation cache); ``compiled=False`` answers
    every selection set field by field (LT_COMPILED_EXECUTION)."""
    policy = policy_extension(limits)
    extensions: list[type[SchemaExtension] | object] = [
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ParserCache(maxsize=1000),
        # Before the validation cache: its width check must run before validation does.
        policy,
        lambda: ValidationCache(maxsize=1000),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(name_converter=RememberingNameConverter()),
        execution_context_class=FieldByFieldExecution if compiled else FieldByFieldOnly,
    )
    policy.connections = _connection_fields(schema)  # type: ignore[attr-defined]
    return schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
