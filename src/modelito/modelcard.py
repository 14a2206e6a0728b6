"""The model card: what a model is, from its configuration alone (no weights read or downloaded).

`describe(name)` builds the architecture on PyTorch's `meta` device, where tensors have shapes
but no memory, so counting the parameters of a 0.5B (or 70B) model costs nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .hub import RANDOM_PREFIX, from_pretrained, resolve_name
from .rendering import Viewable
from .words import Words

# The config field holding the context length differs by family.
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length", "n_ctx")
BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 1, "int4": 0.5}
SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size")


@dataclass(frozen=True)
class ModelCard(Viewable):
    name: str
    architecture: str
    parameters: int
    """Exact count; tied input and output embeddings are counted once."""
    context_length: int | None
    context_field: str | None
    """Which config field gave the context length."""
    dtype: str
    """The dtype the weights are stored in (config)."""
    model_vocab_size: int
    tokenizer_vocab_size: int
    layers: int | None
    attention_heads: int | None
    key_value_heads: int | None
    hidden_size: int | None
    tied_embeddings: bool
    memory_bytes: dict[str, float]
    """Memory for the weights alone, per dtype (the KV cache and activations come on top)."""
    special_tokens: dict[str, str]
    has_chat_template: bool
    generation_defaults: dict[str, Any]
    random_weights: bool = False
    loaded: dict[str, str] = field(default_factory=dict)
    """For a loaded model: its device and dtype."""

    @property
    def vocab_note(self) -> str:
        """Why the model's and the tokenizer's vocabulary sizes differ."""
        return self.explain_vocabulary()

    @property
    def defaults_sentence(self) -> str:
        """The generation defaults in one plain sentence."""
        return self.explain_defaults()

    def explain_vocabulary(self, lang: str = "en") -> str:
        """`vocab_note` in "en" or "es"."""
        w, diff = Words(lang), self.model_vocab_size - self.tokenizer_vocab_size
        return w("vocab_padded", n=diff) if diff > 0 else w("vocab_unreachable", n=-diff) if diff < 0 else w("vocab_same")

    def explain_defaults(self, lang: str = "en") -> str:
        """`defaults_sentence` in "en" or "es": `print(lm.info().explain_defaults("es"))`."""
        w, d = Words(lang), self.generation_defaults
        if not d.get("do_sample"):
            extra = [f"{k.replace('_', ' ')} {d[k]}" for k in ("repetition_penalty", "no_repeat_ngram_size") if k in d]
            return w("greedy_default") + (w("greedy_with", extra=", ".join(extra)) if extra else ".")
        parts = [f"{k.replace('_', ' ')} {d[k]}" for k in SAMPLING_FIELDS if k in d]
        if "top_k" not in d:
            parts.append(w("top_k_default"))
        return w("samples_default", parts=", ".join(parts))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(vocab_note=self.vocab_note, defaults_sentence=self.defaults_sentence)
        return data


def context_length(config: Any) -> tuple[int | None, str | None]:
    for name in CONTEXT_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value, name
    return None, None


def card(name: str, config: Any, tokenizer: Any, generation_config: Any, parameters: int, *,
         random_weights: bool = False, loaded: dict[str, str] | None = None, dtype: str | None = None) -> ModelCard:
    """Assemble the card from a config, a tokenizer and a parameter count (`dtype`: as stored, when
    the config no longer says it because loading converted the weights)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    ctx, ctx_field = context_length(text)
    dtype = dtype or getattr(config, "dtype", None) or "float32"
    dtype = str(dtype).removeprefix("torch.")
    defaults = {}
    if generation_config is not None:
        defaults = {k: v for k, v in generation_config.to_diff_dict().items() if v is not None
                    and k not in ("transformers_version", "_from_model_config")}
    specials = {k: str(v) for k, v in (getattr(tokenizer, "special_tokens_map", {}) or {}).items() if isinstance(v, str)}
    return ModelCard(
        name=name,
        architecture=(getattr(config, "architectures", None) or [type(config).__name__])[0],
        parameters=parameters,
        context_length=ctx,
        context_field=ctx_field,
        dtype=dtype,
        model_vocab_size=text.vocab_size,
        tokenizer_vocab_size=len(tokenizer),
        layers=getattr(text, "num_hidden_layers", None),
        attention_heads=getattr(text, "num_attention_heads", None),
        key_value_heads=getattr(text, "num_key_value_heads", None) or getattr(text, "num_attention_heads", None),
        hidden_size=getattr(text, "hidden_size", None),
        tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
        memory_bytes={k: parameters * b for k, b in BYTES.items()},
        special_tokens=specials,
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
        generation_defaults=defaults,
        random_weights=random_weights,
        loaded=loaded or {},
    )


def describe(name_or_path: str) -> ModelCard:
    """The card of a model from its config and tokenizer alone: the architecture is built on the
    meta device, so no weights are read or downloaded.

    >>> describe("Qwen/Qwen2.5-0.5B-Instruct").parameters  # doctest: +SKIP
    494032768
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    name = str(name_or_path)
    source = resolve_name(name.removeprefix(RANDOM_PREFIX))
    config = from_pretrained(lambda: AutoConfig.from_pretrained(source), source)
    tokenizer = from_pretrained(lambda: AutoTokenizer.from_pretrained(source), source)
    try:
        generation_config = GenerationConfig.from_pretrained(source)
    except OSError:
        generation_config = GenerationConfig.from_model_config(config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return card(name, config, tokenizer, generation_config, model.num_parameters(),
                random_weights=name.startswith(RANDOM_PREFIX))
