"""Which hosts are this machine only: the one loopback rule of the embedding server, the page preview and the demo.

A server bound to loopback still answers only loopback Host names: a page on another site that resolves its own
name to 127.0.0.1 (DNS rebinding) sends that name, and is refused.
"""

from __future__ import annotations

import ipaddress
import re

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
"""Host names that always mean this machine (besides the addresses 127.0.0.0/8 and ::1)."""

LOOPBACK_HOST_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
"""The Host header names (without a port) a server on loopback accepts."""

_HOST_HEADER = re.compile(r"(?P<name>\[[^\]]*\]|[^:]*)(?::[0-9]{1,5})?")
"""A Host header: a name or a bracketed IPv6 address, then an optional port."""


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is this machine only: 127.0.0.0/8, ::1 (bracketed or not), localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host_header(value: str | None) -> bool:
    """Whether a Host header names this machine by a loopback name: 127.0.0.1, localhost or [::1], with or without
    a port."""
    match = _HOST_HEADER.fullmatch(value.strip().lower()) if value else None
    return match is not None and match["name"] in LOOPBACK_HOST_NAMES
