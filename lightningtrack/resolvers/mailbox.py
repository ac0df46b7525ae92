"""Reading a mailbox over IMAP: the standard library's imaplib, run in a worker thread.

The client connects to the address that was checked for the host (see ``targets``),
keeping the host name for TLS. Messages are read with ``BODY.PEEK[]``, so their flags
(\\Seen) stay as they were; what is new is decided by UID, per UIDVALIDITY.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
from dataclasses import dataclass
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
            account.host, account.port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
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
        try:
            self.client: imaplib.IMAP4 = _Tls(account) if account.use_tls else _Plain(account)
        except ssl.SSLError as error:
            raise MailboxError(f"TLS with {account.host} failed: {error.reason}") from None
        except OSError as error:
            raise MailboxError(
                f"Cannot connect to {account.host}:{account.port}: {error.strerror or error}"
            ) from None
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


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(error: BaseException) -> str:
    raw = error.args[0] if error.args else error
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
