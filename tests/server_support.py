"""Servers for tests: `static-edge serve` in its own process group, or an app on uvicorn in a thread."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from static_edge.runtimes.server import bind

SERVE = "import sys; from static_edge.cli import main; sys.exit(main(sys.argv[1:]))"


def start_server(bundle: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`static-edge serve` on a free port in its own process group; returns it and its base URL."""
    workers = [] if "--workers" in extra else ["--workers", "1"]  # one process unless a test asks for more
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", str(bundle), "--port", "0", *workers, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline()
    found = re.search(r"(http://\S+/v1)", line)
    if not found:
        stop_server(process)
        raise AssertionError(f"server did not start: {line!r} {process.stderr.read()!r}")
    return process, found.group(1)


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the whole group, SIGKILL after 10 s, and assert nothing of it is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, "a process of the server's group outlived it"
        time.sleep(0.05)


@contextmanager
def running(app) -> Iterator[str]:
    """`app` on uvicorn in a daemon thread on a free loopback port; stopped (drained) on exit."""
    import uvicorn

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def run_async(coroutine: Any) -> Any:
    """`asyncio.run` in a thread of its own: a session's Playwright keeps an event loop running in the main one."""
    import asyncio

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as err:  # raised again in the caller's thread
            outcome["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
