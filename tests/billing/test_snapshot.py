"""The rules that turn Stripe's objects into a workspace's standing, without any server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lightningtrack.models.landlord import Plan, Workspace, WorkspaceStatus
from lightningtrack.resolvers.billing import snapshot, sync
from lightningtrack.resolvers.billing.snapshot import Snapshot, Standing
from lightningtrack.settings import Settings
from tests.billing.conftest import PRICE_BUSINESS

T = 1_800_000_000
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def subscription(sid: str, status: str, created: int, **extra: object) -> dict[str, object]:
    return {"id": sid, "status": status, "created": created, **extra}


def test_the_newest_live_subscription_decides_else_the_last_ended() -> None:
    ended_late = subscription("sub_old", "canceled", T, ended_at=T + 900)
    live = subscription("sub_new", "past_due", T + 100)
    unfinished = subscription("sub_x", "incomplete", T + 1000)
    assert snapshot.current_subscription([ended_late, live, unfinished]) == live
    first_end = subscription("sub_a", "canceled", T, ended_at=T + 10)
    assert snapshot.current_subscription([first_end, ended_late]) == ended_late
    assert snapshot.current_subscription([unfinished]) is None
    assert snapshot.current_subscription([]) is None


def test_period_plan_and_card_are_read_from_stripes_shapes(billing_settings: Settings) -> None:
    item = {"current_period_end": T + 30, "price": {"id": PRICE_BUSINESS}}
    current = subscription("sub", "active", T, items={"data": [item]})
    assert snapshot.period_end(current) == datetime.fromtimestamp(T + 30, UTC)
    legacy = subscription("sub", "active", T, current_period_end=T + 60, items={"data": []})
    assert snapshot.period_end(legacy) == datetime.fromtimestamp(T + 60, UTC)
    assert snapshot.plan_of(billing_settings, current) is Plan.BUSINESS
    assert snapshot.card_last4({"card": {"last4": "4242"}}) == "4242"
    assert snapshot.card_last4("pm_123") is None  # an id alone says nothing
    assert snapshot.card_last4({"card": {"last4": "42"}}) is None
    paused = snapshot.from_subscription(billing_settings, {**current, "status": "paused"}, None)
    assert paused.standing is Standing.PAUSED
    unpaid = snapshot.from_subscription(billing_settings, {**current, "status": "unpaid"}, None)
    assert unpaid.standing is Standing.UNPAID


def test_a_subscription_set_to_end(billing_settings: Settings) -> None:
    item = {"current_period_end": T + 30, "price": {"id": PRICE_BUSINESS}}
    live = subscription("sub", "active", T, items={"data": [item]}, cancel_at_period_end=True)
    legacy = snapshot.from_subscription(billing_settings, {**live, "cancel_at": None}, None)
    assert legacy.cancel_at_period_end is True
    assert legacy.cancel_at == datetime.fromtimestamp(T + 30, UTC)  # the period's end
    dated = snapshot.from_subscription(
        billing_settings, {**live, "cancel_at_period_end": False, "cancel_at": T + 9}, None
    )
    assert dated.cancel_at_period_end is False
    assert dated.cancel_at == datetime.fromtimestamp(T + 9, UTC)
    ended = snapshot.from_subscription(
        billing_settings,
        {**live, "status": "canceled", "cancel_at": T + 30, "ended_at": T + 30},
        None,
    )
    assert ended.cancel_at_period_end is False and ended.cancel_at is None
    assert ended.ended_at == datetime.fromtimestamp(T + 30, UTC)


def workspace(status: WorkspaceStatus, **fields: object) -> Workspace:
    return Workspace(id=uuid.uuid4(), slug="w", name="W", db_name="w", status=status, **fields)


def test_transitions() -> None:
    ended = Snapshot(Standing.ENDED, "sub", Plan.BUSINESS, NOW, NOW - timedelta(days=2), "4242")
    good = Snapshot(Standing.GOOD, "sub2", Plan.STANDARD, NOW, None, "1111")

    cancelled = sync.changes_for(workspace(WorkspaceStatus.ACTIVE), ended, NOW)
    assert cancelled["status"] is WorkspaceStatus.CANCELLED
    assert cancelled["cancelled_at"] == NOW - timedelta(days=2)
    assert cancelled["deletion_scheduled_at"] == NOW + timedelta(days=28)

    # Read again after the sweep moved the date on: the date stays.
    moved = NOW + timedelta(days=40)
    again = workspace(
        WorkspaceStatus.CANCELLED,
        cancelled_at=NOW - timedelta(days=2),
        deletion_scheduled_at=moved,
    )
    assert "deletion_scheduled_at" not in sync.changes_for(again, ended, NOW)

    restored = sync.changes_for(again, good, NOW)
    assert restored["status"] is WorkspaceStatus.ACTIVE
    assert restored["cancelled_at"] is None and restored["deletion_scheduled_at"] is None

    pending = workspace(WorkspaceStatus.PENDING_DELETION, deletion_scheduled_at=moved)
    kept = sync.changes_for(pending, ended, NOW)
    assert "status" not in kept and "deletion_scheduled_at" not in kept
    assert kept["status_before_deletion"] is WorkspaceStatus.CANCELLED

    trial = sync.changes_for(workspace(WorkspaceStatus.TRIAL_EXPIRED), Snapshot(Standing.NONE), NOW)
    assert "status" not in trial and "deletion_scheduled_at" not in trial


def test_the_subscription_an_event_names() -> None:
    assert snapshot.subscription_named({"object": "subscription", "id": "sub_1"}) == "sub_1"
    invoice = {"object": "invoice", "parent": {"subscription_details": {"subscription": "sub_2"}}}
    assert snapshot.subscription_named(invoice) == "sub_2"
    assert snapshot.subscription_named({"object": "invoice", "subscription": "sub_3"}) == "sub_3"
    session = {"object": "checkout.session", "subscription": {"id": "sub_4"}}
    assert snapshot.subscription_named(session) == "sub_4"
    assert snapshot.subscription_named({"object": "payment_method", "id": "pm_1"}) is None
