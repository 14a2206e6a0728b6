"""The decode loop: prefill the prompt once, then one token per step over the model's KV cache.

    prompt ids ─ prefill ─▶ logits ─ stages ─▶ choose ─▶ token ─ decode_step ─▶ logits ─ ...
                                      │                    │
                                      └──── observe ───────┴─▶ Draw (one frozen record per row and step)

`generate_steps` is a generator: each step yields one `Draw` per row of the batch. It knows no
text and no stopping rule but `max_new_tokens`; the text layer (`generation.py`) decides when a
sequence has ended and simply stops iterating. The `Sampler` gives every row its own stages and
generator. Rows never interact: a row that has finished keeps being computed, and ignored, until
every row is done (as in transformers). `batch.RunningBatch` runs the same step over rows that
join and leave.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import torch
from transformers import DynamicCache

from .lens import step_guesses
from .sampling import Sampler, Stage, sample
from .trace import ContrastiveChoice, LayerGuess


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
    lens: tuple[LayerGuess, ...] = ()
    """With lens: every layer's guess at this step (texts not filled in)."""
    sampler_state: dict[str, float] | None = None
    """What stateful stages recorded at this step: mirostat's μ, XTC's draw, the dynamic temperature."""


def stage_names(stages: tuple[Stage, ...], chosen_by: str | None) -> tuple[str, ...]:
    """Names of the recorded distributions: "model", each enabled stage, then what made a certain
    choice ("greedy", "contrastive") when the token was not drawn from the last stage."""
    return ("model", *(s.name for s in stages), *((chosen_by,) if chosen_by else ()))


def decode_step(model: torch.nn.Module, ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    """Feed new tokens [B, T] after what the cache holds; logits of the last position [B, V] in float32."""
    return forward(model, ids, cache)[0]


def forward(model: torch.nn.Module, ids: torch.Tensor, cache: DynamicCache, states: bool = False,
            **inputs: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
    """One forward pass after what the cache holds: the last position's logits [B, V] in float32 and, with
    `states`, every layer's hidden states (for the logit lens). `inputs`: attention_mask, position_ids."""
    # logits_to_keep=1: the LM head runs on the last position only (a 151k-wide matmul per position).
    out = model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1, output_hidden_states=states, **inputs)
    return out.logits[:, -1].float(), (out.hidden_states if states else None)


@torch.inference_mode()
def generate_steps(
    model: torch.nn.Module, prompt_ids: torch.Tensor, sampler: Sampler, max_new_tokens: int
) -> Iterator[list[Draw]]:
    """Yield, per generated token, one `Draw` per row of `sampler`: every row continues the same
    prompt `prompt_ids` [1, L], which is prefilled once and its cache copied to every row."""
    rows, lens = len(sampler.top_n), any(sampler.lens)
    cache = DynamicCache(config=model.config)
    logits, states = forward(model, prompt_ids, cache, states=lens)  # the prefill: [1, V]
    if rows > 1:
        cache.batch_repeat_interleave(rows)
        logits = logits.expand(rows, -1)
        states = states and tuple(h.expand(rows, -1, -1) for h in states)
    ids = prompt_ids.expand(rows, -1)  # [B, L]: history for the penalties
    for i in range(max_new_tokens):
        if i:
            logits, states = forward(model, token[:, None], cache, states=lens)
        token, draws = step(sampler, ids, logits, model, states)
        yield draws
        ids = torch.cat([ids, token[:, None]], dim=1)


def step(sampler: Sampler, ids: torch.Tensor, logits: torch.Tensor, model: torch.nn.Module | None = None,
         states: tuple[torch.Tensor, ...] | None = None) -> tuple[torch.Tensor, list[Draw]]:
    """Choose every row's next token from its logits [B, V] and record the step: the tokens [B] and
    one Draw per row. With the forward pass's hidden `states`, rows with lens get every layer's guess."""
    token, scores, final_lp = sample(sampler, ids, logits)
    draws = observe(scores, final_lp, token, sampler.top_n, sampler.greedy, sampler.row_stages)
    recorded = [dict(s.recorded) for s in sampler.states]
    if any(recorded):
        draws = [replace(d, sampler_state=r or None) for d, r in zip(draws, recorded)]
        for s in sampler.states:
            s.recorded.clear()
    if states is not None:
        guesses = step_guesses(model, states, token, [r for r, want in enumerate(sampler.lens) if want])
        draws = [replace(d, lens=guesses[r]) if r in guesses else d for r, d in enumerate(draws)]
    return token, draws


def observe(
    scores: list[torch.Tensor], final_lp: torch.Tensor, token: torch.Tensor, top_n: int | Sequence[int],
    argmax: bool | torch.Tensor, row_stages: Sequence[Sequence[int]] | None = None,
) -> list[Draw]:
    """Select, on the device, what the trace keeps of this step; copy only that to the host.

    `scores` are the raw logits then each stage's output [B, V]; `final_lp` is log_softmax(scores[-1]);
    `token` [B] the chosen tokens; `argmax` (for all rows, or per row [B]): they were chosen
    greedily, not drawn from final_lp; `top_n` (for all rows, or per row): how many alternatives to
    keep; `row_stages`: per row, the indices of the stages that are its own (default: all).
    Returns one Draw per row, its stage columns those of its own stages.
    """
    rows = token.shape[0]
    top_ns = [top_n] * rows if isinstance(top_n, int) else list(top_n)
    greedy = torch.as_tensor(argmax, device=token.device).expand(rows)
    greedy_rows = greedy.tolist()
    n = max(top_ns)
    model_lp = scores[0].log_softmax(-1)
    top = scores[0].topk(n, dim=-1).indices  # [B, N]
    candidates = torch.cat([top, token[:, None]], dim=1)  # [B, N+1]: the top N, then the chosen one
    # Each stage's column: gather the candidates, normalise by logsumexp (no [B, V] copy per stage).
    columns = [model_lp.gather(1, candidates)]
    columns += [s.gather(1, candidates) - s.logsumexp(-1, keepdim=True) for s in scores[1:]]
    columns.append(final_lp.gather(1, candidates))
    # Greedy: the token is chosen with certainty, whatever the scores said.
    columns.append(torch.where(candidates == token[:, None], 0.0, float("-inf")))
    sampling_entropy = torch.where(greedy, 0.0, torch.special.entr(final_lp.exp()).sum(-1))
    stage_lp = torch.stack(columns, dim=-1)  # [B, N+1, C]
    rank = (scores[0] > scores[0].gather(1, token[:, None])).sum(-1) + 1
    entropy = torch.special.entr(model_lp.exp()).sum(-1)

    ints = torch.cat([candidates, rank[:, None]], dim=1).tolist()
    floats = torch.cat([stage_lp.flatten(1), entropy[:, None], sampling_entropy[:, None]], dim=1).tolist()
    width, stages = len(columns), len(scores) - 1
    draws = []
    for r, (row_ints, row) in enumerate(zip(ints, floats)):
        own = list(range(stages)) if row_stages is None else list(row_stages[r])
        # The model's column, each own stage's but the last, then the final distribution (the last
        # own stage, normalised) and, when greedy, certainty.
        picks = [0] + [1 + i for i in own[:-1]] + ([1 + stages] if own else []) + ([2 + stages] if greedy_rows[r] else [])
        per_candidate = [[row[j * width + c] for c in picks] for j in range(n + 1)]
        k = top_ns[r]
        draws.append(Draw(
            token_id=row_ints[n], logprob=per_candidate[n][0], sampling_logprob=per_candidate[n][-1],
            rank=row_ints[n + 1], entropy=row[-2], sampling_entropy=row[-1], top_ids=row_ints[:k],
            top_stages=per_candidate[:k], chosen_stages=per_candidate[n],
        ))
    return draws
