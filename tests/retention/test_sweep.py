"""The retention sweep's housekeeping and its command line: a dry run that changes nothing,
expired archives, tokens, sessions and mail log removed, and work whose job was lost done."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import sys
import uuid
from datetime import datetime
from pathlib import Path

from lightningtrack import clock
from lightningtrack.models.landlord import (
    AccountToken,
    DataExport,
    EmailMessage,
    EmailStatus,
    JobStatus,
    Session,
    Workspace,
)
from lightningtrack.resolvers import mail
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.exports import archive_path
from lightningtrack.settings import Settings
from tests.conftest import environment_for
from tests.retention.conftest import (
    DAY,
    VIEWER,
    MakePerson,
    Sweep,
    create_workspace,
    database_exists,
    outbox,
)

ROOT = Path(__file__).resolve().parents[2]
DELETE = "mutation($s: String!) { workspaceDelete(confirmSlug: $s) { workspace { status } } }"
REMINDER = "workspace_deletion_reminder"


async def retention_cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    """``lightningtrack retention run ARGS`` in a process of its own, on this run's landlord."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LT_")}
    env.update(environment_for(settings.data_dir, settings.database_url.database or ""))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lightningtrack",
        "retention",
        "run",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_dry_run_prints_the_plan_and_changes_nothing_then_the_real_run_does_it(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """Operators preview a sweep before trusting it: the preview must not erase or mail."""
    t0 = clock.now()
    clock.freeze(t0)
    first = await make_person("Fay")
    due = await create_workspace(first, "Due")
    await first.client.gql(DELETE, {"s": due.slug})
    await sweep(t0 + 6 * DAY)  # the reminder before the erasure has gone out
    assert len(outbox(settings, first.email, REMINDER)) == 1

    clock.freeze(t0 + DAY)
    second = await make_person("Sid")
    later = await create_workspace(second, "Later")
    await second.client.gql(DELETE, {"s": later.slug})
    clock.freeze(None)
    as_of = (t0 + 7 * DAY).isoformat()

    code, stdout, stderr = await retention_cli(settings, "--as-of", as_of, "--dry-run")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert f"  erase workspace: {due.slug}" in lines
    assert f"  workspace deletion reminder: {later.slug}" in lines
    assert "would do" in lines[0]
    assert await Workspace.exists(id=due.id)
    assert await database_exists(settings, due)
    assert outbox(settings, second.email, REMINDER) == []
    assert not await EmailMessage.exists(to_address=second.email, kind=REMINDER)
    assert (await Workspace.get(id=later.id)).deletion_scheduled_at == t0 + 8 * DAY

    code, stdout, stderr = await retention_cli(settings, "--as-of", as_of)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert f"  erase workspace: {due.slug}" in lines
    assert f"  workspace deletion reminder: {later.slug}" in lines
    assert "did" in lines[0]
    assert not await Workspace.exists(id=due.id)
    assert not await database_exists(settings, due)
    assert len(outbox(settings, second.email, REMINDER)) == 1
    assert await Workspace.exists(id=later.id)


async def test_cli_as_of_must_be_an_iso_time_with_an_offset(settings: Settings) -> None:
    """A sweep at a misread time erases the wrong things: refuse, in one line, before acting."""
    for value in ("2030-01-31T00:00:00", "next tuesday"):
        code, stdout, stderr = await retention_cli(settings, "--as-of", value, "--dry-run")
        assert code == 2
        assert stdout == ""
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert stderr.startswith("lightningtrack: --as-of")
        assert "Traceback" not in stderr


async def test_expired_export_is_marked_expired_and_its_archive_deleted(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """Archives are offered for 7 days; after that they must not linger on disk."""
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Eve")
    await create_workspace(owner, "Exported")
    await owner.client.gql("mutation { dataExportCreate { id } }")
    await sweep(t0)
    [export] = await DataExport.filter(account_id=None, workspace__slug=owner.client.workspace)
    assert export.status == JobStatus.SUCCEEDED
    assert export.expires_at == t0 + 7 * DAY
    path = archive_path(settings, export)

    await sweep(t0 + 7 * DAY - DAY / 24)
    assert (await DataExport.get(id=export.id)).status == JobStatus.SUCCEEDED
    assert path.exists()

    await sweep(t0 + 7 * DAY)
    assert (await DataExport.get(id=export.id)).status == JobStatus.EXPIRED
    assert not path.exists()


def token_hash() -> str:
    return hashlib.sha256(secrets.token_bytes(32)).hexdigest()


async def old_mail(to: str, status: EmailStatus, created: datetime) -> uuid.UUID:
    message = await EmailMessage.create(
        id=uuid.uuid4(),
        kind="password_reset",
        to_address=to,
        subject="Old",
        text_body="Old\n",
        html_body="<p>Old</p>",
        status=status,
        next_attempt_at=created,
    )
    await EmailMessage.filter(id=message.id).update(created_at=created)
    return message.id


async def test_sweep_deletes_expired_tokens_sessions_and_month_old_mail_log(
    make_person: MakePerson, sweep: Sweep
) -> None:
    """Usage data is kept 30 days and credentials only as long as they work; the sweep must
    remove exactly what has run out and keep what has not."""
    now = clock.now()
    clock.freeze(now)
    person = await make_person("Tom")
    account = person.account_id

    def session(last_seen: datetime, expires: datetime) -> Session:
        return Session(
            token_hash=token_hash(), account_id=account, last_seen_at=last_seen, expires_at=expires
        )

    expired = session(now - DAY, now - DAY / 24)
    idle = session(now - 7 * DAY - DAY / 24, now + 10 * DAY)
    live = session(now - DAY / 24, now + 10 * DAY)
    for row in (expired, idle, live):
        await row.save()
    tokens = {}
    for name, expires in (("stale", now - DAY / 24), ("fresh", now + DAY / 24)):
        token = await AccountToken.create(
            purpose="password_reset",
            token_hash=token_hash(),
            account_id=account,
            email_key=person.email,
            expires_at=expires,
        )
        tokens[name] = token.id
    old = await old_mail(person.email, EmailStatus.SENT, now - 31 * DAY)
    recent = await old_mail(person.email, EmailStatus.SENT, now - 29 * DAY)

    await sweep(now)
    assert not await Session.exists(id=expired.id)
    assert not await Session.exists(id=idle.id)
    assert await Session.exists(id=live.id)
    assert (await person.client.gql(VIEWER))["viewer"] is not None  # signed in just now
    assert not await AccountToken.exists(id=tokens["stale"])
    assert await AccountToken.exists(id=tokens["fresh"])
    assert not await EmailMessage.exists(id=old)
    assert await EmailMessage.exists(id=recent)


async def test_the_mail_log_ages_by_the_clock_that_queued_it(
    make_person: MakePerson, sweep: Sweep
) -> None:
    """A sweep run ``--as-of`` weeks ahead must see the mails of that moment as recent:
    their dedupe keys keep reminders single, so pruning them early would mail twice."""
    person = await make_person("Ulla")
    ahead = clock.now() + 40 * DAY
    clock.freeze(ahead)
    ahead_mail = mail.Mail("ahead", "Ahead", ("Ahead.",))
    with collecting():
        message = await mail.queue(person.email, ahead_mail, "ahead:1")
    assert message is not None and message.created_at == ahead
    await EmailMessage.filter(id=message.id).update(status=EmailStatus.SENT)
    await sweep(ahead + 29 * DAY)
    assert await EmailMessage.exists(id=message.id)
    with collecting():
        assert await mail.queue(person.email, ahead_mail, "ahead:1") is None
    await sweep(ahead + 31 * DAY)
    assert not await EmailMessage.exists(id=message.id)


async def test_mail_whose_job_was_lost_is_sent_by_the_sweep(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """The row is the truth: a mail owed but never enqueued (a crash, a lost message) still
    goes out, once, and not before its retry time."""
    now = clock.now()
    clock.freeze(now)
    person = await make_person("Lou")
    owed = await EmailMessage.create(
        id=uuid.uuid4(),
        kind="lost_job",
        to_address=person.email,
        subject="Owed",
        text_body="Owed\n",
        html_body="<p>Owed</p>",
        next_attempt_at=now - DAY / 24,
    )
    waiting = await EmailMessage.create(
        id=uuid.uuid4(),
        kind="retry_later",
        to_address=person.email,
        subject="Later",
        text_body="Later\n",
        html_body="<p>Later</p>",
        next_attempt_at=now + DAY / 24,
    )

    actions = await sweep(now)
    assert "send mail: lost_job" in [a.describe() for a in actions]
    assert [m["Subject"] for m in outbox(settings, person.email, "lost_job")] == ["Owed"]
    assert (await EmailMessage.get(id=owed.id)).status == EmailStatus.SENT
    assert outbox(settings, person.email, "retry_later") == []
    assert (await EmailMessage.get(id=waiting.id)).status == EmailStatus.PENDING

    await sweep(now + DAY / 12)
    assert len(outbox(settings, person.email, "lost_job")) == 1
    assert len(outbox(settings, person.email, "retry_later")) == 1
