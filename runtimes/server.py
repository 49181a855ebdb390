"""`static-edge serve`: an OpenAI-compatible embedding server for a bundle (FastAPI on uvicorn).

    static-edge serve out/retrieval-256 --port 8000

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    client.embeddings.create(model="retrieval-256", input=["hello world"]).data[0].embedding

Endpoints: `POST /v1/embeddings` (input a string or a list of strings; `dimensions` keeps the first N Matryoshka
dims and renormalizes; `encoding_format` "float" or "base64", little-endian float32 as OpenAI's), `GET /v1/models`
and `GET /health`. Requests over `max_texts` texts or `max_bytes` bytes are refused before any work. The server
has no authentication: it binds 127.0.0.1 and accepts only loopback Host names unless told otherwise (SECURITY.md).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime, and the names
# they use (Request) are imported inside create_app, where only evaluated annotations can see them.
import argparse
import base64
import ipaddress
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from static_edge.runtimes.bundle import VARIANT_FILES
from static_edge.runtimes.console import console, warning_line
from static_edge.runtimes.errors import InputError, StaticEdgeError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from static_edge.runtimes.embedder import StaticEmbedder

MAX_TEXTS = 2048
MAX_BYTES = 8 * 1024 * 1024
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", type=Path)
    p.add_argument("--host", default="127.0.0.1", help="address to bind; anything but loopback exposes the server")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    p.add_argument("--model-name", help="the model id clients send (default: the bundle folder's name)")
    p.add_argument("--variant", choices=list(VARIANT_FILES), help="bundle variant (default: the bundle's)")
    p.add_argument("--backend", choices=["onnxruntime", "numpy"], default="onnxruntime")
    p.add_argument("--sha256", metavar="DIGEST", help="refuse the bundle unless its digest is DIGEST (see SECURITY.md)")
    p.add_argument("--max-texts", type=int, default=MAX_TEXTS, help="most texts in one request")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="largest request body in bytes")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads per request; 0: all cores")


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from static_edge.runtimes import load

    if args.max_texts < 1 or args.max_bytes < 1:
        raise InputError("--max-texts and --max-bytes must be at least 1")
    extra = {"threads": args.threads} if args.backend == "onnxruntime" else {}
    model = load(args.bundle, variant=args.variant, backend=args.backend, sha256=args.sha256, **extra)
    name = args.model_name or Path(args.bundle).resolve().name
    loopback = is_loopback(args.host)
    if not loopback:
        warning_line(
            f"binding {args.host}: anyone who can reach this address can use the server (no authentication); "
            "put it behind a proxy that authenticates, see SECURITY.md"
        )
    app = create_app(model, name, args.max_texts, args.max_bytes, allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    # bind here, so a port in use is one `error:` line (an OSError) and --port 0 reports the port it got
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a small response (headers, then body) waits ~40 ms for the
    # client's delayed ACK on every keep-alive request (measured: 44 ms vs 5 ms for one short text)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    console.print(f"serving {name} ({model.dims} dims) on http://{host}:{port}/v1 (Ctrl+C stops)")
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
    return 0


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address or name."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(
    model: "StaticEmbedder",
    model_name: str,
    max_texts: int = MAX_TEXTS,
    max_bytes: int = MAX_BYTES,
    allowed_hosts: list[str] | None = None,
) -> "FastAPI":
    """The ASGI app serving `model` as `model_name`; `allowed_hosts` None accepts any Host header."""
    import numpy as np
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, ValidationError
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from static_edge.runtimes.embedder import l2_normalize

    class EmbeddingRequest(BaseModel):
        model_config = ConfigDict(extra="ignore")
        input: str | list[str] | list[int] | list[list[int]]
        model: str | None = None
        encoding_format: Literal["float", "base64"] = "float"
        dimensions: int | None = Field(default=None)
        user: str | None = None

    class RequestFailed(Exception):
        def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
            super().__init__(message)
            self.status, self.message, self.param, self.code = status, message, param, code

    def error(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
        kind = "invalid_request_error" if status < 500 else "server_error"
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        return JSONResponse(body, status_code=status)

    app = FastAPI(title="static-edge", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    created = int(time.time())

    @app.exception_handler(RequestFailed)
    async def failed(_request: Request, exc: RequestFailed) -> JSONResponse:
        return error(exc.status, exc.message, exc.param, exc.code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _validation_message(exc.errors()))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "dims": model.dims}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry = {"id": model_name, "object": "model", "created": created, "owned_by": "static-edge"}
        return {"object": "list", "data": [entry]}

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise RequestFailed(413, f"request body of {int(declared):,} bytes is over the limit of {max_bytes:,}")
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > max_bytes:
                raise RequestFailed(413, f"request body is over the limit of {max_bytes:,} bytes")
        return bytes(body)

    def parse(body: bytes) -> EmbeddingRequest:
        try:
            return EmbeddingRequest.model_validate_json(body)
        except ValidationError as err:
            raise RequestFailed(422, _validation_message(err.errors())) from None

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        req = parse(await read_body(request))
        if req.model is not None and req.model != model_name:
            raise RequestFailed(404, f"model {req.model!r} is not served here; this server serves {model_name!r}",
                                "model", "model_not_found")  # fmt: skip
        texts = [req.input] if isinstance(req.input, str) else req.input
        if not texts:
            raise RequestFailed(400, "input is empty: send a string or a non-empty list of strings", "input")
        if not all(isinstance(t, str) for t in texts):
            raise RequestFailed(400, "input must be a string or a list of strings (token ids are not accepted)",
                                "input")  # fmt: skip
        if len(texts) > max_texts:
            raise RequestFailed(400, f"input has {len(texts):,} texts; the limit is {max_texts:,} per request",
                                "input")  # fmt: skip
        dims = req.dimensions
        if dims is not None and not 1 <= dims <= model.dims:
            raise RequestFailed(400, f"dimensions must be between 1 and {model.dims}, got {dims}", "dimensions")
        try:
            vectors, lengths = await run_in_threadpool(model.encode_counted, texts)
        except StaticEdgeError as err:  # a text the runtime refuses (e.g. a lone surrogate): the client's input
            raise RequestFailed(400, str(err), "input") from None
        if dims is not None and dims < model.dims:
            vectors = l2_normalize(np.ascontiguousarray(vectors[:, :dims]))
        data = [
            {"object": "embedding", "index": i, "embedding": _encoded(row, req.encoding_format)}
            for i, row in enumerate(vectors)
        ]
        tokens = int(lengths.sum())
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"object": "list", "data": data, "model": model_name, "usage": usage})

    return app


def _encoded(row: Any, encoding_format: str) -> list[float] | str:
    """A vector as OpenAI sends it: a list of floats, or base64 of its little-endian float32 bytes."""
    if encoding_format == "base64":
        return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
    return row.tolist()


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """pydantic's first error as one sentence: where, and what is wrong."""
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
