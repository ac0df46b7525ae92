"""A local stand-in for Stripe's API: a real HTTP server on a free loopback port.

It answers the endpoints the server calls (customers, checkout and portal sessions, a
subscription, a customer's subscriptions and payment methods) with Stripe's object
shapes, keeps what it was asked in ``requests`` (with the idempotency key), and replays
an answer for a repeated idempotency key as Stripe does. Tests play the customer's part
with ``complete_checkout``, ``change_card``, ``fail_renewal``, ``recover``, ``cancel`` and
the like: each changes the state as Stripe would and returns the events Stripe would
send, for the test to sign and deliver in whatever order it likes (or to lose).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lightningtrack import clock

API_VERSION = "2026-10-28.endive"
PERIOD = timedelta(days=30)
RETRY_AFTER = timedelta(days=3)
Event = dict[str, Any]


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _now() -> int:
    # The app's clock: tests freeze it at the dates the story happens on.
    return int(clock.now().timestamp())


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"([^\[\]]+)|\[([^\[\]]*)\]", key)
        path = [a or b for a, b in parts]
        node: dict[str, Any] = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        last = path[-1]
        if last == "":  # expand[]=x
            node.setdefault("", []).append(value)
        else:
            node[last] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "" in value and len(value) == 1:
        return [_lists(v) for v in value[""]]
    if value and all(k.isdigit() for k in value):
        return [_lists(value[k]) for k in sorted(value, key=int)]
    return {k: _lists(v) for k, v in value.items()}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    api_version: str | None


class StripeFailure(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body


def _missing(kind: str, key: str) -> StripeFailure:
    return StripeFailure(
        404,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{key}'",
                "param": "id",
            }
        },
    )


@dataclass
class FakeStripe:
    api_key: str
    prices: dict[str, tuple[int, str]]  # price id: (unit amount, currency)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # Events caused by API calls (deleting a customer), waiting for the test to deliver.
    pending_events: list[Event] = field(default_factory=list)
    # When set, every API call answers 500, as an outage would.
    failing: bool = False
    # Called with each request as it arrives, on the server's thread.
    observer: Callable[[Request], None] | None = None
    # (method, path): released when set; the answer is computed, then held until then.
    holds: dict[tuple[str, str], threading.Event] = field(default_factory=dict)
    _idempotent: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None
    _invoice_numbers: int = 0

    # The HTTP side.

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                pairs = parse_qsl(parts.query if method in ("GET", "DELETE") else body)
                status, answer = fake.handle(
                    method,
                    parts.path,
                    decode_form(pairs),
                    self.headers.get("authorization"),
                    self.headers.get("idempotency-key"),
                    self.headers.get("stripe-version"),
                )
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.send_header("request-id", _id("req"))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_DELETE(self) -> None:
                self._answer("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def hold(self, method: str, path: str) -> threading.Event:
        """The next ``method path`` is answered with the state it finds, but only once the
        returned event is set: a slow read, overtaken by whatever happens meanwhile."""
        release = threading.Event()
        with self._lock:
            self.holds[(method, path)] = release
        return release

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        authorization: str | None,
        idempotency_key: str | None,
        version: str | None,
    ) -> tuple[int, dict[str, Any]]:
        request = Request(method, path, params, idempotency_key, version)
        if self.observer is not None:
            self.observer(request)
        answer = self._answer(request, authorization)
        with self._lock:
            release = self.holds.pop((method, path), None)
        if release is not None:
            release.wait(30)
        return answer

    def _answer(self, request: Request, authorization: str | None) -> tuple[int, dict[str, Any]]:
        method, path, params = request.method, request.path, request.params
        idempotency_key = request.idempotency_key
        with self._lock:
            self.requests.append(request)
            if authorization != f"Bearer {self.api_key}":
                return 401, {
                    "error": {"type": "invalid_request_error", "message": "Invalid API Key"}
                }
            if self.failing:
                return 500, {"error": {"type": "api_error", "message": "Something went wrong"}}
            if method == "POST" and idempotency_key:
                seen = self._idempotent.get(idempotency_key)
                fingerprint = json.dumps([path, params], sort_keys=True)
                if seen is not None:
                    if seen[0] != fingerprint:
                        return 400, {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used "
                                "with the same parameters they were first used with.",
                            }
                        }
                    return seen[1], copy.deepcopy(seen[2])
            try:
                status, answer = 200, self._route(method, path, params)
            except StripeFailure as failure:
                status, answer = failure.status, failure.body
            if method == "POST" and idempotency_key:
                fingerprint = json.dumps([path, params], sort_keys=True)
                self._idempotent[idempotency_key] = (fingerprint, status, copy.deepcopy(answer))
            return status, answer

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        expand = params.get("expand") or []
        if method == "POST" and path == "/v1/customers":
            return self._create_customer(params)
        match = re.fullmatch(r"/v1/customers/([^/]+)", path)
        if match and method == "GET":
            return self._customer(match[1], expand)
        if match and method == "DELETE":
            return self._delete_customer(match[1])
        match = re.fullmatch(r"/v1/customers/([^/]+)/payment_methods", path)
        if match and method == "GET":
            return self._customer_cards(match[1], int(params.get("limit") or 10))
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_session(params)
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self._create_portal(params)
        if method == "GET" and path == "/v1/subscriptions":
            return self._list_subscriptions(params, expand)
        match = re.fullmatch(r"/v1/subscriptions/([^/]+)", path)
        if match and method == "GET":
            return self._subscription(match[1], expand)
        raise StripeFailure(
            404,
            {"error": {"type": "invalid_request_error", "message": f"Unrecognized {path}"}},
        )

    # Endpoints.

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": _id("cus"),
            "object": "customer",
            "created": _now(),
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata") or {},
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
            },
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return copy.deepcopy(customer)

    def _live_customer(self, customer_id: str) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None or customer.get("deleted"):
            raise _missing("customer", customer_id)
        return customer

    def _customer(self, customer_id: str, expand: list[str]) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise _missing("customer", customer_id)
        found = copy.deepcopy(customer)
        settings = found.get("invoice_settings") or {}
        method = settings.get("default_payment_method")
        if "invoice_settings.default_payment_method" in expand and method:
            settings["default_payment_method"] = copy.deepcopy(self.payment_methods[method])
        return found

    def _delete_customer(self, customer_id: str) -> dict[str, Any]:
        customer = self._live_customer(customer_id)
        now = _now()
        for subscription in self.subscriptions.values():
            if subscription["customer"] == customer_id and subscription["status"] != "canceled":
                subscription.update(status="canceled", canceled_at=now, ended_at=now)
                self.pending_events.append(
                    self.event("customer.subscription.deleted", subscription)
                )
        self.customers[customer_id] = {"id": customer_id, "object": "customer", "deleted": True}
        self.pending_events.append(self.event("customer.deleted", customer))
        return {"id": customer_id, "object": "customer", "deleted": True}

    def _customer_cards(self, customer_id: str, limit: int) -> dict[str, Any]:
        self._live_customer(customer_id)
        cards = [m for m in self.payment_methods.values() if m.get("customer") == customer_id]
        cards.sort(key=lambda m: (m["created"], m["id"]), reverse=True)
        return self._list(f"/v1/customers/{customer_id}/payment_methods", cards[:limit])

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        self._live_customer(str(params.get("customer")))
        items = params.get("line_items") or []
        if params.get("mode") != "subscription" or not items:
            raise StripeFailure(
                400, {"error": {"type": "invalid_request_error", "message": "Bad session"}}
            )
        for item in items:
            if item.get("price") not in self.prices:
                raise _missing("price", str(item.get("price")))
        session_id = _id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "created": _now(),
            "mode": "subscription",
            "status": "open",
            "payment_status": "unpaid",
            "customer": params["customer"],
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "subscription": None,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "livemode": False,
            # Not part of Stripe's answer; kept to build the subscription from.
            "_line_items": items,
            "_subscription_metadata": (params.get("subscription_data") or {}).get("metadata"),
        }
        self.sessions[session_id] = session
        return self._public(session)

    def _create_portal(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = self._live_customer(str(params.get("customer")))
        portal_id = _id("bps")
        return {
            "id": portal_id,
            "object": "billing_portal.session",
            "created": _now(),
            "customer": customer["id"],
            "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/{portal_id}",
            "livemode": False,
        }

    def _list_subscriptions(self, params: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        """Newest first; without ``status=all`` the ended ones are left out, as Stripe does."""
        customer, status = params.get("customer"), params.get("status")
        found = [
            s
            for s in self.subscriptions.values()
            if (customer is None or s["customer"] == customer)
            and (status == "all" or s["status"] != "canceled")
        ]
        found.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
        found = found[: int(params.get("limit") or 10)]
        inner = [e.removeprefix("data.") for e in expand if e.startswith("data.")]
        return self._list("/v1/subscriptions", [self._subscription(s["id"], inner) for s in found])

    def _subscription(self, subscription_id: str, expand: list[str]) -> dict[str, Any]:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise _missing("subscription", subscription_id)
        found = copy.deepcopy(subscription)
        method = found.get("default_payment_method")
        if "default_payment_method" in expand and method:
            found["default_payment_method"] = copy.deepcopy(self.payment_methods[method])
        invoice = found.get("latest_invoice")
        if "latest_invoice" in expand and invoice:
            found["latest_invoice"] = copy.deepcopy(self.invoices[invoice])
        return found

    @staticmethod
    def _list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
        return {"object": "list", "data": data, "has_more": False, "url": url}

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    # The customer's part, played by tests.

    def event(
        self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> Event:
        data: dict[str, Any] = {"object": self._public(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        return {
            "id": _id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": _now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

    def _attach_card(self, customer_id: str, last4: str) -> dict[str, Any]:
        method = {
            "id": _id("pm"),
            "object": "payment_method",
            "type": "card",
            "created": _now(),
            "customer": customer_id,
            "billing_details": {"email": None, "name": None},
            "card": {
                "brand": "visa",
                "last4": last4,
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "country": "US",
            },
            "livemode": False,
        }
        self.payment_methods[method["id"]] = method
        return method

    def _invoice(
        self, subscription: dict[str, Any], start: int, end: int, paid: bool
    ) -> dict[str, Any]:
        price = subscription["items"]["data"][0]["price"]
        amount = int(price["unit_amount"])
        self._invoice_numbers += 1
        invoice_id = _id("in")
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "created": _now(),
            "customer": subscription["customer"],
            "currency": price["currency"],
            "status": "paid" if paid else "open",
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "amount_remaining": 0 if paid else amount,
            "attempt_count": 1,
            "attempted": True,
            "next_payment_attempt": None if paid else _now() + int(RETRY_AFTER.total_seconds()),
            "status_transitions": {
                "finalized_at": _now(),
                "paid_at": _now() if paid else None,
                "voided_at": None,
            },
            "number": f"LT{self._invoice_numbers:06d}",
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
            "billing_reason": "subscription_cycle",
            "period_start": start,
            "period_end": start,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": subscription["metadata"],
                },
            },
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": _id("il"),
                        "object": "line_item",
                        "amount": amount,
                        "currency": price["currency"],
                        "description": f"1 x LightningTrack ({price['id']})",
                        "period": {"start": start, "end": end},
                        "quantity": 1,
                    }
                ],
                "has_more": False,
            },
            "livemode": False,
        }
        self.invoices[invoice_id] = invoice
        subscription["latest_invoice"] = invoice_id
        return invoice

    def complete_checkout(self, session_id: str, last4: str = "4242") -> list[Event]:
        """The customer pays on the Checkout page: a card, an active subscription, a paid
        first invoice, and the events Stripe sends for them, in Stripe's order."""
        with self._lock:
            session = self.sessions[session_id]
            customer_id = session["customer"]
            method = self._attach_card(customer_id, last4)
            now = _now()
            end = now + int(PERIOD.total_seconds())
            subscription_id = _id("sub")
            items = []
            for line in session["_line_items"]:
                amount, currency = self.prices[line["price"]]
                items.append(
                    {
                        "id": _id("si"),
                        "object": "subscription_item",
                        "created": now,
                        "current_period_start": now,
                        "current_period_end": end,
                        "quantity": int(line.get("quantity") or 1),
                        "subscription": subscription_id,
                        "price": {
                            "id": line["price"],
                            "object": "price",
                            "currency": currency,
                            "unit_amount": amount,
                            "recurring": {"interval": "month", "interval_count": 1},
                            "product": "prod_lightningtrack",
                        },
                    }
                )
            subscription = {
                "id": subscription_id,
                "object": "subscription",
                "created": now,
                "start_date": now,
                "customer": customer_id,
                "status": "active",
                "currency": items[0]["price"]["currency"],
                "cancel_at_period_end": False,
                "cancel_at": None,
                "canceled_at": None,
                "ended_at": None,
                "default_payment_method": method["id"],
                "items": {"object": "list", "data": items, "has_more": False},
                "metadata": session["_subscription_metadata"] or {},
                "latest_invoice": None,
                "livemode": False,
            }
            self.subscriptions[subscription_id] = subscription
            invoice = self._invoice(subscription, now, end, paid=True)
            session.update(status="complete", payment_status="paid", subscription=subscription_id)
            return [
                self.event("customer.subscription.created", subscription),
                self.event("payment_method.attached", method),
                self.event("invoice.created", invoice),
                self.event("invoice.finalized", invoice),
                self.event("invoice.paid", invoice),
                self.event("invoice.payment_succeeded", invoice),
                self.event("checkout.session.completed", session),
            ]

    def change_card(self, customer_id: str, last4: str) -> list[Event]:
        """A new card in the customer portal: attached, made the default of the customer
        and of its live subscriptions."""
        with self._lock:
            method = self._attach_card(customer_id, last4)
            customer = self.customers[customer_id]
            previous = copy.deepcopy(customer["invoice_settings"])
            customer["invoice_settings"]["default_payment_method"] = method["id"]
            events = [
                self.event("payment_method.attached", method),
                self.event("customer.updated", customer, {"invoice_settings": previous}),
            ]
            for subscription in self.subscriptions.values():
                if subscription["customer"] == customer_id and subscription["status"] != "canceled":
                    old = subscription["default_payment_method"]
                    subscription["default_payment_method"] = method["id"]
                    events.append(
                        self.event(
                            "customer.subscription.updated",
                            subscription,
                            {"default_payment_method": old},
                        )
                    )
            return events

    def fail_renewal(self, subscription_id: str) -> list[Event]:
        """The next period starts and its charge is declined: an open invoice, the
        subscription past due."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            item = subscription["items"]["data"][0]
            start = item["current_period_end"]
            end = start + int(PERIOD.total_seconds())
            for each in subscription["items"]["data"]:
                each.update(current_period_start=start, current_period_end=end)
            invoice = self._invoice(subscription, start, end, paid=False)
            subscription["status"] = "past_due"
            return [
                self.event("invoice.created", invoice),
                self.event("invoice.finalized", invoice),
                self.event("invoice.payment_failed", invoice),
                self.event("customer.subscription.updated", subscription, {"status": "active"}),
            ]

    def recover(self, subscription_id: str) -> list[Event]:
        """A retry of the open invoice succeeds: paid, and the subscription active again."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            invoice = self.invoices[subscription["latest_invoice"]]
            invoice.update(
                status="paid",
                amount_paid=invoice["amount_due"],
                amount_remaining=0,
                attempt_count=invoice["attempt_count"] + 1,
                next_payment_attempt=None,
            )
            invoice["status_transitions"]["paid_at"] = _now()
            subscription["status"] = "active"
            return [
                self.event("invoice.paid", invoice),
                self.event("invoice.payment_succeeded", invoice),
                self.event("customer.subscription.updated", subscription, {"status": "past_due"}),
            ]

    def exhaust_retries(self, subscription_id: str) -> list[Event]:
        """The last retry of the open invoice is declined too, and the account's settings
        mark the subscription unpaid instead of cancelling it."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            invoice = self.invoices[subscription["latest_invoice"]]
            invoice.update(attempt_count=invoice["attempt_count"] + 1, next_payment_attempt=None)
            previous = subscription["status"]
            subscription["status"] = "unpaid"
            return [
                self.event("invoice.payment_failed", invoice),
                self.event("customer.subscription.updated", subscription, {"status": previous}),
            ]

    def pause(self, subscription_id: str) -> list[Event]:
        """Stripe pauses the subscription (on a payment failure, or asked to): no invoices
        until it resumes."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            previous = subscription["status"]
            subscription["status"] = "paused"
            return [
                self.event("customer.subscription.paused", subscription),
                self.event("customer.subscription.updated", subscription, {"status": previous}),
            ]

    def resume(self, subscription_id: str) -> list[Event]:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = "active"
            return [
                self.event("customer.subscription.resumed", subscription),
                self.event("customer.subscription.updated", subscription, {"status": "paused"}),
            ]

    def cancel(self, subscription_id: str) -> list[Event]:
        """The customer cancels in the portal, effective at once."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            now = _now()
            subscription.update(status="canceled", canceled_at=now, ended_at=now)
            return [self.event("customer.subscription.deleted", subscription)]

    def set_to_end(self, subscription_id: str, legacy: bool = False) -> list[Event]:
        """The customer cancels in the portal at the period's end: the subscription stays
        live until then. ``legacy``: the shape of API versions before 2025-03-31, which
        leave ``cancel_at`` null."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            end = max(i["current_period_end"] for i in subscription["items"]["data"])
            previous = {"cancel_at_period_end": False, "cancel_at": subscription["cancel_at"]}
            subscription.update(
                cancel_at_period_end=True,
                cancel_at=None if legacy else end,
                canceled_at=_now(),
            )
            return [self.event("customer.subscription.updated", subscription, previous)]

    def keep(self, subscription_id: str) -> list[Event]:
        """The customer renews a subscription that was set to end."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            previous = {"cancel_at_period_end": True, "cancel_at": subscription["cancel_at"]}
            subscription.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
            return [self.event("customer.subscription.updated", subscription, previous)]

    def reach_period_end(self, subscription_id: str) -> list[Event]:
        """A subscription set to end reaches its period's end: Stripe ends it."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            assert subscription["cancel_at_period_end"] or subscription["cancel_at"]
            end = subscription["cancel_at"] or max(
                i["current_period_end"] for i in subscription["items"]["data"]
            )
            subscription.update(status="canceled", ended_at=end)
            return [self.event("customer.subscription.deleted", subscription)]

    def subscription_of(self, customer_id: str) -> dict[str, Any]:
        with self._lock:
            found = [s for s in self.subscriptions.values() if s["customer"] == customer_id]
            return copy.deepcopy(max(found, key=lambda s: s["created"]))

    def created_customers(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path == "/v1/customers"]


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it: ``t=<unix>,v1=<hex>``, the HMAC
    SHA-256 of ``"<t>.<payload>"`` with the endpoint's secret."""
    moment = int(time.time()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"
