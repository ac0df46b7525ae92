"""Who may see and change webhooks, and that one workspace's webhooks are out of reach of
another, both through the API and for the events sent."""

from __future__ import annotations

from lightningtrack.jobs.runner import InProcessRunner
from tests.conftest import Client
from tests.integrations.conftest import Receiver
from tests.integrations.webhook_helpers import (
    DELIVERY_RETRY,
    WEBHOOK_CREATE,
    WEBHOOK_DELETE,
    WEBHOOK_ROTATE,
    WEBHOOK_UPDATE,
    create_webhook,
    deliveries,
)
from tests.tracking.conftest import create_project

CREATE = {"input": {"url": "http://127.0.0.1:9/x", "events": ["ISSUE_CREATED"]}}


async def test_admins_and_owners_only(
    owner: Client, admin: Client, member: Client, guest: Client
) -> None:
    hook = await create_webhook(admin, "http://127.0.0.1:9/x", ["ISSUE_CREATED"])
    for client in (member, guest):
        assert (await client.error("{ webhooks { id } }"))["extensions"]["code"] == "FORBIDDEN"
        assert (await client.error(WEBHOOK_CREATE, CREATE))["extensions"]["code"] == "FORBIDDEN"
        for document in (WEBHOOK_ROTATE, WEBHOOK_DELETE):
            error = await client.error(document, {"id": hook["id"]})
            assert error["extensions"]["code"] == "FORBIDDEN"
        error = await client.error(WEBHOOK_UPDATE, {"id": hook["id"], "input": {"enabled": False}})
        assert error["extensions"]["code"] == "FORBIDDEN"
    listed = (await owner.gql("{ webhooks { id secret } }"))["webhooks"]
    assert listed == [{"id": hook["id"], "secret": hook["secret"]}]


async def test_input_is_validated(owner: Client) -> None:
    error = await owner.error(
        WEBHOOK_CREATE, {"input": {"url": "http://127.0.0.1:9/", "events": []}}
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.events"}
    hook = await create_webhook(owner, "http://127.0.0.1:9/x", ["ISSUE_CREATED", "ISSUE_CREATED"])
    assert hook["events"] == ["ISSUE_CREATED"]
    for bad in ({"url": None}, {"events": None}, {"enabled": None}, {"url": "https://"}):
        error = await owner.error(WEBHOOK_UPDATE, {"id": hook["id"], "input": bad})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == f"input.{next(iter(bad))}"
    updated = await owner.gql(
        WEBHOOK_UPDATE,
        {"id": hook["id"], "input": {"url": "http://localhost:9/y", "enabled": False}},
    )
    assert updated["webhookUpdate"]["webhook"]["url"] == "http://localhost:9/y"
    assert updated["webhookUpdate"]["webhook"]["disabledReason"] == "Disabled by an admin."


async def test_another_workspace_cannot_see_or_touch_them(
    owner: Client, other_workspace: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    await create_project(owner)
    await jobs.drain()
    [delivery] = await deliveries(owner, hook["id"])
    theirs = await create_webhook(other_workspace, "http://127.0.0.1:9/other", ["PROJECT_CREATED"])
    assert (await other_workspace.gql("{ webhooks { id } }"))["webhooks"] == [{"id": theirs["id"]}]
    for document, variables in (
        (WEBHOOK_UPDATE, {"id": hook["id"], "input": {"enabled": False}}),
        (WEBHOOK_ROTATE, {"id": hook["id"]}),
        (WEBHOOK_DELETE, {"id": hook["id"]}),
        (DELIVERY_RETRY, {"id": delivery["id"]}),
    ):
        error = await other_workspace.error(document, variables)
        assert error["extensions"]["code"] == "NOT_FOUND"
    node = await other_workspace.gql("query($id: ID!) { node(id: $id) { id } }", {"id": hook["id"]})
    assert node["node"] is None
    # Their changes reach their endpoint only; ours reach ours only.
    await create_project(other_workspace)
    await jobs.drain()
    assert len(receiver.received) == 1
    [still] = (await owner.gql("{ webhooks { id enabled secret } }"))["webhooks"]
    assert still == {"id": hook["id"], "enabled": True, "secret": hook["secret"]}


async def test_node_resolves_webhooks_and_deliveries_for_admins(
    owner: Client, member: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    await create_project(owner)
    await jobs.drain()
    [delivery] = await deliveries(owner, hook["id"])
    query = """query($id: ID!) { node(id: $id) { __typename id
      ... on Webhook { url } ... on WebhookDelivery { status } } }"""
    found = await owner.gql(query, {"id": hook["id"]})
    assert found["node"] == {"__typename": "Webhook", "id": hook["id"], "url": receiver.url}
    found = await owner.gql(query, {"id": delivery["id"]})
    assert found["node"]["status"] == "SUCCEEDED"
    assert (await member.gql(query, {"id": hook["id"]}))["node"] is None
