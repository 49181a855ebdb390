"""The loopback rule of static-edge's local servers (`static-edge serve`, the `static-edge web` preview, the demo):
which bind addresses count as loopback, and which Host header names a loopback-only server accepts (no DNS
rebinding)."""

from __future__ import annotations

import ipaddress
import re

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
"""Host header names a loopback-only server accepts (a port may follow)."""
_HOST_HEADER = re.compile(r"(\[[^\]]*\]|[^:]*)(?::([0-9]{1,5}))?")


LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
"""Host names that mean this machine only, besides the addresses 127.0.0.0/8 and ::1 (the `static-edge demo` host
check has always taken ip6-localhost too)."""


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address or name) is a loopback address or one of `LOOPBACK_NAMES`."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_host_header(value: str | None) -> bool:
    """True for a Host header naming a loopback host (`LOOPBACK_HOSTS`), with or without a port."""
    found = _HOST_HEADER.fullmatch((value or "").strip().lower())
    return found is not None and found.group(1) in LOOPBACK_HOSTS
