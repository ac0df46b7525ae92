"""The Starlette application: routes, and the lifespan of the landlord, pools and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from tortoise.connection import get_connection

from lightningtrack import logs, metrics
from lightningtrack.errors import StripeUnavailable
from lightningtrack.jobs.runner import InProcessRunner, Runner, sweep_forever
from lightningtrack.resolvers import exports
from lightningtrack.resolvers.billing import events as billing_events
from lightningtrack.resolvers.billing import gateway as billing_gateway
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.ratelimit import RateLimiter
from lightningtrack.resolvers.request_log import RequestLogWriter
from lightningtrack.schema import graphiql
from lightningtrack.schema.view import GraphQLView
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy import migration
from lightningtrack.tenancy.config import LANDLORD
from lightningtrack.tenancy.runtime import Tenancy
from lightningtrack.transport import TransportGuard

log = logging.getLogger(__name__)


def make_runner(settings: Settings, tenancy: Tenancy) -> Runner:
    if settings.broker_url is None:
        return InProcessRunner(settings, tenancy)
    from lightningtrack.jobs.broker import make_broker
    from lightningtrack.jobs.runner import BrokerRunner

    _, actor = make_broker(settings)
    return BrokerRunner(actor)


def create_app(
    settings: Settings | None = None,
    tenancy: Tenancy | None = None,
    runner: Runner | None = None,
    request_log: RequestLogWriter | None = None,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """The ASGI application. A ``tenancy`` (and ``runner``) passed in belong to the caller,
    who starts and stops them; otherwise the lifespan does, and runs the sweep when jobs
    run in-process."""
    settings = settings or load_settings()
    owned = tenancy is None
    tenancy = tenancy or Tenancy(settings)
    jobs = runner or make_runner(settings, tenancy)
    limiter = limiter or RateLimiter(settings)
    log_writer = request_log or RequestLogWriter()
    view = GraphQLView(settings, tenancy, jobs, limiter, log_writer)
    # Without a token, /metrics on the API port is open in development only.
    metrics_open = settings.metrics_token is not None or not settings.production

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not owned:
            yield
            return
        metrics.forget_dead_processes()
        await tenancy.start()
        if settings.workspace_database_url.engine == "sqlite":
            # The embedded default runs as one process: keep its workspaces current too.
            await migration.migrate_workspaces(settings, tenancy.pools)
        log_writer.start()
        settle_heap()
        sweep = None
        if isinstance(jobs, InProcessRunner):
            sweep = asyncio.create_task(sweep_forever(settings, tenancy, jobs), name="lt-sweep")
        try:
            yield
        finally:
            if sweep is not None:
                sweep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweep
            await jobs.close()
            await billing_gateway.close()
            await log_writer.stop()
            await limiter.close()
            await tenancy.stop()
            metrics.process_exit()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            # An orchestrator's probe has a deadline of its own; answer within it.
            async with asyncio.timeout(3):
                await get_connection(LANDLORD).execute_query("SELECT 1")
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def download_export(request: Request) -> Response:
        path = await exports.downloadable(settings, request.path_params["token"])
        if path is None:
            return PlainTextResponse("This download link is invalid or has expired.", 404)
        return FileResponse(
            path,
            media_type="application/zip",
            filename=f"lightningtrack-export-{path.stem[:8]}.zip",
            headers={"Cache-Control": "private, no-store"},
        )

    async def stripe_webhook(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return PlainTextResponse("The payload is too large.", 413)
        payload = await request.body()
        if len(payload) > settings.max_body_bytes:
            return PlainTextResponse("The payload is too large.", 413)
        with collecting() as deferred:
            try:
                outcome = await billing_events.receive(
                    settings, payload, request.headers.get("stripe-signature")
                )
            except StripeUnavailable:
                # Stripe delivers the event again later; what was written stays valid.
                outcome = billing_events.Outcome(503, "Stripe could not be read; retry later.")
            finally:
                # Mails owed so far are rows already: their jobs may start either way.
                await jobs.submit(deferred)
        return JSONResponse({"message": outcome.message}, status_code=outcome.status)

    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            Route("/exports/{token}", download_export, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route(
                "/metrics", metrics.endpoint(settings.metrics_token, metrics_open), methods=["GET"]
            ),
        ],
        lifespan=lifespan,
    )
    if settings.graphiql:
        app.router.routes.append(Route("/graphiql/{path:path}", graphiql.asset, methods=["GET"]))
    app.add_middleware(TransportGuard, settings=settings)
    app.add_middleware(metrics.ResponseCounter)
    app.state.settings = settings
    app.state.tenancy = tenancy
    app.state.jobs = jobs
    app.state.request_log = log_writer
    app.state.limiter = limiter
    return app


def settle_heap() -> None:
    """What start-up built (modules, the schema, its caches) lives as long as the process:
    moved out of the collector's sight, it is not traversed again at every full
    collection; and with the first generation's threshold raised, a request's short-lived
    objects (several thousand for a page of issues) are mostly freed by reference
    counting before a collection runs, instead of triggering several per request."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def serve_app() -> Starlette:
    """The factory ``lightningtrack serve`` gives uvicorn: each worker process configures
    its JSON logging, then builds the application."""
    logs.configure(logging.INFO)
    return create_app()
