"""The mails of billing: receipts, failed payments, the end of a subscription and the
reminder before a cancelled workspace is erased."""

from __future__ import annotations

from datetime import datetime, timedelta

from lightningtrack.resolvers.mail import Mail

# A notice found owed longer than this after what caused it is not sent any more: each
# mail's dedupe key lives only as long as the mail log (30 days), so a later read could
# not tell whether it went out.
CATCH_UP = timedelta(days=14)

# Currencies Stripe counts in whole units (no cents).
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)


def money(amount: int, currency: str) -> str:
    code = currency.upper()
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount:,} {code}"
    return f"{amount / 100:,.2f} {code}"


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def receipt(
    workspace_name: str,
    amount: str,
    period: tuple[datetime, datetime] | None,
    number: str | None,
    invoice_url: str | None,
) -> Mail:
    lines = [f"Thank you: we received {amount} for the workspace {workspace_name}."]
    if period is not None:
        lines.append(f"Period: {_day(period[0])} to {_day(period[1])}.")
    if number:
        lines.append(f"Invoice number: {number}.")
    return Mail(
        "billing_receipt",
        f"Receipt for {workspace_name}: {amount}",
        tuple(lines),
        ("View the invoice", invoice_url) if invoice_url else None,
    )


def payment_failed(
    workspace_name: str,
    amount: str,
    next_attempt: datetime | None,
    billing_url: str,
    stopped: bool = False,
    invoice_url: str | None = None,
) -> Mail:
    """A declined charge; ``stopped``: Stripe gave up on it (or paused the subscription),
    so the workspace is read-only until the invoice is paid."""
    retry = (
        f"We will try again on {_date(next_attempt)}."
        if next_attempt is not None
        else "No further attempt will be made automatically."
    )
    first = f"We could not collect {amount} for the workspace {workspace_name}. {retry}"
    if stopped:
        return Mail(
            "billing_payment_failed",
            f"Payment failed for {workspace_name}: the workspace is read-only",
            (
                first,
                "The workspace is now read-only. Its data is kept: paying the open invoice "
                "makes it fully usable again.",
            ),
            ("Pay the invoice", invoice_url or billing_url),
        )
    return Mail(
        "billing_payment_failed",
        f"Payment failed for {workspace_name}",
        (
            first,
            "Please update the card in the billing settings so that the subscription "
            "continues; until then the workspace stays usable.",
        ),
        ("Update the payment method", billing_url),
    )


def subscription_ended(workspace_name: str, deletion: datetime, billing_url: str) -> Mail:
    return Mail(
        "billing_subscription_ended",
        f"The subscription of {workspace_name} has ended",
        (
            f"The subscription of the workspace {workspace_name} has ended and the workspace "
            "is now read-only.",
            f"Its data will be permanently deleted on {_date(deletion)}. Subscribing again "
            "before then restores everything; you can also export the data until then.",
        ),
        ("Choose a plan", billing_url),
    )


def cancellation_reminder(workspace_name: str, deletion: datetime, billing_url: str) -> Mail:
    return Mail(
        "billing_cancellation_reminder",
        f"{workspace_name} will be deleted on {_date(deletion)}",
        (
            f"The subscription of the workspace {workspace_name} was cancelled, and its data "
            f"will be permanently deleted on {_date(deletion)}.",
            "Subscribe again before then to keep it, or export the data if you want a copy.",
        ),
        ("Choose a plan", billing_url),
    )
