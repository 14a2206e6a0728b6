"""From engine draws to the user's stream: text, stop rules, Step records and the final Result.

`stream_events` is the one stream everything consumes: `LM.generate` joins it, the CLI prints it,
the server forwards it. The engine knows numbers; this layer adds text and decides when each
sequence ends (an EOS token, a stop string, or max_new_tokens).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import TYPE_CHECKING, Iterator

import torch

from .engine import Draw, generate_steps, stage_names
from .search import beam_search, contrastive_steps, trace_sequence
from .params import GenerationParams
from .sampling import build_stages
from .textstream import TextStream
from .trace import BeamTree, Candidate, ContrastiveChoice, Event, Result, Sequence, Step, Usage

if TYPE_CHECKING:
    from .lm import LM


def stream_events(lm: "LM", prompt: str, prompt_ids: list[int], params: GenerationParams) -> Iterator[Event]:
    """Generate from `prompt_ids`, yielding Events; the last carries the Result.

    The strategy was fixed when the parameters were built; this is the one place that reads it.
    """
    if params.do_sample and params.seed is None:
        # Record the seed actually used, so any sampled result can be reproduced.
        params = dataclasses.replace(
            params, seed=secrets.randbits(63), sources={**params.sources, "seed": "drawn at random"}
        )
    stages = build_stages(params, len(prompt_ids))
    ids = torch.tensor([prompt_ids], device=lm.device)
    if params.strategy == "beam":
        return _beam_events(lm, prompt, prompt_ids, params, stages)
    if params.strategy == "contrastive":
        rows = ((draw, [choice]) for draw, choice in contrastive_steps(lm.model, ids, params, stages))
    else:
        generator = torch.Generator(device=lm.device).manual_seed(params.seed) if params.do_sample else None
        rows = ((draw, None) for draw in generate_steps(lm.model, ids, params, stages, generator))
    return _text_events(lm, prompt, prompt_ids, params, stages, rows)


class SequenceBuilder:
    """One sequence's text and steps as tokens arrive; knows when it has ended (EOS, stop, length)."""

    def __init__(self, lm: "LM", params: GenerationParams) -> None:
        self.lm, self.params = lm, params
        self.text = TextStream(lm.tokenizer, params.stop_strings)
        self.steps: list[Step] = []
        self.finish: str | None = None
        self._eos = set(params.eos_token_ids)

    def push(self, draw: Draw, row: int, choice: ContrastiveChoice | None = None) -> tuple[Step, str]:
        """Add the token of `draw`'s row; return its Step and the text that can be shown now."""
        step = _step(self.lm, draw, row, len(self.steps), choice)
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


def _text_events(lm, prompt, prompt_ids, params, stages, draws) -> Iterator[Event]:
    """Turn per-step draws into text events; end each sequence at EOS, a stop string or the length."""
    builders = [SequenceBuilder(lm, params) for _ in range(params.num_return_sequences)]
    start = time.perf_counter()
    first_token_at = None
    try:
        for draw, choices in draws:
            first_token_at = first_token_at or time.perf_counter()
            events = []
            for row, builder in enumerate(builders):
                if builder.finish:
                    continue
                step, delta = builder.push(draw, row, choices[row] if choices else None)
                events.append(Event(sequence=row, text=delta, step=step, finish_reason=builder.finish))
            if all(b.finish for b in builders):
                usage = _usage(len(prompt_ids), [b.steps for b in builders], start, first_token_at, time.perf_counter())
                result = _result(lm, prompt, prompt_ids, params, stages, [b.sequence() for b in builders], usage)
                events[-1] = dataclasses.replace(events[-1], result=result)
            yield from events
            if all(b.finish for b in builders):
                return
    finally:
        draws.close()


def _beam_events(lm, prompt, prompt_ids, params, stages) -> Iterator[Event]:
    """Beam search streams the search: one event per step of the tree, then the answers."""
    start = time.perf_counter()
    first_step_at = None
    tree = None
    for item in beam_search(lm.model, torch.tensor([prompt_ids], device=lm.device), params, stages, lm.token_text):
        if isinstance(item, BeamTree):
            tree = item
        else:
            first_step_at = first_step_at or time.perf_counter()
            yield Event(sequence=-1, text="", beam_step=item)
    assert tree is not None
    eos = set(params.eos_token_ids)
    sequences = []
    for node, score in tree.returned:
        token_ids = [n.token_id for n in tree.path(node)]
        draws = trace_sequence(lm.model, prompt_ids, token_ids, stages, params.top_n)
        steps = tuple(_step(lm, draw, 0, i) for i, draw in enumerate(draws))
        sequences.append(Sequence(
            text=lm.tokenizer.decode(token_ids, skip_special_tokens=True), token_ids=tuple(token_ids), steps=steps,
            finish_reason="eos" if token_ids[-1] in eos else "length", score=score,
        ))
    usage = _usage(len(prompt_ids), [list(s.steps) for s in sequences], start, first_step_at, time.perf_counter())
    result = dataclasses.replace(_result(lm, prompt, prompt_ids, params, stages, tuple(sequences), usage), beam_tree=tree)
    for i, seq in enumerate(sequences):
        yield Event(sequence=i, text=seq.text, finish_reason=seq.finish_reason,
                    result=result if i == len(sequences) - 1 else None)


def _step(lm: "LM", draw: Draw, row: int, index: int, contrastive: ContrastiveChoice | None = None) -> Step:
    top = tuple(
        Candidate(token_id=t, text=lm.token_text(t), logprob=lp[0], sampling_logprob=lp[-1], stages=tuple(lp))
        for t, lp in zip(draw.top_ids[row], draw.top_stages[row])
    )
    token = draw.token_ids[row]
    return Step(
        index=index,
        token_id=token,
        text=lm.token_text(token),
        logprob=draw.logprob[row],
        sampling_logprob=draw.sampling_logprob[row],
        rank=draw.rank[row],
        entropy=draw.entropy[row],
        sampling_entropy=draw.sampling_entropy[row],
        top=top,
        stages=tuple(draw.chosen_stages[row]),
        contrastive=contrastive,
    )


def _usage(prompt_tokens: int, steps: list[list[Step]], start: float, first: float | None, end: float) -> Usage:
    completion = sum(len(s) for s in steps)
    first = first or end
    after_first = completion - len(steps)  # every row's first token came with the prefill
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        time_to_first_token_s=first - start,
        tokens_per_second=after_first / (end - first) if end > first and after_first > 0 else 0.0,
        total_s=end - start,
    )


def _result(lm, prompt, prompt_ids, params, stages, sequences, usage) -> Result:
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
        random_weights=lm.random_weights,
        device=str(lm.device),
        dtype=str(lm.dtype).removeprefix("torch."),
        warnings=warnings,
    )
