"""The GraphQL HTTP view: authenticates, picks the workspace, binds it for the operation."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from lightningtrack import clock, logs, metrics
from lightningtrack.errors import AppError, RateLimited, Unauthenticated, WorkspaceUnavailable
from lightningtrack.jobs.runner import Runner
from lightningtrack.resolvers import api_keys, sessions, workspaces
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.ratelimit import RateLimiter, anonymous
from lightningtrack.resolvers.request_log import Entry, RequestLogWriter
from lightningtrack.schema import build_schema, graphiql
from lightningtrack.schema.context import Context
from lightningtrack.schema.errors import classify
from lightningtrack.schema.http import GraphQLOverHTTP
from lightningtrack.schema.limits import Limits
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id(offered: str | None) -> str:
    """A client's X-Request-Id when it is a plain token (it ends up in logs), else ours."""
    if offered and _REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


class GraphQLView(GraphQLOverHTTP, GraphQL[Context, None]):
    def __init__(
        self,
        settings: Settings,
        tenancy: Tenancy,
        jobs: Runner,
        limiter: RateLimiter,
        request_log: RequestLogWriter,
    ) -> None:
        limits = Limits(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
        )
        super().__init__(
            build_schema(limits, settings.introspection, settings.compiled_execution),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.tenancy = tenancy
        self.jobs = jobs
        self.limiter = limiter
        self.request_log = request_log

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page()

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses nesting deeper than 1024 and lone surrogates with a JSONDecodeError
        # (a 400); json.loads would let a deeply nested body end in a RecursionError (a 500).
        return orjson.loads(data)

    async def parse_http_body(self, request: Any) -> Any:
        try:
            return await super().parse_http_body(request)
        except AttributeError:
            # JSON that is not an object (null, 1, "x"): strawberry calls .get on it. Its
            # caller answers a JSONDecodeError with a 400.
            raise json.JSONDecodeError("not a JSON object", "", 0) from None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request) and isinstance(response, Response)
        context = Context(
            request=request,
            response=response,
            settings=self.settings,
            tenancy=self.tenancy,
            jobs=self.jobs,
            limiter=self.limiter,
            request_id=_request_id(request.headers.get("x-request-id")),
        )
        response.headers["x-request-id"] = context.request_id
        request.state.request_id = context.request_id
        logs.request_id.set(context.request_id)
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, secret = authorization.partition(" ")
            try:
                if scheme.lower() != "bearer":
                    raise Unauthenticated("Use Authorization: Bearer <API key>.")
                auth = await api_keys.authenticate(secret.strip())
            except AppError as error:
                context.auth_error = error
                await self._rate_limit(context, anonymous(context.client_ip))
                return context
            context.api_key = auth.key
            context.account = auth.membership.account
            context.membership = auth.membership
            await self._rate_limit(context, f"key:{auth.key.id}")
            return context
        cookie = request.cookies.get(self.settings.session_cookie_name)
        session = await sessions.find_session(self.settings, cookie)
        if session is not None:
            context.session = session
            context.account = session.account
            await self._rate_limit(context, f"account:{session.account_id}")
        else:
            await self._rate_limit(context, anonymous(context.client_ip))
        slug = request.headers.get("x-workspace")
        if slug:
            if context.account is None:
                context.workspace_error = Unauthenticated()
            else:
                try:
                    context.membership = await workspaces.membership_for_slug(context.account, slug)
                except AppError as error:
                    context.workspace_error = error
        return context

    async def _rate_limit(self, context: Context, principal: str) -> None:
        decision = await self.limiter.check(principal)
        headers = context.response.headers
        headers["X-RateLimit-Limit"] = str(decision.limit)
        headers["X-RateLimit-Remaining"] = str(decision.remaining)
        headers["X-RateLimit-Reset"] = str(decision.reset_seconds)
        if not decision.allowed:
            headers["Retry-After"] = str(decision.retry_after)
            context.rate_error = RateLimited(decision.retry_after)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        context: Context = kwargs["context"]
        workspace = context.workspace
        started = time.perf_counter()
        with collecting() as deferred:
            if workspace is None:
                result = await super().execute_operation(*args, **kwargs)
            else:
                try:
                    async with self.tenancy.workspace(workspace):
                        result = await super().execute_operation(*args, **kwargs)
                except WorkspaceUnavailable as error:  # before the operation could start
                    result = ExecutionResult(
                        data=None, errors=[GraphQLError(error.message, original_error=error)]
                    )
        # Only now, with the operation's writes committed, may its jobs start.
        await self.jobs.submit(deferred)
        self._log(context, kwargs.get("request_data"), result, started)
        return result

    def _log(self, context: Context, request_data: Any, result: Any, started: float) -> None:
        errors = getattr(result, "errors", None) if not isinstance(result, list) else None
        outcome = "ok"
        if errors:
            first = errors[0]
            code = (first.extensions or {}).get("code") if hasattr(first, "extensions") else None
            outcome = str(code or "error")
        operation = (
            context.operation_name or getattr(request_data, "operation_name", None) or "anonymous"
        )
        elapsed = time.perf_counter() - started
        metrics.observe_request(str(operation), outcome, elapsed)
        workspace = context.workspace
        self.request_log.record(
            Entry(
                at=clock.now(),
                request_id=context.request_id,
                workspace_id=workspace.id if workspace else None,
                account_id=context.account.id if context.account else None,
                api_key_id=context.api_key.id if context.api_key else None,
                operation=str(operation),
                duration_ms=round(elapsed * 1000),
                outcome=outcome,
                client_ip=context.client_ip,
            )
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # A syntax error raised inside ParserCache's hook escapes the operation hooks, so
        # ErrorCodes never sees it; classify is idempotent, so every error passes it here.
        if result.errors:
            request_id = getattr(request.state, "request_id", None)
            hide = not self.settings.introspection
            result.errors = [classify(error, request_id, hide) for error in result.errors]
        return await super().process_result(request, result)
