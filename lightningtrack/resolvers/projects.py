"""Projects: listing, lookup, creation, changes and deletion."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from lightningtrack.errors import BadUserInput, Conflict, NotFound
from lightningtrack.models.landlord import Role
from lightningtrack.models.workspace import Project, TimeEntry
from lightningtrack.resolvers import events, ids, permissions, validation
from lightningtrack.resolvers.pagination import ID_ORDER, Page, PageArgs, paginate
from lightningtrack.tenancy.binding import bound_workspace_id
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

_KEY = re.compile(r"^[A-Z0-9]{2,10}$")
TYPE = "Project"


def is_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


def global_id(project: Project) -> str:
    return ids.encode_scoped(TYPE, bound_workspace_id(), project.id)


def decode(global_id: str) -> int:
    return ids.decode_scoped(global_id, TYPE, bound_workspace_id())


async def get(global_id: str) -> Project:
    project = await Project.get_or_none(id=decode(global_id))
    if project is None:
        raise NotFound("No Project with this id.")
    return project


async def find(project_id: str | None, key: str | None) -> Project | None:
    if (project_id is None) == (key is None):
        raise BadUserInput("Give either id or key.", field="id")
    if project_id is not None:
        return await Project.get_or_none(id=decode(project_id))
    if key is None or not is_key(key):
        return None  # no such key can exist (and the ORM refuses over-long filter values)
    return await Project.get_or_none(key=key)


async def list_page(args: PageArgs, include_archived: bool) -> Page[Project]:
    queryset = Project.all() if include_archived else Project.filter(archived=False)
    return await paginate(queryset, ID_ORDER, args)


def validate_key(key: str, field: str = "input.key") -> str:
    if not _KEY.fullmatch(key):
        raise BadUserInput("A project key is 2 to 10 of A-Z and 0-9.", field=field)
    return key


async def create(membership: Membership, key: str, name: str, description: str | None) -> Project:
    permissions.require_write(membership, Role.ADMIN)
    validate_key(key)
    clean_name = validation.text(name, "input.name", minimum=1, maximum=200)
    clean_description = validation.optional_text(description, "input.description", maximum=65536)
    if await Project.exists(key=key):
        raise Conflict("This project key is taken.", field="input.key")
    try:
        async with in_transaction(WORKSPACE):
            project = await Project.create(key=key, name=clean_name, description=clean_description)
            await events.emit(membership.workspace, "PROJECT_CREATED", project)
    except IntegrityError:
        raise Conflict("This project key is taken.", field="input.key") from None
    return project


async def update(membership: Membership, global_id: str, changes: dict[str, Any]) -> Project:
    permissions.require_write(membership, Role.ADMIN)
    project = await get(global_id)
    if "name" in changes:
        validation.required(changes["name"], "input.name")
        project.name = validation.text(changes["name"], "input.name", minimum=1, maximum=200)
    if "description" in changes:
        project.description = validation.optional_text(  # type: ignore[assignment]
            changes["description"], "input.description", maximum=65536
        )
    if "archived" in changes:
        validation.required(changes["archived"], "input.archived")
        project.archived = bool(changes["archived"])
    async with in_transaction(WORKSPACE):
        await project.save()
        await events.emit(membership.workspace, "PROJECT_UPDATED", project)
    return project


async def delete(membership: Membership, global_id: str) -> str:
    """Delete a project with its issues, comments and time entries."""
    permissions.require_write(membership, Role.ADMIN)
    project = await get(global_id)
    await events.delete(membership.workspace, "PROJECT_DELETED", project)
    return global_id


async def time_spent(project_ids: list[int]) -> dict[int, int]:
    rows = (
        await TimeEntry.filter(issue__project_id__in=project_ids)
        .annotate(total=Sum("duration_seconds"))
        .group_by("issue__project_id")
        .values("issue__project_id", "total")
    )
    return {row["issue__project_id"]: int(row["total"] or 0) for row in rows}
