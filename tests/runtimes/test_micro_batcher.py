"""The micro-batcher: concurrent requests share batches, limits are per request, one bad request fails alone."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from server_support import run_async

from static_edge.runtimes import load
from static_edge.runtimes.micro_batcher import MicroBatcher, QueueFull, RequestTooLarge, TokenLimits, cut_tokens

WIDE = TokenLimits(per_text=10_000, per_request=100_000)


class Recording:
    """A model wrapper that records each batch's size and can hold the encoding thread until released."""

    def __init__(self, model, hold: threading.Event | None = None):
        self.model, self.hold, self.batches = model, hold, []
        self.dims = model.dims

    def tokenize(self, texts):
        """Record the batch size (after waiting for `hold`, if set) and tokenize."""
        if self.hold is not None:
            self.hold.wait(10)
        self.batches.append(len(texts))
        return self.model.tokenize(texts)

    def embed_tokens(self, ids, lengths, batch_size=1024):
        """The real model's embedding of the batch."""
        return self.model.embed_tokens(ids, lengths, batch_size)


def test_concurrent_requests_share_a_batch_and_get_their_own_vectors(st_bundle):
    """Concurrent requests share a batch and get their own vectors."""
    model = load(st_bundle)
    hold = threading.Event()
    recording = Recording(model, hold)
    texts = [f"sentence number {i} about dogs" for i in range(40)]

    async def scenario():
        batcher = MicroBatcher(recording, WIDE)
        batcher.start()
        first = asyncio.create_task(batcher.encode(texts[:1]))
        await asyncio.sleep(0.05)  # the first request is in the encoding thread, held
        rest = [asyncio.create_task(batcher.encode(texts[i : i + 3])) for i in range(1, 40, 3)]
        await asyncio.sleep(0.05)
        assert batcher.queued_texts == 40
        hold.set()
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return results

    results = run_async(scenario())
    assert recording.batches == [1, 39], "the 13 requests queued behind the first were encoded as one batch"
    got = np.concatenate([r.vectors for r in results])
    np.testing.assert_allclose(got, model.encode(texts), atol=1e-6, rtol=0)
    assert [len(r.lengths) for r in results] == [1] + [min(3, 40 - i) for i in range(1, 40, 3)]


def test_queue_full_is_refused_before_any_work(st_bundle):
    """Queue full is refused before any work."""
    hold = threading.Event()
    recording = Recording(load(st_bundle), hold)

    async def scenario():
        batcher = MicroBatcher(recording, WIDE, max_queued_texts=5)
        batcher.start()
        busy = asyncio.create_task(batcher.encode(["a", "b", "c", "d"]))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull, match="busy"):
            await batcher.encode(["e", "f"])
        fits = asyncio.create_task(batcher.encode(["e"]))
        hold.set()
        await asyncio.gather(busy, fits)
        await batcher.stop()

    run_async(scenario())
    assert recording.batches == [4, 1], "the refused request was never tokenized"


def test_token_limits_fail_only_their_request_and_truncation_cuts(st_bundle):
    """Token limits fail only their request and truncation cuts."""
    model = load(st_bundle)
    long_text = " ".join(["word"] * 50)
    limits = TokenLimits(per_text=10, per_request=25)

    async def scenario():
        batcher = MicroBatcher(model, limits)
        batcher.start()
        outcomes = await asyncio.gather(
            batcher.encode(["short one", long_text]),
            batcher.encode(["short two"]),
            batcher.encode([long_text], truncate="right"),
            batcher.encode([long_text, long_text, long_text], truncate="right"),
            return_exceptions=True,
        )
        await batcher.stop()
        return outcomes

    too_long, ok, cut, too_many = run_async(scenario())
    assert isinstance(too_long, RequestTooLarge) and "limit is 10 per text" in str(too_long)
    assert isinstance(too_many, RequestTooLarge) and "limit is 25 per request" in str(too_many)
    np.testing.assert_allclose(ok.vectors, model.encode(["short two"]), atol=1e-6)
    ids, _ = model.tokenize([long_text])
    assert cut.lengths.tolist() == [10]
    np.testing.assert_allclose(cut.vectors, model.embed_tokens(ids[:10], np.array([10])), atol=1e-6)


def test_a_failing_batch_is_retried_request_by_request(st_bundle):
    """A failing batch is retried request by request."""
    model = load(st_bundle)

    class Picky(Recording):
        def tokenize(self, texts):
            if "poison" in texts:
                raise RuntimeError("cannot tokenize poison")
            return super().tokenize(texts)

    picky = Picky(model)

    async def scenario():
        batcher = MicroBatcher(picky, WIDE)
        batcher.start()
        outcomes = await asyncio.gather(
            batcher.encode(["fine"]), batcher.encode(["poison"]), batcher.encode(["also fine"]),
            return_exceptions=True,
        )  # fmt: skip
        await batcher.stop()
        return outcomes

    fine, poisoned, also_fine = run_async(scenario())
    assert isinstance(poisoned, RuntimeError)
    np.testing.assert_allclose(np.vstack([fine.vectors, also_fine.vectors]), model.encode(["fine", "also fine"]),
                               atol=1e-6)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(
        st.tuples(st.integers(0, 12), st.booleans(), st.integers(1, 6), st.booleans()), min_size=1, max_size=8
    )
)
def test_cut_tokens_matches_a_per_text_reference(texts):
    """Cut tokens matches a per text reference."""
    lengths = np.array([n for n, _, _, _ in texts], dtype=np.int64)
    keep = np.array([k for _, k, _, _ in texts])
    limit = np.array([m for _, _, m, _ in texts])
    from_left = np.array([left for _, _, _, left in texts])
    ids = np.arange(int(lengths.sum()), dtype=np.int64)
    got_ids, got_lengths = cut_tokens(ids, lengths, keep, limit, from_left)
    expected, starts = [], np.cumsum(lengths) - lengths
    for i in np.flatnonzero(keep):
        row = ids[starts[i] : starts[i] + lengths[i]]
        expected.append(row[-limit[i] :] if from_left[i] and len(row) > limit[i] else row[: limit[i]])
    assert got_ids.tolist() == [int(x) for row in expected for x in row]
    assert got_lengths.tolist() == [len(row) for row in expected]
