"""Every server a demo test starts is gone when the test ends (issue 9, class 10).

Each test runs with a marker in its environment that every process it starts inherits (through any number
of forks, and even after its parent died and it was re-parented). At teardown, no process that carries the
marker may still be listening on a socket: a Streamlit (or any) server left behind fails the test, and is
killed so that it does not outlive the suite either.
"""

from __future__ import annotations

import time
import uuid

import psutil
import pytest
from process_guard import MARKER, servers_with_marker


@pytest.fixture(autouse=True)
def no_server_outlives_its_test(monkeypatch):
    """Fail a test whose Streamlit server outlives it (and kill the server)."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, value)
    yield
    deadline = time.monotonic() + 10
    leaked = servers_with_marker(value)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.2)
        leaked = servers_with_marker(value)
    described = []
    for process in leaked:
        try:
            described.append((process.pid, process.cmdline()[:6]))
            process.kill()
        except psutil.NoSuchProcess:
            continue
    assert not described, f"servers still running after the test: {described}"
