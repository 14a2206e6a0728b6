"""The sampler: small pure transforms of next-token scores, one per stage.

Every stage has transformers' `LogitsProcessor` contract, `(ids [B, L], scores [B, V]) -> scores`,
and the same arithmetic as the transformers class named in its docstring, so each can be checked
against it. A removed token gets a score of -inf. `build_stages` keeps only the enabled stages, in
the order transformers applies them: penalties and constraints first, then (when sampling) the
warpers temperature, top-k, top-p, min-p, typical-p.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .params import GenerationParams

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
NEG_INF = float("-inf")


@dataclass(frozen=True)
class Stage:
    """One named step of the chain, e.g. Stage("top_k", top_k(20))."""

    name: str
    apply: Processor


def repetition_penalty(penalty: float) -> Processor:
    """Divide positive scores (multiply negative ones) of every token already seen, prompt included.

    transformers: RepetitionPenaltyLogitsProcessor.
    """

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        # Prompt ids past the output layer (a tokenizer larger than the model's head) go to a spare column.
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


def min_new_tokens(minimum: int, prompt_length: int, eos_ids: Sequence[int]) -> Processor:
    """Forbid the end-of-sequence tokens until `minimum` tokens have been generated.

    transformers: MinNewTokensLengthLogitsProcessor.
    """
    eos = list(eos_ids)

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] - prompt_length >= minimum:
            return scores
        out = scores.clone()
        out[:, eos] = NEG_INF
        return out

    return apply


def temperature(t: float) -> Processor:
    """Scale the scores: t < 1 sharpens, t > 1 flattens. transformers: TemperatureLogitsWarper."""
    return lambda ids, scores: scores / t


def top_k(k: int, min_keep: int = 1) -> Processor:
    """Keep the k highest scores (ties with the k-th are kept). transformers: TopKLogitsWarper."""
    k = max(k, min_keep)

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kth = torch.topk(scores, min(k, scores.shape[-1])).values[..., -1:]
        return scores.masked_fill(scores < kth, NEG_INF)

    return apply


def top_p(p: float, min_keep: int = 1) -> Processor:
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


def _top_p_drop(ascending: torch.Tensor, p: float, min_keep: int) -> torch.Tensor:
    """For scores sorted ascending: drop the least likely while their total mass stays within 1 - p;
    the last min_keep always stay."""
    drop = ascending.softmax(-1).cumsum(-1) <= (1 - p)
    drop[..., -min_keep:] = False
    return drop


def min_p(p: float, min_keep: int = 1) -> Processor:
    """Drop tokens less likely than p times the most likely one. transformers: MinPLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(-1)
        drop = probs < p * probs.amax(-1, keepdim=True)
        drop.scatter_(-1, torch.topk(probs, min(min_keep, probs.shape[-1]), dim=-1).indices, False)
        return scores.masked_fill(drop, NEG_INF)

    return apply


def typical_p(mass: float, min_keep: int = 1) -> Processor:
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
    """The enabled stages for these parameters, in transformers' order."""
    stages: list[Stage] = []
    if params.repetition_penalty != 1.0:
        stages.append(Stage("repetition_penalty", repetition_penalty(params.repetition_penalty)))
    if params.no_repeat_ngram_size > 0:
        stages.append(Stage("no_repeat_ngram", no_repeat_ngram(params.no_repeat_ngram_size)))
    if params.min_new_tokens > 0 and params.eos_token_ids:
        stages.append(Stage("min_new_tokens", min_new_tokens(params.min_new_tokens, prompt_length, params.eos_token_ids)))
    if params.do_sample:
        if params.temperature != 1.0:
            stages.append(Stage("temperature", temperature(params.temperature)))
        if params.top_k != 0:
            stages.append(Stage("top_k", top_k(params.top_k)))
        if params.top_p < 1.0:
            stages.append(Stage("top_p", top_p(params.top_p)))
        if params.min_p > 0.0:
            stages.append(Stage("min_p", min_p(params.min_p)))
        if params.typical_p < 1.0:
            stages.append(Stage("typical_p", typical_p(params.typical_p)))
    return tuple(stages)


@dataclass(frozen=True)
class Sampler:
    """How one row of a batch chooses its next token, and how much of the choice the trace keeps."""

    stages: tuple[Stage, ...]
    """The enabled stages, in order (`build_stages`)."""
    do_sample: bool
    """Draw from the last stage's distribution (True) or take its argmax (False)."""
    generator: torch.Generator | None
    """The row's own random generator, seeded from its parameters (None when greedy)."""
    top_n: int
    """How many of the model's most likely tokens the trace records per step."""


def make_sampler(params: GenerationParams, prompt_length: int, device: torch.device | str) -> Sampler:
    """The sampler for these parameters; `params.seed` must already be set when sampling."""
    generator = None
    if params.do_sample:
        generator = torch.Generator(device=device).manual_seed(params.seed)
    return Sampler(build_stages(params, prompt_length), params.do_sample, generator, params.top_n)


def run_stages(stages: Sequence[Stage], ids: torch.Tensor, logits: torch.Tensor) -> list[torch.Tensor]:
    """Scores after each stage: [raw logits, after stage 1, ..., after the last stage]."""
    out = [logits]
    for stage in stages:
        out.append(stage.apply(ids, out[-1]))
    return out


def choose(logprobs: torch.Tensor, do_sample: bool, generator: torch.Generator | None) -> torch.Tensor:
    """The next token of each row [B]: a draw from the final distribution, or its argmax when greedy."""
    if not do_sample:
        return logprobs.argmax(-1)
    support = int(torch.isfinite(logprobs).sum(-1).max())
    if support <= logprobs.shape[-1] // 4:
        # Draw among the tokens the sampler kept: the same probabilities, a fraction of the work.
        values, index = logprobs.topk(support, dim=-1)
        return index.gather(1, torch.multinomial(values.exp(), 1, generator=generator)).squeeze(1)
    return torch.multinomial(logprobs.exp(), 1, generator=generator).squeeze(1)
