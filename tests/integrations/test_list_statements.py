"""The integration lists cost the same number of SQL statements for one row as for many."""

from __future__ import annotations

from lightningtrack.jobs.runner import InProcessRunner
from tests.conftest import Client, statements
from tests.integrations.conftest import Receiver
from tests.integrations.mail_helpers import SOURCES, create_source
from tests.integrations.test_email_source_access import NOWHERE
from tests.integrations.webhook_helpers import create_webhook
from tests.tracking.conftest import create_issue, create_project, pk_of

WEBHOOKS = "{ webhooks { id url events enabled disabledReason secret createdAt } }"


async def test_email_sources_and_webhooks_lists(owner: Client, jobs: InProcessRunner) -> None:
    project = await create_project(owner)
    await create_source(owner, NOWHERE, project["id"])
    await create_webhook(owner, "http://127.0.0.1:9/a", ["ISSUE_CREATED"])
    await jobs.drain()  # the first polls of the new sources (nothing to reach on port 9)
    await owner.gql(SOURCES)  # warm up: session touch, pools
    with statements() as one_source:
        await owner.gql(SOURCES)
    with statements() as one_hook:
        await owner.gql(WEBHOOKS)
    for n in range(4):
        other = await create_project(owner)
        await create_source(owner, NOWHERE, other["id"], name=f"S{n}")
        await create_webhook(owner, f"http://127.0.0.1:9/{n}", ["ISSUE_CREATED"])
    await jobs.drain()
    with statements() as five_sources:
        found = await owner.gql(SOURCES)
    with statements() as five_hooks:
        hooks = await owner.gql(WEBHOOKS)
    assert len(found["emailSources"]) == 5 and len(hooks["webhooks"]) == 5
    assert len(one_source) == len(five_sources), "\n".join(five_sources)
    assert len(one_hook) == len(five_hooks), "\n".join(five_hooks)


DELIVERIES = """
{ webhooks { id deliveries(first: 2) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id event status } } } }
"""
NEXT_PAGE = """
query($id: ID!, $after: String) { node(id: $id) { ... on Webhook {
  deliveries(first: 2, after: $after) { totalCount pageInfo { hasNextPage } nodes { id } } } } }
"""


async def test_webhook_delivery_logs_are_batched(
    owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    first = await create_webhook(owner, receiver.url, ["ISSUE_CREATED"])
    for n in range(3):
        await create_issue(owner, project["id"], f"Before {n}")
    await jobs.drain()
    await owner.gql(DELIVERIES)  # warm up
    with statements() as one_hook:
        one = await owner.gql(DELIVERIES)
    [only] = one["webhooks"]
    assert only["deliveries"]["totalCount"] == 3
    assert only["deliveries"]["pageInfo"]["hasNextPage"] is True
    assert len(only["deliveries"]["nodes"]) == 2
    for n in range(4):
        await create_webhook(owner, f"{receiver.url}/{n}", ["ISSUE_CREATED"])
    await create_issue(owner, project["id"], "After")
    await jobs.drain()
    with statements() as five_hooks:
        five = await owner.gql(DELIVERIES)
    assert len(one_hook) == len(five_hooks), "\n".join(five_hooks)
    hooks = {h["id"]: h["deliveries"] for h in five["webhooks"]}
    assert hooks[first["id"]]["totalCount"] == 4
    assert [h["totalCount"] for i, h in hooks.items() if i != first["id"]] == [1, 1, 1, 1]
    seen = [node["id"] for page in hooks.values() for node in page["nodes"]]
    assert len(seen) == len(set(seen)) == 6  # each endpoint's own log, none shared
    assert all(n["status"] == "SUCCEEDED" for page in hooks.values() for n in page["nodes"])
    # The nested cursor leads on, newest first, as a top-level page would.
    cursor = hooks[first["id"]]["pageInfo"]["endCursor"]
    rest = await owner.gql(NEXT_PAGE, {"id": first["id"], "after": cursor})
    page = rest["node"]["deliveries"]
    assert page["totalCount"] == 4 and page["pageInfo"]["hasNextPage"] is False
    newest_first = [n["id"] for n in hooks[first["id"]]["nodes"]] + [n["id"] for n in page["nodes"]]
    assert len(set(newest_first)) == 4
    assert [pk_of(i) for i in newest_first] == sorted(
        (pk_of(i) for i in newest_first), reverse=True
    )
    # Only the totals: no rows are read.
    totals = await owner.gql("{ webhooks { deliveries { totalCount } } }")
    assert sorted(h["deliveries"]["totalCount"] for h in totals["webhooks"]) == [1, 1, 1, 1, 4]
