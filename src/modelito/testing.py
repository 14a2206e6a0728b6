"""Offline models for tests and demos: tiny, random, and built in seconds on a CPU.

`tiny_model` writes a complete Hugging Face folder (config, safetensors weights,
tokenizer with a ChatML template, generation config) that loads with the same
`AutoTokenizer` / `AutoModelForCausalLM` calls as Qwen2.5-0.5B-Instruct, so
everything that works on the real model can be exercised without a download.
The weights are random: the text it writes is nonsense, but reproducible.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["tiny_model"]

CORPUS_RESOURCE = "tiny_corpus.txt"

_README = """\
# modelito tiny model (random weights)

Built by `modelito.testing.tiny_model(path, seed={seed})`: a Qwen2-architecture causal
language model with **random weights**, for tests and offline demos. Its text is nonsense.

- {num_hidden_layers} layers, hidden size {hidden_size}, {num_attention_heads} attention heads \
({num_key_value_heads} key/value heads), context {max_position_embeddings} tokens.
- Tokenizer: byte-level BPE, {vocab_size} tokens, trained by `modelito.train.tokenizer.train_tokenizer`
  on `modelito/data/tiny_corpus.txt`; ChatML chat template (`<|im_start|>`, `<|im_end|>`).
- `generation_config.json` copies Qwen2.5-0.5B-Instruct's sampling defaults.

Rebuild it with the same seed to get byte-identical weights.
"""


def _corpus_lines() -> list[str]:
    """The tokenizer's training text, read from the installed package (works from a wheel or a checkout)."""
    text = resources.files("modelito").joinpath("data").joinpath(CORPUS_RESOURCE).read_text(encoding="utf-8")
    # Lines keep their newline so BPE learns the ".\n"-style tokens real chat text is full of.
    return text.splitlines(keepends=True)


def tiny_model(
    path: str | os.PathLike,
    seed: int = 0,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    max_position_embeddings: int = 256,
) -> Path:
    """Build a tiny random Qwen2 model with its own tokenizer and save it at `path`.

    The folder has what a Qwen2.5 instruct checkpoint has: `config.json`,
    `model.safetensors`, `generation_config.json` (Qwen2.5-0.5B-Instruct's
    sampling defaults: temperature 0.7, top-k 20, top-p 0.8, repetition
    penalty 1.1, stop on `<|im_end|>` or `<|endoftext|>`), the tokenizer files
    with a ChatML template, and a README saying the weights are random.

    The same `seed` gives byte-identical weights; the tokenizer depends only on
    the packaged corpus and `vocab_size`. Weights are drawn with
    `initializer_range=0.2` (ten times Qwen's) so each next-token distribution
    is peaky, as a trained model's is, rather than close to uniform: top-k and
    top-p then have something to cut. The global torch RNG is left as it was.

    `vocab_size` is the most the tokenizer may have; the model's vocabulary is
    the tokenizer's actual length.

    Example:
        >>> from transformers import AutoModelForCausalLM, AutoTokenizer
        >>> folder = tiny_model("/tmp/modelito-tiny", seed=0)
        >>> tok = AutoTokenizer.from_pretrained(folder)
        >>> model = AutoModelForCausalLM.from_pretrained(folder)
        >>> ids = tok.apply_chat_template([{"role": "user", "content": "Hola"}],
        ...                               add_generation_prompt=True, return_tensors="pt")
        >>> out = model.generate(**ids, max_new_tokens=8)
    """
    # Imported here so `import modelito.testing` stays cheap for code that never builds a model.
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    from .train.tokenizer import SPECIAL_TOKENS, train_tokenizer

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = train_tokenizer(_corpus_lines(), vocab_size)
    tokenizer.model_max_length = max_position_embeddings
    endoftext_id, _, im_end_id = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        # Qwen2.5-0.5B's MLP is ~5.4x its width; a round 4x is close enough for random weights.
        intermediate_size=4 * hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=max_position_embeddings,
        hidden_act="silu",
        initializer_range=0.2,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        use_sliding_window=False,
        max_window_layers=num_hidden_layers,
        attention_dropout=0.0,
        tie_word_embeddings=True,
        use_cache=True,
        bos_token_id=None,
        eos_token_id=im_end_id,
        pad_token_id=endoftext_id,
        dtype="float32",
    )

    # fork_rng: seeding must not change the random stream of whoever called us (a test, a demo).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32).eval()

    model.generation_config = GenerationConfig(
        do_sample=True,
        temperature=0.7,
        top_k=20,
        top_p=0.8,
        repetition_penalty=1.1,
        # Qwen2.5 stops at the end of the assistant turn, and also at end of text.
        eos_token_id=[im_end_id, endoftext_id],
        pad_token_id=endoftext_id,
    )

    # A one-shard, sub-megabyte save needs no "Writing model shards" bar in every test log.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(out)  # safetensors is the default format
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(
        _README.format(
            seed=seed,
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=num_attention_heads,
            num_key_value_heads=num_key_value_heads,
            max_position_embeddings=max_position_embeddings,
        ),
        encoding="utf-8",
    )
    return out
