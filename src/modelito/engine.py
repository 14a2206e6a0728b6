"""The decode loop: prefill the prompt once, then one token per step over the model's KV cache.

    prompt ids ─ prefill ─▶ logits ─ stages ─▶ choose ─▶ token ─ decode_step ─▶ logits ─ ...
                                      │                    │
                                      └──── observe ───────┴─▶ Draw (one frozen record per step)

`generate_steps` is a generator of `Draw` records, one per step for the whole batch; it knows no
text and no stopping rule but `max_new_tokens`. The text layer (`generation.py`) decides when a
sequence has ended and simply stops iterating. Rows of the batch never interact: a row that has
finished keeps being computed, and ignored, until every row is done (as in transformers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from transformers import DynamicCache

from .params import GenerationParams
from .sampling import Stage, choose, run_stages


@dataclass(frozen=True)
class Draw:
    """One step of the batch, as plain host-side numbers (row b of each list is sequence b).

    Per-stage lists follow `stage_names(...)`: the model's distribution first, the final one last.
    """

    token_ids: list[int]
    logprob: list[float]
    sampling_logprob: list[float]
    rank: list[int]
    entropy: list[float]
    sampling_entropy: list[float]
    top_ids: list[list[int]]  # [B][N], most likely first under the model
    top_stages: list[list[list[float]]]  # [B][N][S]
    chosen_stages: list[list[float]]  # [B][S]


def stage_names(stages: tuple[Stage, ...], chosen_by: str | None) -> tuple[str, ...]:
    """Names of the recorded distributions: "model", each enabled stage, then what made a certain
    choice ("greedy", "contrastive") when the token was not drawn from the last stage."""
    return ("model", *(s.name for s in stages), *((chosen_by,) if chosen_by else ()))


def prefill(model: torch.nn.Module, ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    """Run the whole prompt [B, L] through the model, filling the cache; next-token logits [B, V]."""
    return decode_step(model, ids, cache)


def decode_step(model: torch.nn.Module, ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    """Feed new tokens [B, T] after what the cache holds; logits of the last position [B, V] in float32."""
    # logits_to_keep=1: the LM head runs on the last position only (a 151k-wide matmul per position).
    out = model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1].float()


@torch.inference_mode()
def generate_steps(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    params: GenerationParams,
    stages: tuple[Stage, ...],
    generator: torch.Generator | None = None,
) -> Iterator[Draw]:
    """Yield one `Draw` per generated token, for `params.num_return_sequences` rows at once.

    `prompt_ids` is [1, L]; `stages` come from `sampling.build_stages(params, L)`. The prompt is
    prefilled once and its cache copied to every row.
    """
    rows = params.num_return_sequences
    cache = DynamicCache(config=model.config)
    logits = prefill(model, prompt_ids, cache)  # [1, V]
    if rows > 1:
        cache.batch_repeat_interleave(rows)
        logits = logits.expand(rows, -1)
    ids = prompt_ids.expand(rows, -1)  # [B, L]: history for the penalties
    for i in range(params.max_new_tokens):
        if i:
            logits = decode_step(model, token[:, None], cache)
        scores = run_stages(stages, ids, logits)
        final_lp = scores[-1].log_softmax(-1)  # shared by the draw and the trace
        token = choose(final_lp, params.do_sample, generator)  # [B]
        yield observe(scores, final_lp, token, params.top_n, argmax=not params.do_sample)
        ids = torch.cat([ids, token[:, None]], dim=1)


@torch.inference_mode()
def generate_rows(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    rows: list[tuple[GenerationParams, tuple[Stage, ...], torch.Generator | None]],
) -> Iterator[list[Draw]]:
    """Several settings on one prompt, as one batch: one prefill, one forward per step for all rows,
    each row with its own sampler. Yields a one-row Draw per row per step (the caller stops when
    every row has ended; rows are never mixed)."""
    cache = DynamicCache(config=model.config)
    logits = prefill(model, prompt_ids, cache)
    cache.batch_repeat_interleave(len(rows))
    logits = logits.expand(len(rows), -1)
    ids = prompt_ids.expand(len(rows), -1)
    for i in range(max(p.max_new_tokens for p, _, _ in rows)):
        if i:
            logits = decode_step(model, token[:, None], cache)
        draws, tokens = [], []
        for r, (params, stages, generator) in enumerate(rows):
            scores = run_stages(stages, ids[r : r + 1], logits[r : r + 1])
            final_lp = scores[-1].log_softmax(-1)
            chosen = choose(final_lp, params.do_sample, generator)
            draws.append(observe(scores, final_lp, chosen, params.top_n, argmax=not params.do_sample))
            tokens.append(chosen)
        token = torch.cat(tokens)
        yield draws
        ids = torch.cat([ids, token[:, None]], dim=1)


def observe(scores: list[torch.Tensor], final_lp: torch.Tensor, token: torch.Tensor, top_n: int, argmax: bool) -> Draw:
    """Select, on the device, what the trace keeps of this step; copy only that to the host.

    `scores` are the raw logits then each stage's output [B, V]; `final_lp` is log_softmax(scores[-1]);
    `token` [B] the chosen tokens; `argmax`: they were chosen greedily, not drawn from final_lp.
    """
    model_lp = scores[0].log_softmax(-1)
    top = scores[0].topk(top_n, dim=-1).indices  # [B, N]
    candidates = torch.cat([top, token[:, None]], dim=1)  # [B, N+1]: the top N, then the chosen one
    # Intermediate stages: gather the candidates, normalise by logsumexp (no [B, V] copy per stage).
    columns = [model_lp.gather(1, candidates)]
    columns += [s.gather(1, candidates) - s.logsumexp(-1, keepdim=True) for s in scores[1:-1]]
    if len(scores) > 1:
        columns.append(final_lp.gather(1, candidates))
    if not argmax:
        sampling_entropy = torch.special.entr(final_lp.exp()).sum(-1)
    else:
        # Greedy: the token is chosen with certainty, whatever the scores said.
        columns.append(torch.where(candidates == token[:, None], 0.0, float("-inf")))
        sampling_entropy = torch.zeros_like(final_lp[:, 0])
    stage_lp = torch.stack(columns, dim=-1)  # [B, N+1, S]
    rank = (scores[0] > scores[0].gather(1, token[:, None])).sum(-1) + 1
    entropy = torch.special.entr(model_lp.exp()).sum(-1)

    ints = torch.cat([candidates, rank[:, None]], dim=1).tolist()
    floats = torch.cat([stage_lp.flatten(1), entropy[:, None], sampling_entropy[:, None]], dim=1).tolist()
    n, s = top_n, len(columns)
    per_row = [[row[j * s : (j + 1) * s] for j in range(n + 1)] for row in floats]
    return Draw(
        token_ids=[r[n] for r in ints],
        logprob=[p[n][0] for p in per_row],
        sampling_logprob=[p[n][-1] for p in per_row],
        rank=[r[n + 1] for r in ints],
        entropy=[row[-2] for row in floats],
        sampling_entropy=[row[-1] for row in floats],
        top_ids=[r[:n] for r in ints],
        top_stages=[p[:n] for p in per_row],
        chosen_stages=[p[n] for p in per_row],
    )
