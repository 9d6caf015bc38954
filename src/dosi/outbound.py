"""The one SSRF guard for every URL the server itself calls.

A URL may be called when its scheme is allowed and every address its host resolves
to is public, or is listed in DOSI_OUTBOUND_ALLOW (hosts or CIDRs).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from dosi.errors import BadRequestData


class OutboundGuard:
    def __init__(self, allow: list[str]):
        self.allowed_hosts: set[str] = set()
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in allow:
            try:
                self.allowed_networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.allowed_hosts.add(item.lower())

    def _address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        if any(ip in network for network in self.allowed_networks):
            return True
        return ip.is_global and not ip.is_multicast

    async def check_literal(self, url: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
        """The check that needs no DNS: run when a URL is registered (the full check runs at each call).

        A host name is accepted here even if it does not resolve yet; a literal private or
        loopback address (or localhost) is refused unless allowed.
        """
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            raise BadRequestData(f"{url!r} is not a valid URL") from None
        try:
            ipaddress.ip_address(host)
            literal = True
        except ValueError:
            literal = host == "localhost" or host.endswith(".localhost")
        if literal:
            await self.check(url, schemes)
        elif parts.scheme not in schemes or not host:
            raise BadRequestData(f"{url!r} is not an allowed {'/'.join(schemes)} URL")

    async def check(self, url: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
        """Raise BadRequestData when the server must not call `url`."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise BadRequestData(f"{url!r} is not a valid URL") from None
        if parts.scheme not in schemes or not parts.hostname:
            raise BadRequestData(f"{url!r} is not an allowed {'/'.join(schemes)} URL")
        host = parts.hostname.lower()
        if host in self.allowed_hosts:
            return
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            loop = asyncio.get_running_loop()
            try:
                infos = await asyncio.wait_for(loop.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM), 3)
            except (TimeoutError, OSError):
                raise BadRequestData(f"the host of {url!r} cannot be resolved") from None
            addresses = sorted({str(info[4][0]) for info in infos})
        for address in addresses:
            if not self._address_allowed(address):
                raise BadRequestData(
                    f"{url!r} points to a private or local address; set DOSI_OUTBOUND_ALLOW to permit it"
                )
