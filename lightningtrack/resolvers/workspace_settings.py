"""Workspace settings: timezone, first day of the week, default project.

One row per workspace database; until someone changes a setting the defaults apply
(UTC, weeks starting on Monday, no default project). Everyone in the workspace may read
them (clients need the timezone to show days); only ADMIN and OWNER change them.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lightningtrack.errors import BadUserInput, NotFound
from lightningtrack.models.integrations import Weekday, WorkspaceSettings
from lightningtrack.models.landlord import Role
from lightningtrack.models.workspace import Project
from lightningtrack.resolvers import permissions, projects

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

ROW = 1


@dataclass(frozen=True)
class Current:
    timezone: str
    week_starts_on: Weekday
    default_project: Project | None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def zone_named(name: str, field: str) -> str:
    """An IANA zone name as the zone database spells it; BAD_USER_INPUT otherwise."""
    cleaned = name.strip()
    # ZoneInfo also opens paths ("../x") and POSIX TZ strings; only plain names are zones.
    if not cleaned or len(cleaned) > 64 or cleaned.startswith(("/", ".")) or ".." in cleaned:
        raise BadUserInput("Not an IANA timezone name, e.g. Europe/Berlin.", field=field)
    if cleaned not in available_zones():
        raise BadUserInput(
            f"{cleaned!r} is not an IANA timezone name, e.g. Europe/Berlin.", field=field
        )
    return cleaned


_zones: frozenset[str] | None = None


def available_zones() -> frozenset[str]:
    global _zones
    if _zones is None:
        _zones = frozenset(zoneinfo.available_timezones())
    return _zones


async def current() -> Current:
    row = await WorkspaceSettings.get_or_none(id=ROW).select_related("default_project")
    if row is None:
        return Current("UTC", Weekday.MONDAY, None)
    return Current(row.timezone, Weekday(row.week_starts_on), row.default_project)


async def update(membership: Membership, changes: dict[str, Any]) -> Current:
    permissions.require_write(membership, Role.ADMIN)
    values: dict[str, Any] = {}
    if "timezone" in changes:
        if changes["timezone"] is None:
            raise BadUserInput("Must not be null.", field="input.timezone")
        values["timezone"] = zone_named(changes["timezone"], "input.timezone")
    if "week_starts_on" in changes:
        if changes["week_starts_on"] is None:
            raise BadUserInput("Must not be null.", field="input.weekStartsOn")
        values["week_starts_on"] = Weekday(changes["week_starts_on"])
    if "default_project_id" in changes:
        global_id = changes["default_project_id"]
        if global_id is None:
            values["default_project_id"] = None
        else:
            try:
                pk = projects.decode(global_id)
            except NotFound:
                raise NotFound("No Project with this id.", field="input.defaultProjectId") from None
            if not await Project.exists(id=pk):
                raise NotFound("No Project with this id.", field="input.defaultProjectId")
            values["default_project_id"] = pk
    if values:
        _, created = await WorkspaceSettings.get_or_create(id=ROW, defaults=values)
        if not created:
            await WorkspaceSettings.filter(id=ROW).update(**values)
    return await current()


async def record() -> dict[str, Any]:
    """The settings as the export archive holds them."""
    found = await current()
    row = await WorkspaceSettings.get_or_none(id=ROW)
    return {
        "timezone": found.timezone,
        "weekStartsOn": found.week_starts_on.value,
        "defaultProjectId": projects.global_id(found.default_project)
        if found.default_project
        else None,
        "updatedAt": row.updated_at.isoformat() if row else None,
    }
