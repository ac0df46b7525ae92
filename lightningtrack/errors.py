"""Application errors. Each carries the GraphQL error code of the contract.

Resolvers raise these; graphql-core copies ``extensions`` from the original exception
onto the GraphQL error, so the code reaches the client without any per-field handling.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    default_message: ClassVar[str] = "Unexpected error."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.extra}


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"
    default_message = "Sign in or use an API key."


class Forbidden(AppError):
    code = "FORBIDDEN"
    default_message = "Your role does not allow this."


class NotFound(AppError):
    code = "NOT_FOUND"
    default_message = "Not found."


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"
    default_message = "Invalid input."

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(message, **extra)


class WorkspaceRequired(AppError):
    code = "WORKSPACE_REQUIRED"
    default_message = "This field needs a workspace: send the X-Workspace header or use an API key."


class Conflict(AppError):
    code = "CONFLICT"
    default_message = "This value is already taken."


class PaymentRequired(AppError):
    code = "PAYMENT_REQUIRED"
    default_message = "This workspace is read-only."


class BillingDisabled(AppError):
    """No Stripe key is configured: billing is off and everything else works."""

    code = "FORBIDDEN"
    default_message = "Billing is not enabled on this server."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, reason="BILLING_DISABLED")


class WorkspaceUnavailable(AppError):
    """The workspace's database could not be reached (refused, missing, out of
    connections); nothing was read or changed, and trying later may work."""

    code = "INTERNAL_SERVER_ERROR"
    default_message = "This workspace's data cannot be reached right now; please try again shortly."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, reason="WORKSPACE_UNAVAILABLE")


class StripeUnavailable(AppError):
    """Stripe failed or could not be reached; nothing was changed, and trying later may work."""

    code = "INTERNAL_SERVER_ERROR"
    default_message = "The payment provider could not be reached; please try again shortly."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, reason="STRIPE_UNAVAILABLE")


class RateLimited(AppError):
    code = "RATE_LIMITED"
    default_message = "Too many requests."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, retryAfter=retry_after)


class QueryTooComplex(AppError):
    code = "QUERY_TOO_COMPLEX"
    default_message = "The query is too complex."


class WorkspaceNotBound(RuntimeError):
    """A workspace model was queried with no workspace database bound to the task.

    Deliberately not an AppError: it is a programming error, reported as
    INTERNAL_SERVER_ERROR, and it never reaches any database.
    """
