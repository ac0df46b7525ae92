"""The root Mutation type."""

from __future__ import annotations

import strawberry

from lightningtrack.errors import Unauthenticated
from lightningtrack.models.landlord import Account as AccountModel
from lightningtrack.resolvers import (
    accounts,
    comments,
    issues,
    projects,
    sessions,
    time_entries,
    workspaces,
)
from lightningtrack.schema.billing import BillingMutation
from lightningtrack.schema.context import Context, Info
from lightningtrack.schema.email_sources import EmailSourceMutation
from lightningtrack.schema.inputs import (
    CommentCreateInput,
    IssueCreateInput,
    IssueUpdateInput,
    ProjectCreateInput,
    ProjectUpdateInput,
    SignInInput,
    SignUpInput,
    TimeEntryCreateInput,
    TimeEntryUpdateInput,
    WorkspaceCreateInput,
    provided,
)
from lightningtrack.schema.privacy import PrivacyMutation
from lightningtrack.schema.settings import SettingsMutation
from lightningtrack.schema.team import TeamMutation
from lightningtrack.schema.tracking import Comment, DeletePayload, Issue, Project, TimeEntry
from lightningtrack.schema.types import Account, AccountPayload, Workspace, WorkspacePayload
from lightningtrack.schema.webhooks import WebhookMutation


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
class AccountMutation:
    @strawberry.mutation(description="Creates an account and starts a session.")
    async def sign_up(self, info: Info, input: SignUpInput) -> AccountPayload:
        account = await accounts.sign_up(input.name, input.email, input.password)
        await accounts.send_registration(info.context.settings, account)
        await _start_session(info.context, account)
        return AccountPayload(account=Account.from_model(account))

    @strawberry.mutation(description="Starts a session (with a new session id).")
    async def sign_in(self, info: Info, input: SignInInput) -> AccountPayload:
        context = info.context
        email_key = input.email.strip().casefold()[:320]
        await context.limiter.before_sign_in(email_key, context.client_ip)
        try:
            account = await accounts.authenticate(input.email, input.password)
        except Unauthenticated:
            await context.limiter.sign_in_failed(email_key, context.client_ip)
            raise
        await context.limiter.sign_in_succeeded(email_key)
        await _start_session(context, account)
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
        account = info.context.require_session()
        region = input.region.value if input.region else None
        workspace = await workspaces.create_workspace(
            info.context.settings, account, input.name, input.slug, region
        )
        membership = await workspaces.membership_for_slug(account, workspace.slug)
        return WorkspacePayload(workspace=Workspace.from_membership(membership))


@strawberry.type
class ProjectPayload:
    project: Project


@strawberry.type
class IssuePayload:
    issue: Issue


@strawberry.type
class CommentPayload:
    comment: Comment


@strawberry.type
class TimeEntryPayload:
    time_entry: TimeEntry


@strawberry.type
class TrackingMutation:
    @strawberry.mutation
    async def project_create(self, info: Info, input: ProjectCreateInput) -> ProjectPayload:
        membership = info.context.require_membership()
        project = await projects.create(membership, input.key, input.name, input.description)
        return ProjectPayload(project=Project.from_model(project))

    @strawberry.mutation
    async def project_update(
        self, info: Info, id: strawberry.ID, input: ProjectUpdateInput
    ) -> ProjectPayload:
        membership = info.context.require_membership()
        project = await projects.update(membership, id, provided(input))
        return ProjectPayload(project=Project.from_model(project))

    @strawberry.mutation(description="Deletes the project with its issues, comments and time.")
    async def project_delete(self, info: Info, id: strawberry.ID) -> DeletePayload:
        membership = info.context.require_membership()
        return DeletePayload(deleted_id=strawberry.ID(await projects.delete(membership, id)))

    @strawberry.mutation
    async def issue_create(self, info: Info, input: IssueCreateInput) -> IssuePayload:
        membership = info.context.require_membership()
        issue = await issues.create(membership, provided(input))
        return IssuePayload(issue=Issue.from_model(issue, info.context.loaders))

    @strawberry.mutation
    async def issue_update(
        self, info: Info, id: strawberry.ID, input: IssueUpdateInput
    ) -> IssuePayload:
        membership = info.context.require_membership()
        issue = await issues.update(membership, id, provided(input))
        return IssuePayload(issue=Issue.from_model(issue, info.context.loaders))

    @strawberry.mutation
    async def issue_delete(self, info: Info, id: strawberry.ID) -> DeletePayload:
        membership = info.context.require_membership()
        return DeletePayload(deleted_id=strawberry.ID(await issues.delete(membership, id)))

    @strawberry.mutation
    async def comment_create(self, info: Info, input: CommentCreateInput) -> CommentPayload:
        membership = info.context.require_membership()
        comment = await comments.create(membership, input.issue_id, input.body)
        return CommentPayload(comment=Comment.from_model(comment, info.context.loaders))

    @strawberry.mutation
    async def comment_update(self, info: Info, id: strawberry.ID, body: str) -> CommentPayload:
        membership = info.context.require_membership()
        comment = await comments.update(membership, id, body)
        return CommentPayload(comment=Comment.from_model(comment, info.context.loaders))

    @strawberry.mutation
    async def comment_delete(self, info: Info, id: strawberry.ID) -> DeletePayload:
        membership = info.context.require_membership()
        return DeletePayload(deleted_id=strawberry.ID(await comments.delete(membership, id)))

    @strawberry.mutation
    async def time_entry_create(self, info: Info, input: TimeEntryCreateInput) -> TimeEntryPayload:
        membership = info.context.require_membership()
        entry = await time_entries.create(membership, provided(input))
        return TimeEntryPayload(time_entry=TimeEntry.from_model(entry, info.context.loaders))

    @strawberry.mutation
    async def time_entry_update(
        self, info: Info, id: strawberry.ID, input: TimeEntryUpdateInput
    ) -> TimeEntryPayload:
        membership = info.context.require_membership()
        entry = await time_entries.update(membership, id, provided(input))
        return TimeEntryPayload(time_entry=TimeEntry.from_model(entry, info.context.loaders))

    @strawberry.mutation
    async def time_entry_delete(self, info: Info, id: strawberry.ID) -> DeletePayload:
        membership = info.context.require_membership()
        return DeletePayload(deleted_id=strawberry.ID(await time_entries.delete(membership, id)))


@strawberry.type
class Mutation(
    AccountMutation,
    TrackingMutation,
    PrivacyMutation,
    TeamMutation,
    BillingMutation,
    SettingsMutation,
    WebhookMutation,
    EmailSourceMutation,
):
    pass
