"""Where workers may send requests: public addresses, plus the networks an operator allows.

Every outbound request of a job type (the image download, and each client whose URL an
operator sets: chain API, language model, transaction service, social API, Discord) goes
through `PinnedTransport`. It resolves the host once, refuses when the lookup fails or when
any answer is not a public address, and connects to the vetted address it resolved, so a DNS
answer that changes between the check and the connection (rebinding) is never used. TLS is
still verified against the host name (sent as SNI and checked against the certificate).

An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
`::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`,
6to4 `2002::/16`, Teredo `2001::/32`) is judged by both addresses.

Internal services a deployment really uses (the transaction service on its private network)
are allowed by the `OUTBOUND_ALLOWED_NETWORKS` setting: a list of CIDR networks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpx
from django.conf import settings

from jobqueue import PermanentError, RetryableError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")

EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))

__all__ = ["EVERYWHERE", "PinnedTransport", "allowed_networks", "embedded_ipv4", "refusal", "vetted_address"]


def allowed_networks() -> list[Network]:
    """The OUTBOUND_ALLOWED_NETWORKS setting as networks (a list or a comma-separated string)."""
    raw: Any = getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", None) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [ipaddress.ip_network(str(item).strip(), strict=False) for item in raw if str(item).strip()]


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, translated, NAT64, 6to4, Teredo)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _TRANSLATED or any(address in net for net in _NAT64):
        found.append(low32)
    if address in _COMPATIBLE and int(address) > 1:  # not :: nor ::1, which are judged as IPv6
        found.append(low32)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def refusal(address: Address, allowed: Iterable[Network] = ()) -> str:
    """The non-public address that refuses a request to `address` ("" when it may go): the
    address itself or an IPv4 one it carries, unless inside an allowed network."""
    allowed = list(allowed)
    candidates: list[Address] = [address, *embedded_ipv4(address)]
    for candidate in candidates:
        if any(candidate.version == net.version and candidate in net for net in allowed):
            continue
        if not candidate.is_global or candidate.is_multicast:
            return f"{address}, carrying {candidate}" if candidate != address else str(address)
    return ""


ALLOW_HINT = (
    "requests go to public addresses only (add the service's network to OUTBOUND_ALLOWED_NETWORKS if it is yours)"
)


async def vetted_address(host: str, port: int, allowed: Iterable[Network] = (), hint: str = ALLOW_HINT) -> str:
    """The one address to connect to for `host`: resolved once; refused when the lookup fails
    or when any answer is not public (an attacker's name can answer both kinds)."""
    allowed = list(allowed)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        answers: list[Address] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise RetryableError(f"the host {host} could not be resolved ({exc}); nothing was sent") from None
        answers = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not answers:
            raise RetryableError(f"the host {host} has no address; nothing was sent")
    for address in answers:
        reason = refusal(address, allowed)
        if reason:
            raise PermanentError(f"the host {host} resolves to a non-public address ({reason}); {hint}")
    return str(answers[0])


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that connects only to the vetted address of each request's host.

    `allowed` is the non-public networks this client may reach: by default the operator's
    OUTBOUND_ALLOWED_NETWORKS; a URL that comes from a payload (the image download) passes
    its own (none, or all of them when its type's settings say so). The single resolution
    always applies. Redirects come back through here, so each hop is vetted.
    """

    def __init__(self, *, allowed: Iterable[Network] | None = None, hint: str = ALLOW_HINT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allowed = None if allowed is None else list(allowed)
        self.hint = hint

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        allowed = allowed_networks() if self.allowed is None else self.allowed
        address = await vetted_address(host, port, allowed, self.hint)
        if address != host:
            # The Host header stays the name (httpx set it from the URL); TLS gets the name as
            # SNI and checks the certificate against it, while the socket goes to the address.
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
            request.url = request.url.copy_with(host=address)
        return await super().handle_async_request(request)
