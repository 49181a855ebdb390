"""The one loopback rule: bind addresses and Host headers."""

from __future__ import annotations

import pytest

from static_edge.runtimes.loopback import is_loopback, loopback_host_header


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "ip6-localhost"])
def test_loopback_bind_addresses(host):
    """Loopback bind addresses."""
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.com", "localhost.example.com", ""])
def test_other_bind_addresses_are_not_loopback(host):
    """Other bind addresses are not loopback."""
    assert not is_loopback(host)


@pytest.mark.parametrize(
    "header", ["127.0.0.1", "127.0.0.1:8000", "localhost", "LocalHost:1", "[::1]", "[::1]:65535", " localhost "]
)
def test_loopback_host_headers(header):
    """Loopback host headers."""
    assert loopback_host_header(header)


@pytest.mark.parametrize(
    "header",
    [None, "", "::1", "evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost:port",
     "localhost:123456", "127.0.0.2", "[::2]:80", "localhost@evil.example"],
)  # fmt: skip
def test_other_host_headers_are_refused(header):
    """Other host headers are refused."""
    assert not loopback_host_header(header)
