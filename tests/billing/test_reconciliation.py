"""The sweep reads Stripe again for workspaces no event refreshed for a day: lost events
are made good (state and mail, each mail once), a read overtaken by an event does not undo
it, reads are bounded and oldest first, Stripe being down holds up nothing else, and the
retention command previews them without calling Stripe.

Every test shares the run's landlord, and other tests' workspaces have Stripe customers
too: each test first lets the sweep read every workspace never read yet, then makes its
own workspaces the stale ones by dating their last read back, as lost events would leave
them."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from lightningtrack import clock
from lightningtrack.models.landlord import Workspace
from lightningtrack.resolvers.billing import reconciliation
from lightningtrack.resolvers.retention import Action
from lightningtrack.settings import Settings
from tests.billing.conftest import (
    PRICE_BUSINESS,
    PRICE_STANDARD,
    SYNC,
    StripeSide,
    billing_of,
    checkout,
    mail_kinds,
    stay_signed_in,
)
from tests.billing.fake_stripe import Event, FakeStripe, Request
from tests.conftest import BACKEND, POSTGRES_URL, environment_for
from tests.retention.conftest import (
    DAY,
    MakePerson,
    Person,
    Sweep,
    create_project,
    create_workspace,
    outbox,
    text_of,
)

ROOT = Path(__file__).resolve().parents[2]
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def reads(actions: list[Action]) -> list[str]:
    return [a.subject for a in actions if a.kind == SYNC]


async def read_everything_never_read(sweep: Sweep) -> None:
    """Sweep until no workspace with a Stripe customer is left unread (other tests')."""
    for _ in range(20):
        never = Workspace.filter(stripe_customer_id__isnull=False, billing_synced_at__isnull=True)
        if not await never.exists():
            return
        await sweep(clock.now())
    pytest.fail("the sweep does not get through the workspaces never read")


async def last_read_long_ago(*workspaces: Workspace, start: int = 0) -> None:
    """As if no event had refreshed them for years: the oldest reads there are."""
    for offset, workspace in enumerate(workspaces, start=start):
        await Workspace.filter(id=workspace.id).update(billing_synced_at=LONG_AGO + offset * DAY)


async def paying(person: Person, stripe_side: StripeSide, name: str) -> tuple[Workspace, str]:
    workspace = await create_workspace(person, name)
    await stripe_side.deliver_all(stripe_side.fake.complete_checkout(await checkout(person.client)))
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    return row, str(stripe_side.fake.subscription_of(row.stripe_customer_id)["id"])


async def test_lost_events_are_made_good_by_the_sweep_each_mail_once(
    billing_settings: Settings, make_person: MakePerson, stripe_side: StripeSide, sweep: Sweep
) -> None:
    fake = stripe_side.fake
    t0 = clock.now()
    await read_everything_never_read(sweep)
    owner = await make_person("Lou")
    workspace = await create_workspace(owner, "Lost")
    other = await make_person("Oz")
    other_workspace, _ = await paying(other, stripe_side, "Heard")
    before_other = await billing_of(other.client)
    lost: list[Event] = fake.complete_checkout(await checkout(owner.client))
    assert (await billing_of(owner.client))["status"] == "TRIALING"

    async def sweep_at(days: float) -> list[Action]:
        await last_read_long_ago(workspace)
        actions = await sweep(t0 + days * DAY)
        clock.freeze(t0 + days * DAY)
        for person in (owner, other):
            await stay_signed_in(person)
        return actions

    assert workspace.slug in reads(await sweep_at(0))
    paid = await billing_of(owner.client)
    assert (paid["status"], paid["plan"], paid["cardLast4"]) == ("ACTIVE", "BUSINESS", "4242")
    assert paid["currentPeriodEnd"] is not None
    assert mail_kinds(billing_settings, owner.email) == ["billing_receipt"]
    await sweep_at(2)  # read again: nothing new to say
    assert mail_kinds(billing_settings, owner.email) == ["billing_receipt"]

    # Days apart rather than a month: the outbox's mail log keys each mail by the real
    # clock, and a sweep a month ahead would forget them.
    row = await Workspace.get(id=workspace.id)
    subscription = fake.subscription_of(str(row.stripe_customer_id))["id"]
    clock.freeze(t0 + 3 * DAY)
    lost += fake.fail_renewal(subscription)
    await sweep_at(3.5)
    assert (await billing_of(owner.client))["status"] == "PAST_DUE"
    await create_project(owner)
    clock.freeze(t0 + 5 * DAY)
    lost += fake.exhaust_retries(subscription)
    await sweep_at(5.5)
    assert (await billing_of(owner.client))["status"] == "UNPAID"
    notices = outbox(billing_settings, owner.email, "billing_payment_failed")
    assert ["read-only" in text_of(m) for m in notices] == [False, True]
    clock.freeze(t0 + 7 * DAY)
    lost += fake.recover(subscription)
    await sweep_at(7.5)
    assert (await billing_of(owner.client))["status"] == "ACTIVE"
    clock.freeze(t0 + 9 * DAY)
    lost += fake.cancel(subscription)
    await sweep_at(9.5)
    cancelled = await billing_of(owner.client)
    assert cancelled["status"] == "CANCELLED" and cancelled["deletionScheduledAt"] is not None
    await sweep_at(11)
    expected = sorted(
        [
            *("billing_receipt", "billing_receipt"),
            *("billing_payment_failed", "billing_payment_failed", "billing_subscription_ended"),
        ]
    )
    assert mail_kinds(billing_settings, owner.email) == expected

    # Stripe's retries deliver the lost events after all, shuffled and repeated.
    stream = [e for e in lost for _ in range(2)]
    random.Random(5).shuffle(stream)
    await stripe_side.deliver_all(stream)
    assert await billing_of(owner.client) == cancelled
    assert mail_kinds(billing_settings, owner.email) == expected
    # Another workspace, whether these sweeps read it or not, is as it was.
    assert await billing_of(other.client) == before_other
    assert mail_kinds(billing_settings, other.email) == ["billing_receipt"]
    assert other_workspace.id != workspace.id


@pytest.fixture
def transactions(billing_settings: Settings, fake_stripe: FakeStripe) -> Iterator[list[int]]:
    """On PostgreSQL, for each request Stripe receives: how many sessions of the run's
    landlord sit inside a transaction at that moment (a call to Stripe must see none)."""
    seen: list[int] = []
    landlord = billing_settings.database_url.database
    if BACKEND != "postgres":
        yield seen
        return

    async def count() -> int:
        conn = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            found: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = $1 AND state LIKE 'idle in transaction%'",
                landlord,
            )
            return found
        finally:
            await conn.close()

    def observe(request: Request) -> None:
        seen.append(asyncio.run(count()))

    fake_stripe.observer = observe
    try:
        yield seen
    finally:
        fake_stripe.observer = None


async def test_a_read_overtaken_by_an_event_does_not_undo_it(
    billing_settings: Settings,
    make_person: MakePerson,
    stripe_side: StripeSide,
    sweep: Sweep,
    transactions: list[int],
) -> None:
    """The sweep's read of Stripe is slow: meanwhile the subscription ends and its event is
    handled. The older read, applied last, must leave the workspace CANCELLED, and the
    sweep call Stripe from outside any transaction."""
    fake = stripe_side.fake
    await read_everything_never_read(sweep)
    owner = await make_person("Rui")
    workspace, subscription = await paying(owner, stripe_side, "Racing")
    await last_read_long_ago(workspace)
    # The sweep lists the customer's subscriptions (it reads this workspace first).
    release = fake.hold("GET", "/v1/subscriptions")
    reading = asyncio.create_task(sweep(clock.now()))
    for _ in range(200):
        if ("GET", "/v1/subscriptions") not in fake.holds:
            break  # the sweep's read is under way, with the subscription still active
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the sweep did not read the subscription")
    # The sweep may still be reading the customer; the cancellation overtakes the read.
    await stripe_side.deliver_all(fake.cancel(subscription))
    assert (await billing_of(owner.client))["status"] == "CANCELLED"
    release.set()
    actions = await reading
    assert workspace.slug in reads(actions)
    ended = await billing_of(owner.client)
    assert ended["status"] == "CANCELLED" and ended["deletionScheduledAt"] is not None
    assert mail_kinds(billing_settings, owner.email) == sorted(
        ["billing_receipt", "billing_subscription_ended"]
    )
    if BACKEND == "postgres":
        assert transactions and set(transactions) == {0}


async def test_reads_are_bounded_never_read_first_then_oldest(
    settings: Settings,
    billing_settings: Settings,
    make_person: MakePerson,
    stripe_side: StripeSide,
    sweep: Sweep,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await read_everything_never_read(sweep)
    people = [await make_person(name) for name in ("Al", "Bo")]
    older, newer = [(await paying(p, stripe_side, "Old"))[0] for p in people]
    await last_read_long_ago(older, newer)
    never = await make_person("Cy")
    unread = await create_workspace(never, "Never")
    await checkout(never.client)  # a customer, no event ever delivered
    assert await reconciliation.plan(settings, clock.now()) == []  # billing off: no reads

    monkeypatch.setattr(reconciliation, "BATCH", 2)
    now = clock.now()
    assert reads(await sweep(now)) == [unread.slug, older.slug]
    assert reads(await sweep(now)) == [newer.slug]
    assert reads(await sweep(now)) == []
    for workspace in (older, newer, unread):
        synced = (await Workspace.get(id=workspace.id)).billing_synced_at
        assert synced is not None and synced > now - reconciliation.STALE_AFTER
    # A day and a half later every workspace of the run is due again: still two a sweep.
    assert len(reads(await sweep(now + 1.5 * DAY))) == 2


async def test_stripe_down_leaves_the_reads_for_the_next_sweep_and_nothing_else(
    billing_settings: Settings,
    make_person: MakePerson,
    stripe_side: StripeSide,
    sweep: Sweep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = stripe_side.fake
    await read_everything_never_read(sweep)
    first, second = [await make_person(name) for name in ("Di", "Ed")]
    one, sub_one = await paying(first, stripe_side, "Down")
    two, _ = await paying(second, stripe_side, "Down")
    await last_read_long_ago(one, two)
    fake.cancel(sub_one)  # its event is lost
    trial_owner = await make_person("Flo")
    trial = await create_workspace(trial_owner, "Trial")
    moment = ending = clock.now()
    # A trial ending in half a day: its reminder is due at this sweep.
    await Workspace.filter(id=trial.id).update(trial_ends_at=moment + DAY / 2)

    fake.failing = True
    try:
        before = len(fake.requests)
        with caplog.at_level(logging.WARNING):
            actions = await sweep(moment)
        called = fake.requests[before:]
    finally:
        fake.failing = False
    assert reads(actions)[:2] == [one.slug, two.slug]
    # One workspace's read tried (with the library's retries), then the rest held back.
    assert {(r.path, r.params.get("customer")) for r in called} == {
        ("/v1/subscriptions", one.stripe_customer_id)
    }
    assert len(called) == 3
    assert f"the billing of workspace {one.id} could not be read from Stripe" in caplog.text
    assert "retention action failed" not in caplog.text
    for workspace in (one, two):
        assert (await Workspace.get(id=workspace.id)).billing_synced_at < ending
    assert mail_kinds(billing_settings, trial_owner.email) == ["trial_ending"]
    assert (await billing_of(first.client))["status"] == "ACTIVE"

    await sweep(moment)
    for workspace in (one, two):
        assert (await Workspace.get(id=workspace.id)).billing_synced_at > ending
    assert (await billing_of(first.client))["status"] == "CANCELLED"
    assert (await billing_of(second.client))["status"] == "ACTIVE"
    assert mail_kinds(billing_settings, trial_owner.email) == ["trial_ending"]


async def retention_cli(
    settings: Settings, fake: FakeStripe, *args: str
) -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LT_")}
    env.update(environment_for(settings.data_dir, settings.database_url.database or ""))
    assert settings.stripe_webhook_secret is not None
    env.update(
        LT_STRIPE_API_KEY=fake.api_key,
        LT_STRIPE_WEBHOOK_SECRET=settings.stripe_webhook_secret,
        LT_STRIPE_API_BASE=fake.url,
        LT_STRIPE_PRICE_STANDARD=PRICE_STANDARD,
        LT_STRIPE_PRICE_BUSINESS=PRICE_BUSINESS,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lightningtrack",
        "retention",
        "run",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode()


async def test_the_retention_command_previews_its_reads_then_makes_them(
    billing_settings: Settings, make_person: MakePerson, stripe_side: StripeSide, sweep: Sweep
) -> None:
    fake = stripe_side.fake
    await read_everything_never_read(sweep)
    owner = await make_person("Gus")
    workspace, subscription = await paying(owner, stripe_side, "Command")
    fake.cancel(subscription)  # its event is lost
    await last_read_long_ago(workspace)
    as_of = (clock.now() + DAY / 24).isoformat()

    before = len(fake.requests)
    code, lines, stderr = await retention_cli(billing_settings, fake, "--as-of", as_of, "--dry-run")
    assert code == 0, stderr
    assert "would do" in lines[0]
    assert f"  {SYNC}: {workspace.slug}" in lines
    assert len(fake.requests) == before  # nothing asked of Stripe
    row = await Workspace.get(id=workspace.id)
    assert (row.status, row.billing_synced_at) == ("ACTIVE", LONG_AGO)

    code, lines, stderr = await retention_cli(billing_settings, fake, "--as-of", as_of)
    assert code == 0, stderr
    assert "did" in lines[0] and f"  {SYNC}: {workspace.slug}" in lines
    row = await Workspace.get(id=workspace.id)
    assert row.status == "CANCELLED" and row.billing_synced_at != LONG_AGO
    assert mail_kinds(billing_settings, owner.email) == sorted(
        ["billing_receipt", "billing_subscription_ended"]
    )
    code, lines, stderr = await retention_cli(billing_settings, fake, "--as-of", as_of)
    assert code == 0, stderr
    assert f"  {SYNC}: {workspace.slug}" not in lines  # read an instant ago
    assert mail_kinds(billing_settings, owner.email) == sorted(
        ["billing_receipt", "billing_subscription_ended"]
    )
