"""Plans, their Stripe prices, and the regions each plan may keep data in."""

from __future__ import annotations

from lightningtrack.errors import BadUserInput
from lightningtrack.models.landlord import Plan, Region
from lightningtrack.settings import Settings

# STANDARD keeps data in the US only; BUSINESS in the EU or the US.
PLAN_REGIONS = {Plan.STANDARD: frozenset({Region.US}), Plan.BUSINESS: frozenset(Region)}


def _prices(settings: Settings) -> dict[Plan, str | None]:
    return {
        Plan.STANDARD: settings.stripe_price_standard,
        Plan.BUSINESS: settings.stripe_price_business,
    }


def price_for(settings: Settings, plan: Plan, field: str = "plan") -> str:
    price = _prices(settings)[plan]
    if price is None:
        raise BadUserInput(f"The {plan.value} plan is not offered on this server.", field=field)
    return price


def plan_for_price(settings: Settings, price_id: str | None) -> Plan | None:
    for plan, price in _prices(settings).items():
        if price is not None and price == price_id:
            return plan
    return None


def check_region(plan: Plan, region: Region, field: str = "plan") -> None:
    """A plan must allow the workspace's region: the workspace never moves to fit a plan."""
    if Region(region) not in PLAN_REGIONS[plan]:
        allowed = [p.value for p, regions in PLAN_REGIONS.items() if Region(region) in regions]
        raise BadUserInput(
            f"The {plan.value} plan keeps data in the US only, and this workspace's data is in "
            f"the {Region(region).value} region; choose {' or '.join(allowed)}.",
            field=field,
        )
