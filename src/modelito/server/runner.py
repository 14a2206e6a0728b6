"""How requests share one model: one at a time, in arrival order, on one worker thread.

The event loop never runs the model. A request's work (a stream of events, or one call) is
queued on a single-thread executor, which is the queue; the loop keeps accepting and answering
other requests. A client that goes away stops its work at the next token, or before it starts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Iterator

from starlette.requests import Request

log = logging.getLogger("modelito.server")

_DONE = object()


class Runner:
    """The model's queue: `run` a call, or `stream` an iterator, on the model's own thread."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelito-model")
        self._count = threading.Lock()
        self.waiting = 0  # queued, not started
        self.running = 0  # 0 or 1

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "waiting": self.waiting}

    def busy(self) -> bool:
        return bool(self.running or self.waiting)

    async def run(self, fn: Callable[[], Any]) -> Any:
        """fn() on the model's thread, after the requests before it."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._counted(fn))

    async def stream(self, items: Iterator[Any], request: Request | None = None) -> AsyncIterator[Any]:
        """Iterate `items` on the model's thread, handing each item to the event loop as it comes.

        An exception raised by the iterator is yielded (as the last item) rather than raised, so a
        stream already under way can report it. When the client of `request` disconnects, or the
        consumer stops, the iterator is closed at its next item.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                if stop.is_set():
                    return  # the client left while waiting
                for item in items:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                    if stop.is_set():
                        break
            except Exception as err:  # noqa: BLE001 - handed to the consumer, and logged there
                loop.call_soon_threadsafe(queue.put_nowait, err)
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        worker = loop.run_in_executor(self._executor, self._counted(work))
        watcher = asyncio.ensure_future(_watch(request, stop)) if request is not None else None
        try:
            while (item := await queue.get()) is not _DONE:
                yield item
        finally:
            stop.set()
            if watcher is not None:
                watcher.cancel()
            worker.add_done_callback(lambda f: f.exception())

    def _counted(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        with self._count:
            self.waiting += 1

        def counted() -> Any:
            with self._count:
                self.waiting -= 1
                self.running += 1
            try:
                return fn()
            finally:
                with self._count:
                    self.running -= 1

        return counted


async def _watch(request: Request, stop: threading.Event) -> None:
    """Set `stop` when the client disconnects. The body was read already, so the next message the
    server receives for this request is its disconnection."""
    while not stop.is_set():
        if (await request.receive())["type"] == "http.disconnect":
            stop.set()
