"""The lifecycle around a subscription: resubscribing inside the retention window, an
expired trial rescued by a plan, a deletion request meeting billing events, and the
Stripe customer leaving with an erased workspace."""

from __future__ import annotations

from lightningtrack import clock
from lightningtrack.models.landlord import Workspace
from lightningtrack.settings import Settings
from tests.billing.conftest import (
    PROJECT_CREATE,
    StripeSide,
    besides_syncs,
    billing_of,
    checkout,
    mail_kinds,
    stay_signed_in,
)
from tests.retention.conftest import (
    DAY,
    PROJECTS,
    MakePerson,
    Sweep,
    create_project,
    create_workspace,
    database_exists,
)


async def test_resubscribing_inside_the_window_restores_everything(
    billing_settings: Settings, make_person: MakePerson, stripe_side: StripeSide, sweep: Sweep
) -> None:
    fake = stripe_side.fake
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Rhea")
    workspace = await create_workspace(owner, "Again")
    project = await create_project(owner)
    await stripe_side.deliver_all(fake.complete_checkout(await checkout(owner.client)))
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    old = fake.subscription_of(row.stripe_customer_id)

    clock.freeze(t0 + 2 * DAY)
    await stripe_side.deliver_all(fake.cancel(old["id"]))
    cancelled = await billing_of(owner.client)
    assert cancelled["status"] == "CANCELLED"
    assert besides_syncs(await sweep(t0 + 25 * DAY), workspace.slug) == [
        f"cancelled workspace reminder: {workspace.slug}"
    ]

    await stay_signed_in(owner)
    session = await checkout(owner.client, "STANDARD")
    await stripe_side.deliver_all(fake.complete_checkout(session, last4="1117"))
    restored = await billing_of(owner.client)
    assert restored["status"] == "ACTIVE"
    assert restored["plan"] == "STANDARD"
    assert restored["cardLast4"] == "1117"
    assert restored["cancelledAt"] is None and restored["deletionScheduledAt"] is None
    assert project in (await owner.client.gql(PROJECTS))["projects"]["nodes"]
    await create_project(owner)

    # A late copy of the old cancellation (Stripe retrying it) changes nothing: Stripe's
    # newest subscription is live.
    late = fake.event("customer.subscription.deleted", fake.subscriptions[old["id"]])
    assert (await stripe_side.deliver(late)).status_code == 200
    assert (await billing_of(owner.client))["status"] == "ACTIVE"

    for day in (32, 33, 40):
        assert besides_syncs(await sweep(t0 + day * DAY), workspace.slug) == []
    assert await Workspace.exists(id=workspace.id)
    assert await database_exists(billing_settings, workspace)
    assert mail_kinds(billing_settings, owner.email) == sorted(
        [
            "billing_receipt",
            "billing_subscription_ended",
            "billing_cancellation_reminder",
            "billing_receipt",
        ]
    )


async def test_an_expired_trial_is_rescued_by_a_subscription(
    make_person: MakePerson, stripe_side: StripeSide, sweep: Sweep
) -> None:
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Tia")
    workspace = await create_workspace(owner, "Late")
    await sweep(t0 + 14 * DAY)
    clock.freeze(t0 + 14 * DAY)
    await stay_signed_in(owner)
    expired = await billing_of(owner.client)
    assert expired["status"] == "TRIAL_EXPIRED"
    assert expired["deletionScheduledAt"] is not None
    error = await owner.client.error(PROJECT_CREATE, {"input": {"key": "NO", "name": "No"}})
    assert error["extensions"]["code"] == "PAYMENT_REQUIRED"

    session = await checkout(owner.client)  # read-only, but it can pay
    await stripe_side.deliver_all(stripe_side.fake.complete_checkout(session))
    paid = await billing_of(owner.client)
    assert paid["status"] == "ACTIVE" and paid["deletionScheduledAt"] is None
    await create_project(owner)
    assert besides_syncs(await sweep(t0 + 28 * DAY), workspace.slug) == []
    assert await Workspace.exists(id=workspace.id)


async def test_a_deletion_request_keeps_its_date_and_cancelling_it_returns_to_billing(
    make_person: MakePerson, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Pam")
    workspace = await create_workspace(owner, "Pending")
    await stripe_side.deliver_all(fake.complete_checkout(await checkout(owner.client)))
    await owner.client.gql(
        "mutation($s: String!) { workspaceDelete(confirmSlug: $s) { workspace { slug } } }",
        {"s": workspace.slug},
    )
    pending = await billing_of(owner.client)
    assert pending["status"] == "PENDING_DELETION"

    clock.freeze(t0 + DAY)
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    await stripe_side.deliver_all(fake.cancel(fake.subscription_of(row.stripe_customer_id)["id"]))
    still = await billing_of(owner.client)
    assert still["status"] == "PENDING_DELETION"
    assert still["deletionScheduledAt"] == pending["deletionScheduledAt"]

    data = await owner.client.gql("mutation { workspaceDeletionCancel { workspace { status } } }")
    assert data["workspaceDeletionCancel"]["workspace"]["status"] == "CANCELLED"
    back = await billing_of(owner.client)
    assert back["cancelledAt"] is not None
    # The cancelled subscription's own retention date, not "never".
    assert (
        back["deletionScheduledAt"] == (clock.now().replace(microsecond=0) + 30 * DAY).isoformat()
    )


async def test_erasing_a_paying_workspace_deletes_its_stripe_customer(
    billing_settings: Settings, make_person: MakePerson, stripe_side: StripeSide, sweep: Sweep
) -> None:
    """Nobody is charged for a workspace that is gone; while Stripe cannot be reached the
    erasure waits for the next sweep."""
    fake = stripe_side.fake
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Eda")
    workspace = await create_workspace(owner, "Leaving")
    await stripe_side.deliver_all(fake.complete_checkout(await checkout(owner.client)))
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    subscription = fake.subscription_of(row.stripe_customer_id)["id"]
    await owner.client.gql(
        "mutation($s: String!) { workspaceDelete(confirmSlug: $s) { workspace { slug } } }",
        {"s": workspace.slug},
    )
    await sweep(t0 + 6 * DAY)  # the reminder the day before
    fake.failing = True
    try:
        assert besides_syncs(await sweep(t0 + 7 * DAY), workspace.slug) == [
            f"erase workspace: {workspace.slug}"
        ]
        assert await Workspace.exists(id=workspace.id)
        assert await database_exists(billing_settings, workspace)
    finally:
        fake.failing = False
    await sweep(t0 + 7 * DAY + DAY / 24)
    assert not await Workspace.exists(id=workspace.id)
    assert fake.customers[row.stripe_customer_id].get("deleted") is True
    assert fake.subscriptions[subscription]["status"] == "canceled"
    customer = row.stripe_customer_id
    # Stripe's events about the deletion find no workspace, and are acknowledged.
    await stripe_side.deliver_all(
        e
        for e in fake.pending_events
        if customer in (e["data"]["object"].get("customer"), e["data"]["object"]["id"])
    )
