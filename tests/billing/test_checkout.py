"""Checkout and the portal: who may ask, what Stripe is asked, the plan and region rules,
billing switched off, Stripe down, and one workspace's billing out of another's reach."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lightningtrack.app import create_app
from lightningtrack.errors import BadUserInput
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Plan, Region, Role, StripeEvent, Workspace
from lightningtrack.resolvers.billing import plans
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.billing.conftest import (
    BILLING,
    CHECKOUT,
    PORTAL,
    PRICE_STANDARD,
    StripeSide,
    billing_of,
    checkout,
)
from tests.conftest import BACKEND, WORKSPACE_CREATE, Client, signed_up, unique, with_workspace
from tests.integrators.conftest import create_key, join, key_client


def code(error: dict[str, Any]) -> str:
    return str(error["extensions"]["code"])


async def test_only_owners_open_checkout_and_the_portal_every_member_reads_billing(
    make_client: Any, owner: Client, stripe_side: StripeSide
) -> None:
    await stripe_side.deliver_all(stripe_side.fake.complete_checkout(await checkout(owner)))
    for role in (Role.GUEST, Role.MEMBER, Role.ADMIN):
        member = await join(make_client, owner, role)
        assert (await billing_of(member))["status"] == "ACTIVE"
        for mutation, variables in ((CHECKOUT, {"plan": "BUSINESS"}), (PORTAL, None)):
            assert code(await member.error(mutation, variables)) == "FORBIDDEN", role
    secret, _ = await create_key(owner, ["READ", "WRITE", "ADMIN"])
    integrator = key_client(make_client, secret)
    assert (await integrator.gql(BILLING))["billing"]["plan"] == "BUSINESS"
    assert code(await integrator.error(PORTAL)) == "FORBIDDEN"


async def test_what_checkout_asks_stripe_for(
    billing_settings: Settings, owner: Client, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    session_id = await checkout(owner, "STANDARD")
    row = await Workspace.get(slug=owner.workspace)
    session = fake.sessions[session_id]
    assert session["customer"] == row.stripe_customer_id
    assert session["client_reference_id"] == str(row.id)
    assert session["_line_items"] == [{"price": PRICE_STANDARD, "quantity": "1"}]
    assert session["_subscription_metadata"] == {"workspace_id": str(row.id), "plan": "STANDARD"}
    success = urlsplit(session["success_url"])
    assert f"{success.scheme}://{success.netloc}" == billing_settings.public_url
    assert "{CHECKOUT_SESSION_ID}" in session["success_url"]
    [request] = [r for r in fake.requests if r.path == "/v1/checkout/sessions"][-1:]
    assert request.api_version  # the library pins Stripe's API version on every call


async def test_portal_needs_a_customer_and_checkout_refuses_a_second_subscription(
    owner: Client, stripe_side: StripeSide
) -> None:
    error = await owner.error(PORTAL)
    assert code(error) == "CONFLICT" and "choose a plan" in error["message"]
    await stripe_side.deliver_all(stripe_side.fake.complete_checkout(await checkout(owner)))
    error = await owner.error(CHECKOUT, {"plan": "STANDARD"})
    assert code(error) == "CONFLICT" and "billing portal" in error["message"]
    url = (await owner.gql(PORTAL))["billingPortalSessionCreate"]["url"]
    assert urlsplit(url).netloc == "billing.stripe.com"
    [request] = [r for r in stripe_side.fake.requests if r.path == "/v1/billing_portal/sessions"][
        -1:
    ]
    row = await Workspace.get(slug=owner.workspace)
    assert request.params["customer"] == row.stripe_customer_id


async def test_a_workspace_scheduled_for_deletion_cannot_check_out(owner: Client) -> None:
    await owner.gql(
        "mutation($s: String!) { workspaceDelete(confirmSlug: $s) { workspace { status } } }",
        {"s": owner.workspace},
    )
    assert code(await owner.error(CHECKOUT, {"plan": "BUSINESS"})) == "CONFLICT"


@pytest.mark.skipif(BACKEND != "sqlite", reason="two PostgreSQL regions: see test_regions")
async def test_standard_cannot_be_bought_for_an_eu_workspace(owner: Client) -> None:
    slug = unique("eu")
    data = await owner.gql(
        WORKSPACE_CREATE, {"input": {"name": "Europe", "slug": slug, "region": "EU"}}
    )
    assert data["workspaceCreate"]["workspace"]["slug"] == slug
    error = await owner.error(CHECKOUT, {"plan": "STANDARD"}, workspace=slug)
    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "plan"
    assert "EU" in error["message"] and "BUSINESS" in error["message"]
    assert (await Workspace.get(slug=slug)).stripe_customer_id is None
    assert await checkout(Client(owner.http, slug), "BUSINESS")


def test_plan_rules(billing_settings: Settings) -> None:
    assert plans.price_for(billing_settings, Plan.STANDARD) == PRICE_STANDARD
    unpriced = dataclasses.replace(billing_settings, stripe_price_business=None)
    with pytest.raises(BadUserInput) as refused:
        plans.price_for(unpriced, Plan.BUSINESS)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "plan"}
    assert plans.plan_for_price(billing_settings, PRICE_STANDARD) is Plan.STANDARD
    assert plans.plan_for_price(billing_settings, "price_unknown") is None
    plans.check_region(Plan.BUSINESS, Region.EU)
    plans.check_region(Plan.STANDARD, Region.US)
    with pytest.raises(BadUserInput):
        plans.check_region(Plan.STANDARD, Region.EU)


async def test_another_workspace_cannot_see_or_buy_for_this_one(
    owner: Client, other_workspace: Client, stripe_side: StripeSide
) -> None:
    await stripe_side.deliver_all(stripe_side.fake.complete_checkout(await checkout(owner)))
    for query, variables in ((BILLING, None), (CHECKOUT, {"plan": "BUSINESS"}), (PORTAL, None)):
        error = await other_workspace.error(query, variables, workspace=owner.workspace)
        assert code(error) == "NOT_FOUND"
    theirs = await billing_of(other_workspace)
    assert theirs["status"] == "TRIALING" and theirs["plan"] is None
    assert (await Workspace.get(slug=other_workspace.workspace)).stripe_customer_id is None


async def test_stripe_down_is_a_clear_error_and_events_wait_for_its_return(
    owner: Client, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    session = await checkout(owner)
    events = fake.complete_checkout(session)
    fake.failing = True
    try:
        error = await owner.error(PORTAL)
        assert code(error) == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["reason"] == "STRIPE_UNAVAILABLE"
        assert "try again" in error["message"]
        [paid] = [e for e in events if e["type"] == "invoice.paid"]
        response = await stripe_side.deliver(paid)
        assert response.status_code == 503
        assert not await StripeEvent.exists(id=paid["id"])
        assert (await billing_of(owner))["status"] == "TRIALING"
    finally:
        fake.failing = False
    await stripe_side.deliver_all(events)  # Stripe's retries
    assert (await billing_of(owner))["status"] == "ACTIVE"


@pytest.fixture
async def unbilled(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> Any:  # the app with no Stripe key at all
    assert settings.stripe_api_key is None
    app = create_app(settings, tenancy, jobs)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:
        yield http


async def test_billing_off_answers_clearly_and_the_rest_works(unbilled: httpx.AsyncClient) -> None:
    def make() -> Client:
        return Client(unbilled)

    client = await signed_up(make, "Nia")
    await with_workspace(client)
    billing = await billing_of(client)
    assert billing["status"] == "TRIALING" and billing["plan"] is None
    for mutation, variables in ((CHECKOUT, {"plan": "BUSINESS"}), (PORTAL, None)):
        error = await client.error(mutation, variables)
        assert code(error) == "FORBIDDEN"
        assert error["extensions"]["reason"] == "BILLING_DISABLED"
        assert error["message"] == "Billing is not enabled on this server."
    await client.gql(
        "mutation($i: ProjectCreateInput!) { projectCreate(input: $i) { project { id } } }",
        {"i": {"key": "OFF", "name": "Still works"}},
    )
    response = await unbilled.post("/webhooks/stripe", content=b"{}")
    assert response.status_code == 404
