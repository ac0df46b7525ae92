"""Data exports: a workspace's data as a JSON archive, and access reports of a person.

The archive is a ZIP of ``manifest.json`` and one JSON array per kind of record. Tables
are streamed in chunks, never held whole in memory; the archive is written under a
temporary name and renamed when complete, so no partial archive is ever offered. The
download link is signed and expires with the export (7 days).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from lightningtrack import clock
from lightningtrack.errors import NotFound
from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import (
    Account,
    AccountToken,
    DataExport,
    DataExportKind,
    JobStatus,
    Membership,
    Region,
    Role,
    Session,
    Workspace,
)
from lightningtrack.resolvers import ids, integration_records, permissions
from lightningtrack.resolvers.effects import Job, defer_job
from lightningtrack.settings import Settings
from lightningtrack.tenancy import storage
from lightningtrack.tenancy.runtime import Tenancy

log = logging.getLogger(__name__)
TYPE = "DataExport"
LIFETIME = timedelta(days=7)
CHUNK = 1000
FORMAT = 1


def global_id(export: DataExport) -> str:
    return ids.encode(TYPE, export.id)


def archive_folders(settings: Settings) -> list[Path]:
    """Every folder archives are written to: each region's, and the landlord's."""
    regional = [folder / "exports" for folder in storage.region_dirs(settings)]
    return [*regional, _landlord_folder(settings)]


def _landlord_folder(settings: Settings) -> Path:
    return settings.data_dir / "exports"


def archive_path(settings: Settings, export: DataExport) -> Path:
    """A workspace export is written in its workspace's region; an access report, about a
    person rather than a workspace, beside the landlord's data."""
    if export.region is None:
        folder = _landlord_folder(settings)
    else:
        folder = storage.region_dir(settings, str(export.region)) / "exports"
    return folder / f"{export.id}.zip"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="lightningtrack.export")


def download_url(settings: Settings, export: DataExport) -> str | None:
    if export.status != JobStatus.SUCCEEDED:
        return None
    token = _serializer(settings).dumps(str(export.id))
    return f"{settings.public_url}/exports/{token}"


def export_for_token(settings: Settings, token: str) -> uuid.UUID | None:
    """The export a download token names, if its signature holds and it is not too old."""
    try:
        value = _serializer(settings).loads(token, max_age=int(LIFETIME.total_seconds()))
        return uuid.UUID(str(value))
    except (BadSignature, ValueError):
        return None


async def downloadable(settings: Settings, token: str) -> Path | None:
    export_id = export_for_token(settings, token)
    if export_id is None:
        return None
    export = await DataExport.get_or_none(id=export_id, status=JobStatus.SUCCEEDED)
    if export is None or export.expires_at is None or export.expires_at <= clock.now():
        return None
    path = archive_path(settings, export)
    return path if await asyncio.to_thread(path.exists) else None


async def request_workspace_export(membership: Membership) -> DataExport:
    """Start an export of the bound workspace, or return the one already under way."""
    permissions.require_role(membership, Role.ADMIN)
    return await _request(
        DataExportKind.WORKSPACE,
        workspace_id=membership.workspace_id,
        region=Region(membership.workspace.region),
    )


async def _request(
    kind: DataExportKind,
    workspace_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    region: Region | None = None,
) -> DataExport:
    owner = {"workspace_id": workspace_id} if workspace_id else {"account_id": account_id}
    running = await DataExport.filter(
        kind=kind, status__in=[JobStatus.QUEUED, JobStatus.RUNNING], **owner
    ).first()
    if running is not None:
        return running
    export = await DataExport.create(
        id=uuid.uuid4(),
        kind=kind,
        workspace_id=workspace_id,
        account_id=account_id,
        region=region,
    )
    defer_job(export_job(export))
    return export


def export_job(export: DataExport) -> Job:
    """The job that writes an export; a workspace's runs bound to that workspace, and is
    dropped if the workspace is gone."""
    return Job("run_export", {"export_id": str(export.id)}, export.workspace_id)


async def request_access_report(account: Account) -> DataExport:
    return await _request(DataExportKind.ACCESS_REPORT, account_id=account.id)


async def visible_exports(
    account: Account, membership: Membership | None, personal: bool = True
) -> list[DataExport]:
    """The viewer's access reports, and the bound workspace's exports for its admins."""
    mine = (
        await DataExport.filter(account_id=account.id).order_by("-created_at") if personal else []
    )
    if membership is None or not permissions.has_role(membership, Role.ADMIN):
        return list(mine)
    theirs = await DataExport.filter(workspace_id=membership.workspace_id).order_by("-created_at")
    return sorted([*mine, *theirs], key=lambda e: e.created_at, reverse=True)


async def get_visible(
    account: Account, membership: Membership | None, global_id: str, personal: bool = True
) -> DataExport:
    export_id = ids.decode_uuid(global_id, TYPE)
    for export in await visible_exports(account, membership, personal):
        if export.id == export_id:
            return export
    raise NotFound("No DataExport with this id.")


# Writing archives.


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class ArchiveWriter:
    """Streams JSON arrays into a ZIP written aside; ``commit`` renames it into place."""

    def __init__(self, final: Path) -> None:
        self.final = final
        # Each run writes its own file: two runs of one export never share a half.
        self.partial = final.with_name(f"{final.name}.{uuid.uuid4().hex}.partial")
        self.counts: dict[str, int] = {}
        final.parent.mkdir(parents=True, exist_ok=True)
        self.zip = zipfile.ZipFile(self.partial, "w", compression=zipfile.ZIP_DEFLATED)

    async def array(self, name: str, records: AsyncIterator[list[dict[str, Any]]]) -> None:
        handle: IO[bytes] = self.zip.open(name, "w", force_zip64=True)
        count = 0
        try:
            await asyncio.to_thread(handle.write, b"[")
            async for chunk in records:
                if not chunk:
                    continue
                body = ",\n".join(json.dumps(r, ensure_ascii=False) for r in chunk)
                prefix = b",\n" if count else b"\n"
                await asyncio.to_thread(handle.write, prefix + body.encode())
                count += len(chunk)
            await asyncio.to_thread(handle.write, b"\n]\n" if count else b"]\n")
        finally:
            handle.close()
        self.counts[name] = count

    def commit(self, manifest: dict[str, Any]) -> None:
        manifest = {**manifest, "files": dict(self.counts)}
        self.zip.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        self.zip.close()
        self.partial.replace(self.final)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.zip.close()
        self.partial.unlink(missing_ok=True)


async def _once(records: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    yield records


async def _chunks(
    model: type[Any],
    convert: Callable[[list[Any]], Awaitable[list[dict[str, Any]]]],
    **filters: Any,
) -> AsyncIterator[list[dict[str, Any]]]:
    """All rows of a table (matching ``filters``), CHUNK at a time, by id."""
    last = 0
    while True:
        rows = await model.filter(id__gt=last, **filters).order_by("id").limit(CHUNK)
        if not rows:
            return
        yield await convert(rows)
        last = rows[-1].id
        if len(rows) < CHUNK:
            return


def _workspace_record(workspace: Workspace) -> dict[str, Any]:
    return {
        "id": ids.encode("Workspace", workspace.id),
        "slug": workspace.slug,
        "name": workspace.name,
        "region": str(workspace.region),
        "status": str(workspace.status),
        "trialEndsAt": _iso(workspace.trial_ends_at),
        "createdAt": _iso(workspace.created_at),
    }


def _account_id(account_id: uuid.UUID | None) -> str | None:
    return ids.encode("Account", account_id) if account_id else None


class WorkspaceRecords:
    """JSON records of the bound workspace's rows, with global ids."""

    def __init__(self, workspace_id: uuid.UUID) -> None:
        self.workspace_id = workspace_id
        self.project_keys: dict[int, str] = {}

    def _id(self, type_name: str, pk: int) -> str:
        return ids.encode_scoped(type_name, self.workspace_id, pk)

    async def projects(self, rows: list[wsm.Project]) -> list[dict[str, Any]]:
        for row in rows:
            self.project_keys[row.id] = row.key
        return [
            {
                "id": self._id("Project", r.id),
                "key": r.key,
                "name": r.name,
                "description": r.description,
                "archived": r.archived,
                "createdAt": _iso(r.created_at),
                "updatedAt": _iso(r.updated_at),
            }
            for r in rows
        ]

    async def issues(self, rows: list[wsm.Issue]) -> list[dict[str, Any]]:
        labels: dict[int, list[str]] = {}
        for link in await wsm.Label.filter(issues__id__in=[r.id for r in rows]).values(
            "name", "issues__id"
        ):
            labels.setdefault(link["issues__id"], []).append(link["name"])
        return [
            {
                "id": self._id("Issue", r.id),
                "key": f"{self.project_keys.get(r.project_id, '?')}-{r.number}",
                "projectId": self._id("Project", r.project_id),
                "number": r.number,
                "title": r.title,
                "description": r.description,
                "status": str(r.status),
                "priority": str(r.priority),
                "assigneeId": _account_id(r.assignee_id),
                "creatorId": _account_id(r.creator_id),
                "labels": sorted(labels.get(r.id, [])),
                "estimateSeconds": r.estimate_seconds,
                "createdAt": _iso(r.created_at),
                "updatedAt": _iso(r.updated_at),
            }
            for r in rows
        ]

    async def comments(self, rows: list[wsm.Comment]) -> list[dict[str, Any]]:
        return [
            {
                "id": self._id("Comment", r.id),
                "issueId": self._id("Issue", r.issue_id),
                "authorId": _account_id(r.author_id),
                "body": r.body,
                "createdAt": _iso(r.created_at),
                "updatedAt": _iso(r.updated_at),
            }
            for r in rows
        ]

    async def time_entries(self, rows: list[wsm.TimeEntry]) -> list[dict[str, Any]]:
        return [
            {
                "id": self._id("TimeEntry", r.id),
                "issueId": self._id("Issue", r.issue_id),
                "accountId": _account_id(r.account_id),
                "startedAt": _iso(r.started_at),
                "durationSeconds": r.duration_seconds,
                "note": r.note,
                "billable": r.billable,
                "createdAt": _iso(r.created_at),
            }
            for r in rows
        ]


def _account_record(account: Account) -> dict[str, Any]:
    return {
        "id": ids.encode("Account", account.id),
        "name": account.name,
        "email": account.email,
        "emailVerified": account.email_verified,
        "createdAt": _iso(account.created_at),
        "deletionScheduledAt": _iso(account.deletion_scheduled_at),
    }


async def _member_records(workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    memberships = await Membership.filter(workspace_id=workspace_id).select_related("account")
    return [
        {
            "account": _account_record(m.account),
            "role": str(m.role),
            "joinedAt": _iso(m.joined_at),
        }
        for m in memberships
    ]


async def write_workspace_tables(
    writer: ArchiveWriter, workspace: Workspace, only_account: uuid.UUID | None = None
) -> None:
    """The bound workspace's tables; with ``only_account``, just that person's rows."""
    records = WorkspaceRecords(workspace.id)
    for project in await wsm.Project.all().values("id", "key"):
        records.project_keys[project["id"]] = project["key"]
    if only_account is None:
        await writer.array("projects.json", _chunks(wsm.Project, records.projects))
        await writer.array("issues.json", _chunks(wsm.Issue, records.issues))
        await writer.array("comments.json", _chunks(wsm.Comment, records.comments))
        await writer.array("time_entries.json", _chunks(wsm.TimeEntry, records.time_entries))
        return
    prefix = f"workspaces/{workspace.slug}/"
    person = only_account
    await writer.array(
        f"{prefix}issues_created.json", _chunks(wsm.Issue, records.issues, creator_id=person)
    )
    await writer.array(
        f"{prefix}issues_assigned.json", _chunks(wsm.Issue, records.issues, assignee_id=person)
    )
    await writer.array(
        f"{prefix}comments.json", _chunks(wsm.Comment, records.comments, author_id=person)
    )
    await writer.array(
        f"{prefix}time_entries.json",
        _chunks(wsm.TimeEntry, records.time_entries, account_id=person),
    )


MAX_ATTEMPTS = 3


async def build(settings: Settings, tenancy: Tenancy, export_id: uuid.UUID) -> None:
    """Write an export's archive. Safe to run twice, also at once: each run writes its own
    temporary file and only a complete archive is renamed into place."""
    export = await DataExport.get_or_none(id=export_id)
    if export is None or export.status in (JobStatus.SUCCEEDED, JobStatus.EXPIRED):
        return
    now = clock.now()
    await DataExport.filter(id=export.id).update(
        status=JobStatus.RUNNING, started_at=now, attempts=export.attempts + 1
    )
    writer = ArchiveWriter(archive_path(settings, export))
    try:
        if export.kind == DataExportKind.WORKSPACE:
            manifest = await _workspace_archive(tenancy, writer, export)
        else:
            manifest = await _access_report(tenancy, writer, export)
        if manifest is None:
            writer.discard()
            await DataExport.filter(id=export.id).update(
                status=JobStatus.FAILED, error="Its workspace or account no longer exists."
            )
            return
        await asyncio.to_thread(writer.commit, manifest)
    except BaseException as error:
        writer.discard()
        failed = export.attempts + 1 >= MAX_ATTEMPTS
        await DataExport.filter(id=export.id).update(
            status=JobStatus.FAILED if failed else JobStatus.QUEUED,
            error=f"{type(error).__name__}"[:500],
        )
        raise
    done = clock.now()
    await DataExport.filter(id=export.id).update(
        status=JobStatus.SUCCEEDED, completed_at=done, expires_at=done + LIFETIME, error=None
    )


def _manifest(kind: DataExportKind, **subject: Any) -> dict[str, Any]:
    return {"format": FORMAT, "kind": kind.value, "exportedAt": clock.now().isoformat(), **subject}


async def _workspace_archive(
    tenancy: Tenancy, writer: ArchiveWriter, export: DataExport
) -> dict[str, Any] | None:
    workspace = await Workspace.get_or_none(id=export.workspace_id)
    if workspace is None:
        return None
    record = _workspace_record(workspace)
    await writer.array("workspace.json", _once([record]))
    await writer.array("members.json", _once(await _member_records(workspace.id)))
    async with tenancy.workspace(workspace):
        await write_workspace_tables(writer, workspace)
        await integration_records.write(
            writer, workspace.id, "", with_webhooks=True, with_senders=True
        )
    return _manifest(DataExportKind.WORKSPACE, workspace=record)


async def _access_report(
    tenancy: Tenancy, writer: ArchiveWriter, export: DataExport
) -> dict[str, Any] | None:
    account = await Account.get_or_none(id=export.account_id)
    if account is None:
        return None
    record = _account_record(account)
    await writer.array("account.json", _once([record]))
    memberships = await Membership.filter(account_id=account.id).select_related("workspace")
    await writer.array(
        "memberships.json",
        _once(
            [
                {
                    "workspace": _workspace_record(m.workspace),
                    "role": str(m.role),
                    "joinedAt": _iso(m.joined_at),
                }
                for m in memberships
            ]
        ),
    )
    # Workspaces the person has left: their issues, comments and time entries stay there
    # (until the account is erased), recorded when each membership ended.
    current = {m.workspace_id for m in memberships}
    recorded = Workspace.filter(erasure_progress__account_id=account.id).order_by("slug")
    former = [w for w in await recorded if w.id not in current]
    await writer.array("former_workspaces.json", _once([_workspace_record(w) for w in former]))
    sessions = await Session.filter(account_id=account.id).order_by("created_at")
    await writer.array(
        "sessions.json",
        _once(
            [
                {
                    "createdAt": _iso(s.created_at),
                    "lastSeenAt": _iso(s.last_seen_at),
                    "expiresAt": _iso(s.expires_at),
                    "userAgent": s.user_agent,
                }
                for s in sessions
            ]
        ),
    )
    pending = await AccountToken.filter(account_id=account.id, used_at=None)
    await writer.array(
        "tokens.json",
        _once(
            [
                {
                    "purpose": t.purpose,
                    "email": t.email,
                    "createdAt": _iso(t.created_at),
                    "expiresAt": _iso(t.expires_at),
                }
                for t in pending
            ]
        ),
    )
    for membership in memberships:
        async with tenancy.workspace(membership.workspace):
            await write_workspace_tables(writer, membership.workspace, only_account=account.id)
            # What the person may read of the workspace's integrations: its settings and
            # email sources, and its webhooks (with secrets) if they are an admin there.
            await integration_records.write(
                writer,
                membership.workspace_id,
                f"workspaces/{membership.workspace.slug}/",
                with_webhooks=permissions.has_role(membership, Role.ADMIN),
            )
    for workspace in former:
        # Only the person's own rows: nothing of a workspace they no longer belong to.
        async with tenancy.workspace(workspace):
            await write_workspace_tables(writer, workspace, only_account=account.id)
    return _manifest(DataExportKind.ACCESS_REPORT, account=record)
