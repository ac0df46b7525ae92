"""IMAP over TLS against a real Dovecot with a certificate the test made: implicit TLS
and STARTTLS, the certificate always verified (``LT_IMAP_CA_FILE``), and a failed
verification or a missing STARTTLS recorded as ``lastError``, never plain text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.integrations import EmailSource
from lightningtrack.resolvers import poller
from lightningtrack.settings import Settings, SettingsError, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.integrations.imap_server import ImapServer
from tests.integrations.mail_helpers import SOURCES, create_source, issues_of, message
from tests.tracking.conftest import create_project, pk_of, workspace_of


async def _poll_with(
    settings: Settings, tenancy: Tenancy, client: Client, source_id: str
) -> EmailSource:
    """Poll as a server configured with ``settings`` would (the app's are the run's)."""
    workspace = await workspace_of(client)
    async with tenancy.workspace(workspace):
        polled = await poller.poll(settings, workspace, pk_of(source_id))
    assert polled is not None
    return polled


async def test_polling_over_implicit_tls_and_starttls(
    settings: Settings,
    tenancy: Tenancy,
    owner: Client,
    imap_tls: ImapServer,
    jobs: InProcessRunner,
) -> None:
    mailbox = imap_tls.mailbox
    assert mailbox.tls_port is not None and imap_tls.certificate is not None
    project = await create_project(owner, name="Support")
    implicit = await create_source(
        owner, mailbox, project["id"], name="IMAPS", imapPort=mailbox.tls_port, useTls=True
    )
    upgraded = await create_source(
        owner, mailbox, project["id"], name="STARTTLS", useTls=True, startTls=True
    )
    assert (implicit["useTls"], implicit["startTls"]) == (True, False)
    assert (upgraded["useTls"], upgraded["startTls"]) == (True, True)
    raw, _ = message("Over TLS")
    mailbox.append(raw)
    # The first polls ran with the system's authorities only: the test's is not among
    # them, so both refused the server and read nothing.
    await jobs.drain()
    found = {s["name"]: s for s in (await owner.gql(SOURCES))["emailSources"]}
    for name in ("IMAPS", "STARTTLS"):
        assert found[name]["lastPolledAt"] is not None
        assert found[name]["lastError"].startswith(
            "TLS with 127.0.0.1 failed: certificate verify failed"
        ), found[name]["lastError"]
    assert await issues_of(owner, project["id"]) == []
    # Trusting the test's authority (LT_IMAP_CA_FILE), both read the mailbox.
    trusting = dataclasses.replace(settings, imap_ca_file=imap_tls.certificate.ca_file)
    polled = await _poll_with(trusting, tenancy, owner, implicit["id"])
    assert polled.last_error is None
    [issue] = await issues_of(owner, project["id"])
    assert issue["title"] == "Over TLS"
    raw, _ = message("Through STARTTLS")
    mailbox.append(raw)
    polled = await _poll_with(trusting, tenancy, owner, upgraded["id"])
    assert polled.last_error is None
    titles = [i["title"] for i in await issues_of(owner, project["id"])]
    assert titles == ["Over TLS", "Through STARTTLS"]  # the first one handled once
    # Trust is not remembered: without the authority, verification fails again.
    polled = await _poll_with(settings, tenancy, owner, upgraded["id"])
    assert polled.last_error is not None and "certificate verify failed" in polled.last_error


async def test_no_plain_text_fallback(
    settings: Settings, tenancy: Tenancy, owner: Client, imap: ImapServer, jobs: InProcessRunner
) -> None:
    """A server without TLS: STARTTLS and implicit TLS both fail, and the password is
    never sent (Dovecot logs no login but the fixture's own)."""
    project = await create_project(owner)
    logins = imap.log().count("Login: user=<support>")
    upgraded = await create_source(owner, imap.mailbox, project["id"], useTls=True, startTls=True)
    implicit = await create_source(owner, imap.mailbox, project["id"], name="S2", useTls=True)
    await jobs.drain()
    polled = await _poll_with(settings, tenancy, owner, upgraded["id"])
    assert polled.last_error == (
        "127.0.0.1 does not offer STARTTLS: the mailbox is not read without TLS."
    )
    polled = await _poll_with(settings, tenancy, owner, implicit["id"])
    assert polled.last_error is not None
    assert polled.last_error.startswith("TLS with 127.0.0.1 failed"), polled.last_error
    raw, _ = message("Never read")
    imap.mailbox.append(raw)
    await _poll_with(settings, tenancy, owner, upgraded["id"])
    assert await issues_of(owner, project["id"]) == []
    assert imap.log().count("Login: user=<support>") == logins + 1  # the append above


async def test_starttls_needs_tls(owner: Client) -> None:
    project = await create_project(owner)
    error = await owner.error(
        "mutation($input: EmailSourceCreateInput!) { emailSourceCreate(input: $input) "
        "{ emailSource { id } } }",
        {
            "input": {
                "name": "S",
                "projectId": project["id"],
                "address": "support@acme.example",
                "imapHost": "127.0.0.1",
                "username": "u",
                "password": "p",
                "useTls": False,
                "startTls": True,
            }
        },
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "input.startTls"


async def test_starttls_default_port(owner: Client, jobs: InProcessRunner) -> None:
    project = await create_project(owner)
    data = await owner.gql(
        "mutation($input: EmailSourceCreateInput!) { emailSourceCreate(input: $input) "
        "{ emailSource { imapPort useTls startTls } } }",
        {
            "input": {
                "name": "S",
                "projectId": project["id"],
                "address": "support@acme.example",
                "imapHost": "127.0.0.1",
                "username": "u",
                "password": "p",
                "startTls": True,
            }
        },
    )
    assert data["emailSourceCreate"]["emailSource"] == {
        "imapPort": 143,
        "useTls": True,
        "startTls": True,
    }
    await jobs.drain()


def test_ca_file_setting(tmp_path: Path) -> None:
    base = {"LT_DATA_DIR": str(tmp_path), "LT_SECRET_KEY": "k" * 40}
    assert load_settings(base).imap_ca_file is None
    with pytest.raises(SettingsError, match="LT_IMAP_CA_FILE"):
        load_settings({**base, "LT_IMAP_CA_FILE": str(tmp_path / "missing.pem")})
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(SettingsError, match="LT_IMAP_CA_FILE"):
        load_settings({**base, "LT_IMAP_CA_FILE": str(tmp_path / "junk.pem")})
    from tests.integrations import certificates

    made = certificates.make(tmp_path)
    loaded = load_settings({**base, "LT_IMAP_CA_FILE": str(made.ca_file)})
    assert loaded.imap_ca_file == made.ca_file
