"""Privacy operations: exports and access reports, rectification, erasure, password reset."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from lightningtrack.errors import NotFound
from lightningtrack.models import landlord
from lightningtrack.resolvers import accounts, erasure, exports
from lightningtrack.resolvers.effects import defer
from lightningtrack.schema.context import Info
from lightningtrack.schema.types import Account, AccountPayload, Node, Workspace, WorkspacePayload

JobStatus = landlord.JobStatus
DataExportKind = landlord.DataExportKind
for _enum in (JobStatus, DataExportKind):
    strawberry.enum(_enum)


@strawberry.type(name="DataExport")
class DataExport(Node):
    kind: DataExportKind
    status: JobStatus
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None
    download_url: str | None = strawberry.field(
        description="Absolute, signed and expiring; set once SUCCEEDED."
    )

    @classmethod
    def from_model(cls, info: Info, export: landlord.DataExport) -> Self:
        return cls(
            id=strawberry.ID(exports.global_id(export)),
            kind=export.kind,
            status=export.status,
            created_at=export.created_at,
            completed_at=export.completed_at,
            expires_at=export.expires_at,
            download_url=exports.download_url(info.context.settings, export),
        )


@strawberry.input
class AccountUpdateInput:
    name: str | None = None
    email: str | None = None


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="The viewer's access reports, and the bound workspace's exports for admins."
    )
    async def data_exports(self, info: Info) -> list[DataExport]:
        account = info.context.require_account()
        personal = info.context.api_key is None  # a workspace's key sees workspace exports only
        found = await exports.visible_exports(account, info.context.membership, personal)
        return [DataExport.from_model(info, e) for e in found]

    @strawberry.field
    async def data_export(self, info: Info, id: strawberry.ID) -> DataExport | None:
        account = info.context.require_account()
        personal = info.context.api_key is None
        try:
            export = await exports.get_visible(account, info.context.membership, id, personal)
        except NotFound:
            return None
        return DataExport.from_model(info, export)


async def _workspace_payload(info: Info, workspace: landlord.Workspace) -> WorkspacePayload:
    membership = info.context.require_membership()
    membership.workspace = workspace
    return WorkspacePayload(workspace=Workspace.from_membership(membership))


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(description="Always true, known email or not: a link is mailed if known.")
    def password_reset_request(self, info: Info, email: str) -> bool:
        # The work happens in a job, so the answer takes the same time for every email.
        defer("password_reset_request", email=email[:400])
        return True

    @strawberry.mutation(description="Sets a new password and ends every session of the account.")
    async def password_reset(self, info: Info, token: str, new_password: str) -> bool:
        await accounts.reset_password(token, new_password)
        return True

    @strawberry.mutation(description="Confirms an email address with the mailed token.")
    async def email_verify(self, info: Info, token: str) -> AccountPayload:
        account = await accounts.verify_email(token)
        return AccountPayload(account=Account.from_model(account))

    @strawberry.mutation(description="Rectification of the viewer's name and email.")
    async def account_update(self, info: Info, input: AccountUpdateInput) -> AccountPayload:
        account = info.context.require_session()
        updated = await accounts.update_account(
            info.context.settings, account, input.name, input.email
        )
        return AccountPayload(account=Account.from_model(updated))

    @strawberry.mutation(description="Schedules the erasure of the viewer's account.")
    async def account_delete(self, info: Info, password: str) -> AccountPayload:
        account = info.context.require_session()
        updated = await erasure.schedule_account_deletion(info.context.settings, account, password)
        return AccountPayload(account=Account.from_model(updated))

    @strawberry.mutation
    async def account_deletion_cancel(self, info: Info) -> AccountPayload:
        account = await erasure.cancel_account_deletion(info.context.require_session())
        return AccountPayload(account=Account.from_model(account))

    @strawberry.mutation(description="A copy of all data held about the viewer, as an archive.")
    async def access_report_create(self, info: Info) -> DataExport:
        export = await exports.request_access_report(info.context.require_session())
        return DataExport.from_model(info, export)

    @strawberry.mutation(description="Owner only; schedules the erasure of the workspace.")
    async def workspace_delete(self, info: Info, confirm_slug: str) -> WorkspacePayload:
        membership = info.context.require_membership()
        workspace = await erasure.schedule_workspace_deletion(
            info.context.settings, membership, confirm_slug
        )
        return await _workspace_payload(info, workspace)

    @strawberry.mutation
    async def workspace_deletion_cancel(self, info: Info) -> WorkspacePayload:
        workspace = await erasure.cancel_workspace_deletion(info.context.require_membership())
        return await _workspace_payload(info, workspace)

    @strawberry.mutation(description="The bound workspace as a JSON archive (ADMIN and OWNER).")
    async def data_export_create(self, info: Info) -> DataExport:
        export = await exports.request_workspace_export(info.context.require_membership())
        return DataExport.from_model(info, export)
