"""`static-edge demo`: run the Streamlit app as a child that ends with us, however we end.

Streamlit runs through `runtimes.child_processes.run_child`: in its own process group, with SIGINT, SIGTERM,
SIGHUP and SIGQUIT forwarded to that group, the group stopped whatever way we exit, and (Linux) a parent-death
signal for when we are killed outright, so no server outlives the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from static_edge.runtimes.bundle import BundleError, read_manifest
from static_edge.runtimes.loopback import is_loopback

DEFAULT_BUNDLE = Path("quickstart/bundle-256-int8")
APP = Path(__file__).parent / "app.py"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge demo`."""
    parser.add_argument("bundles", nargs="*", type=Path, help=f"bundles to show (default: {DEFAULT_BUNDLE})")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but a loopback address exposes the demo (no login) to the network",
    )


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the app headless on `host:port`, with the upload cap and no file watcher."""
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
    from static_edge.runtimes.child_processes import run_child
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
    return run_child(streamlit_command(args.port, args.host), env=env)
