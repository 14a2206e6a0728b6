"""From the keyword arguments a notebook passes to the effective GenerationParams.

`resolve()` turns Hugging Face generation keyword arguments (`do_sample`, `temperature`,
`max_new_tokens`, ...) into one `GenerationParams`, merged over the model's `generation_config`
with the precedence transformers uses:

    your keyword arguments  >  the model's generation_config  >  transformers' global defaults

and records where each value came from, so a result can say "top_k=20 came from the model".
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from .errors import ParameterError, PromptTooLongError
from .params import (DEFAULT, LIBRARY, MODEL, STAGE_ALIASES, STAGES, USER, GenerationParams, Policy, is_int, is_number,
                     schema)

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

def resolve(
    kwargs: Mapping[str, Any],
    generation_config: Any = None,
    *,
    prompt_length: int = 0,
    context_length: int | None = None,
    vocab_size: int | None = None,
    policy: Policy | None = None,
) -> GenerationParams:
    """Merge Hugging Face generation keyword arguments over a model's `generation_config`.

    `kwargs` are what a user passes to `lm.generate(...)`, named as in `model.generate`; as there,
    passing None turns a setting off rather than falling back to the model's value.
    `generation_config` is the model's `transformers.GenerationConfig` (or None).
    `prompt_length` and `context_length` (in tokens) turn `max_length` into `max_new_tokens` and
    refuse prompts that do not fit; `vocab_size` bounds token ids. `policy` holds an interface's own
    defaults, which come after the model's and before transformers' (the CLI and the server give
    answers room for 256 tokens, not transformers' 20), and its limits.

    >>> resolve({"max_new_tokens": 50}).max_new_tokens
    50
    """
    specs = [s for s in schema() if s.name != "max_new_tokens"]
    known = {s.hf_name for s in schema()} | {"max_length"}
    for name in kwargs:
        if name not in known and name not in OUTPUT_ONLY_KWARGS:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise ParameterError(
                name, kwargs[name], "not a generation parameter modelito knows",
                hint=f"Did you mean {close[0]!r}?" if close else f"Known parameters: {', '.join(sorted(known))}.",
            )

    model_values = _model_values(generation_config)
    policy = policy or Policy(source=DEFAULT)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in specs:
        hf_name = spec.hf_name
        if hf_name in kwargs:
            # transformers writes the caller's None over the merged config: the setting is off.
            value = kwargs[hf_name]
            values[spec.name], sources[spec.name] = (spec.default if value is None else value), USER
        elif model_values.get(hf_name) is not None:
            values[spec.name], sources[spec.name] = model_values[hf_name], MODEL
        elif spec.name in policy.defaults:
            values[spec.name], sources[spec.name] = policy.defaults[spec.name], policy.source
        elif hf_name in TRANSFORMERS_DEFAULTS:
            values[spec.name], sources[spec.name] = TRANSFORMERS_DEFAULTS[hf_name], LIBRARY
        else:
            sources[spec.name] = DEFAULT
        if spec.kind == "ids" and spec.name in values:
            values[spec.name] = _token_ids(hf_name, values[spec.name], vocab_size)
        elif spec.kind == "bias" and spec.name in values:
            values[spec.name] = _bias(hf_name, values[spec.name], vocab_size)
        elif spec.kind == "order" and spec.name in values:
            values[spec.name] = _order(hf_name, values[spec.name])
        elif spec.kind == "strings" and spec.name in values:
            values[spec.name] = _strings(hf_name, values[spec.name])

    (values["max_new_tokens"], sources["max_new_tokens"]), notes = _max_new_tokens(
        kwargs, model_values, prompt_length, context_length, policy)
    notes += _apply_limits(values, sources, policy)
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
    "forced_bos_token_id": None, "forced_eos_token_id": None,
    "sequence_bias": None, "guidance_scale": 1.0, "exponential_decay_length_penalty": None,
    "renormalize_logits": False,
}


def _model_values(generation_config: Any) -> dict[str, Any]:
    """The fields a model's generation_config sets (transformers 5 leaves unset fields as None)."""
    if generation_config is None:
        return {}
    data = generation_config.to_dict() if hasattr(generation_config, "to_dict") else dict(generation_config)
    return {k: v for k, v in data.items() if v is not None}


def _max_new_tokens(
    kwargs: Mapping[str, Any], model_values: Mapping[str, Any], prompt_length: int, context_length: int | None,
    policy: Policy,
) -> tuple[tuple[Any, str], tuple[str, ...]]:
    """transformers' rule: any max_new_tokens (yours, else the model's) beats max_length, a total that
    counts the prompt; with neither set, the interface's fallback or transformers' 20 new tokens,
    within the model's context."""
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
            if not is_int(max_length) or max_length < 1:
                raise ParameterError("max_length", max_length, "an integer >= 1")
            if max_length <= prompt_length:
                raise ParameterError(
                    "max_length", max_length, f"more than the prompt's {prompt_length} tokens (it counts the prompt)",
                    hint="Use max_new_tokens to say how many tokens to generate.",
                )
            return (max_length - prompt_length, source), ()
    # transformers: "by default let's always generate 20 new tokens", within the context
    default, source = TRANSFORMERS_DEFAULTS["max_length"], LIBRARY
    if "max_new_tokens" in policy.defaults:
        default, source = policy.defaults["max_new_tokens"], policy.source
    if context_length is not None and prompt_length < context_length:
        default = min(default, context_length - prompt_length)
    return (default, source), ()


def _apply_limits(values: dict[str, Any], sources: dict[str, str], policy: Policy) -> tuple[str, ...]:
    """Refuse a caller's value beyond a limit; lower a default beyond it, saying so."""
    notes = []
    for name, limit in policy.limits.items():
        value = values.get(name)
        if not is_number(value) or value <= limit:
            continue
        if sources.get(name) == USER:
            raise ParameterError(name, value, f"at most {limit} on this {policy.source}")
        notes.append(f"{name}={value} ({sources.get(name)}) is over this {policy.source}'s limit: {limit} instead")
        values[name], sources[name] = limit, policy.source
    return tuple(notes)


def _token_ids(name: str, value: Any, vocab_size: int | None) -> tuple[int, ...]:
    """One id or a list of ids (a tensor too) as a tuple; each must be a token of the model."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    ids = value if isinstance(value, (list, tuple)) else [value]
    top = f" below {vocab_size}" if vocab_size else ""
    for token in ids:
        if not is_int(token) or token < 0 or (vocab_size and token >= vocab_size):
            raise ParameterError(name, value, f"a token id or a list of token ids (integers from 0{top})")
    return tuple(ids)


def _bias(name: str, value: Any, vocab_size: int | None) -> tuple[tuple[int, float], ...]:
    """{token id: bias} (ids may be strings, as JSON writes them) as sorted (id, bias) pairs."""
    top = f" below {vocab_size}" if vocab_size else ""
    allowed = f"a map of token ids (integers from 0{top}) to numbers from -100 to 100"
    if isinstance(value, (list, tuple)):
        value = dict(value) if all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value) else value
    if not isinstance(value, dict):
        raise ParameterError(name, value, allowed)
    pairs = []
    for key, bias in value.items():
        token = int(key) if isinstance(key, str) and key.strip().lstrip("-").isdigit() else key
        if not is_int(token) or token < 0 or (vocab_size and token >= vocab_size):
            raise ParameterError(name, value, allowed, hint=f"{key!r} is not a token id of this model")
        if not is_number(bias) or not -100 <= bias <= 100:
            raise ParameterError(name, value, allowed, hint=f"the bias of {key!r} is {bias!r}")
        pairs.append((token, float(bias)))
    return tuple(sorted(pairs))


def _order(name: str, value: Any) -> tuple[str, ...]:
    """Stage names (llama.cpp's and text-generation-webui's spellings too), each once."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ParameterError(name, value, "a list of stage names from " + ", ".join(STAGES))
    out = []
    for item in items:
        stage = STAGE_ALIASES.get(str(item).replace("-", "_"), str(item).replace("-", "_"))
        if stage not in STAGES:
            close = difflib.get_close_matches(stage, STAGES, n=1)
            raise ParameterError(name, value, "a list of stage names from " + ", ".join(STAGES),
                                 hint=f"{item!r} is not a stage" + (f"; did you mean {close[0]!r}?" if close else ""))
        if stage in out:
            raise ParameterError(name, value, "each stage at most once", hint=f"{item!r} comes twice")
        out.append(stage)
    return tuple(out)


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
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


