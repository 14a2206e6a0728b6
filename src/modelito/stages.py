"""The sampler's stages: small pure transforms of next-token scores, one per stage.

Every stage has transformers' `LogitsProcessor` contract, `(ids [B, L], scores [B, V]) -> scores`,
and the arithmetic of the reference named in its docstring (a transformers class, or llama.cpp's
`src/llama-sampling.cpp`, read and written anew), so each can be checked against it. A removed
token gets a score of -inf. A stage's parameter is a number, or a column [B, 1] with one value per
row. Histories `ids` of shorter rows are left-padded with PAD_ID, which no stage counts.

A few stages have state, kept per row in a `RowState`: mirostat's running μ, XTC's random draws, and
what they record for the trace. Their `after` function updates it once the token is chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

import torch

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Param = Union[float, torch.Tensor]  # one value, or a column [B, 1] of values per row
NEG_INF = float("-inf")
PAD_ID = 2**62  # fills the histories of shorter rows; no token has it, and the stages skip it


@dataclass
class RowState:
    """What the stateful stages keep for one row across steps, and what they record at this step."""

    mirostat_mu: float | None = None
    """Mirostat's running target surprise (starts at 2τ)."""
    xtc_generator: torch.Generator | None = None
    """XTC's own random stream, seeded from the call's seed (the sampling draw keeps its own)."""
    recorded: dict[str, float] = field(default_factory=dict)
    """This step's values for the trace (mirostat's μ, XTC's draw, the dynamic temperature)."""


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


def logit_bias(biases: Sequence[Sequence[tuple[int, float]]]) -> Processor:
    """Add each row's {token: bias} to its logits (OpenAI's and vLLM's logit_bias; vLLM applies it first)."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        rows = [r for r, pairs in enumerate(biases) for _ in pairs]
        tokens = [t for pairs in biases for t, _ in pairs]
        values = torch.tensor([b for pairs in biases for _, b in pairs], dtype=scores.dtype, device=scores.device)
        return scores.index_put((torch.tensor(rows, device=scores.device), torch.tensor(tokens, device=scores.device)),
                                values, accumulate=True)

    return apply


def _generated_counts(ids: torch.Tensor, prompt_length: Param, vocab: int) -> torch.Tensor:
    """[B, V]: how many times each token was generated (after each row's prompt; padding not counted)."""
    length = ids.shape[1]
    generated = (ids != PAD_ID).sum(-1, keepdim=True) - prompt_length  # [B, 1]
    answer = torch.arange(length, device=ids.device)[None, :] >= length - generated  # [B, L]
    counts = torch.zeros(ids.shape[0], vocab + 1, device=ids.device)
    counts.scatter_add_(1, ids.clamp(max=vocab), answer.float())
    return counts[:, :vocab]


def frequency_penalty(penalty: Param, prompt_length: Param) -> Processor:
    """Subtract penalty x the times each token was already generated (OpenAI; vLLM counts the answer only)."""
    return lambda ids, scores: scores - penalty * _generated_counts(ids, prompt_length, scores.shape[-1])


def presence_penalty(penalty: Param, prompt_length: Param) -> Processor:
    """Subtract penalty from every token generated at least once (OpenAI; vLLM counts the answer only)."""
    return lambda ids, scores: scores - penalty * (_generated_counts(ids, prompt_length, scores.shape[-1]) > 0)


def dry(multiplier: Sequence[float], base: Sequence[float], allowed_length: Sequence[int],
        last_n: Sequence[int], breakers: Sequence[frozenset[int]]) -> Processor:
    """DRY, "don't repeat yourself" (llama.cpp's llama_sampler_dry, after koboldcpp): for every earlier
    place where the text's current ending also occurred, of length L >= allowed_length, the token that
    followed it there gets multiplier * base ** (L - allowed_length) subtracted, so that the repetition
    does not grow. A repetition never runs across a breaker token (one whose text contains a sequence
    breaker). Per row, over the last `last_n` tokens (0: all), prompt included, as llama.cpp's server."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        out = scores.clone()
        for r, row in enumerate(ids.tolist()):
            ctx = [t for t in row if t != PAD_ID]
            ctx = ctx[-last_n[r]:] if last_n[r] > 0 else ctx
            for token, length in _dry_lengths(ctx, allowed_length[r], breakers[r]).items():
                if token < out.shape[-1]:
                    power = length - allowed_length[r]
                    if base[r] > 1.000001:  # llama.cpp's cap, so that the penalty stays finite
                        power = min(power, int(88.72 / math.log(base[r])))
                    out[r, token] -= multiplier[r] * base[r] ** power
        return out

    return apply


def _dry_lengths(ctx: list[int], allowed: int, breakers: frozenset[int]) -> dict[int, int]:
    """token -> the longest repetition it would extend (>= allowed), by a Z-function on the reversed text."""
    n = len(ctx)
    if n <= allowed:
        return {}
    # How far back the current ending may reach: up to the nearest breaker.
    limit = 0
    while limit < n and ctx[n - 1 - limit] not in breakers:
        limit += 1
    if limit < allowed:
        return {}
    rev = ctx[::-1]
    z = [0] * n  # z[k]: the longest common prefix of rev and rev[k:], i.e. common suffix lengths
    left = right = 0
    for k in range(1, n):
        if k < right:
            z[k] = min(right - k, z[k - left])
        while k + z[k] < n and rev[z[k]] == rev[k + z[k]]:
            z[k] += 1
        if k + z[k] > right:
            left, right = k, k + z[k]
    best: dict[int, int] = {}
    for i in range(n - 1):  # the ending matched at i, the token that followed it there is ctx[i + 1]
        length = min(z[n - 1 - i], limit)
        following = ctx[i + 1]
        if length >= allowed and following not in breakers:
            best[following] = max(best.get(following, 0), length)
    return best


def top_n_sigma(n: Param) -> Processor:
    """Keep the tokens whose logit is at least max - n x std of the finite logits (population std).
    llama.cpp: llama_sampler_top_n_sigma (Tang et al. 2024, "Top-nσ")."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        finite = torch.isfinite(scores)
        count = finite.sum(-1, keepdim=True)
        values = torch.where(finite, scores, 0.0)
        mean = values.sum(-1, keepdim=True) / count
        std = (torch.where(finite, scores - mean, 0.0) ** 2).sum(-1, keepdim=True).div(count).sqrt()
        top = scores.amax(-1, keepdim=True)
        return scores.masked_fill(scores < top - n * std, NEG_INF)

    return apply


def top_h(h: Param) -> Processor:
    """Among the 100 most likely tokens, keep them in order while their cumulative entropy terms stay within
    h x the entropy of those 100. transformers: TopHLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        top_logits, top_idx = torch.topk(scores, min(100, scores.shape[-1]), dim=-1, largest=True, sorted=True)
        dist = torch.distributions.Categorical(logits=top_logits)
        probs = dist.probs
        tau = dist.entropy().unsqueeze(-1) * h
        keep = torch.cumsum(-probs * torch.log(probs), dim=-1) <= tau
        keep[:, 0] = True
        mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top_idx, keep)
        return scores.masked_fill(~mask, NEG_INF)

    return apply


def epsilon_cutoff(epsilon: Param, min_keep: int = 1) -> Processor:
    """Drop tokens whose probability is below epsilon. transformers: EpsilonLogitsWarper."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        drop = scores.softmax(-1) < epsilon
        drop &= scores < torch.topk(scores, min(min_keep, scores.shape[-1]))[0][..., -1, None]
        return scores.masked_fill(drop, NEG_INF)

    return apply


def eta_cutoff(epsilon: Param, min_keep: int = 1) -> Processor:
    """Drop tokens below min(eps, sqrt(eps) * exp(-entropy)). transformers: EtaLogitsWarper (whose code,
    not its docstring, this follows)."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        eps = torch.as_tensor(epsilon, device=scores.device, dtype=scores.dtype)
        entropy = torch.distributions.Categorical(logits=scores).entropy()[..., None]
        drop = scores.softmax(-1) < torch.minimum(eps, torch.sqrt(eps) * torch.exp(-entropy))
        drop &= scores < torch.topk(scores, min(min_keep, scores.shape[-1]))[0][..., -1, None]
        return scores.masked_fill(drop, NEG_INF)

    return apply


def xtc(probability: Sequence[float], threshold: Sequence[float], states: Sequence[RowState],
        min_keep: int = 1) -> Processor:
    """Exclude top choices (llama.cpp's llama_sample_xtc): with `probability` per step, remove every
    token whose probability is >= threshold except the least likely of them. Each row with XTC draws
    its chance from its own generator, every step, and records it (rows with probability 0 draw none)."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        out = scores.clone()
        probs = scores.softmax(-1)
        for r, state in enumerate(states):
            if probability[r] <= 0:
                continue
            generator = state.xtc_generator
            chance = float(torch.rand(1, generator=generator, device=generator.device))
            removed = 0
            if chance <= probability[r]:
                above = int((probs[r] >= threshold[r]).sum())  # the top choices
                finite = int(torch.isfinite(scores[r]).sum())
                if above >= 2 and finite - (above - 1) >= min_keep:
                    out[r, probs[r].argsort(descending=True)[: above - 1]] = NEG_INF
                    removed = above - 1
            state.recorded.update(xtc_draw=chance, xtc_removed=removed)
        return out

    return apply


def dynamic_temperature(temperature: torch.Tensor, spread: torch.Tensor, exponent: torch.Tensor,
                        states: Sequence[RowState]) -> Processor:
    """Dynamic temperature (llama.cpp's temp_ext): T = lo + (hi - lo) * (H / ln N) ** exponent, where
    lo, hi = temperature -/+ spread (lo at least 0), H the entropy and N the number of tokens still in.
    Parameters are columns [B, 1]; each row records its T."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n = torch.isfinite(scores).sum(-1, keepdim=True).float()
        entropy = torch.special.entr(scores.softmax(-1)).sum(-1, keepdim=True)
        normalised = torch.where(n > 1, entropy / n.clamp(min=2).log(), 0.0).clamp(min=0.0)
        low, high = (temperature - spread).clamp(min=0.0), temperature + spread
        t = low + (high - low) * normalised ** exponent  # [B, 1]
        for state, value, wide in zip(states, t[:, 0].tolist(), (spread[:, 0] > 0).tolist()):
            if wide:
                state.recorded["dynatemp"] = value
        greedy = scores.masked_fill(scores < scores.amax(-1, keepdim=True), NEG_INF)
        scaled = torch.where(t > 0, scores / t.clamp(min=1e-30), greedy)
        return torch.where(n > 1, scaled, scores)

    return apply


def mirostat(states: Sequence[RowState]) -> Processor:
    """Mirostat v2 (Basu et al. 2021; llama.cpp's llama_sampler_mirostat_v2): keep the tokens whose surprise
    -log2 p is at most the row's running μ (always the most likely one). `mirostat_after` updates μ."""

    def apply(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        mu = [math.inf if s.mirostat_mu is None else s.mirostat_mu for s in states]
        for state in states:
            if state.mirostat_mu is not None:
                state.recorded["mirostat_mu"] = state.mirostat_mu
        surprise = -scores.log_softmax(-1) / math.log(2)
        drop = surprise > torch.tensor(mu, device=scores.device)[:, None]
        drop.scatter_(1, scores.argmax(-1, keepdim=True), False)
        return scores.masked_fill(drop, NEG_INF)

    return apply


def mirostat_after(tau: Sequence[float], eta: Sequence[float], states: Sequence[RowState]):
    """After the draw: μ -= eta * (surprise of the chosen token under the truncated distribution - tau)."""

    def after(out: torch.Tensor, token: torch.Tensor) -> None:
        surprise = (-out.log_softmax(-1).gather(1, token[:, None])[:, 0] / math.log(2)).tolist()
        for r, state in enumerate(states):
            if state.mirostat_mu is not None:
                state.mirostat_mu -= eta[r] * (surprise[r] - tau[r])

    return after
