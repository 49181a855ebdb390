"""The ASGI app of `static-edge serve`: the OpenAI and text-embeddings-inference routes over one micro-batcher.

Routes: `POST /v1/embeddings` (OpenAI), `POST /embed` and `POST /` (text-embeddings-inference), `GET /info`,
`GET /v1/models`, `GET /health` (encodes a text), `GET /metrics` (Prometheus). Every body is refused before any
work when it is too large (413), not JSON (415), or the queue is full (429, with Retry-After); a large body is
parsed and its response built off the event loop, so one heavy request never stalls the others.
"""

# No `from __future__ import annotations`: pydantic reads the request models' annotations at runtime.
import binascii
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from static_edge.runtimes.embedder import l2_normalize
from static_edge.runtimes.errors import StaticEdgeError
from static_edge.runtimes.micro_batcher import Encoded, MicroBatcher, QueueFull, RequestTooLarge, TokenLimits
from static_edge.runtimes.server_observability import AccessLog, ServedApp, ServerMetrics
from static_edge.runtimes.tokenization import validate_texts

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from static_edge.runtimes.embedder import StaticEmbedder

HEALTH_TEXT = "static-edge health check"
OFF_LOOP_BYTES = 32 * 1024
"""Bodies larger than this are parsed in a worker thread (pydantic holds the GIL, but the loop keeps turning)."""
OFF_LOOP_VALUES = 64 * 1024
"""Responses with more floats than this are serialized in a worker thread."""
RETRY_AFTER_SECONDS = 1
VERSION = "static-edge"


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask and how much may wait; `static-edge serve --help` states the defaults."""

    max_texts: int = 2048
    max_bytes: int = 8 * 1024 * 1024
    max_tokens_per_text: int = 8192
    max_tokens_per_request: int = 262_144
    max_batch_texts: int = 1024
    max_queued_texts: int = 16_384
    batch_wait_ms: float = 0.0


class Refused(Exception):
    """A request the server answers with an error status instead of vectors."""

    def __init__(self, status: int, message: str, param: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.retry_after = status, message, param, retry_after


def _request_models() -> tuple[type, type]:
    """The OpenAI and TEI request bodies as pydantic models (imported lazily: pydantic comes with the serve extra)."""
    from pydantic import BaseModel, ConfigDict

    class OpenAIRequest(BaseModel):
        model_config = ConfigDict(extra="ignore")
        input: str | list[str] | list[int] | list[list[int]]
        model: str | None = None
        encoding_format: Literal["float", "base64"] = "float"
        dimensions: int | None = None
        user: str | None = None

    class TEIRequest(BaseModel):
        model_config = ConfigDict(extra="ignore")
        inputs: str | list[str]
        normalize: bool = True
        truncate: bool = False
        truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"
        dimensions: int | None = None
        prompt_name: str | None = None

    return OpenAIRequest, TEIRequest


def create_app(
    model: "StaticEmbedder",
    model_name: str,
    limits: ServerLimits | None = None,
    allowed_hosts: list[str] | None = None,
    api_key: str | None = None,
    cors_origins: list[str] | None = None,
    access_log: bool = False,
) -> Any:
    """The ASGI app serving `model` as `model_name`.

    :param allowed_hosts: Host header values accepted (DNS rebinding); None accepts any.
    :param api_key: when set, every route but /health needs `Authorization: Bearer <api_key>`.
    :param cors_origins: origins whose pages may call the server (their preflight is answered); none by default.
    :param access_log: write one JSON line per request to stderr.
    """
    limits = limits or ServerLimits()
    metrics = ServerMetrics.create()
    batcher = _batcher(model, limits, metrics)
    routes = _Routes(model, model_name, limits, batcher, metrics)
    app = _framework_app(routes, batcher, allowed_hosts, cors_origins)
    # with CORS the framework's middleware must answer for every route; without it the embedding routes go direct
    direct = (
        {} if cors_origins else {path: endpoint for path, endpoint, methods in routes.table() if methods == ["POST"]}
    )
    paths = frozenset(path for path, _, _ in routes.table())
    log = AccessLog() if access_log else None
    served = ServedApp(app, metrics, paths, api_key, log, direct, allowed_hosts)
    served.batcher = batcher
    return served


def _batcher(model: "StaticEmbedder", limits: ServerLimits, metrics: ServerMetrics) -> MicroBatcher:
    """The micro-batcher every embedding route queues on, sized by `limits`."""
    return MicroBatcher(
        model,
        TokenLimits(limits.max_tokens_per_text, limits.max_tokens_per_request),
        max_batch_texts=limits.max_batch_texts,
        max_wait=limits.batch_wait_ms / 1000,
        max_queued_texts=limits.max_queued_texts,
        observe=metrics.observe_batch,
    )


def _framework_app(
    routes: "_Routes", batcher: MicroBatcher, allowed_hosts: list[str] | None, cors_origins: list[str] | None
) -> Any:
    """The FastAPI app of every route, with the Host and CORS middleware; it starts and stops the batcher."""
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        batcher.start()
        yield
        await batcher.stop()  # uvicorn has drained in-flight requests by now

    app = FastAPI(title="static-edge", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    for path, endpoint, methods in routes.table():
        app.router.add_route(path, endpoint, methods=methods)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
        )
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app


class _Routes:
    """The endpoints, sharing the model, the limits, the batcher and the metrics."""

    def __init__(
        self,
        model: "StaticEmbedder",
        model_name: str,
        limits: ServerLimits,
        batcher: MicroBatcher,
        metrics: ServerMetrics,
    ):
        self.model, self.model_name, self.limits, self.batcher, self.metrics = (
            model,
            model_name,
            limits,
            batcher,
            metrics,
        )
        self.created = int(time.time())
        self.openai_request, self.tei_request = _request_models()

    def table(self) -> list[tuple[str, Callable[..., Awaitable["Response"]], list[str]]]:
        """(path, endpoint, methods) of every route."""
        return [
            ("/v1/embeddings", self.openai_embeddings, ["POST"]),
            ("/embed", self.tei_embed, ["POST"]),
            ("/", self.tei_embed, ["POST"]),
            ("/v1/models", self.models, ["GET"]),
            ("/info", self.info, ["GET"]),
            ("/health", self.health, ["GET"]),
            ("/metrics", self.prometheus, ["GET"]),
        ]

    # --- the two embedding APIs -------------------------------------------------------------------------

    async def openai_embeddings(self, request: "Request") -> "Response":
        """OpenAI's `POST /v1/embeddings`."""
        try:
            req = await self._parse(request, self.openai_request)
            if req.model is not None and req.model != self.model_name:
                raise Refused(
                    404, f"model {req.model!r} is not served here; this server serves {self.model_name!r}", "model"
                )
            texts = self._texts(req.input, "input")
            encoded = await self._encode(request, texts, None)
            vectors = _cut_dims(encoded.vectors, req.dimensions, self.model.dims, renormalize=True)
            tokens = encoded.tokens
            body = {
                "object": "list",
                "data": [_EmbeddingRows(vectors, req.encoding_format)],
                "model": self.model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
            return await _json(body, vectors.size)
        except Refused as refused:
            return _openai_error(refused)

    async def tei_embed(self, request: "Request") -> "Response":
        """text-embeddings-inference's `POST /embed` (and `POST /`): a list of float lists."""
        try:
            req = await self._parse(request, self.tei_request)
            if req.prompt_name is not None:
                raise Refused(422, "prompt_name is not supported: a static model has no prompts", "prompt_name")
            texts = self._texts(req.inputs, "inputs")
            truncate = req.truncation_direction.lower() if req.truncate else None
            encoded = await self._encode(request, texts, truncate)
            vectors = _cut_dims(encoded.vectors, req.dimensions, self.model.dims, renormalize=req.normalize)
            if req.normalize and req.dimensions is None:
                vectors = l2_normalize(vectors)
            return await _json(vectors, vectors.size)
        except Refused as refused:
            return _tei_error(refused)

    # --- the other routes ----------------------------------------------------------------------------------

    async def models(self, _request: "Request") -> "Response":
        """OpenAI's model list: the one model served."""
        entry = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "static-edge"}
        return await _json({"object": "list", "data": [entry]}, 0)

    async def info(self, _request: "Request") -> "Response":
        """text-embeddings-inference's `GET /info`."""
        manifest = self.model.manifest
        body = {
            "model_id": self.model_name,
            "model_sha": manifest.source.get("revision") or manifest.source.get("sha256"),
            "model_dtype": self.model.variant,
            "model_type": {"embedding": {"pooling": manifest.pooling}},
            "max_concurrent_requests": self.limits.max_queued_texts,
            "max_input_length": self.limits.max_tokens_per_text,
            "max_batch_tokens": self.limits.max_tokens_per_request,
            "max_client_batch_size": self.limits.max_texts,
            "max_batch_requests": None,
            "tokenization_workers": 1,
            "version": VERSION,
            "dims": self.model.dims,
            "backend": self.model.backend,
        }
        return await _json(body, 0)

    async def health(self, _request: "Request") -> "Response":
        """Encodes a text outside the batch queue: 200 when the model gives a finite vector, 503 otherwise."""
        from starlette.concurrency import run_in_threadpool

        try:
            vector = await run_in_threadpool(self.model.encode, [HEALTH_TEXT])
            if not np.isfinite(vector).all():
                raise ValueError("the model gave a non-finite vector")
        except Exception as err:  # any failure means unhealthy; the message names the kind, never a traceback
            body = {"status": "error", "model": self.model_name, "message": f"{type(err).__name__}: {err}"[:300]}
            return await _json(body, 0, status=503)
        body = {
            "status": "ok",
            "model": self.model_name,
            "dims": self.model.dims,
            "queued_texts": self.batcher.queued_texts,
        }
        return await _json(body, 0)

    async def prometheus(self, _request: "Request") -> "Response":
        """Prometheus text exposition."""
        from starlette.responses import Response

        self.metrics.queue_texts.set(self.batcher.queued_texts)
        content, content_type = self.metrics.exposition()
        return Response(content, media_type=content_type)

    # --- shared steps ----------------------------------------------------------------------------------------

    async def _parse(self, request: "Request", model_type: type) -> Any:
        """The request's JSON body as `model_type`, refused before reading when the queue or the size says so."""
        from pydantic import ValidationError
        from starlette.concurrency import run_in_threadpool

        try:
            self.batcher.check_room()
        except QueueFull as full:
            raise Refused(429, str(full), retry_after=RETRY_AFTER_SECONDS) from None
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Refused(415, "send the body as JSON with Content-Type: application/json")
        body = await self._read_body(request)

        def parse() -> Any:
            try:
                return model_type.model_validate_json(body)
            except ValidationError as err:
                raise Refused(422, _validation_message(err.errors())) from None

        return await run_in_threadpool(parse) if len(body) > OFF_LOOP_BYTES else parse()

    async def _read_body(self, request: "Request") -> bytes:
        max_bytes = self.limits.max_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise Refused(413, f"request body of {int(declared):,} bytes is over the limit of {max_bytes:,}")
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > max_bytes:
                raise Refused(413, f"request body is over the limit of {max_bytes:,} bytes")
        return bytes(body)

    def _texts(self, given: Any, param: str) -> list[str]:
        texts = [given] if isinstance(given, str) else given
        if not texts:
            raise Refused(400, f"{param} is empty: send a string or a non-empty list of strings", param)
        if not isinstance(texts[0], str) or not all(isinstance(t, str) for t in texts):
            raise Refused(400, f"{param} must be a string or a list of strings (token ids are not accepted)", param)
        if len(texts) > self.limits.max_texts:
            raise Refused(
                413, f"{param} has {len(texts):,} texts; the limit is {self.limits.max_texts:,} per request", param
            )
        try:
            return validate_texts(texts)
        except StaticEdgeError as err:  # a lone surrogate: not Unicode text
            raise Refused(400, str(err), param) from None

    async def _encode(self, request: "Request", texts: list[str], truncate: str | None) -> Encoded:
        try:
            encoded = await self.batcher.encode(texts, truncate)
        except QueueFull as full:
            raise Refused(429, str(full), retry_after=RETRY_AFTER_SECONDS) from None
        except RequestTooLarge as err:
            raise Refused(413, str(err), "input") from None
        except StaticEdgeError as err:
            raise Refused(400, str(err), "input") from None
        except Exception as err:  # a bug or a broken model: one line on the console, no traceback to the client
            from static_edge.runtimes.console import warning_line

            warning_line(f"encoding failed: {type(err).__name__}: {err}"[:300])
            raise Refused(500, "the server could not encode the input") from None
        self.metrics.queue_seconds.observe(encoded.queue_seconds)
        encoded.tokens = int(encoded.lengths.sum())
        request.state.texts, request.state.tokens = len(texts), encoded.tokens
        return encoded


@dataclass
class _EmbeddingRows:
    """OpenAI's `data` list, built lazily so that a large one is serialized off the event loop."""

    vectors: np.ndarray
    encoding_format: str

    def items(self) -> list[dict[str, Any]]:
        """The rows as OpenAI sends them: float lists, or base64 of little-endian float32 bytes."""
        if self.encoding_format == "base64":
            raw = self.vectors.astype("<f4", copy=False)
            encode = binascii.b2a_base64  # base64.b64encode's own call, without its wrapper
            rows: Any = [encode(row.tobytes(), newline=False).decode("ascii") for row in raw]
        else:
            rows = list(self.vectors)
        return [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(rows)]


def _cut_dims(vectors: np.ndarray, dims: int | None, width: int, renormalize: bool) -> np.ndarray:
    """The first `dims` Matryoshka dims (renormalized when asked), or all of them."""
    if dims is None:
        return vectors
    if not 1 <= dims <= width:
        raise Refused(400, f"dimensions must be between 1 and {width}, got {dims}", "dimensions")
    if dims == width:
        return vectors
    cut = np.ascontiguousarray(vectors[:, :dims])
    return l2_normalize(cut) if renormalize else cut


async def _json(body: Any, values: int, status: int = 200) -> "Response":
    """A JSON response through orjson (numpy arrays written directly); built in a thread when large."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    def render() -> bytes:
        import orjson

        if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
            rows = body["data"][0]
            if isinstance(rows, _EmbeddingRows):
                body["data"] = rows.items()
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)

    content = await run_in_threadpool(render) if values > OFF_LOOP_VALUES else render()
    return Response(content, status_code=status, media_type="application/json")


def _headers(refused: Refused) -> dict[str, str] | None:
    return {"retry-after": str(refused.retry_after)} if refused.retry_after is not None else None


def _openai_error(refused: Refused) -> "Response":
    """OpenAI's error body."""
    from starlette.responses import JSONResponse

    kind = "invalid_request_error" if refused.status < 500 else "server_error"
    code = {404: "model_not_found", 429: "rate_limit_exceeded"}.get(refused.status)
    body = {"error": {"message": refused.message, "type": kind, "param": refused.param, "code": code}}
    return JSONResponse(body, status_code=refused.status, headers=_headers(refused))


def _tei_error(refused: Refused) -> "Response":
    """text-embeddings-inference's error body."""
    from starlette.responses import JSONResponse

    kind = {429: "Overloaded", 500: "Backend"}.get(refused.status, "Validation")
    return JSONResponse(
        {"error": refused.message, "error_type": kind}, status_code=refused.status, headers=_headers(refused)
    )


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """pydantic's first error as one sentence: where, and what is wrong."""
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
