"""Races between changes: a deletion that loses to another sends no second event, and an
issue created in a project deleted meanwhile is refused, not an unexpected error."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.transactions import in_transaction

from lightningtrack.errors import NotFound
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.integrations import WebhookMessage
from lightningtrack.models.landlord import Membership
from lightningtrack.resolvers import comments, issues, projects, time_entries
from lightningtrack.resolvers.effects import collecting
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.integrations.conftest import Receiver
from tests.integrations.webhook_helpers import create_webhook, verified
from tests.tracking.conftest import (
    account_id,
    account_uuid,
    create_comment,
    create_issue,
    create_project,
    log_time,
    pk_of,
    workspace_of,
)

DELETE = {
    "project": (projects, "PROJECT_DELETED", "projectDelete"),
    "issue": (issues, "ISSUE_DELETED", "issueDelete"),
    "comment": (comments, "COMMENT_DELETED", "commentDelete"),
    "time_entry": (time_entries, "TIME_ENTRY_DELETED", "timeEntryDelete"),
}


async def _row(owner: Client, kind: str) -> str:
    project = await create_project(owner)
    if kind == "project":
        return str(project["id"])
    issue = await create_issue(owner, project["id"])
    if kind == "issue":
        return str(issue["id"])
    if kind == "comment":
        return str((await create_comment(owner, issue["id"]))["id"])
    return str((await log_time(owner, issue["id"]))["id"])


async def _membership(owner: Client) -> Membership:
    workspace = await workspace_of(owner)
    return await Membership.get(
        workspace_id=workspace.id, account_id=account_uuid(await account_id(owner))
    ).select_related("workspace")


@pytest.mark.parametrize("kind", list(DELETE))
async def test_a_deletion_that_loses_the_race_sends_no_second_event(
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    tenancy: Tenancy,
    owner: Client,
    receiver: Receiver,
    jobs: InProcessRunner,
) -> None:
    module, event, mutation = DELETE[kind]
    hook = await create_webhook(owner, receiver.url, [event])
    global_id = await _row(owner, kind)
    membership = await _membership(owner)
    async with tenancy.workspace(membership.workspace):
        # What a second request read just before the first one's deletion committed.
        stale = await module.get(global_id)  # type: ignore[attr-defined]
    await owner.gql(
        f"mutation($id: ID!) {{ {mutation}(id: $id) {{ deletedId }} }}", {"id": global_id}
    )
    await jobs.drain()
    [request] = receiver.received
    assert verified(hook["secret"], request)["data"]["id"] == global_id

    async def read_before(_: str) -> Any:
        return stale

    monkeypatch.setattr(module, "get", read_before)
    with collecting() as deferred:
        async with tenancy.workspace(membership.workspace):
            with pytest.raises(NotFound):
                await module.delete(membership, global_id)  # type: ignore[attr-defined]
            assert await WebhookMessage.filter(event=event).count() == 1
    await jobs.submit(deferred)
    await jobs.drain()
    assert len(receiver.received) == 1


async def test_an_issue_in_a_project_deleted_meanwhile_is_not_found(
    tenancy: Tenancy, owner: Client
) -> None:
    project = await create_project(owner)
    membership = await _membership(owner)
    await owner.gql(
        "mutation($id: ID!) { projectDelete(id: $id) { deletedId } }", {"id": project["id"]}
    )
    async with tenancy.workspace(membership.workspace):
        with pytest.raises(NotFound) as refused:
            async with in_transaction(WORKSPACE):
                await issues.insert(pk_of(project["id"]), title="Late", creator_id=None)
    assert refused.value.extensions.get("field") == "input.projectId"
