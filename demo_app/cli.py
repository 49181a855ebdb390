"""`static-edge demo`: run the Streamlit app in its own process group, and stop the whole group with us.

Streamlit starts helper processes and threads of its own; it runs in a new session (process group) so
that SIGINT/SIGTERM sent to `static-edge demo` are forwarded to the whole group, and the group is killed
whatever way we exit, so no server outlives the command.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from static_edge.runtimes.bundle import BundleError, read_manifest

DEFAULT_BUNDLE = Path("quickstart/bundle-256-int8")
APP = Path(__file__).parent / "app.py"
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
STOP_GRACE_S = 5.0


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundles", nargs="*", type=Path, help=f"bundles to show (default: {DEFAULT_BUNDLE})")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but a loopback address exposes the demo (no login) to the network",
    )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    from static_edge.demo_app.corpus import MAX_UPLOAD_MB

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--browser.gatherUsageStats",
        "false",
    ]


def run_demo(args: argparse.Namespace) -> int:
    """Check the bundles, then run Streamlit until it exits or we are interrupted.

    :raises BundleError: for a bundle that cannot be opened (the default one: run `make quickstart`).
    """
    from static_edge.demo_app.app_env import BUNDLES_ENV
    from static_edge.runtimes.console import warning_line

    bundles = args.bundles or [DEFAULT_BUNDLE]
    for bundle in bundles:
        try:
            read_manifest(bundle)
        except BundleError as err:
            hint = " (run `make quickstart` to build the default bundle)" if bundle == DEFAULT_BUNDLE else ""
            raise BundleError(f"{err}{hint}") from err
    if not is_loopback(args.host):
        warning_line(
            f"--host {args.host}: the demo will be reachable from other machines, with no login; "
            "expose it behind a proxy that authenticates, or keep the default 127.0.0.1"
        )
    env = {**os.environ, BUNDLES_ENV: os.pathsep.join(str(b.resolve()) for b in bundles)}
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"static-edge demo: http://{shown}:{args.port}", flush=True)
    return run_in_own_group(streamlit_command(args.port, args.host), env)


def run_in_own_group(command: list[str], env: dict[str, str]) -> int:
    """Run `command` in a new session; forward SIGINT/SIGTERM to its group; kill the group when we leave."""
    process = subprocess.Popen(command, env=env, start_new_session=True)
    received: list[int] = []
    with _forward_signals(process, received):
        try:
            code = process.wait()
        finally:
            stop_group(process)
    return 128 + received[0] if received else code  # 130 after Ctrl-C, 143 after SIGTERM, as a shell reports


@contextlib.contextmanager
def _forward_signals(process: subprocess.Popen, received: list[int]) -> Iterator[None]:
    def forward(signum, frame) -> None:
        received.append(signum)
        _signal_group(process, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def stop_group(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process's group, wait `grace_s`, then SIGKILL whatever is left of it."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process, signal.SIGKILL)  # children that outlived the leader go too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
