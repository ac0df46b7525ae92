"""The root Mutation type."""

from __future__ import annotations

import strawberry

from lightningtrack.models.landlord import Account as AccountModel
from lightningtrack.resolvers import accounts, sessions, workspaces
from lightningtrack.schema.context import Context, Info
from lightningtrack.schema.inputs import SignInInput, SignUpInput, WorkspaceCreateInput
from lightningtrack.schema.types import Account, AccountPayload, Workspace, WorkspacePayload


async def _start_session(context: Context, account_model: AccountModel) -> None:
    """Replace any session of this browser with a new one (a new id at every sign-in)."""
    if context.session is not None:
        await sessions.end_session(context.session)
    token = await sessions.start_session(
        context.settings, account_model, context.request.headers.get("user-agent")
    )
    context.response.set_cookie(
        context.settings.session_cookie_name,
        token,
        max_age=int(context.settings.session_lifetime.total_seconds()),
        path="/",
        secure=context.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Creates an account and starts a session.")
    async def sign_up(self, info: Info, input: SignUpInput) -> AccountPayload:
        account = await accounts.sign_up(input.name, input.email, input.password)
        await _start_session(info.context, account)
        return AccountPayload(account=Account.from_model(account))

    @strawberry.mutation(description="Starts a session (with a new session id).")
    async def sign_in(self, info: Info, input: SignInInput) -> AccountPayload:
        account = await accounts.authenticate(input.email, input.password)
        await _start_session(info.context, account)
        return AccountPayload(account=Account.from_model(account))

    @strawberry.mutation(description="Ends this session server-side.")
    async def sign_out(self, info: Info) -> bool:
        context = info.context
        if context.session is not None:
            await sessions.end_session(context.session)
        context.response.delete_cookie(
            context.settings.session_cookie_name,
            path="/",
            secure=context.settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )
        return context.session is not None

    @strawberry.mutation(description="Creates a workspace with a database of its own.")
    async def workspace_create(self, info: Info, input: WorkspaceCreateInput) -> WorkspacePayload:
        account = info.context.require_account()
        region = input.region.value if input.region else None
        workspace = await workspaces.create_workspace(
            info.context.settings, account, input.name, input.slug, region
        )
        membership = await workspaces.membership_for_slug(account, workspace.slug)
        return WorkspacePayload(workspace=Workspace.from_membership(membership))
