"""Email sources: roles, validation, the password at rest, and isolation between
workspaces."""

from __future__ import annotations

import uuid

import pytest

from lightningtrack.models.integrations import EmailSource
from lightningtrack.resolvers import credentials
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.integrations.imap_server import Mailbox
from tests.integrations.mail_helpers import (
    SOURCE_DELETE,
    SOURCE_POLL,
    SOURCE_UPDATE,
    SOURCES,
    create_source,
)
from tests.tracking.conftest import create_project, pk_of, workspace_of

NOWHERE = Mailbox("127.0.0.1", 9, "support@acme.example", "imap password 42")


async def test_members_read_admins_write(
    owner: Client, admin: Client, member: Client, guest: Client
) -> None:
    project = await create_project(owner)
    source = await create_source(admin, NOWHERE, project["id"])
    for client in (member, guest):
        [listed] = (await client.gql(SOURCES))["emailSources"]
        assert listed["id"] == source["id"] and listed["project"]["id"] == project["id"]
        for document, variables in (
            (SOURCE_UPDATE, {"id": source["id"], "input": {"enabled": False}}),
            (SOURCE_DELETE, {"id": source["id"]}),
            (SOURCE_POLL, {"id": source["id"]}),
        ):
            error = await client.error(document, variables)
            assert error["extensions"]["code"] == "FORBIDDEN"
        error = await client.error(
            "mutation($input: EmailSourceCreateInput!) { emailSourceCreate(input: $input) "
            "{ emailSource { id } } }",
            {
                "input": {
                    "name": "x",
                    "projectId": project["id"],
                    "address": "a@b.example",
                    "imapHost": "127.0.0.1",
                    "username": "u",
                    "password": "p",
                }
            },
        )
        assert error["extensions"]["code"] == "FORBIDDEN"
    renamed = await owner.gql(SOURCE_UPDATE, {"id": source["id"], "input": {"name": "Sales"}})
    assert renamed["emailSourceUpdate"]["emailSource"]["name"] == "Sales"
    deleted = await owner.gql(SOURCE_DELETE, {"id": source["id"]})
    assert deleted["emailSourceDelete"]["deletedId"] == source["id"]
    assert (await owner.gql(SOURCES))["emailSources"] == []


async def test_the_password_is_encrypted_and_never_shown(
    settings: Settings, tenancy: Tenancy, owner: Client
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, NOWHERE, project["id"])
    fields = await owner.gql('{ __type(name: "EmailSource") { fields { name } } }')
    names = {f["name"] for f in fields["__type"]["fields"]}
    assert not any("password" in name.lower() for name in names)
    workspace = await workspace_of(owner)
    async with tenancy.workspace(workspace):
        row = await EmailSource.get(id=pk_of(source["id"]))
    assert NOWHERE.password not in row.password_encrypted
    assert row.password_encrypted.startswith("v1:")
    assert credentials.decrypt(settings, workspace.id, row.password_encrypted) == NOWHERE.password
    # Bound to its workspace: the same ciphertext does not open elsewhere.
    with pytest.raises(credentials.CredentialUnreadable):
        credentials.decrypt(settings, uuid.uuid4(), row.password_encrypted)


async def test_input_is_validated(owner: Client, other_workspace: Client) -> None:
    project = await create_project(owner)
    theirs = await create_project(other_workspace)
    cases = [
        ({"projectId": theirs["id"]}, "NOT_FOUND", "input.projectId"),
        ({"name": "  "}, "BAD_USER_INPUT", "input.name"),
        ({"address": "not an address"}, "BAD_USER_INPUT", "input.address"),
        ({"imapHost": "bad host!"}, "BAD_USER_INPUT", "input.imapHost"),
        ({"imapPort": 70000}, "BAD_USER_INPUT", "input.imapPort"),
        ({"password": ""}, "BAD_USER_INPUT", "input.password"),
    ]
    for change, code, field in cases:
        error = await owner.error(
            "mutation($input: EmailSourceCreateInput!) { emailSourceCreate(input: $input) "
            "{ emailSource { id } } }",
            {
                "input": {
                    "name": "Support",
                    "projectId": project["id"],
                    "address": "support@acme.example",
                    "imapHost": "127.0.0.1",
                    "imapPort": 9,
                    "username": "u",
                    "password": "p",
                    **change,
                }
            },
        )
        assert error["extensions"] == {"code": code, "field": field}, change
    source = await create_source(owner, NOWHERE, project["id"])
    for change, field in (({"enabled": None}, "input.enabled"), ({"name": None}, "input.name")):
        error = await owner.error(SOURCE_UPDATE, {"id": source["id"], "input": change})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    error = await owner.error(
        SOURCE_UPDATE, {"id": source["id"], "input": {"projectId": theirs["id"]}}
    )
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "input.projectId"}


async def test_another_workspace_cannot_see_or_touch_them(
    owner: Client, other_workspace: Client
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, NOWHERE, project["id"])
    assert (await other_workspace.gql(SOURCES))["emailSources"] == []
    for document, variables in (
        (SOURCE_UPDATE, {"id": source["id"], "input": {"enabled": False}}),
        (SOURCE_DELETE, {"id": source["id"]}),
        (SOURCE_POLL, {"id": source["id"]}),
    ):
        error = await other_workspace.error(document, variables)
        assert error["extensions"]["code"] == "NOT_FOUND"
    found = await other_workspace.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": source["id"]}
    )
    assert found["node"] is None
    mine = await owner.gql(
        "query($id: ID!) { node(id: $id) { ... on EmailSource { name } } }", {"id": source["id"]}
    )
    assert mine["node"] == {"name": "Support"}
    [still] = (await owner.gql(SOURCES))["emailSources"]
    assert still["enabled"] is True
