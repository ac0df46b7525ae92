"""Limits that keep the API standing, checked before execution, and the API-key rules.

Depth, aliases and cost are those of what execution will run (see ``measure``): skipped
fields do not count, fields that execution merges count once, and the cost reported on
request (``"extensions": {"cost": true}``) is the one checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from lightningtrack.errors import AppError
from lightningtrack.resolvers.api_keys import ApiKeyScope, scopes_of
from lightningtrack.schema.measure import measure


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 10_000


def _too_complex(message: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX", **extra})


# graphql-core compares the fields of a selection set pairwise while validating; a few
# hundred repeats of one field under 2,000 tokens cost close to a second of CPU. No real
# query selects this many fields in one place, so refuse before validation starts.
MAX_SELECTIONS = 100


def widest_selection(document: DocumentNode) -> int:
    widest = 0
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        selection_set = stack.pop()
        widest = max(widest, len(selection_set.selections))
        for selection in selection_set.selections:
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                stack.append(inner)
    return widest


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def policy_extension(limits: Limits) -> type[SchemaExtension]:
    """The extension class for these limits (a class, built once per schema)."""

    class RequestPolicy(SchemaExtension):
        # Set once the schema is built: the fields that return connections.
        connections: frozenset[str] = frozenset()
        cost: int | None = None

        def on_validate(self) -> Iterator[None]:
            document = self.execution_context.graphql_document
            if document is not None and widest_selection(document) > MAX_SELECTIONS:
                raise _too_complex(
                    f"A selection may hold at most {MAX_SELECTIONS} fields and fragments."
                )
            yield

        def on_execute(self) -> Iterator[None]:
            execution = self.execution_context
            context = execution.context
            for refusal in (
                # First: a flood of bad keys from one address is told to slow down.
                getattr(context, "rate_error", None),
                getattr(context, "auth_error", None),
            ):
                if isinstance(refusal, AppError):
                    # A spent rate limit, or a bad or revoked key, fails the whole request.
                    raise GraphQLError(refusal.message, extensions=refusal.extensions)
            document = execution.graphql_document
            assert document is not None
            operation = operation_of(document, execution.operation_name)
            if operation is not None and operation.name is not None:
                # The name the document gives, for metrics and the request log.
                context.operation_name = operation.name.value
            if operation is not None:
                key = getattr(context, "api_key", None)
                if (
                    operation.operation == OperationType.MUTATION
                    and key is not None
                    and not set(scopes_of(key)) & {ApiKeyScope.WRITE, ApiKeyScope.ADMIN}
                ):
                    raise GraphQLError(
                        "A READ key cannot run mutations.", extensions={"code": "FORBIDDEN"}
                    )
                found = measure(document, operation, execution.variables or {}, self.connections)
                if found.depth > limits.max_depth:
                    raise _too_complex(
                        f"The query is {found.depth} levels deep; at most {limits.max_depth}."
                    )
                if found.aliases > limits.max_aliases:
                    raise _too_complex(
                        f"The query uses {found.aliases} aliases; at most {limits.max_aliases}."
                    )
                if found.cost > limits.max_cost:
                    raise _too_complex(
                        f"The query would cost {found.cost}; at most {limits.max_cost}.",
                        cost=found.cost,
                        maxCost=limits.max_cost,
                    )
                self.cost = found.cost
            yield

        def get_results(self) -> dict[str, Any]:
            asked = (self.execution_context.operation_extensions or {}).get("cost")
            if not asked or self.cost is None:
                return {}
            return {"cost": {"requestedQueryCost": self.cost, "maximumAvailable": limits.max_cost}}

    return RequestPolicy
