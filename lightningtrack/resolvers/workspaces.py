"""Workspaces: creation (with its own database), listing, and binding by slug."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, Conflict, NotFound
from lightningtrack.models.landlord import Account, Membership, Region, Role, Workspace
from lightningtrack.resolvers.accounts import validate_name
from lightningtrack.settings import Settings
from lightningtrack.tenancy import databases, provisioning
from lightningtrack.tenancy.config import LANDLORD, WORKSPACE_APP
from lightningtrack.tenancy.migration import latest_migration

log = logging.getLogger(__name__)

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "blog",
        "dashboard",
        "docs",
        "graphql",
        "graphiql",
        "help",
        "invitations",
        "login",
        "logout",
        "mail",
        "new",
        "reset-password",
        "root",
        "settings",
        "signin",
        "signup",
        "static",
        "status",
        "support",
        "system",
        "verify-email",
        "webhooks",
        "www",
        "exports",
        "metrics",
        "healthz",
        "readyz",
        "template",
        "lightningtrack",
    }
)


def validate_slug(slug: str, field: str = "input.slug") -> str:
    if not _SLUG.fullmatch(slug) or "--" in slug:
        raise BadUserInput(
            "A slug is 3 to 40 characters of a-z, 0-9 and single hyphens, "
            "starting and ending with a letter or digit.",
            field=field,
        )
    if slug in RESERVED_SLUGS:
        raise BadUserInput(f"The slug {slug!r} is reserved.", field=field)
    return slug


def _region(settings: Settings, region: str | None) -> Region:
    chosen = Region(region) if region else Region.US
    if (
        settings.workspace_database_url.engine == "postgres"
        and chosen.value not in settings.regions
    ):
        raise BadUserInput(
            f"The region {chosen.value} is not available on this server.", field="input.region"
        )
    return chosen


async def create_workspace(
    settings: Settings, owner: Account, name: str, slug: str, region: str | None
) -> Workspace:
    """Provision the workspace's database, then record it with its owner.

    The database is created first and dropped again if anything after it fails, so a
    failure half-way leaves neither an orphan database nor a row pointing at nothing.
    """
    clean_name = validate_name(name, "input.name")
    validate_slug(slug)
    chosen = _region(settings, region)
    if await Workspace.exists(slug=slug):
        raise Conflict("This slug is taken.", field="input.slug")

    workspace_id = uuid.uuid4()
    db_name = await provisioning.create_workspace_database(settings, workspace_id, chosen.value)
    try:
        async with in_transaction(LANDLORD):
            workspace = await Workspace.create(
                id=workspace_id,
                slug=slug,
                name=clean_name,
                region=chosen,
                trial_ends_at=clock.now() + timedelta(days=settings.trial_days),
                db_name=db_name,
                schema_version=latest_migration(WORKSPACE_APP),
            )
            await Membership.create(workspace=workspace, account=owner, role=Role.OWNER)
    except BaseException as exc:
        # Shielded so that a cancelled request still removes the database it created.
        url = databases.database_url(settings, chosen.value, db_name)
        await asyncio.shield(databases.drop_database(url))
        if isinstance(exc, IntegrityError):
            raise Conflict("This slug is taken.", field="input.slug") from None
        raise
    return workspace


async def memberships_of(account: Account) -> list[Membership]:
    return (
        await Membership.filter(account_id=account.id)
        .select_related("workspace")
        .order_by("workspace__created_at")
    )


async def membership_for_slug(account: Account, slug: str) -> Membership:
    """The account's membership in the workspace with this slug.

    NOT_FOUND when there is no such workspace and when the account is not a member,
    so that a slug's existence is not revealed to outsiders.
    """
    if not _SLUG.fullmatch(slug):  # no such slug exists (and the ORM refuses over-long values)
        raise NotFound("No workspace with this slug.")
    membership = (
        await Membership.filter(account_id=account.id, workspace__slug=slug)
        .select_related("workspace")
        .first()
    )
    if membership is None:
        raise NotFound("No workspace with this slug.")
    return membership
