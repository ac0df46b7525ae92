"""The GraphQL schema: the only package that imports strawberry."""

from __future__ import annotations

from functools import cache

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from lightningtrack.schema.errors import ErrorCodes
from lightningtrack.schema.mutation import Mutation
from lightningtrack.schema.query import Query


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes has logged what was unexpected; expected errors are not log-worthy.
        return None


@cache
def build_schema() -> Schema:
    """The schema, built once per process."""
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            ErrorCodes,
            lambda: ParserCache(maxsize=1000),
            lambda: ValidationCache(maxsize=1000),
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
