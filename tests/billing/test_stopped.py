"""Subscriptions Stripe stopped collecting: UNPAID once every retry failed, PAUSED while
Stripe pauses it. Read-only for every role and key, kept without an erasure date, and
fully usable again once paid or resumed; other workspaces untouched."""

from __future__ import annotations

from typing import Any

from lightningtrack import clock
from lightningtrack.models.landlord import Role, Workspace
from lightningtrack.settings import Settings
from tests.billing.conftest import (
    CHECKOUT,
    PORTAL,
    PROJECT_CREATE,
    StripeSide,
    besides_syncs,
    billing_of,
    checkout,
    mail_kinds,
    stay_signed_in,
)
from tests.conftest import Client
from tests.integrators.conftest import create_key, key_client
from tests.retention.conftest import (
    DAY,
    PROJECTS,
    MakePerson,
    Person,
    Sweep,
    create_project,
    create_workspace,
    database_exists,
    join,
    outbox,
    text_of,
)

DELETE = "mutation($s: String!) { workspaceDelete(confirmSlug: $s) { workspace { status } } }"
UNDELETE = "mutation { workspaceDeletionCancel { workspace { status deletionScheduledAt } } }"


async def refused(client: Client) -> str:
    """A write's error code, and that it says why."""
    error = await client.error(PROJECT_CREATE, {"input": {"key": "NOPE", "name": "No"}})
    assert "read-only" in error["message"], error
    return str(error["extensions"]["code"])


async def paying(person: Person, stripe_side: StripeSide, name: str) -> str:
    """A workspace of ``person`` with a paid subscription; its subscription id."""
    workspace = await create_workspace(person, name)
    await stripe_side.deliver_all(stripe_side.fake.complete_checkout(await checkout(person.client)))
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    return str(stripe_side.fake.subscription_of(row.stripe_customer_id)["id"])


async def test_an_unpaid_subscription_is_read_only_and_kept_until_paid(
    billing_settings: Settings,
    make_person: MakePerson,
    make_client: Any,
    stripe_side: StripeSide,
    sweep: Sweep,
) -> None:
    fake = stripe_side.fake
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Una")
    subscription = await paying(owner, stripe_side, "Unpaid")
    workspace = await Workspace.get(slug=owner.client.workspace)
    admin = await make_person("Ada")
    await join(admin, workspace, Role.ADMIN)
    secret, _ = await create_key(owner.client, ["READ", "WRITE", "ADMIN"])
    integrator = key_client(make_client, secret)
    other = await make_person("Ola")
    await paying(other, stripe_side, "Fine")

    async def move_to(days: int) -> None:
        clock.freeze(t0 + days * DAY)
        for person in (owner, admin, other):
            await stay_signed_in(person)

    await move_to(30)
    await stripe_side.deliver_all(fake.fail_renewal(subscription))
    assert (await billing_of(admin.client))["status"] == "PAST_DUE"
    await create_project(admin)  # writable while Stripe retries

    # The last retry fails: Stripe's events in reverse order still end in its state.
    await move_to(44)
    await stripe_side.deliver_all(reversed(fake.exhaust_retries(subscription)))
    unpaid = await billing_of(admin.client)
    assert unpaid["status"] == "UNPAID"
    assert unpaid["cancelledAt"] is None and unpaid["deletionScheduledAt"] is None
    for client in (owner.client, admin.client, integrator):
        assert await refused(client) == "PAYMENT_REQUIRED"
    assert len((await owner.client.gql(PROJECTS))["projects"]["nodes"]) == 1  # reads work
    export = await owner.client.gql("mutation { dataExportCreate { status } }")
    assert export["dataExportCreate"]["status"] == "QUEUED"  # and so does taking the data
    error = await owner.client.error(CHECKOUT, {"plan": "BUSINESS"})
    assert error["extensions"]["code"] == "CONFLICT"  # no second subscription to pay for
    assert (await owner.client.gql(PORTAL))["billingPortalSessionCreate"]["url"]
    failed = outbox(billing_settings, owner.email, "billing_payment_failed")
    assert len(failed) == 2
    assert "read-only" not in text_of(failed[0])
    invoice = fake.invoices[fake.subscriptions[subscription]["latest_invoice"]]
    assert "read-only" in str(failed[1]["Subject"])
    assert "read-only" in text_of(failed[1])
    assert invoice["hosted_invoice_url"] in text_of(failed[1])
    # Another workspace is not concerned.
    assert (await billing_of(other.client))["status"] == "ACTIVE"
    await create_project(other)

    # No erasure clock: weeks later it is still there, with nothing scheduled.
    for day in (60, 75, 90):
        assert besides_syncs(await sweep(t0 + day * DAY), workspace.slug) == []
    await move_to(90)
    assert await Workspace.exists(id=workspace.id)
    assert await database_exists(billing_settings, workspace)
    assert (await billing_of(owner.client))["status"] == "UNPAID"

    # The open invoice is paid: usable again, with a receipt.
    await stripe_side.deliver_all(fake.recover(subscription))
    restored = await billing_of(owner.client)
    assert restored["status"] == "ACTIVE" and restored["deletionScheduledAt"] is None
    await create_project(admin)
    assert mail_kinds(billing_settings, owner.email) == sorted(
        ["billing_receipt", "billing_receipt", "billing_payment_failed", "billing_payment_failed"]
    )
    assert mail_kinds(billing_settings, admin.email) == []


async def test_a_paused_subscription_is_read_only_until_it_resumes(
    make_person: MakePerson, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    owner = await make_person("Pia")
    subscription = await paying(owner, stripe_side, "Paused")
    slug = owner.client.workspace
    await stripe_side.deliver_all(fake.pause(subscription))
    paused = await billing_of(owner.client)
    assert paused["status"] == "PAUSED" and paused["deletionScheduledAt"] is None
    assert await refused(owner.client) == "PAYMENT_REQUIRED"

    # A deletion request, then cancelling it, comes back to the paused standing, undated.
    await owner.client.gql(DELETE, {"s": slug})
    event = fake.event("customer.subscription.updated", fake.subscriptions[subscription])
    await stripe_side.deliver_all([event])  # read while the deletion is pending
    back = (await owner.client.gql(UNDELETE))["workspaceDeletionCancel"]["workspace"]
    assert back == {"status": "PAUSED", "deletionScheduledAt": None}

    await stripe_side.deliver_all(fake.resume(subscription))
    assert (await billing_of(owner.client))["status"] == "ACTIVE"
    await create_project(owner)
