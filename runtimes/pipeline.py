"""Two small pipeline stages that let a corpus encode use every core: read ahead, and write behind.

Reading and tokenizing the next chunk (`read_ahead`), embedding the current one (onnxruntime releases the GIL),
and writing the previous one (`WriteBehind`; pyarrow and file writes release it too) run in three threads, each
stage bounded to `depth` chunks so memory stays that of a few chunks whatever the corpus size.

Written here rather than with concurrent.futures alone: an executor's `map` reads its whole input before the
first result, and a plain pool has no bound on queued results.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


def read_ahead(items: Iterable[T], prepare: Callable[[T], U], depth: int = 2) -> Iterator[U]:
    """`prepare(item)` for each item, computed in a worker thread up to `depth` items ahead of the consumer.

    Results come in input order; an exception raised by the iteration or by `prepare` is raised to the
    consumer where that item would have come. Closing the generator early stops the worker.
    """
    results: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                _put(results, (True, prepare(item)), stop)
        except BaseException as err:  # handed to the consumer, raised there
            _put(results, (False, err), stop)
            return
        _put(results, (True, _DONE), stop)

    worker = threading.Thread(target=produce, name="static-edge-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, value = results.get()
            if not ok:
                raise value
            if value is _DONE:
                return
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting for room, then let it finish its item
            try:
                results.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()


def _put(results: queue.Queue[Any], entry: tuple[bool, Any], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            results.put(entry, timeout=0.1)
            return
        except queue.Full:
            continue


class WriteBehind:
    """Runs write calls in one worker thread, in order, at most `depth` of them pending.

    `submit` blocks while `depth` writes are pending; `on_done(result)` runs in the caller's thread for each write
    that completed, in order. A failed write raises in the caller at the next `submit` or at `close`.
    """

    def __init__(self, depth: int = 2):
        self.depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="static-edge-write")
        self._pending: deque[tuple[Future, Callable[[Any], None] | None]] = deque()

    def submit(self, write: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None) -> None:
        """Queue `write(*args)`; first settle completed writes, and wait while `depth` are pending."""
        self._settle(block_above=self.depth - 1)
        self._pending.append((self._pool.submit(write, *args), on_done))

    def close(self) -> None:
        """Wait for every pending write (raising the first failure) and stop the worker."""
        try:
            self._settle(block_above=0)
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.close()
            return
        # an error is already on its way up: finish what was queued (it may complete parts a resume can use)
        # without masking that error with a second one
        for future, _ in self._pending:
            future.exception()
        self._pool.shutdown(wait=True)

    def _settle(self, block_above: int) -> None:
        while self._pending and (len(self._pending) > block_above or self._pending[0][0].done()):
            future, on_done = self._pending.popleft()
            result = future.result()
            if on_done is not None:
                on_done(result)
