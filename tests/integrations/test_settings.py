"""Workspace settings: defaults, validation, roles, and isolation between workspaces."""

from __future__ import annotations

from tests.conftest import Client
from tests.tracking.conftest import create_project

SETTINGS = "{ settings { timezone weekStartsOn defaultProject { id key } } }"
UPDATE = """
mutation($input: SettingsUpdateInput!) {
  settingsUpdate(input: $input) { timezone weekStartsOn defaultProject { id key } }
}
"""


async def test_defaults_then_an_admin_changes_them(owner: Client, admin: Client) -> None:
    assert (await owner.gql(SETTINGS))["settings"] == {
        "timezone": "UTC",
        "weekStartsOn": "MONDAY",
        "defaultProject": None,
    }
    project = await create_project(owner, name="Support")
    changed = await admin.gql(
        UPDATE,
        {
            "input": {
                "timezone": "Europe/Berlin",
                "weekStartsOn": "SUNDAY",
                "defaultProjectId": project["id"],
            }
        },
    )
    expected = {
        "timezone": "Europe/Berlin",
        "weekStartsOn": "SUNDAY",
        "defaultProject": {"id": project["id"], "key": project["key"]},
    }
    assert changed["settingsUpdate"] == expected
    assert (await owner.gql(SETTINGS))["settings"] == expected
    # Leaving a field out keeps it; null clears the default project.
    partial = await owner.gql(UPDATE, {"input": {"defaultProjectId": None}})
    assert partial["settingsUpdate"] == {**expected, "defaultProject": None}


async def test_members_and_guests_read_but_cannot_change(
    owner: Client, member: Client, guest: Client
) -> None:
    for client in (member, guest):
        assert (await client.gql(SETTINGS))["settings"]["timezone"] == "UTC"
        error = await client.error(UPDATE, {"input": {"timezone": "Europe/Paris"}})
        assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await owner.gql(SETTINGS))["settings"]["timezone"] == "UTC"


async def test_timezones_are_validated(owner: Client) -> None:
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "EST5EDT,M3.2.0,M11.1.0", "x" * 100):
        error = await owner.error(UPDATE, {"input": {"timezone": bad}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.timezone"}
    error = await owner.error(UPDATE, {"input": {"timezone": None}})
    assert error["extensions"]["field"] == "input.timezone"
    error = await owner.error(UPDATE, {"input": {"weekStartsOn": "FRIDAY"}})
    assert error["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    changed = await owner.gql(UPDATE, {"input": {"timezone": "America/Argentina/Buenos_Aires"}})
    assert changed["settingsUpdate"]["timezone"] == "America/Argentina/Buenos_Aires"


async def test_the_default_project_must_be_of_this_workspace(
    owner: Client, other_workspace: Client
) -> None:
    theirs = await create_project(other_workspace)
    error = await owner.error(UPDATE, {"input": {"defaultProjectId": theirs["id"]}})
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "input.defaultProjectId"}
    await other_workspace.gql(UPDATE, {"input": {"timezone": "Asia/Tokyo"}})
    assert (await owner.gql(SETTINGS))["settings"]["timezone"] == "UTC"
    assert (await other_workspace.gql(SETTINGS))["settings"]["timezone"] == "Asia/Tokyo"


async def test_a_deleted_default_project_is_cleared(owner: Client) -> None:
    project = await create_project(owner)
    await owner.gql(UPDATE, {"input": {"defaultProjectId": project["id"]}})
    await owner.gql(
        "mutation($id: ID!) { projectDelete(id: $id) { deletedId } }", {"id": project["id"]}
    )
    assert (await owner.gql(SETTINGS))["settings"]["defaultProject"] is None
