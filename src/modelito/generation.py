"""From engine draws to the user's stream: text, stop rules, Step records and the final Result.

`stream_events` is the one stream everything consumes: `LM.generate` joins it, the CLI prints it,
the server forwards it. The engine knows numbers; this layer adds text and decides when each
sequence ends (an EOS token, a stop string, or max_new_tokens). Comparisons of settings reuse the
same pieces (`with_seed`, `SequenceBuilder`, `follow`, `make_result`) on rows of their own, and
the scheduler (`scheduler.py`) pushes the running batch's draws through `push`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from typing import Callable, Iterator, Sequence as Seq

import torch

from .engine import Draw, generate_steps, stage_names
from .params import GenerationParams
from .protocols import LanguageModel
from .sampling import Row, Stage, build_stages, call_rows, make_sampler
from .search import beam_search, contrastive_steps, trace_sequence
from .textstream import TextStream
from .trace import BeamTree, Candidate, Event, Result, Sequence, Step, Usage


def stream_events(lm: LanguageModel, prompt: str, prompt_ids: list[int], params: GenerationParams) -> Iterator[Event]:
    """Generate from `prompt_ids`, yielding Events; the last carries the Result.

    The strategy was fixed when the parameters were built; this is the one place that reads it.
    """
    params = with_seed(params)
    ids = torch.tensor([prompt_ids], device=lm.device)
    stages = build_stages(params, len(prompt_ids))
    if params.strategy == "beam":
        return _beam_events(lm, prompt, prompt_ids, params, stages)
    if params.strategy == "contrastive":
        steps = contrastive_steps(lm.model, ids, params, stages)
    else:
        sampler = make_sampler(rows_for(lm, params, len(prompt_ids)), lm.device)
        steps = generate_steps(lm.model, ids, sampler, params.max_new_tokens)
    builders = [SequenceBuilder(lm, params) for _ in range(params.num_return_sequences)]
    return _text_events(lm, prompt, prompt_ids, params, stages, builders, steps)


def rows_for(lm: LanguageModel, params: GenerationParams, prompt_length: int) -> list[Row]:
    """The sampler's rows of one call, with DRY's breaker tokens when it needs them."""
    breakers = lm.token_ids_containing(params.dry_sequence_breakers) if params.dry_multiplier > 0 else frozenset()
    return call_rows(params, prompt_length, lm.device, breakers)


def with_seed(params: GenerationParams) -> GenerationParams:
    """The parameters with the seed actually used: a sampled result can always be reproduced."""
    if not params.do_sample or params.seed is not None:
        return params
    return dataclasses.replace(params, seed=secrets.randbits(63), sources={**params.sources, "seed": "drawn at random"})


def to_step(draw: Draw, index: int, token_text: Callable[[int], str]) -> Step:
    """One engine draw as a user-facing Step: the numbers, with each token's text."""
    top = tuple(
        Candidate(token_id=t, text=token_text(t), logprob=lp[0], sampling_logprob=lp[-1], stages=tuple(lp))
        for t, lp in zip(draw.top_ids, draw.top_stages)
    )
    lens = tuple(dataclasses.replace(g, top_text=token_text(g.top_id)) for g in draw.lens)
    return Step(index=index, token_id=draw.token_id, text=token_text(draw.token_id), logprob=draw.logprob,
                sampling_logprob=draw.sampling_logprob, rank=draw.rank, entropy=draw.entropy,
                sampling_entropy=draw.sampling_entropy, top=top, stages=tuple(draw.chosen_stages),
                contrastive=draw.contrastive, lens=lens, sampler_state=draw.sampler_state)


class SequenceBuilder:
    """One sequence's text and steps as tokens arrive; knows when it has ended (EOS, stop, length)."""

    def __init__(self, lm: LanguageModel, params: GenerationParams) -> None:
        self.token_text, self.params = lm.token_text, params
        self.text = TextStream(lm.tokenizer, params.stop_strings)
        self.steps: list[Step] = []
        self.finish: str | None = None
        self._eos = set(params.eos_token_ids)

    def push(self, draw: Draw) -> tuple[Step, str]:
        """Add the token of `draw`; return its Step and the text that can be shown now."""
        step = to_step(draw, len(self.steps), self.token_text)
        self.steps.append(step)
        delta = self.text.push(step.token_id)
        if self.text.stop_string is not None:
            self.finish = "stop"
        elif step.token_id in self._eos:
            self.finish = "eos"
        elif len(self.steps) == self.params.max_new_tokens:
            self.finish = "length"
        if self.finish:
            delta += self.text.flush()
        return step, delta

    def sequence(self) -> Sequence:
        return Sequence(text=self.text.text, token_ids=tuple(s.token_id for s in self.steps), steps=tuple(self.steps),
                        finish_reason=self.finish or "length", stop_string=self.text.stop_string)


def push(builders: Seq[SequenceBuilder], draws: Seq[Draw]) -> list[Event]:
    """One step's draws to the rows still running: that step's events, one per running row."""
    events = []
    for row, (builder, draw) in enumerate(zip(builders, draws)):
        if builder.finish:
            continue
        step, delta = builder.push(draw)
        events.append(Event(sequence=row, text=delta, step=step, finish_reason=builder.finish))
    return events


def follow(builders: Seq[SequenceBuilder], steps: Iterator[list[Draw]]) -> Iterator[list[Event]]:
    """Feed each step's draws to the rows still running; yield that step's events; stop when every
    row has ended, and close the engine's generator."""
    try:
        for draws in steps:
            yield push(builders, draws)
            if all(b.finish for b in builders):
                return
    finally:
        steps.close()


class Clock:
    """Wall-clock marks of one generation: start (by default, now), first token, end."""

    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self.first: float | None = None

    def tick(self) -> None:
        self.first = self.first or time.perf_counter()

    def usage(self, prompt_tokens: int, steps: Seq[Seq[Step]]) -> Usage:
        end = time.perf_counter()
        completion = sum(len(s) for s in steps)
        first = self.first or end
        after_first = completion - len(steps)  # every row's first token came with the prefill
        return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion,
                     time_to_first_token_s=first - self.start,
                     tokens_per_second=after_first / (end - first) if end > first and after_first > 0 else 0.0,
                     total_s=end - self.start)


def _text_events(lm, prompt, prompt_ids, params, stages, builders, steps) -> Iterator[Event]:
    """Turn per-step draws into text events; the last event carries the Result."""
    clock = Clock()
    with contextlib.closing(follow(builders, steps)) as rows:  # a consumer that stops early stops the engine
        for events in rows:
            clock.tick()
            if all(b.finish for b in builders):
                usage = clock.usage(len(prompt_ids), [b.steps for b in builders])
                sequences = [b.sequence() for b in builders]
                result = make_result(lm, prompt, prompt_ids, params, stages, sequences, usage)
                events[-1] = dataclasses.replace(events[-1], result=result)
            yield from events


def _beam_events(lm, prompt, prompt_ids, params, stages) -> Iterator[Event]:
    """Beam search streams the search: one event per step of the tree, then the answers."""
    clock = Clock()
    tree = None
    for item in beam_search(lm.model, torch.tensor([prompt_ids], device=lm.device), params, stages, lm.token_text):
        if isinstance(item, BeamTree):
            tree = item
        else:
            clock.tick()
            yield Event(sequence=-1, text="", beam_step=item)
    assert tree is not None
    eos = set(params.eos_token_ids)
    sequences = []
    for node, score in tree.returned:
        token_ids = [n.token_id for n in tree.path(node)]
        draws = trace_sequence(lm.model, prompt_ids, token_ids, stages, params.top_n)
        steps = tuple(to_step(draw, i, lm.token_text) for i, draw in enumerate(draws))
        sequences.append(Sequence(
            text=lm.tokenizer.decode(token_ids, skip_special_tokens=True), token_ids=tuple(token_ids), steps=steps,
            finish_reason="eos" if token_ids[-1] in eos else "length", score=score,
        ))
    usage = clock.usage(len(prompt_ids), [s.steps for s in sequences])
    result = dataclasses.replace(make_result(lm, prompt, prompt_ids, params, stages, sequences, usage), beam_tree=tree)
    for i, seq in enumerate(sequences):
        yield Event(sequence=i, text=seq.text, finish_reason=seq.finish_reason,
                    result=result if i == len(sequences) - 1 else None)


def make_result(lm: LanguageModel, prompt: str, prompt_ids: Seq[int], params: GenerationParams,
                stages: tuple[Stage, ...], sequences: Seq[Sequence], usage: Usage) -> Result:
    """The Result of one generation, with the notes a user should read (settings that did nothing)."""
    warnings = params.notes + tuple(
        f"{name}={getattr(params, name)!r} has no effect with {params.strategy} decoding (do_sample=False)"
        for name in params.inactive()
        if params.sources.get(name) == "user"
    )
    return Result(
        model=lm.name,
        prompt=prompt,
        prompt_token_ids=tuple(prompt_ids),
        sequences=tuple(sequences),
        params=params.to_dict(),
        stage_names=stage_names(stages, params.strategy if params.strategy in ("greedy", "contrastive") else None),
        usage=usage,
        strategy=params.strategy,
        random_weights=lm.random_weights,
        device=str(lm.device),
        dtype=str(lm.dtype).removeprefix("torch."),
        warnings=warnings,
    )
