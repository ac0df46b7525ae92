"""GraphQL over HTTP, as its specification (graphql-over-http) asks of a server.

- Accept: ``application/graphql-response+json`` or ``application/json`` (also through
  ``*/*``, ``application/*`` and q-values; none at all means ``application/json``); a
  request that accepts neither answers 406. A browser's ``text/html`` GET gets GraphiQL.
- With ``application/graphql-response+json``, a request that fails before execution
  (unparsable, invalid, variables that do not coerce, or refused as a whole) answers
  4xx without a ``data`` entry: 400, or 401/403/429 for UNAUTHENTICATED, FORBIDDEN and
  RATE_LIMITED. Legacy ``application/json`` clients get 200 for every well-formed
  request, as the specification asks for them.
- GET runs queries only: a mutation over GET answers 405 with ``Allow: POST``.
- Malformed requests (bad JSON, a ``query`` that is not a string, an ``operationName``
  that is not a string) answer 400 with a GraphQL error body in the negotiated type.
  The transport guard in front (JSON bodies only, cross-site refused, size) stays as is.
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_WHOLE_REQUEST_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
}


def negotiate(accept: str | None) -> str | None:
    """The response type for an Accept header; None when nothing offered is acceptable."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, int] | None = None
    chosen = None
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        quality = 1.0
        usable = True
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif name == "charset" and value not in ("utf-8", "utf8"):
                usable = False
        if not usable or quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate, rank = GRAPHQL_RESPONSE, (quality, 2, 1)
        elif media == JSON:
            candidate, rank = JSON, (quality, 2, 0)
        elif media in ("application/*", "*/*"):
            candidate, rank = JSON, (quality, 1, 0)
        else:
            continue
        if best is None or rank > best:
            best, chosen = rank, candidate
    return chosen


def wants_page(request: Request) -> bool:
    """A browser asking for the GraphiQL page: a GET without a query that names HTML."""
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and "text/html" in request.headers.get("accept", "")
    )


def _is_request_error(result: ExecutionResult) -> bool:
    """Execution never began: no data, and no error belongs to a field."""
    errors = result.errors or []
    return bool(errors) and result.data is None and all(not e.path for e in errors)


def _status_of(errors: list[GraphQLError]) -> int:
    code = (errors[0].extensions or {}).get("code")
    return _WHOLE_REQUEST_STATUS.get(str(code), 400)


class GraphQLOverHTTP:
    """Mixed into the GraphQL view, before Strawberry's ASGI class."""

    encode_json: Any

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Not for */*: clients without an Accept of their own send that, and want JSON.
        return (
            request.method == "GET"
            and request.query_params.get("query") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not isinstance(request, Request) or wants_page(request):
            return await super().run(request, context, root_value)  # type: ignore[misc]
        media = negotiate(request.headers.get("accept"))
        if media is None:
            return PlainTextResponse(
                f"Accept {GRAPHQL_RESPONSE} or {JSON}.", 406, headers={"Vary": "Accept"}
            )
        request.state.graphql_media = media
        try:
            response: Response = await super().run(request, context, root_value)  # type: ignore[misc]
        except HTTPException as error:
            return self._refusal(error, media)
        if getattr(request.state, "graphql_response", False):
            response.headers["content-type"] = f"{media}; charset=utf-8"
            response.headers["vary"] = "Accept"
            status = getattr(request.state, "graphql_status", None)
            if media == GRAPHQL_RESPONSE and status is not None:
                response.status_code = status
        return response

    def _refusal(self, error: HTTPException, media: str) -> Response:
        status, headers = error.status_code, {"Vary": "Accept"}
        if isinstance(error.__cause__, InvalidOperationTypeError):
            status, headers["Allow"] = 405, "POST"
        body = {"errors": [{"message": error.reason, "extensions": {"code": "BAD_USER_INPUT"}}]}
        return Response(
            self.encode_json(body),
            status_code=status,
            media_type=f"{media}; charset=utf-8",
            headers=headers,
        )

    async def parse_http_body(self, request: Any) -> Any:
        parsed = await super().parse_http_body(request)  # type: ignore[misc]
        name = getattr(parsed, "operation_name", None)
        if name is not None and not isinstance(name, str):
            raise HTTPException(400, "The operationName must be a string or null.")
        return parsed

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = await super().process_result(request, result)  # type: ignore[misc]
        request.state.graphql_response = True
        if result.errors and _is_request_error(result):
            # With graphql-response+json, a result without data has a 4xx status.
            request.state.graphql_status = _status_of(result.errors)
            if getattr(request.state, "graphql_media", None) == GRAPHQL_RESPONSE:
                response.pop("data", None)
        return response
