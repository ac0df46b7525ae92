"""One place that gives every GraphQL error its contract code.

- AppError raised by a resolver: its code and extras (graphql-core copies them).
- Errors of the request itself (parse, validation, variable coercion: no original exception,
  or a GraphQLError from coercing a variable outside any field, or an argument's value
  where execution reaches it): BAD_USER_INPUT, message kept.
- Anything else is unexpected: the client sees "Unexpected error." with the request id,
  never a stack trace or SQL; the log has the traceback under the same request id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from lightningtrack.errors import AppError

log = logging.getLogger("lightningtrack.errors")
UNEXPECTED = "Unexpected error."
# Anywhere in the message: input-value errors go on after it ("… Found: {…}.").
# Suggested names are quoted GraphQL names, which never contain "?".
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")
_TOO_MANY_TOKENS = "Document contains more than"


def _with_extensions(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def classify(
    error: GraphQLError, request_id: str | None, hide_suggestions: bool = False
) -> GraphQLError:
    original = error.original_error
    if isinstance(original, AppError):
        return error
    # graphql-core's own errors about the request's values name the nodes they come from:
    # a variable coerced outside any field, or an argument's (a field's, a directive's)
    # coerced where execution reaches it. Its errors about values served (a scalar that
    # cannot serialize one) name none.
    if original is None or (
        isinstance(original, GraphQLError) and (not error.path or original.nodes)
    ):
        if error.extensions and "code" in error.extensions:
            return error
        message = error.message
        if hide_suggestions:
            # Suggestions would reveal the schema where introspection is off.
            message = _SUGGESTION.sub("", message)
        # graphql-core's parser stops at the token limit with a syntax error of its own.
        code = "QUERY_TOO_COMPLEX" if _TOO_MANY_TOKENS in message else "BAD_USER_INPUT"
        return _with_extensions(error, message, {"code": code})
    log.error(
        "unexpected error in %s",
        ".".join(str(p) for p in error.path or []) or "operation",
        exc_info=original,
        extra={"request_id": request_id},
    )
    extensions: dict[str, object] = {"code": "INTERNAL_SERVER_ERROR"}
    if request_id:
        extensions["requestId"] = request_id
    return _with_extensions(error, UNEXPECTED, extensions)


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        settings = getattr(context, "settings", None)
        hide = bool(settings is not None and not settings.introspection)
        result.errors = [classify(e, request_id, hide) for e in errors]  # type: ignore[union-attr]
