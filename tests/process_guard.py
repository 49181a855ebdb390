"""Find the servers a test run started: processes whose environment carries a marker and that listen on a socket.

Every process inherits its parent's environment (through any number of forks, even after re-parenting), so a
marker set before a process starts identifies everything it started.
"""

from __future__ import annotations

import os

import psutil

MARKER = "STATIC_EDGE_TEST_SERVER_MARKER"
SESSION_MARKER = "STATIC_EDGE_TEST_SESSION_MARKER"


def servers_with_marker(value: str, marker: str = MARKER) -> list[psutil.Process]:
    """Our processes whose environment carries `MARKER=value` and that listen on a TCP/UDP socket."""
    found = []
    for process in psutil.process_iter(["uids"]):
        try:
            if process.uids().real != os.getuid() or process.environ().get(marker) != value:
                continue
            if any(c.status == psutil.CONN_LISTEN for c in process.net_connections(kind="inet")):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
