"""Generation parameters: one validated, frozen record, built once at the boundary.

`GenerationParams` is what the engine reads. Its defaults are the neutral "off" values (top_k 0,
top_p 1, ...), like vLLM's `SamplingParams`. `resolve()` turns the Hugging Face keyword arguments a
notebook passes (`do_sample`, `temperature`, `max_new_tokens`, ...) into one `GenerationParams`,
merged over the model's `generation_config` with the precedence transformers uses:

    your keyword arguments  >  the model's generation_config  >  transformers' global defaults

and records where each value came from, so a result can say "top_k=20 came from the model".
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .errors import ParameterError, PromptTooLongError

# transformers' own fallbacks when neither the caller nor the model sets a field
# (`GenerationConfig._get_default_generation_params`; a test checks they still agree).
# Note top_k 50: sampling with no model defaults keeps only the 50 most likely tokens.
TRANSFORMERS_DEFAULTS: Mapping[str, Any] = {
    "do_sample": False,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "typical_p": 1.0,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "num_return_sequences": 1,
    "num_beams": 1,
    "length_penalty": 1.0,
    "early_stopping": False,
    "max_length": 20,
}

# Keyword arguments of `model.generate` that only shape its return value. modelito always records
# the whole trace, so they are accepted (notebooks pass them) and change nothing.
OUTPUT_ONLY_KWARGS = frozenset({"output_scores", "output_logits", "return_dict_in_generate", "pad_token_id", "use_cache"})

# Where a value came from, as shown to users.
USER, MODEL, LIBRARY = "user", "model", "transformers default"

MAX_TOP_N = 100


@dataclass(frozen=True)
class GenerationParams:
    """Everything that decides which token comes next. Validated on construction."""

    do_sample: bool = False
    """Draw each token from the processed distribution (True) or take the most likely one (False: greedy)."""

    temperature: float = 1.0
    """Divide the logits by this before sampling: below 1 sharpens the distribution, above 1 flattens it. > 0."""

    top_k: int = 0
    """Keep only the k most likely tokens before sampling. 0 turns the filter off."""

    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of most likely tokens whose probability adds up to top_p. In (0, 1]."""

    min_p: float = 0.0
    """Drop tokens whose probability is below min_p times the most likely token's. In [0, 1]; 0 is off."""

    typical_p: float = 1.0
    """Locally typical sampling: keep tokens whose surprise is closest to the entropy, up to this mass. In (0, 1]."""

    repetition_penalty: float = 1.0
    """Penalise every token already in the prompt or the answer (transformers' semantics). > 0; 1 is off."""

    no_repeat_ngram_size: int = 0
    """Forbid any n-gram of this size from occurring twice (prompt included). 0 is off."""

    max_new_tokens: int = 20
    """Stop after this many generated tokens. >= 1."""

    min_new_tokens: int = 0
    """Forbid the end-of-sequence tokens until this many tokens have been generated. 0 <= min_new_tokens <= max_new_tokens."""

    stop_strings: tuple[str, ...] = ()
    """Stop when the text contains one of these; the returned text ends before it."""

    eos_token_ids: tuple[int, ...] = ()
    """Token ids that end a sequence (the model's end-of-sequence tokens)."""

    num_return_sequences: int = 1
    """How many sequences to generate from the prompt, in one batch. >1 needs do_sample=True."""

    num_beams: int = 1
    """Beam search: keep this many partial answers at each step and return the best finished ones. 1 is off."""

    length_penalty: float = 1.0
    """Beam search: answers are ranked by log-probability / length ** length_penalty (> 0 favours longer ones)."""

    early_stopping: bool | str = False
    """Beam search: True stops when num_beams answers are finished; False stops when no live beam can
    still beat them (a heuristic); "never" keeps searching while one could, in principle."""

    penalty_alpha: float = 0.0
    """Contrastive search: weight of the degeneration penalty among the top_k candidates. In [0, 1]; 0 is off."""

    seed: int | None = None
    """Seed of this call's own random generator: the same seed gives the same text. None draws a fresh seed."""

    top_n: int = 5
    """How many alternatives (most likely under the model) to record per step. 0 to 100."""

    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: "user", "model" (its generation_config) or "transformers default"."""

    notes: tuple[str, ...] = field(default=(), compare=False)
    """What the merge noticed and the user should know (a setting that has no effect, say)."""

    def __post_init__(self) -> None:
        _check_type("do_sample", self.do_sample, bool)
        # Greedy and beam decoding never use the temperature (transformers only warns): 0 is fine there.
        _check_float("temperature", self.temperature, low=0.0, low_open=self.do_sample,
                     hint="For greedy decoding use do_sample=False." if self.temperature == 0 else "")
        _check_int("top_k", self.top_k, low=0, allowed="an integer >= 0 (0 turns top-k off)")
        _check_float("top_p", self.top_p, low=0.0, low_open=True, high=1.0)
        _check_float("min_p", self.min_p, low=0.0, high=1.0)
        _check_float("typical_p", self.typical_p, low=0.0, low_open=True, high=1.0)
        _check_float("repetition_penalty", self.repetition_penalty, low=0.0, low_open=True)
        _check_int("no_repeat_ngram_size", self.no_repeat_ngram_size, low=0, allowed="an integer >= 0 (0 is off)")
        _check_int("max_new_tokens", self.max_new_tokens, low=1, allowed="an integer >= 1")
        _check_int("min_new_tokens", self.min_new_tokens, low=0, high=self.max_new_tokens,
                   allowed=f"an integer from 0 to max_new_tokens ({self.max_new_tokens})")
        _check_int("num_return_sequences", self.num_return_sequences, low=1, allowed="an integer >= 1")
        _check_int("top_n", self.top_n, low=0, high=MAX_TOP_N, allowed=f"an integer from 0 to {MAX_TOP_N}")
        if self.seed is not None:
            _check_int("seed", self.seed, low=0, high=2**63 - 1, allowed="None or an integer from 0 to 2**63-1")
        if not isinstance(self.stop_strings, tuple) or not all(isinstance(s, str) and s for s in self.stop_strings):
            raise ParameterError("stop_strings", self.stop_strings, "a non-empty string or a list of non-empty strings")
        if not isinstance(self.eos_token_ids, tuple) or not all(
            isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in self.eos_token_ids
        ):
            raise ParameterError("eos_token_ids", self.eos_token_ids, "a tuple of token ids (integers >= 0)")
        _check_int("num_beams", self.num_beams, low=1, allowed="an integer >= 1 (1: no beam search)")
        _check_float("length_penalty", self.length_penalty, low=-math.inf)
        if self.early_stopping not in (True, False, "never"):
            raise ParameterError("early_stopping", self.early_stopping, 'True, False or "never"')
        _check_float("penalty_alpha", self.penalty_alpha, low=0.0, high=1.0)
        self._check_strategy()

    def _check_strategy(self) -> None:
        if self.num_beams > 1:
            if self.do_sample:
                raise ParameterError("do_sample", True, "False with num_beams > 1 (beam sampling is not supported)",
                                     hint="Use do_sample=False for beam search, or num_beams=1 to sample.")
            if self.penalty_alpha > 0:
                raise ParameterError("penalty_alpha", self.penalty_alpha, "0 with num_beams > 1 (contrastive "
                                     "search is a single-beam method)")
            if self.stop_strings:
                raise ParameterError("stop_strings", list(self.stop_strings), "none with num_beams > 1 (modelito's "
                                     "beam search stops at end-of-sequence tokens and max_new_tokens)")
            if self.num_return_sequences > self.num_beams:
                raise ParameterError("num_return_sequences", self.num_return_sequences,
                                     f"at most num_beams ({self.num_beams}): beam search returns its best beams")
            return
        if self.num_return_sequences > 1 and not self.do_sample:
            raise ParameterError(
                "num_return_sequences", self.num_return_sequences,
                "1 when do_sample=False (greedy decoding gives the same sequence every time)",
                hint="Pass do_sample=True to draw several different sequences, or num_beams to return the best beams.",
            )
        if self.penalty_alpha > 0 and not self.do_sample and self.top_k < 2:
            raise ParameterError("top_k", self.top_k, "at least 2 with penalty_alpha > 0 (contrastive search "
                                 "chooses among the top_k candidates)")

    @property
    def strategy(self) -> str:
        """'beam', 'contrastive', 'sample' or 'greedy', as transformers decides it: once, here, never in a loop."""
        if self.num_beams > 1:
            return "beam"
        if self.do_sample:
            return "sample"
        return "contrastive" if self.penalty_alpha > 0 else "greedy"

    def to_dict(self) -> dict[str, Any]:
        """The effective values, JSON-ready, with `sources` saying where each came from."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sources"}
        out["stop_strings"] = list(self.stop_strings)
        out["eos_token_ids"] = list(self.eos_token_ids)
        out["sources"] = dict(self.sources)
        out["notes"] = list(self.notes)
        return out

    def inactive(self) -> list[str]:
        """Names of fields that are set but do nothing under this strategy (e.g. temperature when greedy)."""
        if self.do_sample:
            return []
        warpers = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0}
        if self.strategy == "contrastive":
            del warpers["top_k"]  # the number of candidates contrastive search compares
        return [name for name, off in warpers.items() if getattr(self, name) != off]


def resolve(
    kwargs: Mapping[str, Any],
    generation_config: Any = None,
    *,
    prompt_length: int = 0,
    context_length: int | None = None,
    vocab_size: int | None = None,
) -> GenerationParams:
    """Merge Hugging Face generation keyword arguments over a model's `generation_config`.

    `kwargs` are what a user passes to `lm.generate(...)`, named as in `model.generate`; as there,
    passing None turns a setting off rather than falling back to the model's value.
    `generation_config` is the model's `transformers.GenerationConfig` (or None).
    `prompt_length` and `context_length` (in tokens) turn `max_length` into `max_new_tokens` and
    refuse prompts that do not fit; `vocab_size` bounds token ids.

    >>> resolve({"max_new_tokens": 50}).max_new_tokens
    50
    """
    known = {f.name for f in fields(GenerationParams)} - {"sources", "notes", "eos_token_ids", "stop_strings"}
    known |= {"eos_token_id", "stop_strings", "max_length"}
    for name in kwargs:
        if name not in known and name not in OUTPUT_ONLY_KWARGS:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise ParameterError(
                name, kwargs[name], "not a generation parameter modelito knows",
                hint=f"Did you mean {close[0]!r}?" if close else f"Known parameters: {', '.join(sorted(known))}.",
            )

    model_values = _model_values(generation_config)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    off = {f.name: f.default for f in fields(GenerationParams)}

    def take(name: str, hf_name: str | None = None) -> None:
        hf_name = hf_name or name
        if hf_name in kwargs:
            # transformers writes the caller's None over the merged config: the setting is off.
            value = kwargs[hf_name]
            values[name], sources[name] = (off[name] if value is None else value), USER
        elif model_values.get(hf_name) is not None:
            values[name], sources[name] = model_values[hf_name], MODEL
        elif hf_name in TRANSFORMERS_DEFAULTS:
            values[name], sources[name] = TRANSFORMERS_DEFAULTS[hf_name], LIBRARY

    for name in ("do_sample", "temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty",
                 "no_repeat_ngram_size", "min_new_tokens", "num_return_sequences", "top_n", "seed",
                 "num_beams", "length_penalty", "early_stopping", "penalty_alpha"):
        take(name)
    take("eos_token_ids", "eos_token_id")
    if "eos_token_ids" in values:
        values["eos_token_ids"] = _token_ids("eos_token_id", values["eos_token_ids"], vocab_size)
    take("stop_strings")
    if "stop_strings" in values:
        values["stop_strings"] = _strings("stop_strings", values["stop_strings"])

    (values["max_new_tokens"], sources["max_new_tokens"]), notes = _max_new_tokens(
        kwargs, model_values, prompt_length, context_length)
    notes += tuple(
        f"the model's generation_config sets {name}={model_values[name]!r}, which modelito does not apply"
        for name, neutral in UNSUPPORTED_MODEL_SETTINGS.items()
        if name in model_values and model_values[name] != neutral
    )
    params = GenerationParams(**values, sources=sources, notes=notes)
    _check_context(params, prompt_length, context_length)
    return params


# Processors of transformers that modelito does not implement, with their neutral values.
UNSUPPORTED_MODEL_SETTINGS: Mapping[str, Any] = {
    "min_length": 0, "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
    "sequence_bias": None, "guidance_scale": 1.0, "exponential_decay_length_penalty": None,
    "renormalize_logits": False, "top_h": None,
}


def _model_values(generation_config: Any) -> dict[str, Any]:
    """The fields a model's generation_config sets (transformers 5 leaves unset fields as None)."""
    if generation_config is None:
        return {}
    data = generation_config.to_dict() if hasattr(generation_config, "to_dict") else dict(generation_config)
    return {k: v for k, v in data.items() if v is not None}


def _max_new_tokens(
    kwargs: Mapping[str, Any], model_values: Mapping[str, Any], prompt_length: int, context_length: int | None
) -> tuple[tuple[Any, str], tuple[str, ...]]:
    """transformers' rule: any max_new_tokens (yours, else the model's) beats max_length, a total that
    counts the prompt; with neither set, 20 new tokens, within the model's context."""
    if kwargs.get("max_new_tokens") is not None:
        return (kwargs["max_new_tokens"], USER), ()
    if model_values.get("max_new_tokens") is not None:
        notes = ()
        if kwargs.get("max_length") is not None:
            notes = (f"max_length={kwargs['max_length']!r} has no effect: the model's generation_config sets "
                     f"max_new_tokens={model_values['max_new_tokens']}, which transformers puts first",)
        return (model_values["max_new_tokens"], MODEL), notes
    for where, source in ((kwargs, USER), (model_values, MODEL)):
        if where.get("max_length") is not None:
            max_length = where["max_length"]
            _check_int("max_length", max_length, low=1, allowed="an integer >= 1")
            if max_length <= prompt_length:
                raise ParameterError(
                    "max_length", max_length, f"more than the prompt's {prompt_length} tokens (it counts the prompt)",
                    hint="Use max_new_tokens to say how many tokens to generate.",
                )
            return (max_length - prompt_length, source), ()
    # transformers: "by default let's always generate 20 new tokens", within the context
    default = TRANSFORMERS_DEFAULTS["max_length"]
    if context_length is not None and prompt_length < context_length:
        default = min(default, context_length - prompt_length)
    return (default, LIBRARY), ()


def _token_ids(name: str, value: Any, vocab_size: int | None) -> tuple[int, ...]:
    """One id or a list of ids (a tensor too) as a tuple; each must be a token of the model."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    ids = value if isinstance(value, (list, tuple)) else [value]
    top = f" below {vocab_size}" if vocab_size else ""
    for token in ids:
        if isinstance(token, bool) or not isinstance(token, int) or token < 0 or (vocab_size and token >= vocab_size):
            raise ParameterError(name, value, f"a token id or a list of token ids (integers from 0{top})")
    return tuple(ids)


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ParameterError(name, value, "a non-empty string or a list of non-empty strings")
    return tuple(value)


def _check_context(params: GenerationParams, prompt_length: int, context_length: int | None) -> None:
    if context_length is None:
        return
    if prompt_length >= context_length:
        raise PromptTooLongError(
            f"The prompt has {prompt_length} tokens but the model's context is {context_length} tokens: "
            f"shorten the prompt by at least {prompt_length - context_length + 1} tokens."
        )
    room = context_length - prompt_length
    if params.max_new_tokens > room:
        raise ParameterError(
            "max_new_tokens", params.max_new_tokens,
            f"at most {room} here (the prompt has {prompt_length} of the model's {context_length} tokens of context)",
        )


def _check_type(name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise ParameterError(name, value, f"a {kind.__name__}")


def _check_int(name: str, value: Any, *, low: int, high: int | None = None, allowed: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(name, value, allowed)
    if value < low or (high is not None and value > high):
        raise ParameterError(name, value, allowed)


def _check_float(
    name: str, value: Any, *, low: float, high: float | None = None, low_open: bool = False, hint: str = ""
) -> None:
    left = "(" if low_open else "["
    if high is not None:
        allowed = f"a number in {left}{low:g}, {high:g}]"
    else:
        allowed = "a finite number" if low == -math.inf else f"a number {'>' if low_open else '>='} {low:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(name, value, allowed, hint)
    if value < low or (low_open and value == low) or (high is not None and value > high):
        raise ParameterError(name, value, allowed, hint)
