"""Debian's Chromium as the browser benchmarks and the browser tests drive it through playwright (here, not in the
installed package: nothing installed drives a browser)."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (apt-get install chromium)."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these, Chromium keeps trying to reach Google's services, which a closed network refuses
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
