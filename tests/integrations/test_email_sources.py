"""Email sources against a real IMAP server: messages become issues, replies comments,
each message once, and bad mail is recorded and skipped without stopping the poll."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.integrations import EmailSource, InboundMessage
from lightningtrack.models.landlord import EmailMessage as SentMail
from lightningtrack.models.workspace import Issue
from lightningtrack.resolvers import inbound, poller, threads
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.integrations.conftest import sweep
from tests.integrations.imap_server import ImapServer
from tests.integrations.mail_helpers import create_source, issues_of, message, poll
from tests.tracking.conftest import (
    account_id,
    create_issue,
    create_project,
    pk_of,
    workspace_of,
)


async def test_new_messages_become_issues_once(
    owner: Client, imap: ImapServer, jobs: InProcessRunner
) -> None:
    project = await create_project(owner, name="Support")
    source = await create_source(owner, imap.mailbox, project["id"])
    assert source["lastError"] is None and source["enabled"] is True
    await jobs.drain()  # the first, scheduled poll of an empty mailbox
    raw, _ = message("Export is broken")
    imap.mailbox.append(raw)
    html = (
        "<html><head><style>p { color: red }</style><script>alert('x')</script></head>"
        "<body><p>Hi team,</p><p>the <b>invoice</b> page is blank.</p>"
        "<img src=x onerror=alert(1)></body></html>"
    )
    raw, _ = message("Invoice page blank", None, html=html, sender="dan@other.example")
    imap.mailbox.append(raw)
    polled = await poll(owner, source["id"])
    assert polled["lastError"] is None and polled["lastPolledAt"] is not None
    first, second = await issues_of(owner, project["id"])
    assert first["title"] == "Export is broken"
    assert first["description"] == (
        "From: Carla Customer <carla@customer.example>\n\nHello,\nthe export button does nothing."
    )
    assert first["labels"] == ["email"] and first["creator"] is None
    assert second["title"] == "Invoice page blank"
    assert second["description"] == (
        "From: dan@other.example\n\nHi team,\n\nthe invoice page is blank."
    )
    for leaked in ("alert", "<", "color: red", "onerror"):
        assert leaked not in second["description"]
    # Polling again, by hand or on schedule, creates nothing new.
    await poll(owner, source["id"])
    await jobs.drain()
    assert len(await issues_of(owner, project["id"])) == 2
    assert imap.mailbox.count() == 2  # the mailbox is left as it was


async def test_a_reply_becomes_a_comment(
    settings: Settings, owner: Client, imap: ImapServer, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    raw, original_id = message("Cannot sign in")
    imap.mailbox.append(raw)
    await poll(owner, source["id"])
    [issue] = await issues_of(owner, project["id"])
    reply, reply_id = message(
        "Re: Cannot sign in",
        "It works again, thanks!\n\nOn Tue, 3 Mar 2026, Support wrote:\n> What do you see?\n",
        in_reply_to=original_id,
        references=original_id,
    )
    imap.mailbox.append(reply)
    # A member answering the issue's notification thread, by its Message-ID scheme.
    me = (await owner.gql("{ viewer { email } }"))["viewer"]["email"]
    workspace = await workspace_of(owner)
    thread = threads.thread_id(settings, workspace.id, pk_of(issue["id"]))
    assert thread == f"<issue-{pk_of(issue['id'])}.{workspace.id.hex}@127.0.0.1>"
    answer, _ = message(
        "Re: [WEB-1] Cannot sign in", "Closing this.\n", sender=me, in_reply_to=thread
    )
    imap.mailbox.append(answer)
    # A reply to the reply: its References name the first reply only.
    third, _ = message("Re: Re: Cannot sign in", "One more thing.\n", references=reply_id)
    imap.mailbox.append(third)
    polled = await poll(owner, source["id"])
    assert polled["lastError"] is None
    [issue] = await issues_of(owner, project["id"])
    comments = issue["comments"]["nodes"]
    assert [c["body"] for c in comments] == [
        "From: Carla Customer <carla@customer.example>\n\nIt works again, thanks!",
        "Closing this.",
        "From: Carla Customer <carla@customer.example>\n\nOne more thing.",
    ]
    assert comments[0]["author"] is None
    assert comments[1]["author"] == {"id": await account_id(owner)}
    await poll(owner, source["id"])
    [issue] = await issues_of(owner, project["id"])
    assert len(issue["comments"]["nodes"]) == 3


async def test_a_thread_of_another_workspace_is_a_new_issue(
    settings: Settings,
    owner: Client,
    other_workspace: Client,
    imap: ImapServer,
    jobs: InProcessRunner,
) -> None:
    theirs = await create_project(other_workspace)
    their_issue = await create_issue(other_workspace, theirs["id"], "T")
    other = await workspace_of(other_workspace)
    thread = threads.thread_id(settings, other.id, pk_of(their_issue["id"]))
    project = await create_project(owner)
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    raw, _ = message("Re: T", "Hi", in_reply_to=thread)
    imap.mailbox.append(raw)
    await poll(owner, source["id"])
    [issue] = await issues_of(owner, project["id"])
    assert issue["title"] == "Re: T" and issue["comments"]["nodes"] == []
    # Nor through a notification of theirs named alone (its row knows their thread).
    theirs_sent = await SentMail.create(
        id=uuid.uuid4(),
        kind="issue_assigned",
        to_address="someone@example.com",
        subject="[T-1] T",
        text_body="",
        html_body="",
        next_attempt_at=clock.now(),
        in_reply_to=thread,
        thread_references=thread,
    )
    raw, _ = message("Re: [T-1] T", "Hi", in_reply_to=f"<{theirs_sent.id}@localhost>")
    imap.mailbox.append(raw)
    await poll(owner, source["id"])
    found = await issues_of(owner, project["id"])
    assert sorted(i["title"] for i in found) == ["Re: T", "Re: [T-1] T"]
    assert all(i["comments"]["nodes"] == [] for i in found)


async def test_malformed_and_oversized_mail_is_recorded_and_skipped(
    tenancy: Tenancy,
    owner: Client,
    imap: ImapServer,
    jobs: InProcessRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    imap.mailbox.append(b"this is not a mail at all\r\n\xff\xfe\x00garbage\r\n")
    imap.mailbox.append(b"From: \r\nSubject: no sender\r\n\r\nbody\r\n")
    monkeypatch.setattr(poller, "MAX_BYTES", 4000)
    big, _ = message("Huge attachment", "x" * 6000)
    imap.mailbox.append(big)
    good, _ = message("After the bad ones")
    imap.mailbox.append(good)
    polled = await poll(owner, source["id"])
    error = polled["lastError"]
    assert "Message 1 skipped: The message has no valid sender (From)." in error
    assert "Message 2 skipped" in error
    assert "Message 3 skipped" in error and "more than 4000" in error
    [issue] = await issues_of(owner, project["id"])
    assert issue["title"] == "After the bad ones"
    async with tenancy.workspace(await workspace_of(owner)):
        skipped = await InboundMessage.filter(error__not_isnull=True).count()
    assert skipped == 3
    # Recorded: the next poll neither retries them nor reports them again.
    polled = await poll(owner, source["id"])
    assert polled["lastError"] is None
    assert len(await issues_of(owner, project["id"])) == 1


async def test_overlapping_and_crashed_polls_handle_each_message_once(
    settings: Settings, tenancy: Tenancy, owner: Client, imap: ImapServer, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    for n in range(5):
        raw, _ = message(f"Ticket {n}")
        imap.mailbox.append(raw)
    workspace = await workspace_of(owner)
    async with tenancy.workspace(workspace):
        pk = pk_of(source["id"])
        await asyncio.gather(*(poller.poll(settings, workspace, pk) for _ in range(3)))
        assert await Issue.filter(project_id=pk_of(project["id"])).count() == 5
        # A poll that crashed before it could note where it stopped: it runs again
        # from the start (its claim ran out), and the Message-IDs stop every duplicate.
        await EmailSource.filter(id=pk).update(last_uid=0, claimed_until=clock.now())
        await poller.poll(settings, workspace, pk)
        assert await Issue.filter(project_id=pk_of(project["id"])).count() == 5
        # Two handlers of one message at the same moment: one issue.
        raw, _ = message("Same message twice")
        mail = inbound.parse(raw)
        row = await EmailSource.get(id=pk)
        outcomes = await asyncio.gather(
            inbound.handle(workspace, row, mail), inbound.handle(workspace, row, mail)
        )
        assert sorted(outcomes) == ["duplicate", "issue"]
        assert await Issue.filter(title="Same message twice").count() == 1


async def test_sources_are_polled_on_schedule(
    settings: Settings, tenancy: Tenancy, owner: Client, imap: ImapServer, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, imap.mailbox, project["id"])
    await jobs.drain()
    raw, _ = message("Arrived later")
    imap.mailbox.append(raw)
    await sweep(settings, tenancy, jobs)
    assert await issues_of(owner, project["id"]) == []  # not due yet
    clock.freeze(clock.now() + timedelta(seconds=settings.email_poll_seconds + 1))
    await sweep(settings, tenancy, jobs)
    [issue] = await issues_of(owner, project["id"])
    assert issue["title"] == "Arrived later"
    # Disabled: the schedule leaves it alone.
    await owner.gql(
        "mutation($id: ID!) { emailSourceUpdate(id: $id, input: {enabled: false}) "
        "{ emailSource { enabled } } }",
        {"id": source["id"]},
    )
    raw, _ = message("While disabled")
    imap.mailbox.append(raw)
    clock.freeze(clock.now() + timedelta(hours=1))
    await sweep(settings, tenancy, jobs)
    assert len(await issues_of(owner, project["id"])) == 1


async def test_login_failures_are_reported(
    owner: Client, imap: ImapServer, jobs: InProcessRunner
) -> None:
    project = await create_project(owner)
    source = await create_source(owner, imap.mailbox, project["id"], password="wrong")
    await jobs.drain()
    polled = await poll(owner, source["id"])
    assert polled["lastError"].startswith("The IMAP server refused the login")
    fixed = await owner.gql(
        "mutation($id: ID!, $p: String!) { emailSourceUpdate(id: $id, input: {password: $p}) "
        "{ emailSource { id } } }",
        {"id": source["id"], "p": imap.mailbox.password},
    )
    assert fixed["emailSourceUpdate"]["emailSource"]["id"] == source["id"]
    assert (await poll(owner, source["id"]))["lastError"] is None
    imap.stop()
    polled = await poll(owner, source["id"])
    assert polled["lastError"].startswith("Cannot connect to 127.0.0.1")
