"""`load(name)` -> LM: a hub id, a local folder, a shipped model, or `random:<folder-or-id>`."""

from __future__ import annotations

import os

import torch

from .errors import ModelLoadError
from .hub import RANDOM_PREFIX, choose_device, choose_dtype, from_pretrained, resolve_name
from .onednn import use_onednn
from .lm import LM
from .remote import RemoteLM, connect, is_url
from .words import Phrase

RANDOM_SEED = 0  # random weights are still reproducible


def load(name_or_path: str | os.PathLike, device: str = "auto", dtype: str = "auto", *,
         logprobs: str | None = None, optimize: bool = True) -> LM | RemoteLM:
    """Load a causal language model and its tokenizer.

    `name_or_path`: a Hugging Face hub id (`"Qwen/Qwen2.5-0.5B-Instruct"`, from the local cache when
    offline), a local folder in the Hugging Face layout, a model that ships with modelito
    (`"modelito-tiny-instruct"`), or `"random:<folder-or-id>"` for the real architecture of that
    `config.json` with random weights (for benchmarks and offline demos).
    `device`: "auto" (CUDA when available, else CPU), or any torch device ("cpu", "cuda:1").
    `dtype`: "auto" (the model's own dtype on a GPU, float32 on a CPU) or a torch dtype name.
    `optimize`: on a CPU in float32, run the large linear layers through oneDNN (the same weights,
    about twice as fast to decode; outputs equal up to float32 rounding). False keeps transformers'
    own path, to compare timings against.
    A URL (`http://host:8000/v1`, the model after `#`) connects to a remote engine instead: see
    `modelito.connect` (`logprobs` says what its log-probabilities are, when you know).

    >>> lm = load("random:../shared/fixtures/qwen2.5-0.5b-instruct")  # doctest: +SKIP
    """
    name = str(name_or_path)
    if is_url(name):
        return connect(name, logprobs=logprobs)
    random_weights = name.startswith(RANDOM_PREFIX)
    source = resolve_name(name[len(RANDOM_PREFIX):] if random_weights else name)
    if not source:
        raise ModelLoadError(f"{name!r} names no model: write random:<folder or hub id>.")
    chosen_device, device_note = choose_device(device)

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    config = from_pretrained(lambda: AutoConfig.from_pretrained(source), source)
    chosen_dtype, dtype_note = choose_dtype(dtype, config, chosen_device)
    tokenizer = from_pretrained(lambda: AutoTokenizer.from_pretrained(source), source)
    if random_weights:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = AutoModelForCausalLM.from_config(config, dtype=chosen_dtype)
        try:
            generation_config = GenerationConfig.from_pretrained(source)
        except OSError:  # no generation_config.json: transformers derives one from the model config
            generation_config = GenerationConfig.from_model_config(config)
        model.generation_config = generation_config
    else:
        model = from_pretrained(lambda: AutoModelForCausalLM.from_pretrained(source, dtype=chosen_dtype), source)
    model.to(chosen_device).eval()
    notes = [device_note, dtype_note]
    if optimize and (changed := use_onednn(model)):
        notes.append(Phrase("onednn", n=changed))
    stored = getattr(config, "dtype", None)
    return LM(
        model,
        tokenizer,
        name=name,
        random_weights=random_weights,
        notes=tuple(notes),
        stored_dtype=str(stored).removeprefix("torch.") if stored else None,
    )
