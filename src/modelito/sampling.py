"""The sampler: small pure transforms of next-token scores, one per stage.

Every stage has transformers' `LogitsProcessor` contract, `(ids [B, L], scores [B, V]) -> scores`,
and the same arithmetic as the transformers class named in its docstring, so each can be checked
against it. A removed token gets a score of -inf. A stage's parameter is a number, or a column
[B, 1] with one value per row: rows with different settings share one batch.

`make_sampler` turns the parameters of each row of a batch into one `Sampler`: the stages any row
enables, in the order transformers applies them (penalties and constraints first, then, when
sampling, the warpers temperature, top-k, top-p, min-p, typical-p), each applied only to the rows
that enable it, so every row's numbers are those of its own settings alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

import torch

from .params import GenerationParams

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Param = Union[float, torch.Tensor]  # one value, or a column [B, 1] of values per row
NEG_INF = float("-inf")
PAD_ID = 2**62  # fills the histories of shorter rows; no token has it, and the stages skip it


@dataclass(frozen=True)
class Stage:
    """One named step of the chain, e.g. Stage("top_k", top_k(20)), for all rows or for some."""

    name: str
    apply: Processor
    rows: torch.Tensor | None = None
    """[B] bool: the rows it applies to (the others pass through unchanged); None: every row."""


def repetition_penalty(penalty: Param) -> Processor:
    """Divide positive scores (multiply negative ones) of every token already seen, prompt included.

    transformers: RepetitionPenaltyLogitsProcessor.
    """

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        # Prompt ids past the output layer (a tokenizer larger than the model's head) and the padding of
        # shorter rows go to a spare column.
        vocab = scores.shape[-1]
        padded = torch.nn.functional.pad(scores, (0, 1))
        ids = ids.clamp(max=vocab)
        seen = padded.gather(1, ids)  # [B, L]
        penalised = torch.where(seen < 0, seen * penalty, seen / penalty)
        return padded.scatter(1, ids, penalised)[:, :vocab]

    return apply


def no_repeat_ngram(n: int) -> Processor:
    """Ban every token that would complete an n-gram already present in the sequence.

    transformers: NoRepeatNGramLogitsProcessor. Done on the device: the last n-1 tokens are matched
    against every window of the sequence, and each matching window bans the token that followed it.
    """

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        if length < n:
            return scores
        windows = ids.unfold(1, n, 1)  # [B, W, n]
        prefix = ids[:, length - n + 1 :]  # [B, n-1]
        matches = (windows[..., :-1] == prefix[:, None, :]).all(-1)  # [B, W]
        vocab = scores.shape[-1]
        # Non-matching windows write to a spare column past the vocabulary, dropped below.
        banned = scores.new_zeros((scores.shape[0], vocab + 1), dtype=torch.bool)
        banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab), vocab), True)
        return scores.masked_fill(banned[:, :vocab], NEG_INF)

    return apply


def min_new_tokens(minimum: Param, prompt_length: Param, eos_ids: Sequence[int]) -> Processor:
    """Forbid the end-of-sequence tokens until `minimum` tokens have been generated (after each row's
    prompt, its padding not counted). transformers: MinNewTokensLengthLogitsProcessor.
    """
    eos = list(eos_ids)

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = (ids != PAD_ID).sum(-1, keepdim=True) - prompt_length  # [B, 1]
        early = generated < minimum
        if not bool(early.any()):
            return scores
        banned = torch.zeros_like(scores, dtype=torch.bool)
        banned[:, eos] = True
        return scores.masked_fill(banned & early, NEG_INF)

    return apply


def temperature(t: Param) -> Processor:
    """Scale the scores: t < 1 sharpens, t > 1 flattens. transformers: TemperatureLogitsWarper."""
    return lambda ids, scores: scores / t


def top_k(k: int | torch.Tensor, min_keep: int = 1) -> Processor:
    """Keep the k highest scores (ties with the k-th are kept). transformers: TopKLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        keep = torch.as_tensor(k, device=scores.device).clamp(min=min_keep, max=scores.shape[-1]).reshape(-1, 1)
        values = torch.topk(scores, int(keep.max())).values  # [B, max k]: each row's k-th is among them
        kth = values.gather(1, (keep - 1).expand(scores.shape[0], 1))
        return scores.masked_fill(scores < kth, NEG_INF)

    return apply


def top_p(p: Param, min_keep: int = 1) -> Processor:
    """Keep the most likely tokens until their probability adds up to p. transformers: TopPLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        finite = int(torch.isfinite(scores).sum(-1).max())
        if finite <= scores.shape[-1] // 4:
            # After top-k only a few scores are finite. Removed tokens add exactly 0 to every
            # cumulative sum, so ordering just the finite ones gives the same cut without sorting
            # the whole vocabulary (the sampler's costliest operation).
            values, order = scores.topk(max(finite, min_keep), dim=-1)  # descending
            ascending, order = values.flip(-1), order.flip(-1)
            drop = _top_p_drop(ascending, p, min_keep)
            # Equal scores may sit in either order; only a tie across the cut decides which token
            # stays, and then transformers' full sort decides it.
            cut = drop.sum(-1, keepdim=True)
            inside = (cut > 0) & (cut < ascending.shape[-1])
            left = ascending.gather(1, (cut - 1).clamp(min=0))
            right = ascending.gather(1, cut.clamp(max=ascending.shape[-1] - 1))
            if not bool((inside & (left == right)).any()):
                return scores.masked_fill(torch.isneginf(scores).scatter(1, order, drop), NEG_INF)
        ascending, order = torch.sort(scores, descending=False)
        drop = _top_p_drop(ascending, p, min_keep)
        return scores.masked_fill(drop.scatter(1, order, drop), NEG_INF)

    return apply


def _top_p_drop(ascending: torch.Tensor, p: Param, min_keep: int) -> torch.Tensor:
    """For scores sorted ascending: drop the least likely while their total mass stays within 1 - p;
    the last min_keep always stay."""
    drop = ascending.softmax(-1).cumsum(-1) <= (1 - p)
    drop[..., -min_keep:] = False
    return drop


def min_p(p: Param, min_keep: int = 1) -> Processor:
    """Drop tokens less likely than p times the most likely one. transformers: MinPLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(-1)
        drop = probs < p * probs.amax(-1, keepdim=True)
        drop.scatter_(-1, torch.topk(probs, min(min_keep, probs.shape[-1]), dim=-1).indices, False)
        return scores.masked_fill(drop, NEG_INF)

    return apply


def typical_p(mass: Param, min_keep: int = 1) -> Processor:
    """Keep the tokens whose surprise is closest to the entropy, up to `mass`. transformers: TypicalLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        logp = scores.log_softmax(-1)
        entropy = -(logp * logp.exp()).nansum(-1, keepdim=True)
        distance, order = torch.sort((-logp - entropy).abs(), descending=False)
        cumulative = scores.gather(-1, order).softmax(-1).cumsum(-1)
        last = (cumulative < mass).sum(1).clamp(max=distance.shape[-1] - 1)
        drop = distance > distance.gather(1, last.view(-1, 1))
        drop[..., :min_keep] = False
        return scores.masked_fill(drop.scatter(1, order, drop), NEG_INF)

    return apply


def build_stages(params: GenerationParams, prompt_length: int) -> tuple[Stage, ...]:
    """The enabled stages for one set of parameters, in transformers' order."""
    return make_sampler([Row(params, prompt_length, None)], "cpu").stages


@dataclass(frozen=True)
class Row:
    """One row of a batch: its parameters, its prompt's length, the generator it draws with. Rows of one
    call (its `num_return_sequences` answers) share one generator and are drawn together, in one call."""

    params: GenerationParams
    prompt_length: int
    generator: torch.Generator | None


def call_rows(params: GenerationParams, prompt_length: int, device: torch.device | str) -> list[Row]:
    """The rows of one call: `num_return_sequences` of them, sharing one generator seeded from the
    parameters (whose seed must be set when sampling)."""
    generator = torch.Generator(device=device).manual_seed(params.seed) if params.do_sample else None
    return [Row(params, prompt_length, generator)] * params.num_return_sequences


@dataclass(frozen=True)
class Sampler:
    """How every row of a batch chooses its next token, and how much of the choice the trace keeps."""

    stages: tuple[Stage, ...]
    """Every stage some row enables, in transformers' order, each with the rows it applies to."""
    row_stages: tuple[tuple[int, ...], ...]
    """Per row: the indices in `stages` of its own stages."""
    greedy: torch.Tensor
    """[B] bool: rows that take the argmax rather than draw."""
    draws: tuple[tuple[slice, torch.Generator], ...]
    """Rows that draw, as runs sharing one generator."""
    top_n: tuple[int, ...]
    """Per row: how many of the model's most likely tokens the trace records."""
    lens: tuple[bool, ...] = ()
    """Per row: whether the trace records every layer's guess (the logit lens)."""

    def stage_names(self, row: int) -> tuple[str, ...]:
        return tuple(self.stages[i].name for i in self.row_stages[row])


def make_sampler(rows: Sequence[Row], device: torch.device | str) -> Sampler:
    """The sampler of a batch whose rows have these parameters (the seed of a sampling row must be set)."""
    params = [r.params for r in rows]
    stages: list[Stage] = []

    def add(name: str, enabled: list[bool], make: Callable[[], Processor]) -> None:
        if any(enabled):
            mask = None if all(enabled) else torch.tensor(enabled, device=device)
            stages.append(Stage(name, make(), mask))

    def column(values: list[float]) -> torch.Tensor | float:
        """One number for every row, or a [B, 1] column when they differ."""
        return values[0] if len(set(values)) == 1 else torch.tensor(values, device=device).reshape(-1, 1)

    sampling = [p.do_sample for p in params]
    add("repetition_penalty", [p.repetition_penalty != 1.0 for p in params],
        lambda: repetition_penalty(column([p.repetition_penalty for p in params])))
    for n in sorted({p.no_repeat_ngram_size for p in params} - {0}):
        add("no_repeat_ngram", [p.no_repeat_ngram_size == n for p in params], lambda: no_repeat_ngram(n))
    for eos in sorted({p.eos_token_ids for p in params if p.min_new_tokens > 0 and p.eos_token_ids}):
        add("min_new_tokens", [p.min_new_tokens > 0 and p.eos_token_ids == eos for p in params],
            lambda: min_new_tokens(column([float(p.min_new_tokens) for p in params]),
                                   column([float(r.prompt_length) for r in rows]), eos))
    add("temperature", [s and p.temperature != 1.0 for s, p in zip(sampling, params)],
        lambda: temperature(column([p.temperature if p.do_sample else 1.0 for p in params])))
    add("top_k", [s and p.top_k != 0 for s, p in zip(sampling, params)],
        lambda: top_k(torch.tensor([p.top_k or 1 for p in params], device=device)))
    add("top_p", [s and p.top_p < 1.0 for s, p in zip(sampling, params)],
        lambda: top_p(column([p.top_p for p in params])))
    add("min_p", [s and p.min_p > 0.0 for s, p in zip(sampling, params)],
        lambda: min_p(column([p.min_p for p in params])))
    add("typical_p", [s and p.typical_p < 1.0 for s, p in zip(sampling, params)],
        lambda: typical_p(column([p.typical_p for p in params])))

    row_stages = tuple(tuple(i for i, st in enumerate(stages) if st.rows is None or bool(st.rows[r]))
                       for r in range(len(rows)))
    draws, start = [], 0
    for end in range(1, len(rows) + 1):  # runs of consecutive drawing rows that share a generator
        if end == len(rows) or rows[end].generator is not rows[start].generator:
            if rows[start].generator is not None:
                draws.append((slice(start, end), rows[start].generator))
            start = end
    return Sampler(stages=tuple(stages), row_stages=row_stages,
                   greedy=torch.tensor([not s for s in sampling], device=device), draws=tuple(draws),
                   top_n=tuple(p.top_n for p in params), lens=tuple(p.lens for p in params))


def run_stages(stages: Sequence[Stage], ids: torch.Tensor, logits: torch.Tensor) -> list[torch.Tensor]:
    """Scores after each stage: [raw logits, after stage 1, ..., after the last stage]."""
    out = [logits]
    for stage in stages:
        scores = stage.apply(ids, out[-1])
        if stage.rows is not None:  # the other rows pass through exactly as they were
            scores = torch.where(stage.rows[:, None], scores, out[-1])
        out.append(scores)
    return out


def sample(sampler: Sampler, ids: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """Every row's next token [B] from its logits [B, V] and history `ids` [B, L]; also the scores after
    each stage and the final log-probabilities, for the trace."""
    scores = run_stages(sampler.stages, ids, logits)
    final_lp = scores[-1].log_softmax(-1)
    token = final_lp.argmax(-1)  # greedy rows; drawing rows are replaced below
    for rows, generator in sampler.draws:
        token[rows] = choose(final_lp[rows], True, generator)
    return token, scores, final_lp


def choose(logprobs: torch.Tensor, do_sample: bool, generator: torch.Generator | None) -> torch.Tensor:
    """The next token of each row: a draw from the final distribution, or its argmax when greedy."""
    if not do_sample:
        return logprobs.argmax(-1)
    support = int(torch.isfinite(logprobs).sum(-1).max())
    if support <= logprobs.shape[-1] // 4:
        # Draw among the tokens the sampler kept: the same probabilities, a fraction of the work.
        values, index = logprobs.topk(support, dim=-1)
        return index.gather(1, torch.multinomial(values.exp(), 1, generator=generator)).squeeze(1)
    return torch.multinomial(logprobs.exp(), 1, generator=generator).squeeze(1)
