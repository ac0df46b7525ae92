"""SMTP over TLS, against a real SMTP server (aiosmtpd) on a free local port with a
certificate this test makes: STARTTLS on ``smtp://``, implicit TLS on ``smtps://``, the
server's CA trusted through LT_SMTP_CA_FILE. A certificate that does not verify (an
unknown CA, another host's name) fails the attempt, leaving the mail owed for later; it
never goes out in clear."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpSession
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lightningtrack import clock
from lightningtrack.jobs.mailer import send_email
from lightningtrack.models.landlord import EmailMessage, EmailStatus
from lightningtrack.settings import Settings, SettingsError, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import environment_for
from tests.privacy.conftest import new_email
from tests.privacy.test_smtp import free_port, owe

USER, SECRET = "mailer", "s3cret pass"
VERIFY_FAILED = r"CERTIFICATE_VERIFY_FAILED"


@dataclass
class Authority:
    """A CA and the files of certificates it signed, in a folder of the test's own."""

    folder: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for ``names`` (DNS names, or
        IPv4 addresses), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        alternatives: list[x509.GeneralName] = [
            x509.IPAddress(IPv4Address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names
        ]
        certificate = (
            _builder(names[0], key)
            .issuer_name(self.certificate.subject)
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        stem = self.folder / f"server-{names[0]}-{id(certificate)}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context


def _builder(common_name: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )


def make_authority(folder: Path, name: str) -> Authority:
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(name, key)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    authority = Authority(folder, key, certificate)
    authority.ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return authority


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "ca", "LightningTrack test CA")


@dataclass
class TlsInbox:
    """Keeps what it accepts, with whether the session was encrypted and who logged in."""

    envelopes: list[Envelope] = field(default_factory=list)
    encrypted: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        transport = server.transport
        self.encrypted.append(
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, mechanism: str, auth: object
    ) -> AuthResult:
        if not isinstance(auth, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append(auth.login.decode())
        ok = (auth.login.decode(), auth.password.decode()) == (USER, SECRET)
        return AuthResult(success=ok, handled=False)


@dataclass
class TlsServer:
    inbox: TlsInbox
    port: int
    controller: Controller


@pytest.fixture
def servers() -> Iterator[list[TlsServer]]:
    started: list[TlsServer] = []
    yield started
    for server in started:
        server.controller.stop()


def serve(
    servers: list[TlsServer],
    context: ssl.SSLContext,
    *,
    implicit: bool,
    require_starttls: bool = True,
) -> TlsServer:
    """An SMTP server on a free port: TLS from the first byte (``implicit``), or STARTTLS
    offered (and required before anything else unless told otherwise). AUTH is offered
    only over TLS (aiosmtpd counts only STARTTLS as such, hence its switch for implicit
    TLS)."""
    inbox = TlsInbox()
    port = free_port()
    tls = {"ssl_context": context} if implicit else {"tls_context": context}
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        require_starttls=require_starttls and not implicit,
        authenticator=inbox.authenticate,
        auth_require_tls=not implicit,
        **tls,  # type: ignore[arg-type]
    )
    controller.start()
    server = TlsServer(inbox, port, controller)
    servers.append(server)
    return server


def smtp_settings(settings: Settings, url: str, ca_file: Path | None) -> Settings:
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    extra = {"LT_SMTP_URL": url}
    if ca_file is not None:
        extra["LT_SMTP_CA_FILE"] = str(ca_file)
    configured = load_settings({**env, **extra})
    assert configured.database_url == settings.database_url
    return configured


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_a_mail_goes_out_encrypted_to_a_server_whose_ca_is_trusted(
    settings: Settings,
    tenancy: Tenancy,
    authority: Authority,
    servers: list[TlsServer],
    scheme: str,
) -> None:
    """smtp:// upgrades with STARTTLS (the server requires it), smtps:// speaks TLS from
    the start; the credentials and the mail travel inside TLS, the mail is sent once."""
    implicit = scheme == "smtps"
    server = serve(servers, authority.server_context("127.0.0.1", "localhost"), implicit=implicit)
    url = f"{scheme}://{USER}:{SECRET.replace(' ', '%20')}@127.0.0.1:{server.port}"
    configured = smtp_settings(settings, url, authority.ca_file)
    to_address = new_email(f"tls-{scheme}")
    message, _ = await owe(to_address)

    await send_email(configured, str(message.id))
    assert [e.rcpt_tos for e in server.inbox.envelopes] == [[to_address]]
    assert server.inbox.encrypted == [True]
    assert server.inbox.logins == [USER]
    sent = await EmailMessage.get(id=message.id)
    assert sent.status == EmailStatus.SENT and sent.attempts == 1


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
@pytest.mark.parametrize("flaw", ["unknown CA", "another host's name"])
async def test_a_certificate_that_does_not_verify_leaves_the_mail_owed(
    settings: Settings,
    tenancy: Tenancy,
    tmp_path: Path,
    authority: Authority,
    servers: list[TlsServer],
    scheme: str,
    flaw: str,
) -> None:
    """The server accepts mail in clear too (STARTTLS offered, not required): a client
    that fell back to plain text after a failed handshake would deliver. It must not:
    the attempt fails, the mail stays PENDING with a later retry, nothing arrives."""
    if flaw == "unknown CA":
        stranger = make_authority(tmp_path / "stranger", "Someone else's CA")
        context = stranger.server_context("127.0.0.1", "localhost")
    else:
        context = authority.server_context("mail.example.com")
    implicit = scheme == "smtps"
    server = serve(servers, context, implicit=implicit, require_starttls=False)
    configured = smtp_settings(settings, f"{scheme}://127.0.0.1:{server.port}", authority.ca_file)
    message, _ = await owe(new_email("tls-bad"))
    now = datetime.now(UTC)
    clock.freeze(now)

    with pytest.raises(Exception, match=VERIFY_FAILED):
        await send_email(configured, str(message.id))
    owed = await EmailMessage.get(id=message.id)
    assert owed.status == EmailStatus.PENDING
    assert owed.attempts == 1 and owed.sent_at is None
    assert owed.next_attempt_at > now
    assert owed.last_error and re.search(VERIFY_FAILED, owed.last_error), owed.last_error
    assert server.inbox.envelopes == []


async def test_without_the_ca_file_a_private_ca_is_not_trusted(
    settings: Settings, tenancy: Tenancy, authority: Authority, servers: list[TlsServer]
) -> None:
    """LT_SMTP_CA_FILE is what makes the private CA trusted: without it, the same server
    is refused."""
    server = serve(servers, authority.server_context("127.0.0.1"), implicit=True)
    message, _ = await owe(new_email("tls-no-ca"))
    with pytest.raises(Exception, match=VERIFY_FAILED):
        await send_email(
            smtp_settings(settings, f"smtps://127.0.0.1:{server.port}", None), str(message.id)
        )
    assert server.inbox.envelopes == []


async def test_credentials_never_go_out_without_tls(
    settings: Settings, tenancy: Tenancy, authority: Authority, servers: list[TlsServer]
) -> None:
    """With a user and password in smtp://, a server that does not offer STARTTLS (as when
    someone on the way strips it) is refused before the credentials are sent."""
    inbox = TlsInbox()
    port = free_port()
    plain = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    plain.start()
    servers.append(TlsServer(inbox, port, plain))
    configured = smtp_settings(settings, f"smtp://{USER}:pw@127.0.0.1:{port}", authority.ca_file)
    message, _ = await owe(new_email("tls-strip"))
    with pytest.raises(Exception, match=r"(?i)starttls"):
        await send_email(configured, str(message.id))
    assert inbox.logins == [] and inbox.envelopes == []
    assert (await EmailMessage.get(id=message.id)).status == EmailStatus.PENDING


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "no readable file"), (b"not a certificate", "PEM file of CA certificates")],
)
def test_a_ca_file_that_cannot_be_used_stops_the_start(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    env = {"LT_DATA_DIR": str(tmp_path), "LT_SMTP_URL": "smtp://127.0.0.1:25"}
    with pytest.raises(SettingsError, match=says) as error:
        load_settings({**env, "LT_SMTP_CA_FILE": str(path)})
    assert "LT_SMTP_CA_FILE" in str(error.value)
