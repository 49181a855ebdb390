"""`static-edge demo`: start the Streamlit app on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from static_edge.runtimes.bundle import BundleError, read_manifest

DEFAULT_BUNDLE = Path("quickstart/bundle-256-int8")
APP = Path(__file__).parent / "app.py"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundles", nargs="*", type=Path, help=f"bundles to show (default: {DEFAULT_BUNDLE})")
    parser.add_argument("--port", type=int, default=8501)


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]


def run_demo(args: argparse.Namespace) -> int:
    """Check the bundles, then run Streamlit in the foreground until interrupted.

    :raises BundleError: for a bundle that cannot be opened (the default one: run `make quickstart`).
    """
    from static_edge.demo_app.app_env import BUNDLES_ENV

    bundles = args.bundles or [DEFAULT_BUNDLE]
    for bundle in bundles:
        try:
            read_manifest(bundle)
        except BundleError as err:
            hint = " (run `make quickstart` to build the default bundle)" if bundle == DEFAULT_BUNDLE else ""
            raise BundleError(f"{err}{hint}") from err
    env = {**os.environ, BUNDLES_ENV: os.pathsep.join(str(b.resolve()) for b in bundles)}
    print(f"static-edge demo: http://127.0.0.1:{args.port}", flush=True)
    return subprocess.call(streamlit_command(args.port), env=env)
