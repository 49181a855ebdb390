"""The encode pipeline's stages: read-ahead and write-behind keep order, bound their depth and pass errors on."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.pipeline import WriteBehind, read_ahead


def test_read_ahead_keeps_order_and_stays_within_its_depth():
    """Read ahead keeps order and stays within its depth."""
    produced: list[int] = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    seen = []
    for value in read_ahead(items(), lambda i: i * i, depth=2):
        time.sleep(0.005)
        # the worker is at most depth results (plus the one it is preparing) ahead of what was consumed
        assert len(produced) - len(seen) <= 4
        seen.append(value)
    assert seen == [i * i for i in range(20)]


def test_read_ahead_raises_where_the_failing_item_would_come():
    """Read ahead raises where the failing item would come."""

    def prepare(i: int) -> int:
        if i == 3:
            raise ValueError("bad item 3")
        return i

    got = []
    with pytest.raises(ValueError, match="bad item 3"):
        for value in read_ahead(iter(range(10)), prepare):
            got.append(value)
    assert got == [0, 1, 2]


def test_closing_read_ahead_early_stops_its_worker():
    """Closing read ahead early stops its worker."""
    before = threading.active_count()
    stream = read_ahead(iter(range(1_000_000)), lambda i: i, depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_write_behind_settles_in_order_with_at_most_depth_pending():
    """Write behind settles in order with at most depth pending."""
    pending, most, done = [0], [0], []
    lock = threading.Lock()

    def write(i: int) -> int:
        with lock:
            pending[0] += 1
            most[0] = max(most[0], pending[0])
        time.sleep(0.01)
        with lock:
            pending[0] -= 1
        return i

    with WriteBehind(depth=2) as behind:
        for i in range(10):
            behind.submit(write, i, on_done=done.append)
    assert done == list(range(10)) and most[0] == 1, "one writer thread, results in submission order"


def test_write_behind_failure_reaches_the_caller():
    """Write behind failure reaches the caller."""

    def write(i: int) -> int:
        if i == 2:
            raise OSError(28, "No space left on device")
        return i

    done = []
    with pytest.raises(OSError, match="No space left"), WriteBehind(depth=1) as behind:
        for i in range(6):
            behind.submit(write, i, on_done=done.append)
    assert done == [0, 1]


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_batches_on_every_core_give_the_vectors_of_one_thread(st_bundle, backend):
    """Batches on every core give the vectors of one thread."""
    texts = [f"text number {i} " + "word " * (i % 40) for i in range(3000)]
    one = load(st_bundle, backend=backend, threads=1)
    many = load(st_bundle, backend=backend, threads=3)
    assert one.threads == 1 and many.threads == 3
    np.testing.assert_array_equal(many.encode(texts), one.encode(texts))
    with pytest.raises(ValueError, match="threads must be 0"):
        load(st_bundle, backend=backend, threads=-1)
