"""The sampler: which stages each row of a batch goes through, in which order, and how it chooses.

The stages themselves are small pure transforms in `stages.py`, one per stage. `make_sampler` turns
the parameters of each row of a batch into one `Sampler`: every stage some row enables, in each
row's order (transformers' by default, `sampler_order` to change it; logit_bias always first), each
applied only to the rows that enable it, so that every row's numbers are those of its own settings
alone. Then each row takes the argmax, or draws with its own generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch

from .params import GenerationParams, stage_order
from .stages import (PAD_ID, Processor, RowState, dry, dynamic_temperature, epsilon_cutoff, eta_cutoff,
                     frequency_penalty, logit_bias, min_new_tokens, min_p, mirostat, mirostat_after, no_repeat_ngram,
                     presence_penalty, repetition_penalty, temperature, top_h, top_k, top_n_sigma, top_p, typical_p,
                     xtc)

__all__ = ["PAD_ID", "Row", "RowState", "Sampler", "Stage", "build_stages", "call_rows", "choose", "make_sampler",
           "run_stages", "sample", "repetition_penalty", "no_repeat_ngram", "min_new_tokens", "temperature", "top_k",
           "top_p", "min_p", "typical_p", "logit_bias", "frequency_penalty", "presence_penalty", "dry", "top_n_sigma",
           "top_h", "epsilon_cutoff", "eta_cutoff", "xtc", "dynamic_temperature", "mirostat"]

XTC_SEED = 0x58544300  # XTC's generator: the call's seed mixed with this, so its draws leave the sampler's alone


@dataclass(frozen=True)
class Stage:
    """One named step of the chain, e.g. Stage("top_k", top_k(20)), for all rows or for some."""

    name: str
    apply: Processor
    rows: torch.Tensor | None = None
    """[B] bool: the rows it applies to (the others pass through unchanged); None: every row."""
    after: Callable[[torch.Tensor, torch.Tensor], None] | None = None
    """A stage with state: called with its output and the chosen tokens once they are chosen."""


def build_stages(params: GenerationParams, prompt_length: int) -> tuple[Stage, ...]:
    """The enabled stages for one set of parameters, in its order (for one row: its names, a teacher-forced
    pass; a sampling row without a seed gets seed 0 for XTC's draws)."""
    seeded = params if params.seed is not None or not params.do_sample else replace(params, seed=0)
    return make_sampler(call_rows(seeded, prompt_length, "cpu")[:1], "cpu").stages


@dataclass(frozen=True)
class Row:
    """One row of a batch: its parameters, its prompt's length, the generator it draws with (rows of one
    call, its `num_return_sequences` answers, share one and are drawn together), its stages' state."""

    params: GenerationParams
    prompt_length: int
    generator: torch.Generator | None
    state: RowState = field(default_factory=RowState)
    dry_breakers: frozenset[int] = frozenset()
    """The token ids whose text contains a DRY sequence breaker (the caller, who has the tokenizer, says)."""


def call_rows(params: GenerationParams, prompt_length: int, device: torch.device | str,
              dry_breakers: frozenset[int] = frozenset()) -> list[Row]:
    """The rows of one call: `num_return_sequences` of them, sharing one generator seeded from the
    parameters (whose seed must be set when sampling), each with its own stage state."""
    generator = torch.Generator(device=device).manual_seed(params.seed) if params.do_sample else None
    rows = []
    for i in range(params.num_return_sequences):
        state = RowState(mirostat_mu=2 * params.mirostat_tau if params.mirostat_tau > 0 else None)
        if params.xtc_probability > 0:
            state.xtc_generator = torch.Generator(device=device).manual_seed((params.seed or 0) ^ XTC_SEED + i)
        rows.append(Row(params, prompt_length, generator, state, dry_breakers))
    return rows


@dataclass(frozen=True)
class Sampler:
    """How every row of a batch chooses its next token, and how much of the choice the trace keeps."""

    stages: tuple[Stage, ...]
    """Every stage some row enables, each with the rows it applies to, in the rows' order."""
    row_stages: tuple[tuple[int, ...], ...]
    """Per row: the indices in `stages` of its own stages, in its order."""
    greedy: torch.Tensor
    """[B] bool: rows that take the argmax rather than draw."""
    draws: tuple[tuple[slice, torch.Generator], ...]
    """Rows that draw, as runs sharing one generator."""
    top_n: tuple[int, ...]
    """Per row: how many of the model's most likely tokens the trace records."""
    lens: tuple[bool, ...] = ()
    """Per row: whether the trace records every layer's guess (the logit lens)."""
    states: tuple[RowState, ...] = ()
    """Per row: its stateful stages' state (mirostat, XTC)."""

    def stage_names(self, row: int) -> tuple[str, ...]:
        return tuple(self.stages[i].name for i in self.row_stages[row])


def make_sampler(rows: Sequence[Row], device: torch.device | str) -> Sampler:
    """The sampler of a batch whose rows have these parameters (the seed of a sampling row must be set)."""
    params = [r.params for r in rows]
    states = [r.state for r in rows]
    stages: list[Stage] = []

    def column(values: list[float]) -> torch.Tensor | float:
        """One number for every row, or a [B, 1] column when they differ."""
        return values[0] if len(set(values)) == 1 else torch.tensor(values, device=device).reshape(-1, 1)

    def tensor(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, device=device, dtype=torch.float32).reshape(-1, 1)

    sampling = [p.do_sample for p in params]
    # Each stage: which rows enable it, and how to build it for the whole batch (the others pass through).
    builders: dict[str, list[tuple[str, list[bool], Callable[[], Processor], Callable | None]]] = {
        "repetition_penalty": [("repetition_penalty", [p.repetition_penalty != 1.0 for p in params],
                                lambda: repetition_penalty(column([p.repetition_penalty for p in params])), None)],
        "frequency_penalty": [("frequency_penalty", [p.frequency_penalty != 0.0 for p in params],
                               lambda: frequency_penalty(column([p.frequency_penalty for p in params]),
                                                         column([float(r.prompt_length) for r in rows])), None)],
        "presence_penalty": [("presence_penalty", [p.presence_penalty != 0.0 for p in params],
                              lambda: presence_penalty(column([p.presence_penalty for p in params]),
                                                       column([float(r.prompt_length) for r in rows])), None)],
        "no_repeat_ngram": [("no_repeat_ngram", [p.no_repeat_ngram_size == n for p in params],
                             lambda n=n: no_repeat_ngram(n), None)
                            for n in sorted({p.no_repeat_ngram_size for p in params} - {0})],
        "min_new_tokens": [("min_new_tokens", [p.min_new_tokens > 0 and p.eos_token_ids == eos for p in params],
                            lambda eos=eos: min_new_tokens(column([float(p.min_new_tokens) for p in params]),
                                                           column([float(r.prompt_length) for r in rows]), eos), None)
                           for eos in sorted({p.eos_token_ids for p in params if p.min_new_tokens > 0 and p.eos_token_ids})],
        "dry": [("dry", [s and p.dry_multiplier > 0 for s, p in zip(sampling, params)],
                 lambda: dry([p.dry_multiplier for p in params], [p.dry_base for p in params],
                             [p.dry_allowed_length for p in params], [p.dry_penalty_last_n for p in params],
                             [r.dry_breakers for r in rows]), None)],
        "top_n_sigma": [("top_n_sigma", [s and p.top_n_sigma > 0 for s, p in zip(sampling, params)],
                         lambda: top_n_sigma(column([p.top_n_sigma for p in params])), None)],
        "temperature": [
            ("temperature", [s and p.temperature != 1.0 and p.dynatemp_range == 0 for s, p in zip(sampling, params)],
             lambda: temperature(column([p.temperature if p.do_sample else 1.0 for p in params])), None),
            ("dynatemp", [s and p.dynatemp_range > 0 for s, p in zip(sampling, params)],
             lambda: dynamic_temperature(tensor([p.temperature for p in params]), tensor([p.dynatemp_range for p in params]),
                                         tensor([p.dynatemp_exponent for p in params]), states), None)],
        "top_h": [("top_h", [s and p.top_h > 0 for s, p in zip(sampling, params)],
                   lambda: top_h(column([p.top_h for p in params])), None)],
        "top_k": [("top_k", [s and p.top_k != 0 for s, p in zip(sampling, params)],
                   lambda: top_k(torch.tensor([p.top_k or 1 for p in params], device=device)), None)],
        "top_p": [("top_p", [s and p.top_p < 1.0 for s, p in zip(sampling, params)],
                   lambda: top_p(column([p.top_p for p in params])), None)],
        "min_p": [("min_p", [s and p.min_p > 0.0 for s, p in zip(sampling, params)],
                   lambda: min_p(column([p.min_p for p in params])), None)],
        "typical_p": [("typical_p", [s and p.typical_p < 1.0 for s, p in zip(sampling, params)],
                       lambda: typical_p(column([p.typical_p for p in params])), None)],
        "epsilon_cutoff": [("epsilon_cutoff", [s and p.epsilon_cutoff > 0 for s, p in zip(sampling, params)],
                            lambda: epsilon_cutoff(column([p.epsilon_cutoff for p in params])), None)],
        "eta_cutoff": [("eta_cutoff", [s and p.eta_cutoff > 0 for s, p in zip(sampling, params)],
                        lambda: eta_cutoff(column([p.eta_cutoff for p in params])), None)],
        "xtc": [("xtc", [s and p.xtc_probability > 0 for s, p in zip(sampling, params)],
                 lambda: xtc([p.xtc_probability if p.do_sample else 0.0 for p in params],
                             [p.xtc_threshold for p in params], states), None)],
        "mirostat": [("mirostat", [s and p.mirostat_tau > 0 for s, p in zip(sampling, params)],
                      lambda: mirostat(states),
                      lambda: mirostat_after([p.mirostat_tau for p in params], [p.mirostat_eta for p in params],
                                             states))],
    }

    def add(name: str, enabled: list[bool], make: Callable[[], Processor], after: Callable | None) -> None:
        if any(enabled):
            mask = None if all(enabled) else torch.tensor(enabled, device=device)
            stages.append(Stage(name, make(), mask, after() if after else None))

    # logit_bias first, always; then each group of rows with the same order, its stages for its rows alone.
    add("logit_bias", [bool(p.logit_bias) for p in params], lambda: logit_bias([p.logit_bias for p in params]), None)
    orders = [stage_order(p.sampler_order) for p in params]
    for order in dict.fromkeys(orders):
        member = [o == order for o in orders]
        for stage in order:
            for name, enabled, make, after in builders[stage]:
                add(name, [m and e for m, e in zip(member, enabled)], make, after)

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
                   top_n=tuple(p.top_n for p in params), lens=tuple(p.lens for p in params), states=tuple(states))


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
    each stage and the final log-probabilities, for the trace. Stateful stages update once it is chosen."""
    scores = run_stages(sampler.stages, ids, logits)
    final_lp = scores[-1].log_softmax(-1)
    token = final_lp.argmax(-1)  # greedy rows; drawing rows are replaced below
    for rows, generator in sampler.draws:
        token[rows] = choose(final_lp[rows], True, generator)
    for stage, out in zip(sampler.stages, scores[1:]):
        if stage.after is not None:
            stage.after(out, token)
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
