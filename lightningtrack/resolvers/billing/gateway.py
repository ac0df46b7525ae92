"""The calls to Stripe's API, made with the ``stripe`` library's async client.

Every call goes over ``httpx`` on the running event loop, never blocking it (each loop
keeps one client, built in a thread), and never inside a database transaction: callers
fetch first and write after. ``LT_STRIPE_API_BASE`` points the client elsewhere (a local
fake in the tests). A failure of Stripe becomes a ``StripeUnavailable`` whose message
says so without any detail of the request.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import stripe

from lightningtrack.errors import BillingDisabled, StripeUnavailable
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 20.0
# The library retries connection failures and 409/5xx answers with the same idempotency key.
NETWORK_RETRIES = 2
# Subscriptions listed per customer: a workspace has one live at most, and the newest
# ended ones are the only others that can decide its standing.
LISTED = 10


def require_billing(settings: Settings) -> str:
    if settings.stripe_api_key is None:
        raise BillingDisabled()
    return settings.stripe_api_key


class Stripe:
    """The calls the server makes, on one client."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_customer(self, params: dict[str, Any], idempotency_key: str) -> str:
        customer = await self.client.v1.customers.create_async(
            params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
        return str(customer.id)

    async def delete_customer(self, customer_id: str) -> None:
        """Delete the customer (which ends its subscriptions at once); gone already is fine."""
        try:
            await self.client.v1.customers.delete_async(customer_id)
        except stripe.InvalidRequestError as error:
            if error.code != "resource_missing":
                raise

    async def create_checkout_session(self, params: dict[str, Any]) -> str:
        session = await self.client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        return str(session.url)

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        session = await self.client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": return_url}
        )
        return str(session.url)

    async def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        """A subscription as Stripe has it now, its default payment method and latest
        invoice expanded; None if Stripe does not know it."""
        try:
            found = await self.client.v1.subscriptions.retrieve_async(
                subscription_id, {"expand": ["default_payment_method", "latest_invoice"]}
            )
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing":
                return None
            raise
        return found.to_dict()

    async def newest_subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's newest subscriptions, ended ones included, expanded like
        ``subscription``: what a lost event would have named."""
        page = await self.client.v1.subscriptions.list_async(
            {
                "customer": customer_id,
                "status": "all",
                "limit": LISTED,
                "expand": ["data.default_payment_method", "data.latest_invoice"],
            }
        )
        return [item.to_dict() for item in page.data]

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer with its invoice default payment method expanded; None once deleted."""
        customer = await self.client.v1.customers.retrieve_async(
            customer_id, {"expand": ["invoice_settings.default_payment_method"]}
        )
        found = customer.to_dict()
        return None if found.get("deleted") else found

    async def newest_card(self, customer_id: str) -> dict[str, Any] | None:
        page = await self.client.v1.customers.payment_methods.list_async(
            customer_id, {"type": "card", "limit": 1}
        )
        return page.data[0].to_dict() if page.data else None


class _HTTPXClient(stripe.HTTPXClient):
    """The library's httpx client, sending its form-encoded body as ``content``: it passes
    the encoded string as ``data``, which httpx deprecates (and will refuse)."""

    def _get_request_args_kwargs(self, method: str, url: str, headers: Any, post_data: Any) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return args, kwargs


@dataclass
class _Pooled:
    client: stripe.StripeClient
    http: _HTTPXClient


# One client per event loop and configuration: building one costs tens of milliseconds of
# CPU (its TLS context), and a kept one reuses its connections to Stripe.
_Identity = tuple[str, str | None]  # API key, API base
_pooled: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Identity, _Pooled]] = (
    weakref.WeakKeyDictionary()
)


def _build(key: str, base: str | None) -> _Pooled:
    http = _HTTPXClient(timeout=TIMEOUT_SECONDS)
    client = stripe.StripeClient(
        key,
        http_client=http,
        max_network_retries=NETWORK_RETRIES,
        base_addresses={"api": base} if base else None,
    )
    return _Pooled(client, http)


async def _client(settings: Settings) -> stripe.StripeClient:
    key = require_billing(settings)
    loop = asyncio.get_running_loop()
    clients = _pooled.setdefault(loop, {})
    identity = (key, settings.stripe_api_base)
    pooled = clients.get(identity)
    if pooled is None:
        built = await asyncio.to_thread(_build, key, settings.stripe_api_base)
        pooled = clients.setdefault(identity, built)
        if pooled is not built:  # built twice at once: keep the first
            await built.http.close_async()  # type: ignore[no-untyped-call]
    return pooled.client


async def close() -> None:
    """Close the clients of the running loop (at shutdown)."""
    clients = _pooled.pop(asyncio.get_running_loop(), {})
    for pooled in clients.values():
        await pooled.http.close_async()  # type: ignore[no-untyped-call]
    if clients:
        log.info("closed %d Stripe client(s)", len(clients))


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Stripe]:
    """A conversation with Stripe; ``StripeError`` inside becomes ``StripeUnavailable``."""
    client = await _client(settings)
    try:
        yield Stripe(client)
    except stripe.StripeError as error:
        log.warning(
            "Stripe request failed: %s (%s)",
            type(error).__name__,
            getattr(error, "code", None) or getattr(error, "http_status", None),
        )
        raise StripeUnavailable() from error
