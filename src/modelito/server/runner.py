"""The server's side of the scheduler: requests join the running batch from the event loop.

The event loop never runs the model. A generation is submitted to the `Scheduler` (checked on a
worker thread: a mistake is a 400 at once, a full queue a 429); its events come back to the loop as
the batch produces them. Other model work (a score, a comparison, a classification) runs alone
between two steps. A client that goes away, streaming or not, cancels its call: its rows leave the
batch at the next step.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, AsyncIterator, Callable

from starlette.requests import Request

from ..scheduler import Scheduler, Ticket


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


async def _events(ticket: Ticket, items: asyncio.Queue, request: Request | None) -> AsyncIterator[Any]:
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


async def _watch(request: Request, ticket: Ticket) -> None:
    """Cancel the call when its client disconnects. The body was read already, so the next message the
    server receives for this request is its disconnection."""
    while not ticket.cancelled.is_set():
        if (await request.receive())["type"] == "http.disconnect":
            ticket.cancel()
