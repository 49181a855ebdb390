"""Dynamic micro-batching: the texts of concurrent requests are tokenized and embedded together.

One worker thread encodes; while it works, new requests queue, and the next batch takes every queued request up
to `max_batch_texts` texts. A static model spends microseconds per text, so a request encoded on its own spends
almost all its time in fixed costs (a thread hop, a tokenizer call, a graph run): batching shares them. The queue
is bounded in texts: a request that does not fit is refused at once (`QueueFull`, HTTP 429), before any work.

Written here rather than taken from a library: the batching servers that exist (TEI, infinity, Ray Serve) are whole
servers, not a component a FastAPI app can embed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from static_edge.runtimes.embedder import StaticEmbedder
from static_edge.runtimes.errors import InputError, StaticEdgeError


class QueueFull(StaticEdgeError):
    """More texts are queued than the server accepts: the client should retry later (HTTP 429)."""


class RequestTooLarge(InputError):
    """A request over a token limit (HTTP 413)."""


@dataclass(frozen=True)
class TokenLimits:
    """Token bounds one request must keep: per text (longer texts are cut when the request asks for truncation)
    and in all."""

    per_text: int
    per_request: int


@dataclass
class Encoded:
    """One request's result: float32 vectors [texts, dims], tokens per text, seconds spent waiting in the queue."""

    vectors: np.ndarray
    lengths: np.ndarray
    queue_seconds: float
    tokens: int = 0


@dataclass(frozen=True)
class BatchStats:
    """What one batch did, for metrics."""

    requests: int
    texts: int
    tokens: int
    tokenize_seconds: float
    encode_seconds: float


@dataclass
class _Job:
    texts: list[str]
    truncate: str | None  # "right" or "left" to cut long texts to the per-text limit; None refuses them
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


def cut_tokens(
    ids: np.ndarray, lengths: np.ndarray, keep: np.ndarray, limit: np.ndarray, from_left: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and lengths of the texts where `keep`, each cut to its `limit` tokens from the right (or the left).

    All arrays but `ids` have one entry per text; the result keeps the texts' order.
    """
    new_lengths = np.minimum(lengths, limit)
    text_of_token = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(ids)) - np.repeat(starts, lengths)
    dropped = (lengths - new_lengths)[text_of_token]
    first_kept = np.where(from_left[text_of_token], dropped, 0)
    mask = keep[text_of_token] & (position >= first_kept) & (position < first_kept + new_lengths[text_of_token])
    return ids[mask], new_lengths[keep]


class MicroBatcher:
    """Gathers concurrent requests into batches for one encoding thread.

    :param model: the embedder; only `tokenize` and `embed_tokens` are called, from the worker thread.
    :param max_batch_texts: most texts in one batch (a larger request is a batch of its own).
    :param max_wait: seconds to wait for more requests when a batch is not full; 0 encodes what is queued at once.
    :param max_queued_texts: most texts queued or being encoded; `encode` refuses a request past it.
    :param limits: token bounds per text and per request.
    :param observe: called with each batch's stats (from the worker thread).
    """

    def __init__(
        self,
        model: StaticEmbedder,
        limits: TokenLimits,
        max_batch_texts: int = 1024,
        max_wait: float = 0.0,
        max_queued_texts: int = 16_384,
        observe: Callable[[BatchStats], None] | None = None,
    ):
        self.model, self.limits = model, limits
        self.max_batch_texts, self.max_wait, self.max_queued_texts = max_batch_texts, max_wait, max_queued_texts
        self.observe = observe
        self.queued_texts = 0
        self._queue: deque[_Job] = deque()
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        self._ready = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="static-edge-encode")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="static-edge-batcher")

    async def stop(self) -> None:
        """Finish what is queued, then stop the task and the worker thread."""
        while self._queue or self.queued_texts:
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def check_room(self, count: int = 1) -> None:
        """Raise `QueueFull` unless `count` more texts fit in the queue."""
        if self.queued_texts + count > self.max_queued_texts:
            raise QueueFull(f"the server is busy ({self.queued_texts:,} texts queued); retry shortly")

    async def encode(self, texts: list[str], truncate: str | None = None) -> Encoded:
        """Vectors of `texts`, encoded in a batch with other requests' texts.

        :param truncate: "right" or "left" cuts texts over the per-text token limit; None refuses them.
        :raises QueueFull: when the queue has no room for the texts.
        :raises RequestTooLarge: for a text or a request over its token limit.
        """
        if self._ready is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        self.check_room(len(texts))
        job = _Job(texts, truncate, asyncio.get_running_loop().create_future())
        self.queued_texts += len(texts)
        self._queue.append(job)
        self._ready.set()
        try:
            return await job.future
        finally:
            self.queued_texts -= len(texts)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._ready.wait()
            if self.max_wait > 0 and self._queued_waiting() < self.max_batch_texts:
                await asyncio.sleep(self.max_wait)
            jobs = self._take()
            if not self._queue:
                self._ready.clear()
            if not jobs:
                continue
            results = await loop.run_in_executor(self._executor, self._encode_isolated, jobs)
            for job, result in zip(jobs, results, strict=True):
                if job.future.done():  # the client went away
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    def _queued_waiting(self) -> int:
        return sum(len(job.texts) for job in self._queue)

    def _take(self) -> list[_Job]:
        """Queued jobs for one batch: the first, then more while they fit in `max_batch_texts`."""
        jobs: list[_Job] = []
        count = 0
        while self._queue and (not jobs or count + len(self._queue[0].texts) <= self.max_batch_texts):
            job = self._queue.popleft()
            if job.future.done():  # cancelled while queued
                continue
            jobs.append(job)
            count += len(job.texts)
        return jobs

    def _encode_isolated(self, jobs: list[_Job]) -> list[Encoded | BaseException]:
        """Encode the batch; should it fail as a whole, each job alone, so one bad request fails only itself."""
        try:
            return self._encode_batch(jobs)
        except Exception as err:
            if len(jobs) == 1:
                return [err]
            return [self._encode_isolated([job])[0] for job in jobs]

    def _encode_batch(self, jobs: list[_Job]) -> list[Encoded | BaseException]:
        started = time.perf_counter()
        texts = [text for job in jobs for text in job.texts]
        ids, lengths = self.model.tokenize(texts)
        tokenized = time.perf_counter()
        counts = np.array([len(job.texts) for job in jobs])
        job_of_text = np.repeat(np.arange(len(jobs)), counts)
        errors = self._limit_errors(jobs, lengths, job_of_text)
        over = lengths > self.limits.per_text
        if errors or over.any():
            keep = np.array([errors.get(j) is None for j in range(len(jobs))])[job_of_text]
            from_left = np.array([job.truncate == "left" for job in jobs])[job_of_text]
            ids, lengths = cut_tokens(ids, lengths, keep, np.full(len(lengths), self.limits.per_text), from_left)
            counts = np.where([j in errors for j in range(len(jobs))], 0, counts)
        vectors = self.model.embed_tokens(ids, lengths) if len(lengths) else None
        done = time.perf_counter()
        if self.observe is not None:
            stats = BatchStats(len(jobs), len(texts), int(lengths.sum()), tokenized - started, done - tokenized)
            self.observe(stats)
        results: list[Encoded | BaseException] = []
        row = 0
        for j, job in enumerate(jobs):
            if j in errors:
                results.append(errors[j])
                continue
            end = row + int(counts[j])
            results.append(Encoded(vectors[row:end], lengths[row:end], started - job.enqueued))
            row = end
        return results

    def _limit_errors(self, jobs: list[_Job], lengths: np.ndarray, job_of_text: np.ndarray) -> dict[int, Exception]:
        """Jobs that break a token limit, with the error each gets."""
        limits = self.limits
        errors: dict[int, Exception] = {}
        totals = np.bincount(job_of_text, weights=np.minimum(lengths, limits.per_text), minlength=len(jobs))
        longest = np.zeros(len(jobs), dtype=np.int64)
        np.maximum.at(longest, job_of_text, lengths)
        for j, job in enumerate(jobs):
            if job.truncate is None and longest[j] > limits.per_text:
                errors[j] = RequestTooLarge(
                    f"a text has {int(longest[j]):,} tokens; the limit is {limits.per_text:,} per text "
                    "(truncate it, or ask the server to)"
                )
            elif totals[j] > limits.per_request:
                errors[j] = RequestTooLarge(
                    f"the request has {int(totals[j]):,} tokens; the limit is {limits.per_request:,} per request"
                )
        return errors
