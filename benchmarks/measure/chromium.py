"""Debian's Chromium as the browser benchmarks drive it through playwright (the tests keep their own copy in
tests/browser_support.py: nothing installed drives a browser)."""

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
