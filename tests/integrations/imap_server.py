"""A real IMAP server for the tests: Dovecot, configured and run in a temporary folder.

It listens on a free loopback port with one passwd-file user whose maildir is in the
folder: without TLS, or (``tls=True``) with a certificate made by the test, on an
implicit-TLS port and with STARTTLS on the plain one, refusing any login without TLS.
As root (CI) it runs its helpers as Dovecot's own users when the package created them,
else as ``nobody``; as any other user, everything runs as that user.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.integrations import certificates
from tests.integrations.certificates import ServerCertificate

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


@dataclass
class Mailbox:
    host: str
    port: int
    username: str
    password: str
    # With TLS: the implicit-TLS port and the authority that signed the server's certificate.
    tls_port: int | None = None
    ca_file: Path | None = None

    def connect(self) -> imaplib.IMAP4:
        if self.tls_port is None:
            return imaplib.IMAP4(self.host, self.port, timeout=10)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return imaplib.IMAP4_SSL(self.host, self.tls_port, ssl_context=context, timeout=10)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into the mailbox, as a mail client would."""
        with self.connect() as client:
            client.login(self.username, self.password)
            status, _ = client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK", status

    def count(self, folder: str = "INBOX") -> int:
        with self.connect() as client:
            client.login(self.username, self.password)
            status, data = client.select(folder, readonly=True)
            assert status == "OK"
            return int(data[0] or 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _account(preferred: str) -> tuple[str, int, int]:
    try:
        entry = pwd.getpwnam(preferred)
    except KeyError:
        entry = pwd.getpwnam("nobody")
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def _tls_config(certificate: ServerCertificate | None, tls_port: int | None) -> tuple[str, str]:
    """The ssl settings and the implicit-TLS listener."""
    if certificate is None:
        return "ssl = no\ndisable_plaintext_auth = no", "port = 0"
    settings = (
        f"ssl = required\nssl_cert = <{certificate.cert_file}\n"
        f"ssl_key = <{certificate.key_file}\ndisable_plaintext_auth = yes"
    )
    return settings, f"address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes"


def _config(
    folder: Path,
    port: int,
    username: str,
    password: str,
    certificate: ServerCertificate | None = None,
    tls_port: int | None = None,
) -> Path:
    if os.geteuid() == 0:
        internal, _, _ = _account("dovecot")
        login, _, _ = _account("dovenull")
        _, uid, gid = _account("dovecot")
    else:
        me = pwd.getpwuid(os.geteuid())
        internal = login = me.pw_name
        uid, gid = me.pw_uid, me.pw_gid
    group = grp.getgrgid(gid).gr_name
    for sub in ("run", "state", "mail", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for sub in ("mail", "home"):
            os.chown(folder / sub, uid, gid)
    (folder / "passwd").write_text(f"{username}:{{PLAIN}}{password}::::::\n")
    ssl_settings, imaps = _tls_config(certificate, tls_port)
    config = folder / "dovecot.conf"
    config.write_text(
        f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_settings}
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    # The mail processes run as another user: they must reach the folder.
    os.chmod(folder, 0o755)  # noqa: S103
    return config


class ImapServer:
    def __init__(self, folder: Path, tls: bool = False) -> None:
        self.folder = folder
        self.port = _free_port()
        self.certificate = certificates.make(folder) if tls else None
        tls_port = _free_port() if tls else None
        self.mailbox = Mailbox(
            "127.0.0.1",
            self.port,
            "support",
            "imap-secret-1",
            tls_port=tls_port,
            ca_file=self.certificate.ca_file if self.certificate else None,
        )
        self.config = _config(
            folder,
            self.port,
            self.mailbox.username,
            self.mailbox.password,
            self.certificate,
            tls_port,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with self.mailbox.connect() as client:
                    client.login(self.mailbox.username, self.mailbox.password)
                    return
            except OSError:
                time.sleep(0.1)
            except imaplib.IMAP4.error:
                time.sleep(0.2)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        stderr = b""
        if self.process is not None and self.process.poll() is not None and self.process.stderr:
            stderr = self.process.stderr.read()
        return (path.read_text() if path.exists() else "") + stderr.decode(errors="replace")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
