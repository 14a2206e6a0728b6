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
from .params import GenerationParams
from .sampling import build_stages
from .textstream import TextStream
from .trace import Candidate, Event, Result, Sequence, Step, Usage

if TYPE_CHECKING:
    from .lm import LM


def stream_events(lm: "LM", prompt: str, prompt_ids: list[int], params: GenerationParams) -> Iterator[Event]:
    """Generate from `prompt_ids`, yielding one Event per token per sequence; the last carries the Result."""
    if params.do_sample and params.seed is None:
        # Record the seed actually used, so any sampled result can be reproduced.
        params = dataclasses.replace(
            params, seed=secrets.randbits(63), sources={**params.sources, "seed": "drawn at random"}
        )
    generator = None
    if params.do_sample:
        generator = torch.Generator(device=lm.device).manual_seed(params.seed)
    stages = build_stages(params, len(prompt_ids))
    rows = params.num_return_sequences
    texts = [TextStream(lm.tokenizer, params.stop_strings) for _ in range(rows)]
    steps: list[list[Step]] = [[] for _ in range(rows)]
    finish: list[str | None] = [None] * rows
    eos = set(params.eos_token_ids)

    start = time.perf_counter()
    first_token_at = None
    draws = generate_steps(lm.model, torch.tensor([prompt_ids], device=lm.device), params, stages, generator)
    try:
        for i, draw in enumerate(draws):
            first_token_at = first_token_at or time.perf_counter()
            events = []
            for row in range(rows):
                if finish[row]:
                    continue
                step = _step(lm, draw, row, i)
                steps[row].append(step)
                delta = texts[row].push(step.token_id)
                if texts[row].stop_string is not None:
                    finish[row] = "stop"
                elif step.token_id in eos:
                    finish[row] = "eos"
                elif i + 1 == params.max_new_tokens:
                    finish[row] = "length"
                if finish[row]:
                    delta += texts[row].flush()
                events.append(Event(sequence=row, text=delta, step=step, finish_reason=finish[row]))
            if all(finish):
                end = time.perf_counter()
                usage = _usage(len(prompt_ids), steps, start, first_token_at, end)
                result = _result(lm, prompt, prompt_ids, params, stages, texts, steps, finish, usage)
                events[-1] = dataclasses.replace(events[-1], result=result)
            yield from events
            if all(finish):
                return
    finally:
        draws.close()


def _step(lm: "LM", draw: Draw, row: int, index: int) -> Step:
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


def _result(lm, prompt, prompt_ids, params, stages, texts, steps, finish, usage) -> Result:
    sequences = tuple(
        Sequence(
            text=text.text,
            token_ids=tuple(s.token_id for s in row_steps),
            steps=tuple(row_steps),
            finish_reason=reason,
            stop_string=text.stop_string,
        )
        for text, row_steps, reason in zip(texts, steps, finish)
    )
    warnings = tuple(
        f"{name}={getattr(params, name)!r} has no effect: do_sample=False (greedy decoding)"
        for name in params.inactive()
        if params.sources.get(name) == "user"
    )
    return Result(
        model=lm.name,
        prompt=prompt,
        prompt_token_ids=tuple(prompt_ids),
        sequences=sequences,
        params=params.to_dict(),
        stage_names=stage_names(stages, params),
        usage=usage,
        random_weights=lm.random_weights,
        device=str(lm.device),
        dtype=str(lm.dtype).removeprefix("torch."),
        warnings=warnings,
    )
