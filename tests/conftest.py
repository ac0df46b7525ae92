"""Shared fixtures: a real database server per run, the app, and signed-in clients.

The backend is chosen per pytest process with ``LT_TEST_BACKEND`` (``postgres`` or
``sqlite``); the test command runs the suite once for each. Tortoise caches its SQL
dialect on the model classes, so one process serves one backend.

On PostgreSQL every run gets a landlord database of its own (``lt_test_<random>``); the
workspace databases and the template are named after it, and everything with that prefix
is dropped when the run ends.
"""

from __future__ import annotations

import email
import email.policy
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.runtime import Tenancy

BACKEND = os.environ.get("LT_TEST_BACKEND", "postgres")
POSTGRES_URL = os.environ.get("LT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")

if BACKEND not in ("postgres", "sqlite"):
    raise RuntimeError("LT_TEST_BACKEND must be postgres or sqlite")


def pytest_report_header(config: pytest.Config) -> str:
    return f"lightningtrack backend: {BACKEND}"


def environment_for(tmp: Path, prefix: str) -> dict[str, str]:
    env = {
        "LT_DATA_DIR": str(tmp),
        "LT_SECRET_KEY": "test-secret-" + "x" * 40,
        # Every test client comes from 127.0.0.1: one address for the whole run's
        # sign-ups and sign-ins, far beyond what one browser does.
        "LT_ANONYMOUS_RATE_LIMIT_BURST": "1000000",
    }
    if BACKEND == "postgres":
        env["LT_DATABASE_URL"] = f"{POSTGRES_URL}/{prefix}"
    return env


async def drop_everything(settings: Settings) -> None:
    """Drop every database this run created (the prefix is unique to the run)."""
    if settings.database_url.engine != "postgres":
        return
    server = settings.database_url
    prefix = databases.name_prefix(settings)
    names = await databases.list_databases(server, prefix)
    for name in names:
        await databases.drop_database(server.with_database(name))


@pytest.fixture(scope="session")
def run_prefix() -> str:
    return f"lt_test_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, run_prefix: str) -> Settings:
    tmp = tmp_path_factory.mktemp("lt")
    return load_settings(environment_for(tmp, run_prefix))


@pytest.fixture(scope="session")
async def tenancy(settings: Settings) -> AsyncIterator[Tenancy]:
    if settings.database_url.engine == "postgres":
        server = settings.database_url
        conn = await asyncpg.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            database="postgres",
        )
        try:
            await conn.execute(f'CREATE DATABASE "{server.database}"')
        finally:
            await conn.close()
    runtime = Tenancy(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
        await drop_everything(settings)


@pytest.fixture(autouse=True)
def _release_clock() -> Iterator[None]:
    yield
    clock.freeze(None)


@pytest.fixture(scope="session")
async def jobs(settings: Settings, tenancy: Tenancy) -> AsyncIterator[InProcessRunner]:
    """Jobs run on the test's loop, as in the embedded server; ``drain`` waits for them."""
    runner = InProcessRunner(settings, tenancy)
    yield runner
    await runner.close()


@pytest.fixture(scope="session")
async def app(settings: Settings, tenancy: Tenancy, jobs: InProcessRunner) -> Any:
    return create_app(settings, tenancy, jobs)


class GraphQLErrors(AssertionError):
    pass


@dataclass
class Client:
    """An HTTP client with its own cookie jar: one browser, or one integrator."""

    http: httpx.AsyncClient
    workspace: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        workspace: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The whole response body, errors included."""
        sent = dict(self.headers)
        slug = workspace or self.workspace
        if slug:
            sent["X-Workspace"] = slug
        sent.update(headers or {})
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        return body

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The data of a request that must not fail; unexpected errors fail the test."""
        body = await self.post(query, variables, **kwargs)
        if body.get("errors"):
            raise GraphQLErrors(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The first error of a request that must fail."""
        body = await self.post(query, variables, **kwargs)
        assert body.get("errors"), f"expected an error, got {body}"
        error: dict[str, Any] = body["errors"][0]
        return error


@pytest.fixture
async def make_client(app: Any) -> AsyncIterator[Any]:
    opened: list[httpx.AsyncClient] = []

    def make() -> Client:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        )
        opened.append(http)
        return Client(http)

    yield make
    for http in opened:
        await http.aclose()


SIGN_UP = """
mutation($input: SignUpInput!) { signUp(input: $input) { account { id name email } } }
"""
WORKSPACE_CREATE = """
mutation($input: WorkspaceCreateInput!) {
  workspaceCreate(input: $input) { workspace { id slug viewerRole } }
}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def signed_up(make_client: Any, name: str = "Ann") -> Client:
    client: Client = make_client()
    await client.gql(
        SIGN_UP,
        {
            "input": {
                "name": name,
                "email": f"{unique(name.lower())}@example.com",
                "password": "correct horse",
            }
        },
    )
    return client


async def with_workspace(client: Client, name: str = "Acme") -> str:
    slug = unique(name.lower())
    await client.gql(WORKSPACE_CREATE, {"input": {"name": name, "slug": slug}})
    client.workspace = slug
    return slug


@pytest.fixture
async def owner(make_client: Any) -> Client:
    """A signed-in account that owns a workspace, bound to it."""
    client = await signed_up(make_client, "Owner")
    await with_workspace(client)
    return client


@pytest.fixture
async def other_workspace(make_client: Any) -> Client:
    """Someone else, owning another workspace: what they hold must stay invisible."""
    client = await signed_up(make_client, "Other")
    await with_workspace(client, "Other")
    return client


def mails_to(settings: Settings, address: str, kind: str | None = None) -> list[EmailMessage]:
    """Every mail in the outbox for ``address`` (any case), oldest first."""
    folder = settings.data_dir / "outbox"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["To"]).casefold() != address.casefold():
            continue
        if kind is not None and message["X-LightningTrack-Kind"] != kind:
            continue
        found.append(message)
    return found


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sent: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith(("Created connection", "Closed connection")):
            self.sent.append(message)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements Tortoise sends inside the block (it logs each one at DEBUG)."""
    logger = logging.getLogger("tortoise.db_client")
    handler = _Statements()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.sent
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
