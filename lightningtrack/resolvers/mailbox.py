"""Reading a mailbox over IMAP: the standard library's imaplib, run in a worker thread.

The client connects to the address that was checked for the host (see ``targets``),
keeping the host name for TLS: implicit TLS (IMAPS), or a plain connection that STARTTLS
must upgrade before anything else is said, the password above all. Certificates are
always verified, against the system's authorities and those of ``LT_IMAP_CA_FILE``; a
failed verification or a server without STARTTLS ends the poll, never falling back to
plain text. Messages are read with ``BODY.PEEK[]``, so their flags (\\Seen) stay as they
were; what is new is decided by UID, per UIDVALIDITY.
"""

from __future__ import annotations

import contextlib
import functools
import imaplib
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT = 30.0
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(Exception):
    """The mailbox could not be read; the message says why, for ``lastError``."""


@dataclass(frozen=True)
class Account:
    host: str
    address: str  # the checked address to connect to
    port: int
    use_tls: bool
    username: str
    password: str
    folder: str
    starttls: bool = False  # with use_tls: upgrade a plain connection, not implicit TLS
    ca_file: Path | None = None  # authorities trusted besides the system's


@functools.cache
def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying context (certificate and host name), built once per process: loading the
    system's authorities takes tens of milliseconds."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class _Plain(imaplib.IMAP4):
    def __init__(self, account: Account) -> None:
        self._address = account.address
        super().__init__(account.host, account.port, timeout=TIMEOUT)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)


class _Tls(imaplib.IMAP4_SSL):
    def __init__(self, account: Account) -> None:
        self._address = account.address
        super().__init__(
            account.host, account.port, ssl_context=tls_context(account.ca_file), timeout=TIMEOUT
        )

    def _create_socket(self, timeout: float | None) -> socket.socket:
        raw = socket.create_connection((self._address, self.port), timeout)
        wrapped: socket.socket = self.ssl_context.wrap_socket(raw, server_hostname=self.host)
        return wrapped


def _ok(result: tuple[str, Any], what: str) -> Any:
    status, data = result
    if status != "OK":
        detail = data[0].decode(errors="replace") if data and isinstance(data[0], bytes) else ""
        raise MailboxError(f"The IMAP server refused {what}: {detail}".strip())
    return data


class Session:
    """One connection to one folder; its methods block (run them in a thread)."""

    def __init__(self, account: Account) -> None:
        implicit = account.use_tls and not account.starttls
        try:
            self.client: imaplib.IMAP4 = _Tls(account) if implicit else _Plain(account)
        except ssl.SSLError as error:
            raise MailboxError(f"TLS with {account.host} failed: {_tls_reason(error)}") from None
        except OSError as error:
            raise MailboxError(
                f"Cannot connect to {account.host}:{account.port}: {error.strerror or error}"
            ) from None
        if account.use_tls and account.starttls:
            self._upgrade(account)
        try:
            self.client.login(account.username, account.password)
        except imaplib.IMAP4.error as error:
            self.close()
            raise MailboxError(f"The IMAP server refused the login: {_text(error)}") from None
        try:
            data = _ok(self.client.select(_quoted(account.folder), readonly=True), "the folder")
        except imaplib.IMAP4.error as error:
            self.close()
            raise MailboxError(f"Cannot open the folder {account.folder}: {_text(error)}") from None
        self.exists = int(data[0] or 0)
        validity = self.client.response("UIDVALIDITY")[1]
        self.uid_validity = int(validity[0]) if validity and validity[0] else 0

    def _upgrade(self, account: Account) -> None:
        """STARTTLS before the login; a server that does not offer it is not logged into."""
        if "STARTTLS" not in self.client.capabilities:
            self.close()
            raise MailboxError(
                f"{account.host} does not offer STARTTLS: the mailbox is not read without TLS."
            )
        try:
            _ok(self.client.starttls(tls_context(account.ca_file)), "STARTTLS")
        except ssl.SSLError as error:
            self._drop()
            raise MailboxError(f"TLS with {account.host} failed: {_tls_reason(error)}") from None
        except (imaplib.IMAP4.error, OSError) as error:
            self._drop()
            raise MailboxError(f"STARTTLS with {account.host} failed: {_text(error)}") from None

    def _drop(self) -> None:
        # After a failed handshake nothing more is said on the connection, not even LOGOUT.
        with contextlib.suppress(OSError):
            self.client.shutdown()

    def uids_after(self, last_uid: int) -> list[int]:
        if self.exists == 0:
            return []
        data = _ok(self.client.uid("SEARCH", f"UID {last_uid + 1}:*"), "the search")
        found = [int(u) for u in (data[0] or b"").split()]
        # "n:*" always matches the highest UID, even one below n.
        return sorted(u for u in found if u > last_uid)

    def size(self, uid: int) -> int:
        data = _ok(self.client.uid("FETCH", str(uid), "(RFC822.SIZE)"), "the fetch")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes) and (match := _SIZE.search(line)):
                return int(match.group(1))
        return 0

    def fetch(self, uid: int) -> bytes | None:
        data = _ok(self.client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "the fetch")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None  # expunged meanwhile

    def close(self) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.client.logout()


def _tls_reason(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message}"
    return str(error.reason or error)


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(error: BaseException) -> str:
    raw = error.args[0] if error.args else error
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
