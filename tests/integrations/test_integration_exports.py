"""The export archive and the access report carry settings, webhooks (with their
secrets) and email sources (never their passwords)."""

from __future__ import annotations

from typing import Any

from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.settings import Settings
from tests.conftest import Client
from tests.integrations.mail_helpers import create_source
from tests.integrations.test_email_source_access import NOWHERE
from tests.integrations.webhook_helpers import WEBHOOK_ROTATE, create_webhook
from tests.privacy.conftest import download, read_zip, zip_bytes
from tests.tracking.conftest import create_project

EXPORT = "mutation { dataExportCreate { id } }"
REPORT = "mutation { accessReportCreate { id } }"
STATUS = "query($id: ID!) { dataExport(id: $id) { status downloadUrl } }"


async def archive(
    client: Client, settings: Settings, jobs: InProcessRunner, document: str
) -> tuple[dict[str, Any], bytes]:
    created = await client.gql(document)
    export_id = next(iter(created.values()))["id"]
    await jobs.drain()
    found = (await client.gql(STATUS, {"id": export_id}))["dataExport"]
    assert found["status"] == "SUCCEEDED"
    response = await download(client, settings, found["downloadUrl"])
    assert response.status_code == 200
    return read_zip(response.content), response.content


async def test_the_workspace_export_holds_the_integrations(
    settings: Settings, owner: Client, member: Client, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    await owner.gql(
        'mutation($p: ID!) { settingsUpdate(input: {timezone: "Europe/Berlin", '
        "weekStartsOn: SUNDAY, defaultProjectId: $p}) { timezone } }",
        {"p": project["id"]},
    )
    hook = await create_webhook(owner, "http://127.0.0.1:9/hooks", ["ISSUE_CREATED"])
    rotated = (await owner.gql(WEBHOOK_ROTATE, {"id": hook["id"]}))["webhookSecretRotate"]
    source = await create_source(owner, NOWHERE, project["id"])
    await jobs.drain()
    files, raw = await archive(owner, settings, jobs, EXPORT)
    [settings_record] = files["settings.json"]
    assert settings_record["timezone"] == "Europe/Berlin"
    assert settings_record["weekStartsOn"] == "SUNDAY"
    assert settings_record["defaultProjectId"] == project["id"]
    [webhook] = files["webhooks.json"]
    assert webhook["id"] == hook["id"] and webhook["url"] == hook["url"]
    assert webhook["secret"] == rotated["webhook"]["secret"]
    assert webhook["previousSecret"] == hook["secret"]
    assert webhook["events"] == ["ISSUE_CREATED"]
    [mailbox] = files["email_sources.json"]
    assert mailbox["id"] == source["id"] and mailbox["projectId"] == project["id"]
    assert mailbox["username"] == NOWHERE.username
    assert not any("password" in key.lower() for key in mailbox)
    for content in zip_bytes(raw).values():
        assert NOWHERE.password.encode() not in content
    assert files["manifest.json"]["files"]["webhooks.json"] == 1

    # A member's access report: the settings and email sources of the workspace, but not
    # its webhooks, whose secrets only admins may read.
    report, raw = await archive(member, settings, jobs, REPORT)
    prefix = f"workspaces/{owner.workspace}/"
    assert report[f"{prefix}settings.json"][0]["timezone"] == "Europe/Berlin"
    assert [s["id"] for s in report[f"{prefix}email_sources.json"]] == [source["id"]]
    assert report[f"{prefix}webhooks.json"] == []
    for content in zip_bytes(raw).values():
        assert NOWHERE.password.encode() not in content
    owners, _ = await archive(owner, settings, jobs, REPORT)
    assert [w["secret"] for w in owners[f"{prefix}webhooks.json"]] == [rotated["webhook"]["secret"]]
