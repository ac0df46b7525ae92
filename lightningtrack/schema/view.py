"""The GraphQL HTTP view: authenticates, picks the workspace, binds it for the operation."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from lightningtrack.errors import AppError, Unauthenticated
from lightningtrack.resolvers import sessions, workspaces
from lightningtrack.schema import build_schema
from lightningtrack.schema.context import Context
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, settings: Settings, tenancy: Tenancy) -> None:
        super().__init__(
            build_schema(),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.tenancy = tenancy

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request) and isinstance(response, Response)
        context = Context(
            request=request,
            response=response,
            settings=self.settings,
            tenancy=self.tenancy,
            request_id=request.headers.get("x-request-id") or uuid.uuid4().hex,
        )
        response.headers["x-request-id"] = context.request_id
        authorization = request.headers.get("authorization")
        if authorization:
            context.auth_error = Unauthenticated("API keys are not accepted yet.")
        else:
            cookie = request.cookies.get(self.settings.session_cookie_name)
            session = await sessions.find_session(self.settings, cookie)
            if session is not None:
                context.session = session
                context.account = session.account
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

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        context: Context = kwargs["context"]
        workspace = context.workspace
        if workspace is None:
            return await super().execute_operation(*args, **kwargs)
        async with self.tenancy.workspace(workspace):
            return await super().execute_operation(*args, **kwargs)
