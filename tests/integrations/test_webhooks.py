"""Webhooks: signed deliveries, retries with the same id, rotation, rollback, disabling."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError
from tortoise.transactions import in_transaction

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.integrations import WebhookDelivery, WebhookMessage
from lightningtrack.models.landlord import Membership, WorkspaceStatus
from lightningtrack.models.landlord import Workspace as WorkspaceModel
from lightningtrack.resolvers import deliveries as deliveries_module
from lightningtrack.resolvers import projects
from lightningtrack.resolvers.effects import collecting
from lightningtrack.settings import Settings
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, mails_to
from tests.integrations.conftest import Receiver, sweep
from tests.integrations.webhook_helpers import (
    DELIVERY_RETRY,
    WEBHOOK_ROTATE,
    WEBHOOK_UPDATE,
    create_webhook,
    deliveries,
    verified,
)
from tests.tracking.conftest import (
    account_id,
    account_uuid,
    create_comment,
    create_issue,
    create_project,
    log_time,
    project_key,
    workspace_of,
)

ALL = [
    f"{noun}_{verb}"
    for noun in ("PROJECT", "ISSUE", "COMMENT", "TIME_ENTRY")
    for verb in ("CREATED", "UPDATED", "DELETED")
]


async def later(settings: Settings, tenancy: Tenancy, jobs: InProcessRunner, by: timedelta) -> None:
    """Move the clock on and let the sweep send what is due by then."""
    clock.freeze(clock.now() + by)
    await sweep(settings, tenancy, jobs)


async def test_every_change_is_signed_and_sent(
    owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ALL)
    assert hook["secret"].startswith("whsec_") and hook["enabled"]
    project = await create_project(owner, name="Web")
    await owner.gql(
        'mutation($id: ID!) { projectUpdate(id: $id, input: {name: "Site"}) { project { id } } }',
        {"id": project["id"]},
    )
    issue = await create_issue(owner, project["id"], "Broken link", labels=["bug"])
    await owner.gql(
        "mutation($id: ID!) { issueUpdate(id: $id, input: {status: DONE}) { issue { id } } }",
        {"id": issue["id"]},
    )
    comment = await create_comment(owner, issue["id"], "Fixed")
    await owner.gql(
        'mutation($id: ID!) { commentUpdate(id: $id, body: "Fixed!") { comment { id } } }',
        {"id": comment["id"]},
    )
    await owner.gql(
        "mutation($id: ID!) { commentDelete(id: $id) { deletedId } }", {"id": comment["id"]}
    )
    entry = await log_time(owner, issue["id"], 900)
    await owner.gql(
        'mutation($id: ID!) { timeEntryUpdate(id: $id, input: {note: "x"}) { timeEntry { id } } }',
        {"id": entry["id"]},
    )
    await owner.gql(
        "mutation($id: ID!) { timeEntryDelete(id: $id) { deletedId } }", {"id": entry["id"]}
    )
    await owner.gql(
        "mutation($id: ID!) { issueDelete(id: $id) { deletedId } }", {"id": issue["id"]}
    )
    await owner.gql(
        "mutation($id: ID!) { projectDelete(id: $id) { deletedId } }", {"id": project["id"]}
    )
    await jobs.drain()
    bodies = [verified(hook["secret"], r) for r in receiver.received]
    types = sorted(b["type"] for b in bodies)
    assert types == sorted(
        f"{noun}.{verb.lower()}"
        for noun in ("project", "issue", "comment", "time_entry")
        for verb in ("CREATED", "UPDATED", "DELETED")
    )
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 12
    created = next(b for b in bodies if b["type"] == "issue.created")
    assert created["data"]["id"] == issue["id"]
    assert created["data"]["key"] == issue["key"]
    assert created["data"]["labels"] == ["bug"]
    assert created["workspace"]["slug"] == owner.workspace
    assert created["timestamp"].endswith("Z")
    deleted = next(b for b in bodies if b["type"] == "project.deleted")
    assert deleted["data"]["name"] == "Site"
    updated = next(b for b in bodies if b["type"] == "issue.updated")
    assert updated["data"]["status"] == "DONE"
    assert receiver.received[0].path == "/hooks"
    assert receiver.received[0].headers["content-type"] == "application/json"
    log = await deliveries(owner, hook["id"])
    assert len(log) == 12 and {d["status"] for d in log} == {"SUCCEEDED"}
    assert all(d["attempts"] == 1 and d["responseStatus"] == 200 for d in log)


async def test_only_subscribed_events_are_sent(
    owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["ISSUE_CREATED"])
    project = await create_project(owner)
    await create_issue(owner, project["id"])
    await jobs.drain()
    assert [verified(hook["secret"], r)["type"] for r in receiver.received] == ["issue.created"]
    await owner.gql(WEBHOOK_UPDATE, {"id": hook["id"], "input": {"events": ["PROJECT_CREATED"]}})
    await create_project(owner)
    await create_issue(owner, project["id"])
    await jobs.drain()
    assert [verified(hook["secret"], r)["type"] for r in receiver.received] == [
        "issue.created",
        "project.created",
    ]


async def test_failed_attempts_are_retried_with_the_same_webhook_id(
    settings: Settings, tenancy: Tenancy, owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(500, times=2)
    await create_project(owner)
    await jobs.drain()
    [first] = await deliveries(owner, hook["id"])
    assert first["status"] == "PENDING" and first["attempts"] == 1
    assert first["responseStatus"] == 500 and first["lastError"] == "HTTP 500"
    assert first["nextAttemptAt"] is not None
    # Not due yet: the sweep leaves it.
    await sweep(settings, tenancy, jobs)
    assert len(receiver.received) == 1
    await later(settings, tenancy, jobs, timedelta(seconds=10))
    await later(settings, tenancy, jobs, timedelta(minutes=1))
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert receiver.received[0].headers["webhook-id"].startswith("msg_")
    for request in receiver.received:
        assert verified(hook["secret"], request)["type"] == "project.created"
    [done] = await deliveries(owner, hook["id"])
    assert done["status"] == "SUCCEEDED" and done["attempts"] == 3
    assert done["responseStatus"] == 200 and done["nextAttemptAt"] is None
    # Nothing more is sent, however often the sweep runs.
    await later(settings, tenancy, jobs, timedelta(days=1))
    assert len(receiver.received) == 3


async def test_delays_grow_for_about_three_days_then_the_delivery_fails(
    settings: Settings, tenancy: Tenancy, owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(500, times=100)
    start = clock.now()
    clock.freeze(start)
    await create_project(owner)
    await jobs.drain()
    gaps = []
    for _ in range(40):
        [row] = await deliveries(owner, hook["id"])
        if row["status"] != "PENDING":
            break
        due = datetime.fromisoformat(row["nextAttemptAt"])
        gaps.append((due - datetime.fromisoformat(row["lastAttemptAt"])).total_seconds())
        clock.freeze(due + timedelta(seconds=1))
        await sweep(settings, tenancy, jobs)
    assert row["status"] == "FAILED"
    assert row["attempts"] == len(receiver.received) == 13
    # Growing delays; jitter (20 %) may not turn one upside down by half.
    assert all(b > a * 0.5 for a, b in itertools.pairwise(gaps))
    assert gaps[-1] > gaps[0] * 1000
    span = clock.now() - start
    assert timedelta(days=2) < span < timedelta(days=4)


async def test_retry_after_is_honoured(
    owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(429, retry_after="7200")
    await create_project(owner)
    await jobs.drain()
    [row] = await deliveries(owner, hook["id"])
    wait = datetime.fromisoformat(row["nextAttemptAt"]) - datetime.fromisoformat(
        row["lastAttemptAt"]
    )
    assert abs(wait.total_seconds() - 7200) < 2


async def test_a_rolled_back_change_sends_nothing(
    settings: Settings, tenancy: Tenancy, owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    workspace = await workspace_of(owner)
    membership = await Membership.get(
        workspace_id=workspace.id, account_id=account_uuid(await account_id(owner))
    ).select_related("workspace")
    with collecting() as deferred:
        async with tenancy.workspace(workspace):
            with pytest.raises(RuntimeError):
                async with in_transaction(WORKSPACE):
                    await projects.create(membership, project_key(), "Doomed", None)
                    assert await WebhookMessage.all().count() == 1  # written, not committed
                    raise RuntimeError("the change fails after its event was written")
            assert await WebhookMessage.all().count() == 0
            assert await WebhookDelivery.all().count() == 0
    assert deferred, "the job was deferred; it must find nothing to send"
    await jobs.submit(deferred)
    await jobs.drain()
    await sweep(settings, tenancy, jobs)
    assert receiver.received == []
    kept = await create_project(owner, name="Kept")
    await jobs.drain()
    [request] = receiver.received
    assert verified(hook["secret"], request)["data"]["id"] == kept["id"]


async def test_rotation_signs_with_both_secrets_for_24_hours(
    settings: Settings, tenancy: Tenancy, owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    old = hook["secret"]
    rotated = (await owner.gql(WEBHOOK_ROTATE, {"id": hook["id"]}))["webhookSecretRotate"]
    new = rotated["webhook"]["secret"]
    assert new != old and new.startswith("whsec_")
    await create_project(owner)
    await jobs.drain()
    [during] = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verified(old, during)
    verified(new, during)
    clock.freeze(clock.now() + timedelta(hours=25))
    await create_project(owner)
    await jobs.drain()
    after = receiver.received[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    verified(new, after)
    with pytest.raises(WebhookVerificationError):
        verified(old, after)


async def test_410_disables_the_endpoint(
    owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(410)
    await create_project(owner)
    await jobs.drain()
    [row] = await deliveries(owner, hook["id"])
    assert row["status"] == "FAILED" and row["responseStatus"] == 410
    webhooks = (await owner.gql("{ webhooks { enabled disabledReason } }"))["webhooks"]
    assert webhooks == [{"enabled": False, "disabledReason": "The endpoint answered 410 Gone."}]
    await create_project(owner)
    await jobs.drain()
    assert len(receiver.received) == 1
    enabled = await owner.gql(WEBHOOK_UPDATE, {"id": hook["id"], "input": {"enabled": True}})
    assert enabled["webhookUpdate"]["webhook"]["disabledReason"] is None
    retried = await owner.gql(DELIVERY_RETRY, {"id": row["id"]})
    assert retried["webhookDeliveryRetry"]["status"] == "PENDING"
    await jobs.drain()
    assert len(receiver.received) == 2
    assert receiver.received[1].headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    [again] = await deliveries(owner, hook["id"])
    assert again["status"] == "SUCCEEDED" and again["attempts"] == 2


async def test_an_endpoint_failing_for_days_is_disabled_and_admins_are_told(
    settings: Settings,
    tenancy: Tenancy,
    owner: Client,
    admin: Client,
    member: Client,
    receiver: Receiver,
    jobs: InProcessRunner,
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(503, times=1000)
    for _ in range(6):  # one change a day, each failing
        await create_project(owner)
        await jobs.drain()
        await later(settings, tenancy, jobs, timedelta(days=1))
    [state] = (await owner.gql("{ webhooks { enabled disabledReason } }"))["webhooks"]
    assert state["enabled"] is False
    assert state["disabledReason"].startswith("Every delivery failed for 5 days")
    emails: dict[str, Any] = {}
    for client in (owner, admin, member):
        email = (await client.gql("{ viewer { email } }"))["viewer"]["email"]
        emails[email] = mails_to(settings, email, "webhook_disabled")
    owner_mail, admin_mail, member_mail = emails.values()
    assert len(owner_mail) == 1 and len(admin_mail) == 1 and member_mail == []
    assert receiver.url in owner_mail[0].get_body(("plain",)).get_content()
    sent = len(receiver.received)
    await create_project(owner)
    await later(settings, tenancy, jobs, timedelta(days=1))
    assert len(receiver.received) == sent
    assert hook["id"]


async def test_a_retry_due_before_the_next_sweep_has_a_job_of_its_own(
    owner: Client, receiver: Receiver, jobs: InProcessRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries_module, "BACKOFF", (0.2, *deliveries_module.BACKOFF[1:]))
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(500)
    await create_project(owner)
    await jobs.drain()
    for _ in range(100):  # no sweep runs: the delayed job sends the retry
        if len(receiver.received) == 2:
            break
        await asyncio.sleep(0.05)
    await jobs.drain()
    assert len(receiver.received) == 2
    [row] = await deliveries(owner, hook["id"])
    assert row["status"] == "SUCCEEDED" and row["attempts"] == 2


async def test_the_delivery_log_is_kept_30_days(
    settings: Settings, tenancy: Tenancy, owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    # An integrator's key: it outlives the session over the weeks this test spans.
    made = await owner.gql(
        'mutation { apiKeyCreate(input: {name: "ops", scopes: [ADMIN]}) { secret } }'
    )
    key = Client(owner.http, headers={"Authorization": f"Bearer {made['apiKeyCreate']['secret']}"})
    # A paying workspace: a trial would end, and the workspace go, within these weeks.
    await WorkspaceModel.filter(slug=owner.workspace).update(
        status=WorkspaceStatus.ACTIVE, trial_ends_at=None
    )
    start = clock.now()
    clock.freeze(start)
    await create_project(key)
    await jobs.drain()
    clock.freeze(start + timedelta(days=20))
    await create_project(key)
    await jobs.drain()
    assert len(await deliveries(key, hook["id"])) == 2
    await later(settings, tenancy, jobs, timedelta(days=10, minutes=1))  # day 30: the first
    [kept] = await deliveries(key, hook["id"])
    assert kept["attempts"] == 1
    await later(settings, tenancy, jobs, timedelta(days=21))
    assert await deliveries(key, hook["id"]) == []
    async with tenancy.workspace(await workspace_of(owner)):
        assert await WebhookMessage.all().count() == 0


async def test_a_slow_endpoint_does_not_hold_up_the_others(
    owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    slow = await create_webhook(owner, receiver.url + "/slow", ["PROJECT_CREATED"])
    fast = await create_webhook(owner, receiver.url + "/fast", ["PROJECT_CREATED"])
    receiver.answer(200, delay=2.0)  # the first request to arrive waits 2 s
    await create_project(owner)
    for _ in range(50):  # up to 1 s, less than the slow answer takes
        if len(receiver.received) == 2:
            break
        await asyncio.sleep(0.02)
    # Both requests are in while the first is still being answered.
    assert len(receiver.received) == 2
    await jobs.drain()
    for hook in (slow, fast):
        [row] = await deliveries(owner, hook["id"])
        assert row["status"] == "SUCCEEDED"
