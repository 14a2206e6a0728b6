"""The server's side of the scheduler: requests join the running batch from the event loop.

The event loop never runs the model. A generation is submitted to the `Scheduler` (checked on a
worker thread: a mistake is a 400 at once, a full queue a 429); its events come back to the loop as
the batch produces them. Other model work (a score, a comparison, a classification) runs alone
between two steps. A client that goes away, streaming or not, cancels its call: its rows leave the
batch at the next step.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, AsyncIterator, Callable

from starlette.requests import Request

from ..scheduler import Busy, Scheduler, Ticket


class Runner:
    """Async access to one model's scheduler."""

    def __init__(self, lm: Any, max_batch: int = 16, max_waiting: int = 64) -> None:
        self.scheduler = Scheduler(lm, max_batch=max_batch, max_waiting=max_waiting)

    def status(self) -> dict[str, Any]:
        return self.scheduler.status()

    def busy(self) -> bool:
        return self.scheduler.busy()

    def close(self) -> None:
        self.scheduler.close()

    async def run(self, fn: Callable[[], Any]) -> Any:
        """fn() alone on the model, between two steps of the batch."""
        return await asyncio.wrap_future(self.scheduler.call(fn))

    async def generate(self, request: Request | None, prompt: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """Submit a generation (`lm.stream`'s arguments); its events, as an async iterator. An exception
        the call meets on the way is yielded as its last item, so a stream under way can report it."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        deliver = partial(loop.call_soon_threadsafe, items.put_nowait)
        ticket = await asyncio.to_thread(partial(self.scheduler.submit, prompt, deliver, **kwargs))
        return _events(ticket, items, request)


class RemoteRunner:
    """For a remote engine, which batches its own requests: each request streams on a worker thread,
    up to `max_batch` at once; `max_waiting` more may wait (then 429)."""

    def __init__(self, lm: Any, max_batch: int = 16, max_waiting: int = 64) -> None:
        self.lm, self.max_batch, self.max_waiting = lm, max_batch, max_waiting
        self._executor = ThreadPoolExecutor(max_workers=max_batch, thread_name_prefix="modelito-remote")
        self._count = threading.Lock()
        self._running = self._waiting = 0

    def status(self) -> dict[str, Any]:
        return {"rows": self._running, "running": self._running, "waiting": self._waiting, "max_batch": self.max_batch,
                "tokens_per_second": 0.0, "engine": self.lm.remote.kind}

    def busy(self) -> bool:
        return bool(self._running or self._waiting)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.to_thread(fn)

    async def generate(self, request: Request | None, prompt: Any, **kwargs: Any) -> AsyncIterator[Any]:
        events = await asyncio.to_thread(partial(self.lm.stream, prompt, **kwargs))  # checked now
        with self._count:
            if self._running + self._waiting >= self.max_batch + self.max_waiting:
                raise Busy(f"the server is busy: {self._waiting} requests are waiting, its limit; try again in a moment")
            self._waiting += 1
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        job = Job()
        deliver = partial(loop.call_soon_threadsafe, items.put_nowait)
        self._executor.submit(self._work, events, job, deliver)
        return _events(job, items, request)

    def _work(self, events, job: "Job", deliver: Callable[[Any], None]) -> None:
        with self._count:
            self._waiting, self._running = self._waiting - 1, self._running + 1
        try:
            for event in events:
                if job.cancelled.is_set():
                    break
                deliver(event)
        except Exception as err:  # noqa: BLE001 - handed to the consumer
            deliver(err)
        finally:
            events.close()
            with self._count:
                self._running -= 1
            deliver(None)


class Job:
    """A request on a worker thread, which its consumer can cancel."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()


async def _events(ticket: Ticket | Job, items: asyncio.Queue, request: Request | None) -> AsyncIterator[Any]:
    watcher = asyncio.ensure_future(_watch(request, ticket)) if request is not None else None
    try:
        while (item := await items.get()) is not None:
            yield item
            if isinstance(item, BaseException):
                return
    finally:
        ticket.cancel()  # done, or nobody is listening any more
        if watcher is not None:
            watcher.cancel()


async def _watch(request: Request, ticket: Ticket | Job) -> None:
    """Cancel the call when its client disconnects. The body was read already, so the next message the
    server receives for this request is its disconnection."""
    while not ticket.cancelled.is_set():
        if (await request.receive())["type"] == "http.disconnect":
            ticket.cancel()
