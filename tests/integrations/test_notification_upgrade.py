"""A workspace database with email sources from before notifications and STARTTLS is
upgraded in place: its sources keep working, with the new settings off."""

from __future__ import annotations

from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.integrations import EmailSource
from lightningtrack.models.notifications import IssueSender, Notification
from lightningtrack.tenancy import migration
from lightningtrack.tenancy.binding import bound
from lightningtrack.tenancy.config import WORKSPACE, WORKSPACE_APP
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.integrations.mail_helpers import SOURCES
from tests.tenancy.test_migrate import outdate
from tests.tracking.conftest import workspace_of


async def test_sources_from_before_are_upgraded(
    tenancy: Tenancy, owner: Client, jobs: InProcessRunner
) -> None:
    workspace = await workspace_of(owner)
    await outdate(tenancy, workspace)
    async with tenancy.workspace(workspace) as client:
        with bound(workspace.id, client):
            executor = MigrationExecutor(client, {WORKSPACE: WORKSPACE_APP})
            await executor.migrate([MigrationTarget(WORKSPACE, "0002_integrations")])
        now = "2026-03-02 09:00:00+00:00"
        await client.execute_script(
            "INSERT INTO project (id, key, name, archived, last_issue_number, created_at, "
            f"updated_at) VALUES (1, 'OLD', 'Old', false, 0, '{now}', '{now}')"
        )
        await client.execute_script(
            "INSERT INTO email_source (id, name, address, project_id, imap_host, imap_port, "
            "username, password_encrypted, use_tls, folder, enabled, last_uid, created_at, "
            f"updated_at) VALUES (1, 'Old', 'old@acme.example', 1, 'imap.acme.example', 993, "
            f"'u', 'x', true, 'INBOX', false, 7, '{now}', '{now}')"
        )
        await migration.migrate_workspace_client(client, workspace.id)
        with bound(workspace.id, client):
            source = await EmailSource.get(id=1)
            assert (source.starttls, source.notify_senders, source.last_uid) == (False, False, 7)
            assert await Notification.all().count() == 0
            assert await IssueSender.all().count() == 0
    [listed] = (await owner.gql(SOURCES))["emailSources"]
    assert (listed["useTls"], listed["startTls"], listed["notifySenders"]) == (True, False, False)
