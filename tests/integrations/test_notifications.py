"""Issue notifications: who is mailed, with the issue's thread headers and the email
source's Reply-To, and a reply put into the real mailbox coming back as a comment."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, Membership
from lightningtrack.models.notifications import IssueSender, Notification
from lightningtrack.models.workspace import Comment, Issue
from lightningtrack.resolvers import notifications, threads
from lightningtrack.resolvers.effects import collecting
from lightningtrack.settings import Settings
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, mails_to
from tests.integrations.conftest import sweep
from tests.integrations.imap_server import ImapServer
from tests.integrations.mail_helpers import create_source, issues_of, message, poll
from tests.tracking.conftest import (
    ISSUE_UPDATE,
    account_id,
    create_comment,
    create_issue,
    create_project,
    pk_of,
    workspace_of,
)

SUPPORT = "support@acme.example"


async def email_of(client: Client) -> str:
    address: str = (await client.gql("{ viewer { email } }"))["viewer"]["email"]
    return address


async def assign(client: Client, issue_id: str, assignee: str | None) -> None:
    await client.gql(ISSUE_UPDATE, {"id": issue_id, "input": {"assigneeId": assignee}})


def reply_to(
    mail: EmailMessage, sender: str, text: str, references: bool = True, **headers: str
) -> bytes:
    """A reply as a mail client writes it: to Reply-To, threaded below ``mail`` (some
    clients name only ``mail`` itself, in In-Reply-To: ``references=False``)."""
    answer = EmailMessage()
    for name, value in headers.items():
        answer[name.replace("_", "-")] = value
    answer["From"] = sender
    answer["To"] = str(mail["Reply-To"])
    answer["Subject"] = f"Re: {mail['Subject']}"
    answer["Message-ID"] = make_msgid(domain="client.example")
    answer["In-Reply-To"] = str(mail["Message-ID"])
    if references:
        answer["References"] = f"{mail['References']} {mail['Message-ID']}"
    answer.set_content(f"{text}\n\nOn Mon, 2 Mar 2026, LightningTrack wrote:\n> earlier text\n")
    return bytes(answer)


def plain(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


def about_issues(settings: Settings, address: str) -> list[EmailMessage]:
    return [
        m
        for m in mails_to(settings, address)
        if str(m["X-LightningTrack-Kind"]).startswith("issue_")
    ]


def bodies(issue: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (c["body"], c["author"]["id"] if c["author"] else None) for c in issue["comments"]["nodes"]
    ]


async def test_assignment_mail_answered_by_mail_becomes_a_comment(
    settings: Settings,
    owner: Client,
    member: Client,
    imap: ImapServer,
    jobs: InProcessRunner,
) -> None:
    project = await create_project(owner, name="Support")
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    issue = await create_issue(owner, project["id"], "Login fails", description="Since Monday.")
    mia, mia_email, ann_email = (
        await account_id(member),
        await email_of(member),
        await email_of(owner),
    )
    await assign(owner, issue["id"], mia)
    await jobs.drain()
    [mail] = mails_to(settings, mia_email, "issue_assigned")
    workspace = await workspace_of(owner)
    thread = threads.thread_id(settings, workspace.id, pk_of(issue["id"]))
    assert mail["Subject"] == f"[{issue['key']}] Login fails"
    assert mail["In-Reply-To"] == thread and mail["References"] == thread
    assert mail["Reply-To"] == SUPPORT
    assert mail["Auto-Submitted"] == "auto-generated"  # no autoresponder answers it
    text = plain(mail)
    assert f"Owner assigned {issue['key']} “Login fails” to you" in text
    assert "Since Monday." in text and "Reply to this mail to comment" in text
    assert about_issues(settings, ann_email) == []  # the one who assigned is not told
    # Mia answers from her mail client; the reply reaches the polled mailbox.
    imap.mailbox.append(reply_to(mail, f"Mia <{mia_email.upper()}>", "On it, looks like DNS."))
    assert (await poll(owner, source["id"]))["lastError"] is None
    [found] = await issues_of(owner, project["id"])
    assert bodies(found) == [("On it, looks like DNS.", mia)]
    await jobs.drain()
    # Her comment is mailed to the creator, not back to her.
    [told] = mails_to(settings, ann_email, "issue_commented")
    assert told["In-Reply-To"] == thread and told["Reply-To"] == SUPPORT
    assert told["Message-ID"] != mail["Message-ID"]
    assert "Mia commented on" in plain(told)
    assert mails_to(settings, mia_email, "issue_commented") == []
    # Someone who is not a member answers the thread: a comment with them as a note,
    # told to the assignee and the creator.
    imap.mailbox.append(reply_to(told, "Carla <carla@customer.example>", "Works for me now."))
    await poll(owner, source["id"])
    [found] = await issues_of(owner, project["id"])
    assert bodies(found)[1] == (
        "From: Carla <carla@customer.example>\n\nWorks for me now.",
        None,
    )
    await jobs.drain()
    for address in (ann_email, mia_email):
        latest = mails_to(settings, address, "issue_commented")[-1]
        assert "A reply by mail arrived" in plain(latest)
    assert mails_to(settings, "carla@customer.example") == []
    # An out-of-office answer to the thread is recorded and left; new automatic mail (an
    # alert, say) still becomes an issue.
    away = reply_to(told, f"Mia <{mia_email}>", "I am away.", Auto_Submitted="auto-replied")
    imap.mailbox.append(away)
    alert, _ = message("Disk full", sender="monitor@acme.example")
    imap.mailbox.append(alert.replace(b"Subject:", b"Auto-Submitted: auto-generated\nSubject:", 1))
    assert (await poll(owner, source["id"]))["lastError"] is None
    first, second = await issues_of(owner, project["id"])
    assert len(first["comments"]["nodes"]) == 2 and second["title"] == "Disk full"
    await jobs.drain()
    # Each mail has a Message-ID of its own.
    every = [m["Message-ID"] for a in (ann_email, mia_email) for m in about_issues(settings, a)]
    assert len(every) == 4 == len(set(every))


async def test_a_reply_naming_only_the_notification_is_a_comment(
    settings: Settings,
    owner: Client,
    member: Client,
    imap: ImapServer,
    jobs: InProcessRunner,
) -> None:
    """A mail client that names only the mail it answers (In-Reply-To, no References)
    still comments on the issue that mail was about; a reply to a mail nobody sent is a
    new issue."""
    project = await create_project(owner, name="Replies")
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    issue = await create_issue(owner, project["id"], "Printer jam")
    mia, mia_email = await account_id(member), await email_of(member)
    await assign(owner, issue["id"], mia)
    await jobs.drain()
    [mail] = mails_to(settings, mia_email, "issue_assigned")
    answer = reply_to(mail, f"Mia <{mia_email}>", "Cleared it.", references=False)
    assert b"References:" not in answer
    imap.mailbox.append(answer)
    assert (await poll(owner, source["id"]))["lastError"] is None
    [found] = await issues_of(owner, project["id"])
    assert bodies(found) == [("Cleared it.", mia)]
    # The same shape of Message-ID, but no mail of ours: a new issue.
    stray = EmailMessage()
    stray["From"] = f"Mia <{mia_email}>"
    stray["To"] = SUPPORT
    stray["Subject"] = "Re: something else"
    stray["Message-ID"] = make_msgid(domain="client.example")
    stray["In-Reply-To"] = f"<{uuid.uuid4()}@{mail['Message-ID'].split('@')[1]}"
    stray.set_content("Not about the printer.")
    imap.mailbox.append(bytes(stray))
    await poll(owner, source["id"])
    titles = sorted(i["title"] for i in await issues_of(owner, project["id"]))
    assert titles == ["Printer jam", "Re: something else"]


async def test_who_is_told(
    settings: Settings,
    tenancy: Tenancy,
    owner: Client,
    member: Client,
    other_workspace: Client,
    jobs: InProcessRunner,
) -> None:
    project = await create_project(owner)
    ann, mia = await account_id(owner), await account_id(member)
    ann_email, mia_email = await email_of(owner), await email_of(member)
    # Assigning oneself tells no one.
    mine = await create_issue(member, project["id"], "Mine", assigneeId=mia)
    await jobs.drain()
    assert about_issues(settings, mia_email) == []
    # Created already assigned, by someone else: the assignee is told. No email source
    # in the project: no Reply-To, and no invitation to reply.
    theirs = await create_issue(owner, project["id"], "Theirs", assigneeId=mia)
    await jobs.drain()
    [mail] = mails_to(settings, mia_email, "issue_assigned")
    assert mail["Reply-To"] is None and "Reply to this mail" not in plain(mail)
    # The creator's comment tells the assignee; the assignee's tells the creator.
    await create_comment(owner, theirs["id"], "Any news?")
    await jobs.drain()
    assert len(mails_to(settings, mia_email, "issue_commented")) == 1
    await create_comment(member, theirs["id"], "Tomorrow.")
    await jobs.drain()
    assert len(mails_to(settings, ann_email, "issue_commented")) == 1
    # Reassigned: the new assignee is told; changing anything else tells no one.
    await assign(member, mine["id"], ann)
    await owner.gql(ISSUE_UPDATE, {"id": mine["id"], "input": {"title": "Still mine"}})
    await jobs.drain()
    assert len(mails_to(settings, ann_email, "issue_assigned")) == 1
    await create_comment(member, mine["id"], "Over to you.")
    await jobs.drain()
    assert len(mails_to(settings, ann_email, "issue_commented")) == 2
    # Creator and assignee in one: one mail.
    both = await create_issue(owner, project["id"], "Both", assigneeId=ann)
    await create_comment(member, both["id"], "Seen.")
    await jobs.drain()
    assert len(mails_to(settings, ann_email, "issue_commented")) == 3
    # Someone who left the workspace is told nothing more.
    workspace = await workspace_of(owner)
    await Membership.filter(workspace_id=workspace.id, account_id=pk_uuid(mia)).delete()
    await create_comment(owner, theirs["id"], "Are you there?")
    await jobs.drain()
    assert len(mails_to(settings, mia_email, "issue_commented")) == 1
    # Nor is another workspace's account, whatever an issue's rows say.
    stranger = await Account.get(email_key=(await email_of(other_workspace)).casefold())
    async with tenancy.workspace(workspace):
        await Issue.filter(id=pk_of(theirs["id"])).update(assignee_id=stranger.id)
    await create_comment(owner, theirs["id"], "Hello?")
    await jobs.drain()
    assert about_issues(settings, await email_of(other_workspace)) == []
    async with tenancy.workspace(workspace):
        assert await Notification.all().count() == 0  # all handled, none left owed


def pk_uuid(global_account_id: str) -> uuid.UUID:
    from tests.tracking.conftest import account_uuid

    return account_uuid(global_account_id)


async def test_an_erased_account_is_not_mailed_and_a_rollback_owes_nothing(
    settings: Settings, tenancy: Tenancy, owner: Client, member: Client, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    issue = await create_issue(owner, project["id"], "Gone soon")
    mia_email = await email_of(member)
    workspace = await workspace_of(owner)
    mia = pk_uuid(await account_id(member))
    owner_id = pk_uuid(await account_id(owner))
    async with tenancy.workspace(workspace):
        row = await Issue.get(id=pk_of(issue["id"]))
        with collecting():
            # A change that rolls back owes nothing.
            with pytest.raises(RuntimeError):
                async with in_transaction(WORKSPACE):
                    row.assignee_id = mia
                    await row.save()
                    await notifications.owe_assignment(workspace, row, owner_id)
                    raise RuntimeError("rolled back")
            assert await Notification.all().count() == 0
            # Owed, then the account is erased before the mail is made: no mail.
            row.assignee_id = mia
            await row.save()
            await notifications.owe_assignment(workspace, row, owner_id)
            assert await Notification.all().count() == 1
            await Account.filter(id=mia).delete()
            assert await notifications.send_due(settings) == 0
        assert await Notification.all().count() == 0
    await jobs.drain()
    assert about_issues(settings, mia_email) == []


async def test_the_sweep_sends_what_a_lost_job_left(
    settings: Settings, tenancy: Tenancy, owner: Client, member: Client, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    issue = await create_issue(owner, project["id"], "Lost job")
    workspace = await workspace_of(owner)
    async with tenancy.workspace(workspace):
        row = await Issue.get(id=pk_of(issue["id"]))
        row.assignee_id = pk_uuid(await account_id(member))
        await row.save()
        with collecting():  # the deferred job is dropped here, as a crash would
            await notifications.owe_assignment(workspace, row, pk_uuid(await account_id(owner)))
    await sweep(settings, tenancy, jobs)
    [mail] = mails_to(settings, await email_of(member), "issue_assigned")
    assert "Lost job" in mail["Subject"]
    # A second sweep, or the job run again, sends nothing twice.
    await sweep(settings, tenancy, jobs)
    async with tenancy.workspace(workspace):
        with collecting():
            assert await notifications.send_due(settings) == 0
    assert len(mails_to(settings, await email_of(member), "issue_assigned")) == 1


async def test_a_support_mailbox_answers_outside_senders(
    settings: Settings,
    tenancy: Tenancy,
    owner: Client,
    imap: ImapServer,
    jobs: InProcessRunner,
) -> None:
    project = await create_project(owner, name="Help")
    source = await create_source(owner, imap.mailbox, project["id"], notifySenders=True)
    assert source["notifySenders"] is True
    await jobs.drain()
    raw, original = message("Export is broken", sender="Carla Customer <Carla@Customer.example>")
    imap.mailbox.append(raw)
    await poll(owner, source["id"])
    [issue] = await issues_of(owner, project["id"])
    await create_comment(owner, issue["id"], "Fixed, please try again.\n\nThanks for waiting.")
    await jobs.drain()
    [answer] = mails_to(settings, "carla@customer.example", "issue_answered")
    workspace = await workspace_of(owner)
    thread = threads.thread_id(settings, workspace.id, pk_of(issue["id"]))
    assert answer["Subject"] == f"Re: [{issue['key']}] Export is broken"
    assert answer["In-Reply-To"] == original
    assert answer["References"] == f"{original} {thread}"
    assert answer["Reply-To"] == SUPPORT
    text = plain(answer)
    assert "Fixed, please try again." in text and "Thanks for waiting." in text
    # Her reply to the answer comes back as a comment, and is not mailed back to her.
    imap.mailbox.append(reply_to(answer, "Carla Customer <carla@customer.example>", "Works!"))
    await poll(owner, source["id"])
    [issue] = await issues_of(owner, project["id"])
    assert bodies(issue)[-1] == (
        "From: Carla Customer <carla@customer.example>\n\nWorks!",
        None,
    )
    await jobs.drain()
    assert len(mails_to(settings, "carla@customer.example")) == 1
    # Turned off, senders are no longer answered, and new ones are not kept.
    await owner.gql(
        "mutation($id: ID!) { emailSourceUpdate(id: $id, input: {notifySenders: false}) "
        "{ emailSource { notifySenders } } }",
        {"id": source["id"]},
    )
    await create_comment(owner, issue["id"], "Closing.")
    raw, _ = message("Another one", sender="dan@other.example")
    imap.mailbox.append(raw)
    await poll(owner, source["id"])
    await jobs.drain()
    assert len(mails_to(settings, "carla@customer.example")) == 1
    async with tenancy.workspace(workspace):
        assert await IssueSender.filter(address="dan@other.example").count() == 0
        [kept] = await IssueSender.all()
        assert (kept.address, kept.message_id) == ("carla@customer.example", original)
        # The address goes with the issue.
        await Comment.filter(issue_id=pk_of(issue["id"])).delete()
        await Issue.filter(id=pk_of(issue["id"])).delete()
        assert await IssueSender.all().count() == 0
