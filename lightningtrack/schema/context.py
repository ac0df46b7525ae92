"""The per-request context: who is asking, and which workspace the request is bound to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import strawberry

from lightningtrack.errors import AppError, Forbidden, Unauthenticated, WorkspaceRequired
from lightningtrack.schema.loaders import Loaders

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from lightningtrack.jobs.runner import Runner
    from lightningtrack.models.landlord import Account, ApiKey, Membership, Session, Workspace
    from lightningtrack.resolvers.ratelimit import RateLimiter
    from lightningtrack.settings import Settings
    from lightningtrack.tenancy.runtime import Tenancy


@dataclass
class Context:
    request: Request
    response: Response
    settings: Settings
    tenancy: Tenancy
    jobs: Runner
    limiter: RateLimiter
    request_id: str
    session: Session | None = None
    api_key: ApiKey | None = None
    account: Account | None = None
    membership: Membership | None = None
    # Why the request has no workspace although it asked for one (bad slug, no sign-in).
    workspace_error: AppError | None = None
    auth_error: AppError | None = None
    # Set when the request is over its rate limit: the whole request is refused.
    rate_error: AppError | None = None
    # The executed operation's name, from the document when the request names none.
    operation_name: str | None = None
    loaders: Loaders = field(default_factory=Loaders)

    @property
    def workspace(self) -> Workspace | None:
        return self.membership.workspace if self.membership else None

    def require_account(self) -> Account:
        if self.auth_error is not None:
            raise self.auth_error
        if self.account is None:
            raise Unauthenticated()
        return self.account

    @property
    def client_ip(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    def require_session(self) -> Account:
        """The signed-in account, for what an API key may not do (account-level changes)."""
        account = self.require_account()
        if self.api_key is not None:
            raise Forbidden("This needs a signed-in session, not an API key.")
        return account

    def require_membership(self) -> Membership:
        self.require_account()
        if self.workspace_error is not None:
            raise self.workspace_error
        if self.membership is None:
            raise WorkspaceRequired()
        return self.membership


Info = strawberry.Info[Context, None]
