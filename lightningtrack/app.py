"""The Starlette application: routes, lifespan (landlord, templates, pools)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise.connection import get_connection

from lightningtrack.schema.view import GraphQLView
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy import migration
from lightningtrack.tenancy.config import LANDLORD
from lightningtrack.tenancy.runtime import Tenancy

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, tenancy: Tenancy | None = None) -> Starlette:
    """The ASGI application. A ``tenancy`` passed in is started and stopped by its owner."""
    settings = settings or load_settings()
    owns_tenancy = tenancy is None
    tenancy = tenancy or Tenancy(settings)
    view = GraphQLView(settings, tenancy)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not owns_tenancy:
            yield
            return
        await tenancy.start()
        if settings.workspace_database_url.engine == "sqlite":
            # The embedded default runs as one process: keep its workspaces current too.
            await migration.migrate_workspaces(settings, tenancy.pools)
        try:
            yield
        finally:
            await tenancy.stop()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            await get_connection(LANDLORD).execute_query("SELECT 1")
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tenancy = tenancy
    return app
