"""Many generations at once on one model: a running batch that calls join between decode steps.

    submit(prompt, **kwargs) ─▶ Ticket (checked now: a mistake raises here) ─▶ queue (bounded: Busy)
    the scheduler's thread, each turn:
        admit from the queue, in order: a generation joins the batch (its prefill, its first tokens),
                                        exclusive work (beam or contrastive search, a score, a
                                        comparison) runs alone, the batch paused
        step the batch ─▶ each call's rows ─▶ its SequenceBuilders ─▶ Events to its consumer
        calls that ended (EOS, stop string, length) or were cancelled leave the batch

Each call's events are those `lm.stream` gives for it alone: the same text layer, the same
Result, and, row by row, the same numbers (to float rounding, about 1e-5 in float32).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .batch import RunningBatch
from .errors import ModelitoError
from .generation import Clock, SequenceBuilder, make_result, push, rows_for, stream_events, with_seed
from .params import GenerationParams, Policy
from .protocols import LanguageModel, Prompt
from .sampling import build_stages
from .trace import Event

Deliver = Callable[[Any], None]
"""Receives a call's Events, then None when it is over, or an exception if it failed."""


class Busy(ModelitoError):
    """Too many requests are waiting: try again in a moment (HTTP 429)."""

    status = 429


@dataclass
class Ticket:
    """One submitted call: its parameters, its text layer, and where its events go."""

    lm: LanguageModel
    prompt: str
    prompt_ids: list[int]
    params: GenerationParams
    deliver: Deliver
    exclusive: bool
    """Beam and contrastive search run alone, outside the batch."""
    submitted: float = field(default_factory=time.perf_counter)
    cancelled: threading.Event = field(default_factory=threading.Event)
    builders: list[SequenceBuilder] = field(default_factory=list)
    clock: Clock | None = None

    def cancel(self) -> None:
        """The consumer is gone: the call leaves the batch at the next step (or never joins)."""
        self.cancelled.set()


class Scheduler:
    """Serves many generations at once on `lm`: up to `max_batch` rows decode together, calls join
    between steps and leave as soon as they end; at most `max_waiting` calls wait for a place.

    >>> scheduler = Scheduler(lm, max_batch=16)  # doctest: +SKIP
    >>> for event in scheduler.stream([{"role": "user", "content": "Hola"}], seed=1):  # doctest: +SKIP
    ...     print(event.text, end="")
    """

    def __init__(self, lm: LanguageModel, max_batch: int = 16, max_waiting: int = 64,
                 max_prefill_tokens: int = 1024) -> None:
        if max_batch < 1 or max_waiting < 0:
            raise ModelitoError(f"max_batch={max_batch} and max_waiting={max_waiting}: give max_batch >= 1 and "
                                "max_waiting >= 0")
        self.lm, self.max_batch, self.max_waiting = lm, max_batch, max_waiting
        self.max_prefill_tokens = max_prefill_tokens
        """Prompt tokens admitted per turn, so that running rows keep getting tokens while a class arrives."""
        self.batch = RunningBatch(lm.model)
        self._queue: collections.deque[Ticket | tuple[Callable[[], Any], Future]] = collections.deque()
        self._tickets: dict[int, Ticket] = {}
        self._taken = 0  # calls out of the queue but not in the batch: being prefilled, or running alone
        self._keys = itertools.count()
        self._wake = threading.Condition()
        self._recent: collections.deque[tuple[float, int]] = collections.deque()
        self.steps = 0
        """Decode steps taken so far (a clock for fairness, in steps)."""
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="modelito-scheduler", daemon=True)
        self._thread.start()

    # -- what callers use -----------------------------------------------------------------------

    def submit(self, prompt: Prompt, deliver: Deliver, *, prefix: str | Sequence[int] = "",
               policy: Policy | None = None, **generation_kwargs: Any) -> Ticket:
        """Check a call (a mistake raises here, on the caller's thread) and queue it; its events go to
        `deliver`, from the scheduler's thread. Raises Busy when the queue is full."""
        text, ids = self.lm.prompt_ids(prompt, prefix=prefix)
        params = with_seed(self.lm.params(len(ids), policy=policy, **generation_kwargs))
        if params.num_return_sequences > self.max_batch:
            raise Busy(f"num_return_sequences={params.num_return_sequences} is more than this batch holds "
                       f"({self.max_batch} rows)")
        ticket = Ticket(self.lm, text, ids, params, deliver, exclusive=params.strategy in ("beam", "contrastive"))
        self._enqueue(ticket)
        return ticket

    def stream(self, prompt: Prompt, **kwargs: Any) -> Iterator[Event]:
        """Like `lm.stream`, in the running batch: the events of this call as they come. Leaving the
        loop early cancels the call."""
        items: queue.Queue = queue.Queue()
        ticket = self.submit(prompt, items.put, **kwargs)
        try:
            while (item := items.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            ticket.cancel()

    def generate(self, prompt: Prompt, **kwargs: Any):
        """Like `lm.generate`, in the running batch."""
        result = None
        for event in self.stream(prompt, **kwargs):
            result = event.result or result
        return result

    def call(self, fn: Callable[[], Any]) -> Future:
        """Run fn() alone on the model (a score, a comparison), between two steps; its result in a Future."""
        future: Future = Future()
        self._enqueue((fn, future))
        return future

    def status(self) -> dict[str, Any]:
        """Rows decoding, calls running and waiting, and tokens per second over the last 10 seconds."""
        now = time.perf_counter()
        recent = [(t, n) for t, n in list(self._recent) if now - t <= 10]
        span = now - recent[0][0] if len(recent) > 1 else 0.0
        return {"rows": self.batch.size, "running": len(self._tickets) + self._taken, "waiting": len(self._queue),
                "max_batch": self.max_batch, "tokens_per_second": sum(n for _, n in recent[1:]) / span if span else 0.0}

    def busy(self) -> bool:
        return bool(self._tickets or self._queue or self._taken)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=10)

    # -- the scheduler's thread -----------------------------------------------------------------

    def _enqueue(self, item: Ticket | tuple[Callable[[], Any], Future]) -> None:
        with self._wake:
            if len(self._queue) >= self.max_waiting and self.busy():
                raise Busy(f"the server is busy: {len(self._queue)} requests are waiting, its limit; try again "
                           "in a moment")
            self._queue.append(item)
            self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._queue and not self._tickets:
                    self._wake.wait()
                if self._closed:
                    return
            self._admit()
            if self.batch.groups:
                self._step()

    def _admit(self) -> None:
        """Take calls from the queue, in order, while they fit (and within the prefill budget)."""
        budget = self.max_prefill_tokens
        while budget > 0:
            with self._wake:
                head = self._queue[0] if self._queue else None
                if head is None:
                    return
                fits = not isinstance(head, Ticket) or head.exclusive or head.cancelled.is_set() or (
                    self.batch.size + head.params.num_return_sequences <= self.max_batch)
                if not fits:
                    return
                self._queue.popleft()
                taken = isinstance(head, Ticket) and not head.cancelled.is_set()
                self._taken += taken  # counted as running from the moment it leaves the queue
            if not isinstance(head, Ticket):
                self._run_call(*head)
            elif not taken:
                head.deliver(None)
            else:
                try:
                    if head.exclusive:
                        self._run_alone(head)
                    else:
                        budget -= len(head.prompt_ids)
                        self._join(head)
                finally:
                    self._taken -= 1

    def _join(self, ticket: Ticket) -> None:
        key = next(self._keys)
        ticket.builders = [SequenceBuilder(ticket.lm, ticket.params) for _ in range(ticket.params.num_return_sequences)]
        ticket.clock = Clock(start=ticket.submitted)
        try:
            draws = self.batch.join(key, ticket.prompt_ids, rows_for(ticket.lm, ticket.params, len(ticket.prompt_ids)))
        except Exception as err:  # noqa: BLE001 - the call fails, the server goes on
            ticket.deliver(err)
            return
        self._tickets[key] = ticket
        self._deliver(key, draws)

    def _step(self) -> None:
        try:
            results = self.batch.step()
        except Exception as err:  # noqa: BLE001 - every call in the batch fails; the batch starts afresh
            for ticket in self._tickets.values():
                ticket.deliver(err)
            self.batch.leave(set(self._tickets))
            self._tickets.clear()
            return
        self.steps += 1
        self._recent.append((time.perf_counter(), self.batch.size))
        while len(self._recent) > 512:
            self._recent.popleft()
        for key, draws in results:
            self._deliver(key, draws)

    def _deliver(self, key: int, draws) -> None:
        """Hand a call its step; when it has ended or was cancelled, its rows leave."""
        ticket = self._tickets[key]
        if not ticket.cancelled.is_set():
            ticket.clock.tick()
            events = push(ticket.builders, draws)
            done = all(b.finish for b in ticket.builders)
            if done:
                events[-1] = dataclasses.replace(events[-1], result=self._result(ticket))
            for event in events:
                ticket.deliver(event)
            if not done:
                return
        ticket.deliver(None)
        del self._tickets[key]
        self.batch.leave({key})

    def _result(self, ticket: Ticket):
        usage = ticket.clock.usage(len(ticket.prompt_ids), [b.steps for b in ticket.builders])
        stages = build_stages(ticket.params, len(ticket.prompt_ids))
        return make_result(ticket.lm, ticket.prompt, ticket.prompt_ids, ticket.params, stages,
                           [b.sequence() for b in ticket.builders], usage)

    def _run_alone(self, ticket: Ticket) -> None:
        """Beam or contrastive search: the whole call, alone, its events delivered as they come."""
        try:
            for event in stream_events(ticket.lm, ticket.prompt, ticket.prompt_ids, ticket.params):
                if ticket.cancelled.is_set():
                    break
                ticket.deliver(event)
        except Exception as err:  # noqa: BLE001
            ticket.deliver(err)
            return
        ticket.deliver(None)

    @staticmethod
    def _run_call(fn: Callable[[], Any], future: Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as err:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(err)
