"""Secure by default: open only on loopback (a first try), authenticated anywhere else."""

from __future__ import annotations

import ipaddress

from dosi.settings import Settings


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_access(settings: Settings) -> bool:
    """True when requests need no credentials: on loopback by default, anywhere only when forced."""
    if settings.auth == "off-unsafe":
        return True
    return settings.auth == "auto" and loopback(settings.host)
