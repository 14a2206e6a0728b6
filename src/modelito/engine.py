"""The decode loop: prefill the prompt once, then one token per step over the model's KV cache.

    prompt ids ─ prefill ─▶ logits ─ stages ─▶ choose ─▶ token ─ decode_step ─▶ logits ─ ...
                                      │                    │
                                      └──── observe ───────┴─▶ Draw (one frozen record per row and step)

`generate_steps` is a generator: each step yields one `Draw` per row of the batch. It knows no
text and no stopping rule but `max_new_tokens`; the text layer (`generation.py`) decides when a
sequence has ended and simply stops iterating. Every row has its own `Sampler`; rows that share
one (the `num_return_sequences` answers of one call) are sampled together. Rows never interact:
a row that has finished keeps being computed, and ignored, until every row is done (as in
transformers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from transformers import DynamicCache

from .sampling import Sampler, Stage, choose, run_stages
from .trace import ContrastiveChoice


@dataclass(frozen=True)
class Draw:
    """One row's step, as plain host-side numbers.

    Per-stage lists follow `stage_names(...)`: the model's distribution first, the final one last.
    """

    token_id: int
    logprob: float
    sampling_logprob: float
    rank: int
    entropy: float
    sampling_entropy: float
    top_ids: list[int]  # [N], most likely first under the model
    top_stages: list[list[float]]  # [N][S]
    chosen_stages: list[float]  # [S]
    contrastive: ContrastiveChoice | None = None
    """Contrastive search only: the candidates it weighed and their scores."""


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


def sample_rows(samplers: Sequence[Sampler], ids: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, list[Draw]]:
    """Choose every row's next token [B] from its logits [B, V], each row by its own sampler, and
    record the step. `ids` [B, L] is each row's history (the penalties read it). Consecutive rows
    that share one Sampler run as one batch."""
    tokens, draws = [], []
    for sampler, rows in _runs(samplers):
        scores = run_stages(sampler.stages, ids[rows], logits[rows])
        final_lp = scores[-1].log_softmax(-1)  # shared by the draw and the trace
        token = choose(final_lp, sampler.do_sample, sampler.generator)
        tokens.append(token)
        draws += observe(scores, final_lp, token, sampler.top_n, argmax=not sampler.do_sample)
    return torch.cat(tokens), draws


def _runs(samplers: Sequence[Sampler]) -> Iterator[tuple[Sampler, slice]]:
    """Consecutive rows that share one Sampler, as (sampler, rows)."""
    start = 0
    for end in range(1, len(samplers) + 1):
        if end == len(samplers) or samplers[end] is not samplers[start]:
            yield samplers[start], slice(start, end)
            start = end


@torch.inference_mode()
def generate_steps(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    samplers: Sequence[Sampler],
    max_new_tokens: int,
) -> Iterator[list[Draw]]:
    """Yield, per generated token, one `Draw` per row: as many rows as `samplers`, all continuing
    the same prompt `prompt_ids` [1, L], which is prefilled once and its cache copied to every row."""
    rows = len(samplers)
    cache = DynamicCache(config=model.config)
    logits = prefill(model, prompt_ids, cache)  # [1, V]
    if rows > 1:
        cache.batch_repeat_interleave(rows)
        logits = logits.expand(rows, -1)
    ids = prompt_ids.expand(rows, -1)  # [B, L]: history for the penalties
    for i in range(max_new_tokens):
        if i:
            logits = decode_step(model, token[:, None], cache)
        token, draws = sample_rows(samplers, ids, logits)
        yield draws
        ids = torch.cat([ids, token[:, None]], dim=1)


def observe(
    scores: list[torch.Tensor], final_lp: torch.Tensor, token: torch.Tensor, top_n: int, argmax: bool
) -> list[Draw]:
    """Select, on the device, what the trace keeps of this step; copy only that to the host.

    `scores` are the raw logits then each stage's output [B, V]; `final_lp` is log_softmax(scores[-1]);
    `token` [B] the chosen tokens; `argmax`: they were chosen greedily, not drawn from final_lp.
    Returns one Draw per row.
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
    draws = []
    for row_ints, row in zip(ints, floats):
        per_candidate = [row[j * s : (j + 1) * s] for j in range(n + 1)]
        draws.append(Draw(
            token_id=row_ints[n], logprob=per_candidate[n][0], sampling_logprob=per_candidate[n][-1],
            rank=row_ints[n + 1], entropy=row[-2], sampling_entropy=row[-1], top_ids=row_ints[:n],
            top_stages=per_candidate[:n], chosen_stages=per_candidate[n],
        ))
    return draws
