"""`static-edge serve`: an embedding server for a bundle, speaking OpenAI's and text-embeddings-inference's APIs.

    static-edge serve out/retrieval-256 --port 8000 [--workers 2] [--api-key-file key.txt]

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    client.embeddings.create(model="retrieval-256", input=["hello world"]).data[0].embedding

FastAPI on uvicorn; the routes and limits are in `server_app`, batching in `micro_batcher`, metrics and the access
log in `server_observability`. Without an API key the server binds 127.0.0.1 and accepts only loopback Host names
unless told otherwise (SECURITY.md). SIGTERM (or Ctrl+C) stops accepting, finishes in-flight requests, then exits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from static_edge.runtimes.cli import add_model_arguments
from static_edge.runtimes.console import console, warning_line
from static_edge.runtimes.embedder import available_cores
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.loopback import LOOPBACK_HOSTS, is_loopback
from static_edge.runtimes.server_app import ServerLimits, create_app

API_KEY_VARIABLE = "STATIC_EDGE_API_KEY"
SETTINGS_VARIABLE = "STATIC_EDGE_SERVE_SETTINGS"
"""How the parent hands a worker process its settings (JSON): uvicorn starts workers from an import string."""
_DEFAULTS = ServerLimits()

__all__ = ["ServeSettings", "add_serve_arguments", "create_app", "run_serve"]


@dataclass
class ServeSettings:
    """Everything a worker needs to serve the bundle: the CLI's options as one record."""

    bundle: str
    model_name: str
    variant: str | None = None
    backend: str = "onnxruntime"
    sha256: str | None = None
    threads: int = 0
    limits: ServerLimits = field(default_factory=ServerLimits)
    allowed_hosts: list[str] | None = None
    api_key: str | None = None
    cors_origins: list[str] | None = None
    access_log: bool = True

    def app(self) -> Any:
        """Load the bundle and build the ASGI app."""
        from static_edge.runtimes import load

        model = load(self.bundle, variant=self.variant, backend=self.backend, sha256=self.sha256, threads=self.threads)
        return create_app(
            model, self.model_name, self.limits, self.allowed_hosts, self.api_key, self.cors_origins, self.access_log
        )

    def to_json(self) -> str:
        """The settings for a worker's environment."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        """Settings written by `to_json`."""
        values = json.loads(text)
        values["limits"] = ServerLimits(**values["limits"])
        return cls(**values)


def worker_app() -> Any:
    """uvicorn's app factory in each worker process: the app built from the parent's settings."""
    from static_edge.runtimes.child_processes import die_with_parent

    die_with_parent()
    return ServeSettings.from_json(os.environ[SETTINGS_VARIABLE]).app()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return value


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """The `serve` command's options."""
    p.add_argument("bundle", type=Path)
    p.add_argument("--host", default="127.0.0.1", help="address to bind; anything but loopback exposes the server")
    p.add_argument("--port", type=_port, default=8000, help="0 picks a free port")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help=f"worker processes sharing the port; 0 (default): one per core this process may use ({available_cores()} "
        "here), measured best from 4 concurrent clients up (benchmarks/results/server.md)",
    )
    p.add_argument("--model-name", help="the model id clients send (default: the bundle folder's name)")
    add_model_arguments(p)
    key = p.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key",
        help=f"require `Authorization: Bearer KEY` (also ${API_KEY_VARIABLE}); "
        "prefer --api-key-file: a command line is visible to other users",
    )
    key.add_argument("--api-key-file", type=Path, help="read the API key from this file's first line")
    p.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let pages from ORIGIN call the server (repeatable); by default no page may",
    )
    p.add_argument("--no-access-log", action="store_true", help="no JSON line per request on stderr")
    limits = p.add_argument_group("limits (each refused before any work: 413 too large, 429 busy)")
    limits.add_argument("--max-texts", type=_positive, default=_DEFAULTS.max_texts, help="most texts in one request")
    limits.add_argument("--max-bytes", type=_positive, default=_DEFAULTS.max_bytes, help="largest request body")
    limits.add_argument(
        "--max-tokens-per-text",
        type=_positive,
        default=_DEFAULTS.max_tokens_per_text,
        help="longer texts are refused, or cut when a TEI request sets truncate",
    )
    limits.add_argument("--max-tokens-per-request", type=_positive, default=_DEFAULTS.max_tokens_per_request)
    limits.add_argument(
        "--max-queued-texts",
        type=_positive,
        default=_DEFAULTS.max_queued_texts,
        help="texts waiting or being encoded; past it requests get 429 with Retry-After",
    )
    limits.add_argument(
        "--max-batch-texts",
        type=_positive,
        default=_DEFAULTS.max_batch_texts,
        help="most texts encoded together; 1 encodes each request on its own (no batching)",
    )
    limits.add_argument(
        "--batch-wait-ms",
        type=float,
        default=_DEFAULTS.batch_wait_ms,
        help="wait this long for more requests before encoding a batch that is not full (default 0: "
        "requests that arrive while a batch encodes form the next one, measured best)",
    )
    p.add_argument("--threads", type=int, default=0, help="batches a worker embeds at once; 0: the cores / workers")


def run_serve(args: argparse.Namespace) -> int:
    """Check the options and the bundle, bind the port, and serve until SIGTERM or Ctrl+C."""
    if args.workers < 0:
        raise InputError(f"--workers must be 0 (one per core) or more, got {args.workers}")
    args.workers = args.workers or available_cores()
    settings = settings_from_args(args)
    app = settings.app()  # loads and verifies the bundle: a bad one is one `error:` line before anything binds
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if sock.family == socket.AF_INET6 else args.host
    model = app.batcher.model
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    console.print(
        f"serving {settings.model_name} ({model.dims} dims{workers}) on http://{host}:{port}/v1 (Ctrl+C stops)"
    )
    sys.stdout.flush()
    if args.workers == 1:
        _serve_here(app, sock)
    else:
        del app, model
        _serve_workers(settings, sock, args.workers)
    return 0


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """The options as settings, after the checks that need no bundle."""
    if args.batch_wait_ms < 0 or args.batch_wait_ms > 1000:
        raise InputError(f"--batch-wait-ms must be between 0 and 1000, got {args.batch_wait_ms}")
    api_key = _api_key(args)
    loopback = is_loopback(args.host)
    if not loopback and api_key is None:
        warning_line(
            f"binding {args.host}: anyone who can reach this address can use the server; set --api-key-file "
            "or put it behind a proxy that authenticates, see SECURITY.md"
        )
    threads = args.threads or max(1, available_cores() // args.workers)
    limits = ServerLimits(**{f.name: getattr(args, f.name) for f in fields(ServerLimits)})  # one option each
    return ServeSettings(
        bundle=str(args.bundle),
        model_name=args.model_name or Path(args.bundle).resolve().name,
        variant=args.variant,
        backend=args.backend,
        sha256=args.sha256,
        threads=threads,
        limits=limits,
        allowed_hosts=list(LOOPBACK_HOSTS) if loopback else None,
        api_key=api_key,
        cors_origins=args.cors_origin,
        access_log=not args.no_access_log,
    )


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key, --api-key-file or the environment; None when none is set."""
    if args.api_key_file is not None:
        try:
            lines = args.api_key_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read the API key file {args.api_key_file}: {err}") from None
        key = lines[0].strip() if lines else ""
    else:
        key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_VARIABLE)
        if key is None:
            return None
    if len(key) < 8 or not key.isprintable() or " " in key:
        raise InputError("the API key must be at least 8 printable characters without spaces")
    return key


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; a port in use is an OSError (one `error:` line), and port 0 gets a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a small response (headers, then body) waits ~40 ms for the
    # client's delayed ACK on every keep-alive request (measured: 44 ms vs 5 ms for one short text)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)  # clients that connect before uvicorn starts accepting wait instead of being refused
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: Any, **extra: Any) -> Any:
    import uvicorn

    # timeout_graceful_shutdown bounds the drain: a client that never finishes its body cannot hold the stop
    return uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=30, backlog=2048, **extra
    )


def _serve_here(app: Any, sock: socket.socket) -> None:
    import uvicorn

    uvicorn.Server(_uvicorn_config(app)).run(sockets=[sock])


def _serve_workers(settings: ServeSettings, sock: socket.socket, workers: int) -> None:
    """uvicorn's supervisor over `workers` processes sharing `sock`; their metrics meet in a temporary folder."""
    from uvicorn.supervisors import Multiprocess

    from static_edge.runtimes.server_observability import MULTIPROCESS_DIR_VARIABLE

    metrics_dir = tempfile.mkdtemp(prefix="static-edge-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = metrics_dir
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    try:
        config = _uvicorn_config(f"{__name__}:worker_app", factory=True, workers=workers)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
