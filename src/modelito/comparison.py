"""One prompt, several models, system messages or parameter settings, side by side.

Besides the texts, a comparison holds a cross table: the log-probability of every generated text
under every model (or setting, or system message). It answers "would the instruct model have
written what the base model wrote?" and "is this text even possible at top_k=2?".
Settings that share a model run as one batch with one prefill.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from .engine import generate_steps
from .errors import ParameterError
from .generation import Clock, SequenceBuilder, follow, make_result, rows_for
from .params import Policy
from .protocols import LanguageModel, Prompt
from .rendering import Viewable
from .sampling import build_stages, make_sampler
from .search import trace_sequence
from .trace import Result, json_ready


@dataclass(frozen=True)
class Comparison(Viewable):
    kind: str
    """'models', 'settings' or 'systems'."""
    prompt: Any
    labels: tuple[str, ...]
    results: tuple[Result, ...]
    cross_logprobs: tuple[tuple[float, ...], ...]
    """cross_logprobs[i][j]: log-probability of text i under model / setting / system j (-inf: impossible)."""

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        return json_ready({"kind": self.kind, "prompt": self.prompt, "labels": list(self.labels),
                           "results": [r.to_dict() for r in self.results],
                           "cross_logprobs": [list(row) for row in self.cross_logprobs]})


def compare_models(prompt: Prompt, models: Sequence[LanguageModel], labels: Sequence[str] | None = None,
                   **generation_kwargs: Any) -> Comparison:
    """The same prompt and parameters on several models (base vs instruct, say)."""
    _check_count("models", models)
    results = [lm.generate(prompt, **generation_kwargs) for lm in models]
    # One measure for the whole table: the generated tokens when every model reads the same
    # vocabulary, else the visible text as each model tokenizes it.
    same = all(_same_vocab(models[0], lm) for lm in models)
    cross = [[_text_logprob(judge, prompt, result, same_tokens=same) for judge in models] for result in results]
    return Comparison("models", prompt, tuple(labels or [lm.name for lm in models]), tuple(results),
                      tuple(tuple(row) for row in cross))


def compare_systems(lm: LanguageModel, prompt: str, systems: Sequence[str | None], **generation_kwargs: Any) -> Comparison:
    """The same user message under several system messages (None: the template's own default)."""
    _check_count("systems", systems)
    if not isinstance(prompt, str):
        raise ParameterError("prompt", prompt, "the user's message, as a string, when comparing system messages")
    chats = [([{"role": "system", "content": s}] if s is not None else []) + [{"role": "user", "content": prompt}]
             for s in systems]
    results = [lm.generate(chat, **generation_kwargs) for chat in chats]
    cross = [[_text_logprob(lm, chat, result) for chat in chats] for result in results]
    labels = tuple("(template default)" if s is None else s for s in systems)
    return Comparison("systems", prompt, labels, tuple(results), tuple(tuple(row) for row in cross))


@torch.inference_mode()
def compare_settings(lm: LanguageModel, prompt: Prompt, settings: Sequence[Mapping[str, Any]],
                     policy: Policy | None = None, **common: Any) -> Comparison:
    """Several parameter settings (each over `common`) on one prompt, as one batch with one prefill."""
    _check_count("settings", settings)
    text, ids = lm.prompt_ids(prompt)
    all_params = []
    for i, setting in enumerate(settings):
        if not isinstance(setting, Mapping):
            raise ParameterError(f"settings[{i}]", setting, "a dict of generation parameters")
        params = lm.params(len(ids), policy=policy, **{**common, **setting})
        if params.strategy not in ("greedy", "sample") or params.num_return_sequences != 1:
            raise ParameterError(f"settings[{i}]", dict(setting), "greedy or sampling settings with one sequence "
                                 "each (compare beam searches one by one)")
        if params.do_sample and params.seed is None:  # each row its own, reproducible seed
            params = dataclasses.replace(params, seed=i, sources={**params.sources, "seed": "comparison row"})
        all_params.append(params)
    # One row per setting, each with its own generator: one batch, one prefill.
    sampler = make_sampler([rows_for(lm, p, len(ids))[0] for p in all_params], lm.device)
    builders = [SequenceBuilder(lm, p) for p in all_params]
    clock = Clock()
    steps = generate_steps(lm.model, torch.tensor([ids], device=lm.device), sampler,
                           max(p.max_new_tokens for p in all_params))
    with contextlib.closing(follow(builders, steps)) as rows:
        for _ in rows:
            clock.tick()
    stages = [build_stages(p, len(ids)) for p in all_params]  # each setting's own, for its trace and the cross table
    results = tuple(
        make_result(lm, text, ids, p, s, [b.sequence()], clock.usage(len(ids), [b.steps]))
        for p, s, b in zip(all_params, stages, builders)
    )
    cross = [[_under(lm, ids, list(r.sequences[0].token_ids), s, greedy=not p.do_sample)
              for p, s in zip(all_params, stages)] for r in results]
    labels = tuple(", ".join(f"{k}={v!r}" for k, v in s.items()) or "(defaults)" for s in settings)
    return Comparison("settings", prompt, labels, results, tuple(tuple(row) for row in cross))


def _under(lm: LanguageModel, prompt_ids: list[int], token_ids: list[int], stages, greedy: bool = False) -> float:
    """log-probability of the tokens under a setting's final distribution (teacher-forced). Greedy
    decoding takes the argmax of its processed scores: a text is certain (0) or impossible (-inf)."""
    if not token_ids:
        return 0.0
    draws = trace_sequence(lm.model, prompt_ids, token_ids, stages, top_n=0, on_logprobs=False, argmax=greedy)
    return sum(d.sampling_logprob for d in draws)


def _text_logprob(lm: LanguageModel, prompt: Prompt, result: Result, same_tokens: bool = True) -> float:
    """log-probability of a result's text under `lm` (its own tokens when the vocabulary is the same)."""
    _, ids = lm.prompt_ids(prompt)
    seq = result.sequences[0]
    tokens = list(seq.token_ids) if same_tokens else lm.tokenizer(seq.text, add_special_tokens=False)["input_ids"]
    return _under(lm, ids, tokens, ())


def _same_vocab(a: LanguageModel, b: LanguageModel) -> bool:
    return a is b or a.tokenizer.get_vocab() == b.tokenizer.get_vocab()


def _check_count(name: str, items: Sequence[Any]) -> None:
    if not isinstance(items, (list, tuple)) or not 1 <= len(items) <= 8:
        raise ParameterError(name, items, "a list of 1 to 8 items")
