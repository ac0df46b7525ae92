"""Where outgoing webhooks may go: the guard against server-side request forgery.

In production a target must be ``https://`` and every address its host resolves to must
be a global one: loopback, private, link-local (cloud metadata at 169.254.169.254),
shared, reserved and multicast addresses are refused. The check is made when a webhook
is saved and again at every delivery, and the delivery connects to the very address that
was checked, so a name that resolves elsewhere a second time (DNS rebinding) cannot slip
past. In development ``http://`` is allowed to loopback hosts, for local receivers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from lightningtrack.errors import BadUserInput
from lightningtrack.settings import Settings

MAX_URL = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL may not be called; the message says why, for the user."""


@dataclass(frozen=True)
class Target:
    url: str  # the URL with the checked address in place of the host name
    host: str  # the Host header
    server_name: str | None  # the name for TLS (SNI and the certificate check)
    address: Address


def _loopback_name(host: str) -> bool:
    if host in ("localhost", "localhost.") or host.endswith(".localhost"):
        return True
    literal = _literal(host)
    return literal is not None and literal.is_loopback


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse(settings: Settings, url: str) -> SplitResult:
    """The URL's parts if its form may be used; ``TargetRefused`` otherwise."""
    if len(url) > MAX_URL:
        raise TargetRefused(f"A URL is at most {MAX_URL} characters long.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused("Not a valid URL.") from None
    host = (parts.hostname or "").lower()
    if not host or any(c.isspace() for c in url.strip()):
        raise TargetRefused("Not a valid URL: it needs a host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("A webhook URL must not carry a user name or password.")
    if port == 0:
        raise TargetRefused("Not a valid port.")
    if parts.scheme == "https":
        return parts
    if parts.scheme == "http" and not settings.production and _loopback_name(host):
        return parts
    if parts.scheme == "http":
        raise TargetRefused("Use an https:// URL (http:// only to loopback in development).")
    raise TargetRefused("Use an https:// URL.")


def permitted(settings: Settings, address: Address) -> bool:
    if not settings.production:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[Address]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(f"The host {host} cannot be resolved.") from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise TargetRefused(f"The host {host} cannot be resolved.")
    return found


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


async def pick_address(settings: Settings, host: str, port: int) -> Address:
    """The address to connect to for ``host``, checked now; ``TargetRefused`` otherwise."""
    addresses = await resolve(host, port)
    refused = [a for a in addresses if not permitted(settings, a)]
    if refused:
        # One bad address refuses the name: which one a client would pick is not ours to say.
        raise TargetRefused(
            f"{host} resolves to {refused[0]}, a private, loopback or otherwise non-public address."
        )
    return addresses[0]


async def pick(settings: Settings, url: str) -> Target:
    """The address to connect to for ``url``, checked now; ``TargetRefused`` otherwise."""
    parts = parse(settings, url)
    host = (parts.hostname or "").lower()
    address = await pick_address(settings, host, _port(parts))
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    connect = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    named = _literal(host)
    shown = f"[{host}]" if named is not None and named.version == 6 else host
    host_header = f"{shown}:{parts.port}" if parts.port else shown
    return Target(
        url=connect, host=host_header, server_name=None if named else host, address=address
    )


async def check(settings: Settings, url: str, field: str) -> str:
    """``url`` cleaned, for saving a webhook; BAD_USER_INPUT naming ``field`` if refused."""
    try:
        parse(settings, url)
        if settings.production:
            await pick(settings, url)
    except TargetRefused as refusal:
        raise BadUserInput(str(refusal), field=field) from None
    return url.strip()
