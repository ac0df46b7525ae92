"""Retention fixtures: people who can sign in again, a sweep on a moved clock, the outbox.

The sweep runs in-process as the CLI runs it: the clock is frozen at the moment asked,
the jobs it defers are collected, then submitted to the test's runner and drained. Every
test shares the run's landlord, so assertions look only at the test's own workspaces,
accounts and mail; moving the clock far ahead may act on others' rows too, and that is
fine.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from typing import Any

import pytest

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, Membership, Role, Workspace
from lightningtrack.resolvers import retention
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.retention import Action
from lightningtrack.settings import Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, WORKSPACE_CREATE, Client, mails_to, unique

DAY = timedelta(days=1)
PASSWORD = "correct horse"
SIGN_IN = "mutation($input: SignInInput!) { signIn(input: $input) { account { id } } }"
VIEWER = "{ viewer { id email deletionScheduledAt } }"
WORKSPACE = "{ workspace { slug status trialEndsAt deletionScheduledAt } }"
WORKSPACES = "{ workspaces { slug } }"
PROJECT_CREATE = """
mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id key } } }
"""
PROJECTS = "{ projects { nodes { id key } } }"

Sweep = Callable[[datetime], Awaitable[list[Action]]]


@dataclass
class Person:
    """A signed-up account with its own browser, able to sign in again after the clock moved
    past its session's idle timeout."""

    client: Client
    email: str
    account_id: uuid.UUID

    async def sign_in(self) -> None:
        await self.client.gql(SIGN_IN, {"input": {"email": self.email, "password": PASSWORD}})

    async def visit(self) -> None:
        """A request at the frozen clock: keeps the session alive across a simulated day."""
        data = await self.client.gql(VIEWER)
        assert data["viewer"] is not None, f"{self.email} is not signed in"


MakePerson = Callable[[str], Awaitable[Person]]


@pytest.fixture
def make_person(make_client: Any) -> MakePerson:
    async def make(name: str) -> Person:
        client: Client = make_client()
        address = f"{unique(name.lower())}@example.com"
        await client.gql(SIGN_UP, {"input": {"name": name, "email": address, "password": PASSWORD}})
        account = await Account.get(email_key=address.casefold())
        return Person(client, address, account.id)

    return make


async def create_workspace(person: Person, name: str) -> Workspace:
    """A workspace owned by ``person``, who is bound to it; its name is unique too."""
    slug = unique(name.lower())
    await person.client.gql(WORKSPACE_CREATE, {"input": {"name": f"{name} {slug}", "slug": slug}})
    person.client.workspace = slug
    return await Workspace.get(slug=slug)


async def join(person: Person, workspace: Workspace, role: Role) -> None:
    """Invitations do not exist yet: a membership row written straight into the landlord."""
    await Membership.create(workspace_id=workspace.id, account_id=person.account_id, role=role)
    person.client.workspace = workspace.slug


async def create_project(person: Person) -> dict[str, Any]:
    key = "P" + uuid.uuid4().hex[:6].upper()
    data = await person.client.gql(PROJECT_CREATE, {"input": {"key": key, "name": "Web"}})
    project: dict[str, Any] = data["projectCreate"]["project"]
    return project


@pytest.fixture
def sweep(settings: Settings, tenancy: Tenancy, jobs: InProcessRunner) -> Sweep:
    """Run the retention sweep as of ``moment`` (the clock stays frozen there) and wait for
    every job it started: mails sent, exports written."""

    async def run(moment: datetime) -> list[Action]:
        clock.freeze(moment)
        with collecting() as deferred:
            actions = await retention.run(settings, tenancy)
        await jobs.submit(deferred)
        await jobs.drain()
        return actions

    return run


def about(actions: list[Action], subject: str) -> list[str]:
    """The descriptions of the actions on one subject (a slug, an account id)."""
    return [a.describe() for a in actions if a.subject == subject]


def outbox(settings: Settings, to: str, kind: str | None = None) -> list[MimeMessage]:
    """The mails written to the outbox for ``to`` (and of ``kind``), oldest first."""
    return mails_to(settings, to, kind)


def kinds(settings: Settings, to: str) -> list[str]:
    return sorted(str(m["X-LightningTrack-Kind"]) for m in outbox(settings, to))


def text_of(message: MimeMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


async def database_exists(settings: Settings, workspace: Workspace) -> bool:
    """Whether the workspace's database (PostgreSQL) or file (SQLite) is still there."""
    url = databases.workspace_url(settings, workspace)
    if url.engine == "postgres":
        names = await databases.list_databases(url, workspace.db_name)
        assert (workspace.db_name in names) == await databases.database_exists(url)
        return workspace.db_name in names
    return await databases.database_exists(url)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)
